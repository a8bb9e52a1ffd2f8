package import MizzenConfig

/// A compiled `StringMatch`: exact, prefix, full-match regex, or presence only.
package enum StringMatcher: Sendable, CustomStringConvertible {
    case exact(String)
    case prefix(String)
    case regex(CompiledRegex)
    /// `{}`: any value (the header or parameter only has to be present).
    case present
    /// Exact or prefix compared without case (`ignoreUriCase`); the pattern is stored lower-cased.
    case exactIgnoringCase(String)
    case prefixIgnoringCase(String)

    /// Compiles a match; nil when the StringMatch sets nothing (which means "present").
    package init(_ match: StringMatch, ignoreCase: Bool = false) throws(CompiledRegex.CompileError) {
        if let exact = match.exact {
            self = ignoreCase ? .exactIgnoringCase(Self.asciiLowercased(exact)) : .exact(exact)
        } else if let prefix = match.prefix {
            self = ignoreCase ? .prefixIgnoringCase(Self.asciiLowercased(prefix)) : .prefix(prefix)
        } else if let regex = match.regex {
            // `*` under (without)headers means "present" in Istio, not a regex.
            self = regex == "*" ? .present : .regex(try CompiledRegex(regex))
        } else {
            self = .present
        }
    }

    package func matches(_ value: String) -> Bool {
        switch self {
        case .exact(let expected): return value == expected
        case .prefix(let prefix): return value.hasPrefix(prefix)
        case .regex(let regex): return regex.matches(value)
        case .present: return true
        case .exactIgnoringCase(let expected): return Self.startsIgnoringASCIICase(value, expected, wholly: true)
        case .prefixIgnoringCase(let prefix): return Self.startsIgnoringASCIICase(value, prefix, wholly: false)
        }
    }

    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Compares bytes with ASCII letters folded, as Envoy's `ignore_case` does, without making a
    /// lower-cased copy of the value per request. `lowered` is already lower-case.
    static func startsIgnoringASCIICase(_ value: String, _ lowered: String, wholly: Bool) -> Bool {
        let valueBytes = value.utf8, expected = lowered.utf8
        guard wholly ? valueBytes.count == expected.count : valueBytes.count >= expected.count else { return false }
        var position = valueBytes.startIndex
        for byte in expected {
            var actual = valueBytes[position]
            if actual >= UInt8(ascii: "A"), actual <= UInt8(ascii: "Z") { actual += 32 }
            guard actual == byte else { return false }
            position = valueBytes.index(after: position)
        }
        return true
    }

    /// Cheap matchers run before regexes when a route has several conditions.
    var cost: Int {
        switch self {
        case .present: return 0
        case .exact, .exactIgnoringCase: return 1
        case .prefix, .prefixIgnoringCase: return 2
        case .regex: return 10
        }
    }

    package var description: String {
        switch self {
        case .exact(let value): return "exact \"\(value)\""
        case .prefix(let value): return "prefix \"\(value)\""
        case .regex(let regex): return "regex \"\(regex.pattern)\""
        case .present: return "present"
        case .exactIgnoringCase(let value): return "exact \"\(value)\" ignoring case"
        case .prefixIgnoringCase(let value): return "prefix \"\(value)\" ignoring case"
        }
    }
}
