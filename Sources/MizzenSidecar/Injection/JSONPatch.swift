/// An RFC 6902 JSON Patch made by comparing two documents: what the injection webhook answers
/// for the changes `SidecarInjector` made to a pod.
///
/// The diff is structural. Objects are compared key by key: a key only in the original is
/// removed, one only in the target added, one in both compared again below. Arrays are compared
/// by position after taking off the longest common prefix and then suffix: the elements left in
/// the middle are compared pairwise, the extra ones added (with `/-` when they go at the end) or
/// removed (from the highest index down, so earlier indexes stay right). Two objects that both
/// have a `name` but not the same one are different entries of a Kubernetes list (containers,
/// volumes, env), so the element is replaced whole rather than edited into another. Anything
/// else that differs is replaced.
///
/// Each operation applies to the document the previous ones left, as RFC 6902 §3 requires.
package struct JSONPatch: Sendable, Equatable, CustomStringConvertible {
    package enum Operation: Sendable, Equatable {
        case add(path: String, value: JSONValue)
        case remove(path: String)
        case replace(path: String, value: JSONValue)

        package var path: String {
            switch self {
            case .add(let path, _), .remove(let path), .replace(let path, _): return path
            }
        }
    }

    package var operations: [Operation]

    package init(_ operations: [Operation]) {
        self.operations = operations
    }

    /// The operations that turn `original` into `target`; none when they are equal.
    package static func diff(from original: JSONValue, to target: JSONValue) -> JSONPatch {
        var operations: [Operation] = []
        compare(original, target, at: "", into: &operations)
        return JSONPatch(operations)
    }

    /// `[{"op":"add","path":"/metadata/labels/app","value":"web"},...]`, keys in RFC 6902's order.
    package var description: String {
        var text = "["
        for (index, operation) in operations.enumerated() {
            if index > 0 { text += "," }
            switch operation {
            case .add(let path, let value):
                text += "{\"op\":\"add\",\"path\":" + GoJSON.quoted(path) + ",\"value\":"
                value.write(into: &text)
                text += "}"
            case .remove(let path):
                text += "{\"op\":\"remove\",\"path\":" + GoJSON.quoted(path) + "}"
            case .replace(let path, let value):
                text += "{\"op\":\"replace\",\"path\":" + GoJSON.quoted(path) + ",\"value\":"
                value.write(into: &text)
                text += "}"
            }
        }
        return text + "]"
    }

    /// One reference token of a JSON Pointer (RFC 6901 §3): `~` as `~0`, then `/` as `~1`.
    package static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    // MARK: - Comparing

    private static func compare(_ original: JSONValue, _ target: JSONValue, at path: String, into operations: inout [Operation]) {
        switch (original, target) {
        case (.object(let before), .object(let after)):
            compareObjects(before, after, at: path, into: &operations)
        case (.array(let before), .array(let after)):
            compareArrays(before, after, at: path, into: &operations)
        default:
            if original != target { operations.append(.replace(path: path, value: target)) }
        }
    }

    private static func compareObjects(_ before: [JSONValue.Member], _ after: [JSONValue.Member], at path: String,
                                       into operations: inout [Operation]) {
        var targets: [String: JSONValue] = [:]
        for member in after { targets[member.key] = member.value }
        var originals: Set<String> = []
        for member in before {
            originals.insert(member.key)
            let memberPath = path + "/" + escape(member.key)
            if let target = targets[member.key] {
                compare(member.value, target, at: memberPath, into: &operations)
            } else {
                operations.append(.remove(path: memberPath))
            }
        }
        for member in after where !originals.contains(member.key) {
            operations.append(.add(path: path + "/" + escape(member.key), value: member.value))
        }
    }

    private static func compareArrays(_ before: [JSONValue], _ after: [JSONValue], at path: String, into operations: inout [Operation]) {
        var prefix = 0
        while prefix < before.count, prefix < after.count, before[prefix] == after[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < min(before.count, after.count) - prefix, before[before.count - 1 - suffix] == after[after.count - 1 - suffix] {
            suffix += 1
        }
        let removedMiddle = before[prefix..<(before.count - suffix)]
        let addedMiddle = after[prefix..<(after.count - suffix)]
        let paired = min(removedMiddle.count, addedMiddle.count)
        for offset in 0..<paired {
            let index = prefix + offset
            let old = before[index], new = after[index]
            if isOtherEntry(old, new) {
                operations.append(.replace(path: path + "/" + String(index), value: new))
            } else {
                compare(old, new, at: path + "/" + String(index), into: &operations)
            }
        }
        if addedMiddle.count > paired {
            for offset in paired..<addedMiddle.count {
                let index = prefix + offset
                operations.append(.add(path: suffix == 0 ? path + "/-" : path + "/" + String(index), value: after[index]))
            }
        } else if removedMiddle.count > paired {
            for index in (prefix + paired..<prefix + removedMiddle.count).reversed() {
                operations.append(.remove(path: path + "/" + String(index)))
            }
        }
    }

    /// Two objects naming different things: a list entry replaced, not edited.
    private static func isOtherEntry(_ old: JSONValue, _ new: JSONValue) -> Bool {
        guard case .string(let oldName) = old["name"], case .string(let newName) = new["name"] else { return false }
        return oldName != newName
    }
}
