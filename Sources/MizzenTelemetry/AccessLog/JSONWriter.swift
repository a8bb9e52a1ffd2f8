/// The JSON the telemetry writes by hand (no Foundation in the binary): string escaping as
/// RFC 8259 requires, and a reader for the flat objects a JSON access-log format is.
package enum JSONWriter {
    /// Appends `text` as a JSON string: quote, backslash and control characters escaped;
    /// everything else as UTF-8.
    package static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `text` as a JSON string literal.
    package static func string(_ text: String) -> String {
        var out: [UInt8] = []
        appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// A JSON object whose values are all strings, read in order (an access-log JSON format).
enum FlatJSONObject {
    static func parse(_ text: String) throws(AccessLogFormatError) -> [(String, String)] {
        var reader = Reader(bytes: Array(text.utf8))
        reader.skipSpace()
        guard reader.take(UInt8(ascii: "{")) else { throw AccessLogFormatError("a JSON format must be a JSON object of strings") }
        var pairs: [(String, String)] = []
        reader.skipSpace()
        if reader.take(UInt8(ascii: "}")) { return pairs }
        while true {
            reader.skipSpace()
            let key = try reader.string()
            reader.skipSpace()
            guard reader.take(UInt8(ascii: ":")) else { throw reader.error("expected ':'") }
            reader.skipSpace()
            let value = try reader.string()
            pairs.append((key, value))
            reader.skipSpace()
            if reader.take(UInt8(ascii: ",")) { continue }
            if reader.take(UInt8(ascii: "}")) { break }
            throw reader.error("expected ',' or '}'")
        }
        reader.skipSpace()
        guard reader.atEnd else { throw reader.error("text after the object") }
        return pairs
    }

    struct Reader {
        var bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        func error(_ what: String) -> AccessLogFormatError {
            AccessLogFormatError("JSON format, offset \(index): \(what) (values must be strings)")
        }

        mutating func string() throws(AccessLogFormatError) -> String {
            guard take(UInt8(ascii: "\"")) else { throw error("expected a string") }
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\") else {
                    out.append(byte)
                    continue
                }
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
                    index += 4
                    out.append(contentsOf: String(Character(scalar)).utf8)
                default: out.append(escaped)
                }
            }
            throw error("unterminated string")
        }
    }
}
