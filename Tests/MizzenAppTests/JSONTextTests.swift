import Foundation
import Testing
@testable import MizzenApp

/// `JSONText` replaces Foundation's JSONSerialization in the binary (which then does not link
/// Foundation). Each row is written by both: the text must parse back to the same document,
/// and where the keys sort the same under both orders (JSONSerialization's `.sortedKeys` uses
/// a case-insensitive, numeric collation; JSONText code points) the bytes must be identical.
struct JSONTextTests {
    nonisolated(unsafe) static let documents: [(name: String, document: [String: Any], sameOrder: Bool)] = [
        ("empty", [:], true),
        ("scalars", ["a": 1, "b": true, "c": false, "d": "text", "e": -42, "f": 0], true),
        ("empty containers", ["list": [Any](), "map": [String: Any](), "strings": [String]()], true),
        ("nested", ["listeners": [["port": 80, "servers": [["hosts": ["*/bookinfo.example.com"], "kind": "http"]]]], "problems": ["x"]], true),
        ("escapes", ["s": "quote \" backslash \\ slash / tab \t newline \n return \r bell \u{7} unit \u{1f} back \u{8} feed \u{c} nul \u{0}"], true),
        ("unicode", ["s": "é ☃ 𝄞 \u{7f} \u{80}", "ключ": "значение"], true),
        ("string maps", ["labels": ["app": "reviews", "version": "v2", "tier": "backend"]], true),
        ("arrays of arrays", ["matches": [["uri prefix /api", "header end-user=jason"], [String]()]], true),
        ("mixed case keys", ["matchIndex": 1, "matches": 2, "Zeta": 3, "alpha": 4, "Alpha": 5, "B": 8], false),
        ("label keys", ["app.kubernetes.io/name": "x", "app": "y", "pod-template-hash": "z", "security.istio.io/tlsMode": "istio", "v10": "a", "v9": "b"], false),
    ]

    @Test(arguments: documents.indices)
    func agreesWithJSONSerialization(index: Int) throws {
        let (name, document, sameOrder) = Self.documents[index]
        for escaping in [true, false] {
            let text = JSONText.serialize(document, escapingSlashes: escaping)
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            #expect(parsed == (document as NSDictionary), "\(name): parses back")
            if escaping {
                #expect(!text.replacingOccurrences(of: "\\/", with: "").contains("/"), "\(name): every slash escaped")
            } else {
                #expect(!text.contains("\\/"), "\(name): no slash escaped")
            }
            guard sameOrder else { continue }
            var options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys]
            if !escaping { options.insert(.withoutEscapingSlashes) }
            let expected = String(decoding: try JSONSerialization.data(withJSONObject: document, options: options), as: UTF8.self)
            #expect(text == expected, "\(name), escaping slashes: \(escaping)")
        }
    }

    static let keyOrder: [(String, String)] = [
        ("Alpha", "alpha"), ("B", "a"), ("a", "b"), ("host", "hosts"), ("host-name", "host.name"),
        ("host.name", "host_name"), ("v10", "v9"), ("", "a"), ("é", "ж"),
    ]

    @Test(arguments: keyOrder)
    func keysSortByCodePoint(first: String, second: String) {
        #expect(JSONText.precedes(first, second))
        #expect(!JSONText.precedes(second, first))
    }
}
