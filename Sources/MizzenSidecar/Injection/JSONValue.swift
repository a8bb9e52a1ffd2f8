package import MizzenConfig

/// A JSON value as the Kubernetes API sees an object: what the webhook's JSON Patch is computed
/// over and carries.
///
/// Objects keep their keys in order for writing (a patch's values read like the pod they come
/// from) but compare without it, as JSON objects do. Numbers keep their text.
package indirect enum JSONValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// A number as JSON writes it (`-12`, `0.5`, `1e+20`).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Keys unique, in order.
    case object([Member])

    package struct Member: Sendable {
        package var key: String
        package var value: JSONValue

        package init(_ key: String, _ value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// An object with these members in this order; a repeated key keeps its first place and its
    /// last value (Go's `encoding/json`, which the API server uses, keeps the last).
    package static func object(pairs: [(String, JSONValue)]) -> JSONValue {
        var members: [Member] = []
        var positions: [String: Int] = [:]
        for (key, value) in pairs {
            if let position = positions[key] {
                members[position].value = value
            } else {
                positions[key] = members.count
                members.append(Member(key, value))
            }
        }
        return .object(members)
    }

    /// The value of a composed node (from `JSONReader`, YAML, or built by the injector), under
    /// the YAML 1.2 core schema Kubernetes' own YAML-to-JSON conversion applies.
    ///
    /// Throws for what JSON cannot hold: a key that is not a scalar, an infinite or NaN float.
    package init(_ node: YAMLNode, at path: FieldPath = .root) throws(InjectionError) {
        switch node.content {
        case .mapping(let pairs):
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(pairs.count)
            for pair in pairs {
                guard let key = pair.key.scalarValue else {
                    throw Self.unrepresentable(path, pair.key, "a key that is not a string")
                }
                members.append((key, try JSONValue(pair.value, at: path / key)))
            }
            self = .object(pairs: members)
        case .sequence(let items):
            var values: [JSONValue] = []
            values.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                values.append(try JSONValue(item, at: path / index))
            }
            self = .array(values)
        case .scalar(let text, let style):
            self = try Self.scalar(text, style: style, node: node, at: path)
        }
    }

    private static func scalar(_ text: String, style: YAMLNode.ScalarStyle, node: YAMLNode, at path: FieldPath) throws(InjectionError) -> JSONValue {
        // A quoted scalar is a string whatever it looks like; a plain one what it resolves to.
        guard node.tag != nil || style == .plain else { return .string(text) }
        switch node.resolvedKind {
        case .null:
            return .null
        case .bool:
            return .bool(text.lowercased() == "true")
        case .integer, .float:
            if isJSONNumber(text) { return .number(text) }
            if node.resolvedKind == .integer, let value = YAMLNumber.integer(text) { return .number(String(value)) }
            // `.5`, `+1.5`, `1.`: YAML floats JSON spells otherwise.
            if let value = Double(text.hasPrefix("+") ? String(text.dropFirst()) : text), value.isFinite { return .number("\(value)") }
            throw unrepresentable(path, node, "the number \(text)")
        case .string:
            // A big integer outside Int64 resolves to a string in YAML; JSON still calls it a number.
            return style == .plain && node.tag == nil && isJSONNumber(text) ? .number(text) : .string(text)
        case .mapping, .sequence:
            return .string(text)
        }
    }

    private static func unrepresentable(_ path: FieldPath, _ node: YAMLNode, _ what: String) -> InjectionError {
        InjectionError(kind: .wrongType, file: "JSON", document: 1, object: nil, path: path, mark: node.mark,
                       message: "\(what) cannot be written as JSON")
    }

    /// RFC 8259 number syntax: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`.
    static func isJSONNumber(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }

    /// The member named `key` of an object.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// Compact JSON, strings escaped as Go's `encoding/json` escapes them.
    package var description: String {
        var text = ""
        write(into: &text)
        return text
    }

    package func write(into text: inout String) {
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .number(let value): text += value
        case .string(let value): text += GoJSON.quoted(value)
        case .array(let values):
            text += "["
            for (index, value) in values.enumerated() {
                if index > 0 { text += "," }
                value.write(into: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { text += "," }
                text += GoJSON.quoted(member.key)
                text += ":"
                member.value.write(into: &text)
            }
            text += "}"
        }
    }

    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            // Small objects (most of a pod's) by scan; labels and annotations can be large.
            if a.count <= 8 {
                return a.allSatisfy { member in b.contains { $0.key == member.key && $0.value == member.value } }
            }
            var index: [String: JSONValue] = [:]
            for member in b { index[member.key] = member.value }
            return a.allSatisfy { index[$0.key] == $0.value }
        default: return false
        }
    }
}
