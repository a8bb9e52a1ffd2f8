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
            self = ignoreCase ? .exactIgnoringCase(exact.lowercased()) : .exact(exact)
        } else if let prefix = match.prefix {
            self = ignoreCase ? .prefixIgnoringCase(prefix.lowercased()) : .prefix(prefix)
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
        case .exactIgnoringCase(let expected): return value.lowercased() == expected
        case .prefixIgnoringCase(let prefix): return value.lowercased().hasPrefix(prefix)
        }
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
