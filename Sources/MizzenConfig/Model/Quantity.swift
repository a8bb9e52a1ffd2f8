/// A Kubernetes resource quantity: `100m`, `128Mi`, `1.5`, `2`, `1e3` (a number or a string).
///
/// Kept as written for messages; `value` is the amount, for comparisons such as requests <= limits.
/// A Double is exact enough for that: it is built from the decimal text and a power of two or ten,
/// so two spellings of one amount (`1`, `1000m`; `0.5Gi`, `512Mi`) give the same Double.
package struct Quantity: Decodable, Sendable, Hashable, CustomStringConvertible {
    package let text: String
    package let value: Double

    /// Kubernetes' own wording for a quantity it cannot parse.
    package static let syntaxMessage = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

    package init?(_ text: String) {
        guard let value = Self.parse(text) else { return nil }
        self.text = text
        self.value = value
    }

    package init(from decoder: any Decoder) throws {
        guard let node = (decoder as? NodeDecoder)?.node, case .scalar(let text, _) = node.content,
              [.string, .integer, .float].contains(node.resolvedKind) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be a quantity such as \"100m\" or \"128Mi\""))
        }
        guard let quantity = Quantity(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "Invalid value: \"\(text.prefix(40))\": \(Self.syntaxMessage)"))
        }
        self = quantity
    }

    package var description: String { text }

    /// `<sign><digits>[.<digits>]<suffix>`, suffix one of the binary (`Ki`..`Ei`), decimal
    /// (`n u m "" k M G T P E`) or exponent (`e3`, `E-2`) forms (apimachinery `resource.ParseQuantity`).
    static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        var index = 0
        var sign = ""
        if bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") {
            sign = bytes[0] == UInt8(ascii: "-") ? "-" : ""
            index = 1
        }
        var whole: [UInt8] = []
        var fraction: [UInt8] = []
        var seenDot = false
        while index < bytes.count {
            let byte = bytes[index]
            if isDigit(byte) {
                if seenDot { fraction.append(byte) } else { whole.append(byte) }
            } else if byte == UInt8(ascii: "."), !seenDot {
                seenDot = true
            } else {
                break
            }
            index += 1
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        var exponent = 0
        var binaryPower = 0
        switch String(decoding: bytes[index...], as: UTF8.self) {
        case "": break
        case "Ki": binaryPower = 10
        case "Mi": binaryPower = 20
        case "Gi": binaryPower = 30
        case "Ti": binaryPower = 40
        case "Pi": binaryPower = 50
        case "Ei": binaryPower = 60
        case "n": exponent = -9
        case "u": exponent = -6
        case "m": exponent = -3
        case "k": exponent = 3
        case "M": exponent = 6
        case "G": exponent = 9
        case "T": exponent = 12
        case "P": exponent = 15
        case "E": exponent = 18
        case let suffix:
            // The exponent form: e or E, then a signed integer.
            var rest = Array(suffix.utf8)[...]
            guard rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") else { return nil }
            rest = rest.dropFirst()
            var negative = false
            if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") {
                negative = rest.first == UInt8(ascii: "-")
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty, rest.count <= 4, rest.allSatisfy(isDigit), let magnitude = Int(String(decoding: rest, as: UTF8.self)) else { return nil }
            exponent = negative ? -magnitude : magnitude
        }
        let mantissa = (whole.isEmpty ? "0" : String(decoding: whole, as: UTF8.self)) + (fraction.isEmpty ? "" : "." + String(decoding: fraction, as: UTF8.self))
        guard var value = Double("\(sign)\(mantissa)e\(exponent)"), value.isFinite else { return nil }
        if binaryPower > 0 { value *= Double(sign: .plus, exponent: binaryPower, significand: 1) }
        return value
    }
}
