/// Finds where a field path points inside an object's YAML, for messages about typed values.
package enum SourceLocator {
    /// The mark of the deepest node along `path` that exists (the parent, when a required field
    /// is missing); `atKey` points at the key rather than the value for the last component.
    package static func mark(of path: FieldPath, in root: YAMLNode, atKey: Bool = false) -> SourceMark {
        var node = root
        var mark = root.mark
        for (offset, component) in path.components.enumerated() {
            let isLast = offset == path.components.count - 1
            switch (component, node.content) {
            case (.key(let key), .mapping):
                guard let pair = node.pair(forKey: key) else { return mark }
                node = pair.value
                mark = (isLast && atKey) ? pair.key.mark : pair.value.mark
            case (.index(let index), .sequence(let items)) where items.indices.contains(index):
                node = items[index]
                mark = node.mark
            default:
                return mark
            }
        }
        return mark
    }
}
