/// Pretty-printed JSON for `validate --output json` and `routes --output json`, laid out as
/// Foundation's JSONSerialization lays it out with `.prettyPrinted` (two-space indent,
/// `"key" : value`, the same escapes) and keys sorted by code point, so the binary does not
/// link Foundation (about 6 MiB of resident memory) for two calls.
///
/// Values are what the callers build: strings, integers, booleans, arrays and string-keyed
/// dictionaries of them. Anything else is written as its description, quoted.
enum JSONText {
    static func serialize(_ value: Any, escapingSlashes: Bool) -> String {
        var writer = Writer(escapingSlashes: escapingSlashes)
        writer.value(value, depth: 0)
        return writer.text
    }

    /// Keys in Unicode code point order (as `jq -S` and Go's encoding/json sort them; the
    /// same as UTF-8 byte order), so the order does not depend on a collation.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    private struct Writer {
        let escapingSlashes: Bool
        var text = ""

        mutating func value(_ value: Any, depth: Int) {
            switch value {
            case let string as String: self.string(string)
            case let bool as Bool: text += bool ? "true" : "false"
            case let integer as any BinaryInteger: text += String(describing: integer)
            case let object as [String: Any]: self.object(object, depth: depth)
            case let array as [Any]: self.array(array, depth: depth)
            default: self.string(String(describing: value))
            }
        }

        mutating func object(_ object: [String: Any], depth: Int) {
            text += "{\n"
            var first = true
            for key in object.keys.sorted(by: JSONText.precedes) {
                if !first { text += ",\n" }
                first = false
                indent(depth + 1)
                string(key)
                text += " : "
                value(object[key]!, depth: depth + 1)
            }
            text += "\n"
            indent(depth)
            text += "}"
        }

        mutating func array(_ array: [Any], depth: Int) {
            text += "[\n"
            var first = true
            for element in array {
                if !first { text += ",\n" }
                first = false
                indent(depth + 1)
                value(element, depth: depth + 1)
            }
            text += "\n"
            indent(depth)
            text += "]"
        }

        mutating func indent(_ depth: Int) {
            text += String(repeating: "  ", count: depth)
        }

        mutating func string(_ string: String) {
            text += "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case "/": text += escapingSlashes ? "\\/" : "/"
                case "\u{8}": text += "\\b"
                case "\u{c}": text += "\\f"
                case "\n": text += "\\n"
                case "\r": text += "\\r"
                case "\t": text += "\\t"
                case "\u{0}"..."\u{1f}":
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: text.unicodeScalars.append(scalar)
                }
            }
            text += "\""
        }
    }
}
