/// A position in a source file: 1-based line and column (columns count Unicode scalars, as libyaml does).
package struct SourceMark: Sendable, Hashable, Comparable {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    package static func < (lhs: SourceMark, rhs: SourceMark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One node of a composed YAML document.
///
/// Nodes are immutable and shared: an alias is the anchored node itself, never a copy, so
/// composing a document costs memory in proportion to its text. `expandedSize` says how many
/// nodes a full walk would visit once aliases are followed, which is what the composer bounds.
package final class YAMLNode: Sendable {
    package enum ScalarStyle: Sendable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    package struct Pair: Sendable {
        package let key: YAMLNode
        package let value: YAMLNode

        package init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    package enum Content: Sendable {
        case scalar(String, ScalarStyle)
        case mapping([Pair])
        case sequence([YAMLNode])
    }

    package let content: Content
    /// Explicit tag as written (`!!str`, `tag:yaml.org,2002:int`), or nil.
    package let tag: String?
    package let mark: SourceMark
    /// Nodes a full walk visits, aliases expanded; saturates at `Int.max / 4`.
    package let expandedSize: Int

    /// What the node resolves to under the YAML 1.2 core schema (the types Kubernetes' JSON sees);
    /// resolved once here, since decoding asks for every scalar more than once.
    package let resolvedKind: ResolvedKind

    package init(content: Content, tag: String?, mark: SourceMark, expandedSize: Int) {
        self.content = content
        self.tag = tag
        self.mark = mark
        self.expandedSize = expandedSize
        self.resolvedKind = Self.resolve(content, tag: tag)
    }

    /// The value of `key` in a mapping node whose keys are scalars.
    package subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = content else { return nil }
        for pair in pairs {
            if case .scalar(let name, _) = pair.key.content, name == key { return pair.value }
        }
        return nil
    }

    /// The pair whose key is `key`, for reporting the key's own position.
    package func pair(forKey key: String) -> Pair? {
        guard case .mapping(let pairs) = content else { return nil }
        return pairs.first { pair in
            if case .scalar(let name, _) = pair.key.content { return name == key }
            return false
        }
    }

    package var scalarValue: String? {
        if case .scalar(let value, _) = content { return value }
        return nil
    }

    private static func resolve(_ content: Content, tag: String?) -> ResolvedKind {
        switch content {
        case .mapping: return .mapping
        case .sequence: return .sequence
        case .scalar(let value, let style):
            if let tag { return ResolvedKind(explicitTag: tag) ?? .string }
            guard style == .plain else { return .string }
            return ResolvedKind(plainScalar: value)
        }
    }

    package enum ResolvedKind: Sendable, Equatable {
        case null, bool, integer, float, string, mapping, sequence

        /// Words used in messages ("must be a string, got integer").
        package var noun: String {
            switch self {
            case .null: return "null"
            case .bool: return "boolean"
            case .integer: return "integer"
            case .float: return "number"
            case .string: return "string"
            case .mapping: return "object"
            case .sequence: return "list"
            }
        }

        init?(explicitTag tag: String) {
            switch tag {
            case "!!str", "tag:yaml.org,2002:str": self = .string
            case "!!int", "tag:yaml.org,2002:int": self = .integer
            case "!!float", "tag:yaml.org,2002:float": self = .float
            case "!!bool", "tag:yaml.org,2002:bool": self = .bool
            case "!!null", "tag:yaml.org,2002:null": self = .null
            default: return nil
            }
        }

        package init(plainScalar value: String) {
            switch value {
            case "", "~", "null", "Null", "NULL": self = .null
            case "true", "True", "TRUE", "false", "False", "FALSE": self = .bool
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
                self = .float
            default:
                if YAMLNumber.integer(value) != nil {
                    self = .integer
                } else if YAMLNumber.isFloat(value) {
                    self = .float
                } else {
                    self = .string
                }
            }
        }
    }
}

/// Number syntax of the YAML 1.2 core schema.
package enum YAMLNumber {
    /// Decimal (`-12`), octal (`0o17`) or hexadecimal (`0x1F`) integer, or nil.
    package static func integer(_ text: String) -> Int64? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return nil }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0") {
            if utf8[1] == UInt8(ascii: "x") { return Int64(String(decoding: utf8[2...], as: UTF8.self), radix: 16) }
            if utf8[1] == UInt8(ascii: "o") { return Int64(String(decoding: utf8[2...], as: UTF8.self), radix: 8) }
        }
        var index = 0
        if utf8[0] == UInt8(ascii: "-") || utf8[0] == UInt8(ascii: "+") { index = 1 }
        guard index < utf8.count else { return nil }
        for byte in utf8[index...] where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return nil }
        return Int64(text)
    }

    /// Whether `text` is a core-schema float (`1.5`, `-.5`, `1e3`, `2.5E-3`).
    package static func isFloat(_ text: String) -> Bool {
        var sawDigit = false
        var sawDot = false
        var sawExponent = false
        var previous: UInt8 = 0
        for (offset, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                sawDigit = true
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard offset == 0 || previous == UInt8(ascii: "e") || previous == UInt8(ascii: "E") else { return false }
            case UInt8(ascii: "."):
                guard !sawDot, !sawExponent else { return false }
                sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                guard sawDigit, !sawExponent else { return false }
                sawExponent = true
                sawDigit = false
            default:
                return false
            }
            previous = byte
        }
        return sawDigit && (sawDot || sawExponent)
    }
}
