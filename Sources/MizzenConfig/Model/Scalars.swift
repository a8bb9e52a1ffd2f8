/// A `google.protobuf.Duration` as Istio writes it: Go `time.ParseDuration` syntax (`10s`, `1.5s`,
/// `100ms`, `1h30m`), which is what the CRD's CEL rules and istiod accept.
package struct IstioDuration: Decodable, Sendable, Hashable, CustomStringConvertible {
    package let text: String
    package let nanoseconds: Int64

    package init?(_ text: String) {
        guard let nanoseconds = Self.parse(text) else { return nil }
        self.text = text
        self.nanoseconds = nanoseconds
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        do {
            text = try container.decode(String.self)
        } catch {
            let shown = (decoder as? NodeDecoder)?.node.scalarValue.map { " \($0)" } ?? ""
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be a duration string such as \"10s\" or \"100ms\", got\(shown.isEmpty ? " a non-string value" : shown)"))
        }
        guard let value = IstioDuration(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid duration \"\(text.prefix(40))\"; write a number with a unit: ns, us, ms, s, m or h (\"1.5s\", \"100ms\")"))
        }
        self = value
    }

    package var description: String { text }
    package var milliseconds: Double { Double(nanoseconds) / 1_000_000 }

    /// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`.
    static func parse(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)[...]
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        var negative = false
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") {
            negative = bytes.first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        if bytes.elementsEqual("0".utf8) { return 0 }
        guard !bytes.isEmpty else { return nil }
        var total: Double = 0
        while !bytes.isEmpty {
            var whole: Double = 0
            var fraction: Double = 0
            var scale: Double = 1
            var digits = 0
            while let byte = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                whole = whole * 10 + Double(byte - UInt8(ascii: "0"))
                digits += 1
                bytes = bytes.dropFirst()
            }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                while let byte = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    scale /= 10
                    fraction += Double(byte - UInt8(ascii: "0")) * scale
                    digits += 1
                    bytes = bytes.dropFirst()
                }
            }
            guard digits > 0 else { return nil }
            var unit: [UInt8] = []
            while let byte = bytes.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), byte != UInt8(ascii: ".") {
                unit.append(byte)
                bytes = bytes.dropFirst()
            }
            let perUnit: Double
            switch String(decoding: unit, as: UTF8.self) {
            case "ns": perUnit = 1
            case "us", "µs", "μs": perUnit = 1_000
            case "ms": perUnit = 1_000_000
            case "s": perUnit = 1_000_000_000
            case "m": perUnit = 60_000_000_000
            case "h": perUnit = 3_600_000_000_000
            default: return nil
            }
            total += (whole + fraction) * perUnit
            guard total < 9.2e18 else { return nil }
        }
        let rounded = total.rounded(.toNearestOrEven)
        return negative ? -Int64(rounded) : Int64(rounded)
    }
}

/// `Percent`: `{value: 12.5}`, a double between 0 and 100.
package struct Percent: ConfigModel {
    package var value: Double?
}

/// `StringMatch`: exactly one of exact, prefix or regex (a proto oneof written as siblings).
package struct StringMatch: ConfigModel, Hashable {
    package var exact: String?
    package var prefix: String?
    package var regex: String?
}

/// Kubernetes `IntOrString` (a Service port's `targetPort`).
package enum IntOrString: Decodable, Sendable, Hashable {
    case int(Int32)
    case string(String)

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let node = (decoder as? NodeDecoder)?.node, node.resolvedKind == .integer {
            self = .int(try container.decode(Int32.self))
        } else {
            self = .string(try container.decode(String.self))
        }
    }
}
