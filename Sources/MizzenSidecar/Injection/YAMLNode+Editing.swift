import MizzenConfig

/// Building and rewriting composed YAML nodes. Nodes are immutable, so an edit returns a new
/// node that shares every untouched child with the old one.
extension YAMLNode {
    /// Where synthesized nodes claim to be: nowhere in the source.
    static let nowhere = SourceMark(line: 0, column: 0)

    /// A string, whatever it looks like (`"15001"` stays a string).
    static func string(_ value: String) -> YAMLNode {
        YAMLNode(content: .scalar(value, .doubleQuoted), tag: nil, mark: nowhere, expandedSize: 1)
    }

    static func integer(_ value: Int) -> YAMLNode {
        YAMLNode(content: .scalar(String(value), .plain), tag: nil, mark: nowhere, expandedSize: 1)
    }

    static func boolean(_ value: Bool) -> YAMLNode {
        YAMLNode(content: .scalar(value ? "true" : "false", .plain), tag: nil, mark: nowhere, expandedSize: 1)
    }

    static func sequence(_ items: [YAMLNode]) -> YAMLNode {
        YAMLNode(content: .sequence(items), tag: nil, mark: nowhere, expandedSize: items.reduce(1) { $0 + $1.expandedSize })
    }

    static func strings(_ values: [String]) -> YAMLNode {
        sequence(values.map(string))
    }

    /// A mapping with string keys, in the order given.
    static func mapping(_ pairs: [(String, YAMLNode)]) -> YAMLNode {
        mapping(pairs: pairs.map { Pair(key: string($0.0), value: $0.1) })
    }

    static func mapping(pairs: [Pair]) -> YAMLNode {
        let size = pairs.reduce(1) { $0 + $1.key.expandedSize + $1.value.expandedSize }
        return YAMLNode(content: .mapping(pairs), tag: nil, mark: nowhere, expandedSize: size)
    }

    var pairs: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    var items: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    var isMapping: Bool { pairs != nil }
    var isSequence: Bool { items != nil }

    /// The same mapping with other pairs; tag and position kept.
    func replacingPairs(_ pairs: [Pair]) -> YAMLNode {
        let size = pairs.reduce(1) { $0 + $1.key.expandedSize + $1.value.expandedSize }
        return YAMLNode(content: .mapping(pairs), tag: tag, mark: mark, expandedSize: size)
    }

    /// The same sequence with other items; tag and position kept.
    func replacingItems(_ items: [YAMLNode]) -> YAMLNode {
        YAMLNode(content: .sequence(items), tag: tag, mark: mark, expandedSize: items.reduce(1) { $0 + $1.expandedSize })
    }

    /// This mapping with `key` set to `value`: in place when the key is there, else appended
    /// (or put first with `atStart`).
    func setting(_ key: String, to value: YAMLNode, atStart: Bool = false) -> YAMLNode {
        var pairs = self.pairs ?? []
        if let index = pairs.firstIndex(where: { $0.key.scalarValue == key }) {
            pairs[index] = Pair(key: pairs[index].key, value: value)
        } else if atStart {
            pairs.insert(Pair(key: .string(key), value: value), at: 0)
        } else {
            pairs.append(Pair(key: .string(key), value: value))
        }
        return replacingPairs(pairs)
    }

    /// This mapping with the pair named `key` replaced by `newKey: value` at the same place.
    func renaming(_ key: String, to newKey: String, value: YAMLNode) -> YAMLNode {
        var pairs = self.pairs ?? []
        guard let index = pairs.firstIndex(where: { $0.key.scalarValue == key }) else {
            return setting(newKey, to: value)
        }
        pairs[index] = Pair(key: .string(newKey), value: value)
        return replacingPairs(pairs)
    }
}
