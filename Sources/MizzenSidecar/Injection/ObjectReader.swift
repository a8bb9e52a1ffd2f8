import MizzenConfig

/// Labels or annotations in source order, each value's node kept for error positions.
struct StringMap: Sendable {
    private(set) var entries: [(key: String, value: String)] = []
    private var nodes: [String: YAMLNode] = [:]

    init() {}

    init(_ pairs: [(String, String)]) {
        for (key, value) in pairs { set(key, value) }
    }

    subscript(key: String) -> String? {
        entries.first { $0.key == key }?.value
    }

    func node(_ key: String) -> YAMLNode? { nodes[key] }

    mutating func set(_ key: String, _ value: String, node: YAMLNode? = nil) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append((key, value))
        }
        if let node { nodes[key] = node }
    }

    /// The map as a YAML mapping: `original`'s pairs kept, changed ones updated in place, new keys appended.
    func node(updating original: YAMLNode?) -> YAMLNode {
        var result = original?.isMapping == true ? original! : YAMLNode.mapping([])
        for (key, value) in entries where result[key]?.scalarValue != value {
            result = result.setting(key, to: .string(value))
        }
        return result
    }
}

/// Typed access to a Kubernetes object's fields, each failure naming the field's path.
struct ObjectReader: Sendable {
    let context: ErrorContext

    /// `node[key]`, nil when absent or null.
    func child(_ node: YAMLNode, _ key: String) -> YAMLNode? {
        guard let value = node[key], value.resolvedKind != .null else { return nil }
        return value
    }

    func mapping(_ node: YAMLNode, at path: FieldPath) throws(InjectionError) -> YAMLNode {
        guard node.isMapping else { throw context.wrongType(path, node, expected: "a mapping") }
        return node
    }

    func optionalMapping(_ parent: YAMLNode, _ key: String, at path: FieldPath) throws(InjectionError) -> YAMLNode? {
        guard let node = child(parent, key) else { return nil }
        return try mapping(node, at: path / key)
    }

    func optionalSequence(_ parent: YAMLNode, _ key: String, at path: FieldPath) throws(InjectionError) -> [YAMLNode]? {
        guard let node = child(parent, key) else { return nil }
        guard let items = node.items else { throw context.wrongType(path / key, node, expected: "a sequence") }
        return items
    }

    func requiredMapping(_ parent: YAMLNode, _ key: String, at path: FieldPath) throws(InjectionError) -> YAMLNode {
        guard let node = try optionalMapping(parent, key, at: path) else {
            throw context.error(.missingField, path / key, parent, "is required")
        }
        return node
    }

    /// A scalar's text, nil when absent or null.
    func optionalScalar(_ parent: YAMLNode, _ key: String, at path: FieldPath) throws(InjectionError) -> String? {
        guard let node = child(parent, key) else { return nil }
        guard let text = node.scalarValue else { throw context.wrongType(path / key, node, expected: "a string") }
        return text
    }

    /// Labels or annotations: a mapping of scalars (their text taken as written).
    func stringMap(_ parent: YAMLNode?, _ key: String, at path: FieldPath) throws(InjectionError) -> StringMap {
        guard let parent, let node = try optionalMapping(parent, key, at: path) else { return StringMap() }
        var map = StringMap()
        for pair in node.pairs ?? [] {
            guard let name = pair.key.scalarValue else {
                throw context.wrongType(path / key, pair.key, expected: "a mapping with string keys")
            }
            let value: String
            switch pair.value.content {
            case .scalar(let text, _): value = pair.value.resolvedKind == .null ? "" : text
            default: throw context.wrongType(path / key / name, pair.value, expected: "a string")
            }
            map.set(name, value, node: pair.value)
        }
        return map
    }

    /// Whether `node[key]` is the boolean true.
    func flag(_ node: YAMLNode, _ key: String) -> Bool {
        guard let value = child(node, key), value.resolvedKind == .bool, let text = value.scalarValue else { return false }
        return text.lowercased() == "true"
    }
}
