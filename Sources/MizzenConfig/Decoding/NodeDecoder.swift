/// A problem found while decoding one object, before validation.
package struct DecodingProblem: Sendable {
    package enum Severity: Sendable { case error, warning }

    package var severity: Severity
    package var path: FieldPath
    package var mark: SourceMark
    package var message: String
}

/// Decodes `ConfigModel` values from YAML nodes, strictly (unknown fields are errors, as with
/// kubectl's strict decoding) and leniently at once: a bad field is reported and left unset, so
/// one run reports every problem of an object rather than the first.
package enum ObjectDecoder {
    package static func decode<T: Decodable>(_ type: T.Type, from node: YAMLNode, at path: FieldPath = .root) -> (value: T?, problems: [DecodingProblem]) {
        let session = DecodingSession()
        var value: T?
        do {
            value = try session.decodeValue(T.self, node: node, path: path)
        } catch let failure as DecodingFailure {
            session.problems.append(failure.problem)
        } catch {
            session.problems.append(DecodingProblem(severity: .error, path: path, mark: node.mark, message: "\(error)"))
        }
        session.reportUnknownFields()
        return (value, session.problems)
    }
}

struct DecodingFailure: Error {
    var problem: DecodingProblem

    init(_ path: FieldPath, _ mark: SourceMark, _ message: String) {
        problem = DecodingProblem(severity: .error, path: path, mark: mark, message: message)
    }
}

/// The keys a mapping was asked for, to find the fields nobody asked for (unknown fields).
///
/// A flag per pair rather than a set of names: decoding asks for every known field of a type,
/// present or not, and hashing each name into a set cost a tenth of the load time.
final class KeyTracker {
    let node: YAMLNode
    let path: FieldPath
    let pairs: [YAMLNode.Pair]
    /// Position of each scalar key in `pairs` (the first, when the composer reported a duplicate).
    let index: [String: Int]
    var hit: [Bool]
    /// Every field name decoding asked for, for "did you mean" suggestions.
    var requested: [String] = []
    var allRequested = false
    var aborted = false
    let removed: Set<String>

    init(node: YAMLNode, path: FieldPath, pairs: [YAMLNode.Pair], index: [String: Int], removed: Set<String>) {
        self.node = node
        self.path = path
        self.pairs = pairs
        self.index = index
        self.hit = [Bool](repeating: false, count: pairs.count)
        self.removed = removed
    }

    /// The value for `name`, marking the key as known.
    func lookup(_ name: String) -> YAMLNode? {
        requested.append(name)
        guard let position = index[name] else { return nil }
        hit[position] = true
        return pairs[position].value
    }
}

final class DecodingSession {
    var problems: [DecodingProblem] = []
    var trackers: [KeyTracker] = []

    func warnUnimplemented(_ path: FieldPath, _ mark: SourceMark) {
        problems.append(DecodingProblem(severity: .warning, path: path, mark: mark, message: "accepted, not implemented yet"))
    }

    /// Decodes a value that is present; scalars are converted here, the rest through `Decodable`.
    func decodeValue<T: Decodable>(_ type: T.Type, node: YAMLNode, path: FieldPath) throws -> T {
        if T.self == String.self { return try string(node, path) as! T }
        if T.self == Bool.self { return try bool(node, path) as! T }
        if T.self == UInt32.self { return try integer(node, path, UInt32.self) as! T }
        if T.self == Int32.self { return try integer(node, path, Int32.self) as! T }
        if T.self == Int.self { return try integer(node, path, Int.self) as! T }
        if T.self == Int64.self { return try integer(node, path, Int64.self) as! T }
        if T.self == UInt64.self { return try integer(node, path, UInt64.self) as! T }
        if T.self == Double.self { return try double(node, path) as! T }
        if let enumType = T.self as? any ConfigEnum.Type {
            return try decodeEnum(enumType, node: node, path: path) as! T
        }
        if let listType = T.self as? any LenientList.Type {
            return try listType.decodeLeniently(node: node, path: path, session: self) as! T
        }
        if let mapType = T.self as? any LenientMap.Type {
            return try mapType.decodeLeniently(node: node, path: path, session: self) as! T
        }
        let model = T.self as? any ConfigModel.Type
        let decoder = NodeDecoder(node: node, path: path, session: self, unimplemented: model?.unimplementedFields ?? [], removed: model?.removedFields ?? [])
        do {
            return try T(from: decoder)
        } catch let failure as DecodingFailure {
            throw failure
        } catch let error as DecodingError {
            throw DecodingFailure(path, node.mark, Self.describe(error))
        }
    }

    /// Decodes a present value, or records why it could not be and returns nil.
    func decodeReporting<T: Decodable>(_ type: T.Type, node: YAMLNode, path: FieldPath) -> T? {
        let firstTracker = trackers.count
        do {
            return try decodeValue(T.self, node: node, path: path)
        } catch let failure as DecodingFailure {
            problems.append(failure.problem)
        } catch {
            problems.append(DecodingProblem(severity: .error, path: path, mark: node.mark, message: "\(error)"))
        }
        // Containers left half-read would report fields as unknown that were never reached.
        for index in firstTracker..<trackers.count { trackers[index].aborted = true }
        return nil
    }

    func reportUnknownFields() {
        for tracker in trackers where !tracker.aborted && !tracker.allRequested && tracker.hit.contains(false) {
            for (position, pair) in tracker.pairs.enumerated() where !tracker.hit[position] {
                guard case .scalar(let name, _) = pair.key.content, tracker.index[name] == position else { continue }
                if tracker.removed.contains(name) {
                    problems.append(DecodingProblem(severity: .warning, path: tracker.path / name, mark: pair.key.mark, message: "was removed from the Istio API and is ignored"))
                    continue
                }
                var message = "unknown field"
                if let suggestion = Self.closest(to: name, in: Set(tracker.requested)) {
                    message += " (did you mean \"\(suggestion)\"?)"
                }
                problems.append(DecodingProblem(severity: .error, path: tracker.path / name, mark: pair.key.mark, message: message))
            }
        }
    }

    // MARK: Scalars

    func string(_ node: YAMLNode, _ path: FieldPath) throws -> String {
        guard case .scalar(let value, _) = node.content else {
            throw DecodingFailure(path, node.mark, "must be a string, got \(node.resolvedKind.noun)")
        }
        let kind = node.resolvedKind
        guard kind == .string else {
            throw DecodingFailure(path, node.mark, "must be a string, got \(kind.noun) \(value); quote it: \"\(value)\"")
        }
        return value
    }

    func bool(_ node: YAMLNode, _ path: FieldPath) throws -> Bool {
        guard node.resolvedKind == .bool, let value = node.scalarValue else {
            throw DecodingFailure(path, node.mark, "must be true or false, got \(describe(node))")
        }
        return value.lowercased() == "true"
    }

    func integer<I: FixedWidthInteger>(_ node: YAMLNode, _ path: FieldPath, _ type: I.Type) throws -> I {
        // protojson writes 64-bit integers as strings ("1024"); accept both forms for those.
        if I.bitWidth == 64, node.resolvedKind == .string, let text = node.scalarValue,
           let wide = YAMLNumber.integer(text), let value = I(exactly: wide) {
            return value
        }
        guard node.resolvedKind == .integer, let text = node.scalarValue else {
            throw DecodingFailure(path, node.mark, "must be an integer, got \(describe(node))")
        }
        guard let wide = YAMLNumber.integer(text), let value = I(exactly: wide) else {
            throw DecodingFailure(path, node.mark, "must be an integer between \(I.min) and \(I.max), got \(text)")
        }
        return value
    }

    func double(_ node: YAMLNode, _ path: FieldPath) throws -> Double {
        let kind = node.resolvedKind
        guard kind == .integer || kind == .float, let text = node.scalarValue else {
            throw DecodingFailure(path, node.mark, "must be a number, got \(describe(node))")
        }
        if let integer = YAMLNumber.integer(text) { return Double(integer) }
        guard let value = Double(text), value.isFinite else {
            throw DecodingFailure(path, node.mark, "must be a finite number, got \(text)")
        }
        return value
    }

    func describe(_ node: YAMLNode) -> String {
        switch node.content {
        case .scalar(let value, _):
            let shown = value.count > 40 ? String(value.prefix(40)) + "..." : value
            return "\(node.resolvedKind.noun) \"\(shown)\""
        case .mapping: return "an object"
        case .sequence: return "a list"
        }
    }

    func decodeEnum<E: ConfigEnum>(_ type: E.Type, node: YAMLNode, path: FieldPath) throws -> E {
        let raw = try string(node, path)
        if let value = E(rawValue: raw) { return value }
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        throw DecodingFailure(path, node.mark, "unknown value \"\(raw.prefix(60))\"; expected one of \(allowed)")
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            return context.debugDescription
        case .keyNotFound(let key, _):
            return "\(key.stringValue) is required"
        @unknown default:
            return "\(error)"
        }
    }

    /// The known field closest to a misspelt one (edit distance at most 2), for "did you mean".
    static func closest(to name: String, in candidates: Set<String>) -> String? {
        let lowered = name.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance <= 2, distance < (best?.1 ?? Int.max) || (distance == best?.1 && candidate < best!.0) {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8.prefix(64)), b = Array(b.utf8.prefix(64))
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

// MARK: - Lists and maps decoded element by element

/// Lists decode each element on its own, so one bad element costs only itself.
protocol LenientList {
    static func decodeLeniently(node: YAMLNode, path: FieldPath, session: DecodingSession) throws -> Self
}

extension Array: LenientList where Element: Decodable {
    static func decodeLeniently(node: YAMLNode, path: FieldPath, session: DecodingSession) throws -> [Element] {
        guard case .sequence(let items) = node.content else {
            throw DecodingFailure(path, node.mark, "must be a list, got \(session.describe(node))")
        }
        var result: [Element] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let itemPath = path[index]
            if item.resolvedKind == .null {
                session.problems.append(DecodingProblem(severity: .error, path: itemPath, mark: item.mark, message: "must not be null"))
                continue
            }
            if let value = session.decodeReporting(Element.self, node: item, path: itemPath) {
                result.append(value)
            }
        }
        return result
    }
}

/// Maps with string keys (`labels`, `headers`, `queryParams`), each value decoded on its own.
protocol LenientMap {
    static func decodeLeniently(node: YAMLNode, path: FieldPath, session: DecodingSession) throws -> Self
}

extension Dictionary: LenientMap where Key == String, Value: Decodable {
    static func decodeLeniently(node: YAMLNode, path: FieldPath, session: DecodingSession) throws -> [String: Value] {
        guard case .mapping(let pairs) = node.content else {
            throw DecodingFailure(path, node.mark, "must be an object, got \(session.describe(node))")
        }
        var result: [String: Value] = [:]
        result.reserveCapacity(pairs.count)
        for pair in pairs {
            guard case .scalar(let key, _) = pair.key.content else {
                session.problems.append(DecodingProblem(severity: .error, path: path, mark: pair.key.mark, message: "keys must be strings, got \(session.describe(pair.key))"))
                continue
            }
            guard result[key] == nil else { continue }  // the composer reported the duplicate
            if let value = session.decodeReporting(Value.self, node: pair.value, path: path / key) {
                result[key] = value
            }
        }
        return result
    }
}

// MARK: - Decoder

struct NodeDecoder: Decoder {
    let node: YAMLNode
    let path: FieldPath
    let session: DecodingSession
    let unimplemented: Set<String>
    var removed: Set<String> = []

    var codingPath: [any CodingKey] {
        path.components.map { component in
            switch component {
            case .key(let key): return PathKey(stringValue: key)
            case .index(let index): return PathKey(intValue: index)
            }
        }
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let pairs) = node.content else {
            throw DecodingFailure(path, node.mark, "must be an object, got \(session.describe(node))")
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(pairs.count)
        for (position, pair) in pairs.enumerated() {
            guard case .scalar(let key, _) = pair.key.content else {
                session.problems.append(DecodingProblem(severity: .error, path: path, mark: pair.key.mark, message: "keys must be strings, got \(session.describe(pair.key))"))
                continue
            }
            if index[key] == nil { index[key] = position }
        }
        let tracker = KeyTracker(node: node, path: path, pairs: pairs, index: index, removed: removed)
        session.trackers.append(tracker)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(tracker: tracker, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let items) = node.content else {
            throw DecodingFailure(path, node.mark, "must be a list, got \(session.describe(node))")
        }
        return UnkeyedNodeContainer(items: items, decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleNodeContainer(decoder: self)
    }
}

struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
    }

    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let tracker: KeyTracker
    let decoder: NodeDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        tracker.allRequested = true
        return tracker.index.keys.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        tracker.lookup(key.stringValue) != nil
    }

    /// The value node when present and not null; notes the key as known, warns if unimplemented.
    private func present(_ key: Key) -> YAMLNode? {
        let name = key.stringValue
        guard let node = tracker.lookup(name), node.resolvedKind != .null else { return nil }
        if decoder.unimplemented.contains(name) {
            decoder.session.warnUnimplemented(decoder.path / name, node.mark)
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        tracker.lookup(key.stringValue).map { $0.resolvedKind == .null } ?? true
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let node = present(key) else {
            throw DecodingFailure(decoder.path / key.stringValue, decoder.node.mark, "is required")
        }
        return try decoder.session.decodeValue(T.self, node: node, path: decoder.path / key.stringValue)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = present(key) else { return nil }
        return decoder.session.decodeReporting(T.self, node: node, path: decoder.path / key.stringValue)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(Bool.self as Bool.Type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(String.self as String.Type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(Double.self as Double.Type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try decode(Double.self as Double.Type, key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(Int.self as Int.Type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try narrow(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try narrow(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(Int32.self as Int32.Type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(Int64.self as Int64.Type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try narrow(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try narrow(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try narrow(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(UInt32.self as UInt32.Type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(UInt64.self as UInt64.Type, key) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresent(Bool.self as Bool.Type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decodeIfPresent(String.self as String.Type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decodeIfPresent(Double.self as Double.Type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresent(Int.self as Int.Type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try decodeIfPresent(Int32.self as Int32.Type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try decodeIfPresent(Int64.self as Int64.Type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try decodeIfPresent(UInt32.self as UInt32.Type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try decodeIfPresent(UInt64.self as UInt64.Type, key) }

    private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try decode(T.self, forKey: key)
    }

    private func decodeIfPresent<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        try decodeIfPresent(T.self, forKey: key)
    }

    private func narrow<I: FixedWidthInteger>(_ key: Key) throws -> I {
        let wide = try decode(Int64.self as Int64.Type, key)
        guard let value = I(exactly: wide) else {
            throw DecodingFailure(decoder.path / key.stringValue, decoder.node.mark, "must be an integer between \(I.min) and \(I.max)")
        }
        return value
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: NestedKey.self)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }

    private func child(_ key: Key) throws -> NodeDecoder {
        guard let node = present(key) else {
            throw DecodingFailure(decoder.path / key.stringValue, decoder.node.mark, "is required")
        }
        return NodeDecoder(node: node, path: decoder.path / key.stringValue, session: decoder.session, unimplemented: [])
    }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let items: [YAMLNode]
    let decoder: NodeDecoder
    var currentIndex = 0

    init(items: [YAMLNode], decoder: NodeDecoder) {
        self.items = items
        self.decoder = decoder
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return true }
        if items[currentIndex].resolvedKind == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else {
            throw DecodingFailure(decoder.path, decoder.node.mark, "has too few elements")
        }
        defer { currentIndex += 1 }
        return try decoder.session.decodeValue(T.self, node: items[currentIndex], path: decoder.path[currentIndex])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        defer { currentIndex += 1 }
        return try element().container(keyedBy: NestedKey.self)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        defer { currentIndex += 1 }
        return try element().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        defer { currentIndex += 1 }
        return try element()
    }

    private func element() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingFailure(decoder.path, decoder.node.mark, "has too few elements")
        }
        return NodeDecoder(node: items[currentIndex], path: decoder.path[currentIndex], session: decoder.session, unimplemented: [])
    }
}

struct SingleNodeContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.node.resolvedKind == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.session.decodeValue(T.self, node: decoder.node, path: decoder.path)
    }

    func decode(_ type: Bool.Type) throws -> Bool { try decoder.session.bool(decoder.node, decoder.path) }
    func decode(_ type: String.Type) throws -> String { try decoder.session.string(decoder.node, decoder.path) }
    func decode(_ type: Double.Type) throws -> Double { try decoder.session.double(decoder.node, decoder.path) }
    func decode(_ type: Float.Type) throws -> Float { Float(try decoder.session.double(decoder.node, decoder.path)) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.session.integer(decoder.node, decoder.path, Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.session.integer(decoder.node, decoder.path, Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.session.integer(decoder.node, decoder.path, Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.session.integer(decoder.node, decoder.path, Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.session.integer(decoder.node, decoder.path, Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.session.integer(decoder.node, decoder.path, UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.session.integer(decoder.node, decoder.path, UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.session.integer(decoder.node, decoder.path, UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.session.integer(decoder.node, decoder.path, UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.session.integer(decoder.node, decoder.path, UInt64.self) }
}
