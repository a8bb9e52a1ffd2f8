import Foundation
import NIOHTTP1
import Testing
@testable import MizzenProxy

/// Envoy's hop-by-hop rules on HTTP/1-style headers (RFC 9110 §7.6.1): the fixed list, the
/// names a `Connection` header lists, and the two kept on request (WebSocket upgrade, gRPC's
/// `te: trailers`).
struct HopByHopTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let headers: [(String, String)]
        var keepUpgrade = false
        var keepTrailersTE = false
        let kept: [String]
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "nothing to remove", headers: [("Host", "a"), ("Accept", "*/*")], kept: ["Host: a", "Accept: */*"]),
        Case(name: "fixed list, any case", headers: [("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("TE", "gzip"),
                                                     ("Transfer-Encoding", "chunked"), ("Proxy-Connection", "x"), ("Trailer", "x-sum"),
                                                     ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
                                                     ("Proxy-Authenticate", "Basic"), ("Proxy-Authorization", "Basic eA=="), ("x-a", "1")],
             kept: ["x-a: 1"]),
        Case(name: "names listed by Connection go too", headers: [("connection", "close, X-Secret ,x-other"), ("x-secret", "s"),
                                                                   ("X-Other", "o"), ("x-kept", "k")],
             kept: ["x-kept: k"]),
        Case(name: "several Connection headers", headers: [("connection", "x-a"), ("Connection", "x-b"), ("x-a", "1"), ("x-b", "2"), ("x-c", "3")],
             kept: ["x-c: 3"]),
        Case(name: "WebSocket upgrade kept", headers: [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("x-a", "1")],
             keepUpgrade: true, kept: ["x-a: 1", "connection: upgrade", "upgrade: websocket"]),
        Case(name: "te: trailers kept for gRPC", headers: [("te", "gzip, trailers"), ("x-a", "1")], keepTrailersTE: true,
             kept: ["x-a: 1", "te: trailers"]),
        Case(name: "te without trailers dropped", headers: [("te", "gzip"), ("x-a", "1")], keepTrailersTE: true, kept: ["x-a: 1"]),
        Case(name: "similar names stay", headers: [("x-connection", "1"), ("tee", "2"), ("upgrades", "3")],
             kept: ["x-connection: 1", "tee: 2", "upgrades: 3"]),
    ])
    func removeHopByHop(_ test: Case) {
        var headers = HTTPHeaders(test.headers)
        HeaderRules.removeHopByHop(&headers, keepUpgrade: test.keepUpgrade, keepTrailersTE: test.keepTrailersTE)
        #expect(headers.map { "\($0.name): \($0.value)" } == test.kept)
    }

    @Test(arguments: [
        ("close", "close", true), ("keep-alive, Close", "close", true), (" CLOSE ", "close", true), ("closed", "close", false),
        ("x-close", "close", false), ("a,,b", "b", true), ("", "close", false),
    ])
    func listElements(_ value: String, _ element: String, _ listed: Bool) {
        #expect(HeaderRules.lists(HTTPHeaders([("Connection", value)]), name: "connection", element: element) == listed)
    }

    @Test(arguments: [
        ("abc", "abc"), ("  abc", "abc"), ("abc \t", "abc"), ("\t a b \t", "a b"), ("", ""), ("   ", ""), (" é ", "é"),
        ("\u{A0}x\u{A0}", "\u{A0}x\u{A0}"),
    ])
    func trimmingSpacesAndTabsOnly(_ value: String, _ trimmed: String) {
        #expect(String(Substring(value).trimmingASCIISpaces()) == trimmed)
    }
}

/// `x-request-id`: a version-4 UUID, lower case, the bits from the loop's generator.
struct RequestIDTests {
    @Test(arguments: [UInt64(1), 42, 0xDEAD_BEEF, .max])
    func requestIDsAreVersion4UUIDs(_ seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var reference = generator
        let id = HeaderRules.requestID(using: &generator)
        let high = reference.next() & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = reference.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        var bytes = [UInt8]()
        for value in [high, low] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        #expect(id == uuid.uuidString.lowercased())
        #expect(Array(id.utf8)[14] == UInt8(ascii: "4"))
        #expect("89ab".utf8.contains(Array(id.utf8)[19]))
    }
}
