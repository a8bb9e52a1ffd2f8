/// Wall-clock times written as Envoy writes `%START_TIME%`: UTC, no Foundation, no locale.
package enum UTCTime {
    /// The civil date and time of `nanoseconds` since the epoch (Howard Hinnant's
    /// days-from-civil inverse).
    static func components(_ nanoseconds: Int64) -> (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, nanos: Int64) {
        var seconds = nanoseconds / 1_000_000_000
        var nanos = nanoseconds % 1_000_000_000
        if nanos < 0 {
            nanos += 1_000_000_000
            seconds -= 1
        }
        var days = seconds / 86400
        var secondOfDay = seconds % 86400
        if secondOfDay < 0 {
            secondOfDay += 86400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60, nanos)
    }

    /// `2020-11-25T21:26:18.409Z`: Envoy's default `%START_TIME%`.
    package static func iso8601Milliseconds(_ nanoseconds: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendISO8601Milliseconds(nanoseconds, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The same, appended to `out`.
    package static func appendISO8601Milliseconds(_ nanoseconds: Int64, to out: inout [UInt8]) {
        let c = components(nanoseconds)
        pad(c.year, 4, &out); out.append(UInt8(ascii: "-"))
        pad(c.month, 2, &out); out.append(UInt8(ascii: "-"))
        pad(c.day, 2, &out); out.append(UInt8(ascii: "T"))
        pad(c.hour, 2, &out); out.append(UInt8(ascii: ":"))
        pad(c.minute, 2, &out); out.append(UInt8(ascii: ":"))
        pad(c.second, 2, &out); out.append(UInt8(ascii: "."))
        pad(c.nanos / 1_000_000, 3, &out); out.append(UInt8(ascii: "Z"))
    }

    /// The text of one second (`2020-11-25T21:26:18`), kept while lines of that second are
    /// written.
    package struct SecondCache: Sendable {
        var second: Int64 = .min
        var prefix: [UInt8] = []

        package init() {}

        package mutating func appendISO8601Milliseconds(_ nanoseconds: Int64, to out: inout LogBytes) {
            let second = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
            if second != self.second {
                var full: [UInt8] = []
                UTCTime.appendISO8601Milliseconds(second * 1_000_000_000, to: &full)
                prefix = Array(full.prefix(19))
                self.second = second
            }
            out.append(prefix)
            let milliseconds = (nanoseconds - second * 1_000_000_000) / 1_000_000
            out.append(UInt8(ascii: "."))
            out.append(UInt8(ascii: "0") + UInt8(milliseconds / 100))
            out.append(UInt8(ascii: "0") + UInt8(milliseconds / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(milliseconds % 10))
            out.append(UInt8(ascii: "Z"))
        }
    }

    /// `format` with strftime's `%Y %m %d %H %M %S %s %z %Z %%` and Envoy's `%3f %6f %9f %f`
    /// (fractions of a second); other characters as they are.
    package static func format(_ nanoseconds: Int64, _ format: String) -> String {
        let c = components(nanoseconds)
        var out: [UInt8] = []
        let bytes = Array(format.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%"), index + 1 < bytes.count else {
                out.append(byte)
                index += 1
                continue
            }
            var spec = bytes[index + 1]
            var digits = 9
            var consumed = 2
            if spec >= UInt8(ascii: "1"), spec <= UInt8(ascii: "9"), index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: "f") {
                digits = Int(spec - UInt8(ascii: "0"))
                spec = UInt8(ascii: "f")
                consumed = 3
            }
            switch spec {
            case UInt8(ascii: "Y"): pad(c.year, 4, &out)
            case UInt8(ascii: "m"): pad(c.month, 2, &out)
            case UInt8(ascii: "d"): pad(c.day, 2, &out)
            case UInt8(ascii: "H"): pad(c.hour, 2, &out)
            case UInt8(ascii: "M"): pad(c.minute, 2, &out)
            case UInt8(ascii: "S"): pad(c.second, 2, &out)
            case UInt8(ascii: "s"): out.append(contentsOf: String(nanoseconds / 1_000_000_000).utf8)
            case UInt8(ascii: "z"): out.append(contentsOf: "+0000".utf8)
            case UInt8(ascii: "Z"): out.append(contentsOf: "UTC".utf8)
            case UInt8(ascii: "%"): out.append(UInt8(ascii: "%"))
            case UInt8(ascii: "f"):
                var value = c.nanos
                for _ in digits..<9 { value /= 10 }
                pad(value, digits, &out)
            default:
                out.append(contentsOf: bytes[index..<(index + consumed)])
            }
            index += consumed
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `value` in decimal, zero-padded to `width` digits.
    private static func pad(_ value: Int64, _ width: Int, _ out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var count = 1
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 {
            divisor *= 10
            count += 1
        }
        for _ in count..<max(width, count) { out.append(UInt8(ascii: "0")) }
        var rest = magnitude
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
