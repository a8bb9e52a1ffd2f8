/// The few JSON values the injector writes (`sidecar.istio.io/status`, `ISTIO_KUBE_APP_PROBERS`),
/// spelled as Go's `encoding/json` spells them, so the text matches what Istio's injector writes.
indirect enum GoJSON: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case null
    case array([GoJSON])
    /// Fields in the order given (a Go struct's field order).
    case object([(String, GoJSON)])

    static func == (lhs: GoJSON, rhs: GoJSON) -> Bool { lhs.text == rhs.text }

    /// Compact text, as `json.Marshal` writes it.
    var text: String {
        switch self {
        case .string(let value): return Self.quoted(value)
        case .integer(let value): return String(value)
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    /// A Go string slice: nil (empty) marshals as `null`.
    static func strings(_ values: [String]) -> GoJSON {
        values.isEmpty ? .null : .array(values.map(GoJSON.string))
    }

    /// Go's string encoding, HTML-safe escapes included (`<` is `\u003c`, `&` is `\u0026`).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += "\\u" + hex4(scalar.value)
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + hex4(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
