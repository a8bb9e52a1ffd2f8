import Synchronization

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
        let (value, session) = run(T.self, from: node, at: path, suggesting: false)
        guard session.hasUnknownFields else { return (value, session.problems) }
        // An unknown field: decode again noting the fields asked for, to suggest the closest
        // ("did you mean"). Valid objects, nearly all of them, never pay for the notes.
        let (again, suggested) = run(T.self, from: node, at: path, suggesting: true)
        return (again, suggested.problems)
    }

    private static func run<T: Decodable>(_ type: T.Type, from node: YAMLNode, at path: FieldPath, suggesting: Bool) -> (T?, DecodingSession) {
        let session = DecodingSession(suggesting: suggesting)
        var value: T?
        do {
            value = try session.decodeValue(T.self, node: node, path: path)
        } catch let failure as DecodingFailure {
            session.problems.append(failure.problem)
        } catch {
            session.problems.append(DecodingProblem(severity: .error, path: path, mark: node.mark, message: "\(error)"))
        }
        session.reportUnknownFields()
        // Trackers hold their decoder, which holds the session: let them go.
        session.trackers.removeAll()
        return (value, session)
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
/// present or not. Small mappings (nearly all) are scanned rather than hashed: a dozen short
/// key comparisons cost less than hashing each name, and building an index per mapping was a
/// tenth of the Kubernetes source's decoding.
final class KeyTracker {
    // The mapping's decoder, taken apart: its container (copied by the standard library's box
    // at every field asked for) is this one reference, and reads what it needs from here.
    let node: YAMLNode
    let path: FieldPath
    let session: DecodingSession
    let unimplemented: Set<String>
    let removed: Set<String>
    let pairs: [YAMLNode.Pair]
    /// Position of each scalar key in `pairs` (the first of duplicates), for large mappings;
    /// nil when the pairs are scanned.
    let index: [String: Int]?
    /// Pairs asked for: one bit each for the first 64, then `laterHits`.
    var hits: UInt64 = 0
    var laterHits: [Bool] = []
    /// Every field name decoding asked for, for "did you mean" suggestions; nil when the
    /// session does not suggest.
    var requested: [String]?
    var allRequested = false
    var aborted = false

    var decoder: NodeDecoder { NodeDecoder(node: node, path: path, session: session, unimplemented: unimplemented, removed: removed) }

    static let scannedPairs = 12

    init(decoder: NodeDecoder, pairs: [YAMLNode.Pair], suggesting: Bool) {
        node = decoder.node
        path = decoder.path
        session = decoder.session
        unimplemented = decoder.unimplemented
        removed = decoder.removed
        self.pairs = pairs
        if suggesting { requested = [] }
        if pairs.count > 64 { laterHits = [Bool](repeating: false, count: pairs.count - 64) }
        guard pairs.count > Self.scannedPairs else {
            index = nil
            return
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(pairs.count)
        for (position, pair) in pairs.enumerated() {
            if case .scalar(let key, _) = pair.key.content, index[key] == nil { index[key] = position }
        }
        self.index = index
    }

    /// The position of the first pair whose key is `name`.
    func position(of name: String) -> Int? {
        if let index { return index[name] }
        for position in pairs.indices {
            if case .scalar(let key, _) = pairs[position].key.content, key == name { return position }
        }
        return nil
    }

    func isHit(_ position: Int) -> Bool {
        position < 64 ? hits & (1 << UInt64(position)) != 0 : laterHits[position - 64]
    }

    var missedAny: Bool {
        let count = pairs.count
        if count >= 64 { return hits != .max || laterHits.contains(false) }
        return hits != (1 << UInt64(count)) - 1
    }

    /// The value for `name`, marking the key as known.
    func lookup(_ name: String) -> YAMLNode? {
        requested?.append(name)
        guard let position = position(of: name) else { return nil }
        if position < 64 {
            hits |= 1 << UInt64(position)
        } else {
            laterHits[position - 64] = true
        }
        return pairs[position].value
    }

    /// The names of the mapping's scalar keys.
    var keys: [String] {
        pairs.compactMap { pair in
            if case .scalar(let key, _) = pair.key.content { return key }
            return nil
        }
    }
}

final class DecodingSession {
    var problems: [DecodingProblem] = []
    var trackers: [KeyTracker] = []
    /// Whether containers note the fields asked for, to suggest one for an unknown field.
    let suggesting: Bool
    /// Whether `reportUnknownFields` found one.
    private(set) var hasUnknownFields = false
    /// How each non-scalar type decodes, from `DecodeRoute.known` when the session began.
    private var routes: [ObjectIdentifier: DecodeRoute]

    init(suggesting: Bool) {
        self.suggesting = suggesting
        routes = DecodeRoute.known.withLock { $0 }
    }

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
        let route = routes[ObjectIdentifier(T.self)] ?? learnRoute(T.self)
        let decoder: NodeDecoder
        switch route {
        case .enumeration(let enumType):
            return try decodeEnum(enumType, node: node, path: path) as! T
        case .list(let listType):
            return try listType.decodeLeniently(node: node, path: path, session: self) as! T
        case .map(let mapType):
            return try mapType.decodeLeniently(node: node, path: path, session: self) as! T
        case .model(let unimplemented, let removed):
            decoder = NodeDecoder(node: node, path: path, session: self, unimplemented: unimplemented, removed: removed)
        }
        do {
            return try T(from: decoder)
        } catch let failure as DecodingFailure {
            throw failure
        } catch let error as DecodingError {
            throw DecodingFailure(path, node.mark, Self.describe(error))
        }
    }

    private func learnRoute<T>(_ type: T.Type) -> DecodeRoute {
        let route = DecodeRoute(T.self)
        routes[ObjectIdentifier(T.self)] = route
        DecodeRoute.known.withLock { $0[ObjectIdentifier(T.self)] = route }
        return route
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
        for tracker in trackers where !tracker.aborted && !tracker.allRequested && tracker.missedAny {
            for (position, pair) in tracker.pairs.enumerated() where !tracker.isHit(position) {
                guard case .scalar(let name, _) = pair.key.content, tracker.position(of: name) == position else { continue }
                if tracker.removed.contains(name) {
                    problems.append(DecodingProblem(severity: .warning, path: tracker.path / name, mark: pair.key.mark, message: "was removed from the Istio API and is ignored"))
                    continue
                }
                hasUnknownFields = true
                var message = "unknown field"
                if let requested = tracker.requested, let suggestion = Self.closest(to: name, in: Set(requested)) {
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
        return Self.isTrue(value)
    }

    /// A core-schema boolean's value: `true`, `True` and `TRUE` are the true ones.
    static func isTrue(_ boolean: String) -> Bool {
        boolean.utf8.first == UInt8(ascii: "t") || boolean.utf8.first == UInt8(ascii: "T")
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

/// How a non-scalar type decodes, found once per type by casts that each cost a search of the
/// runtime's conformance tables (they were a tenth of decoding when made for every value).
enum DecodeRoute: @unchecked Sendable {
    case enumeration(any ConfigEnum.Type)
    case list(any LenientList.Type)
    case map(any LenientMap.Type)
    /// Through `Decodable`, with the model's unimplemented and removed fields (empty: none).
    case model(unimplemented: Set<String>, removed: Set<String>)

    init<T>(_ type: T.Type) {
        if let enumType = T.self as? any ConfigEnum.Type {
            self = .enumeration(enumType)
        } else if let listType = T.self as? any LenientList.Type {
            self = .list(listType)
        } else if let mapType = T.self as? any LenientMap.Type {
            self = .map(mapType)
        } else if let model = T.self as? any ConfigModel.Type {
            self = .model(unimplemented: model.unimplementedFields, removed: model.removedFields)
        } else {
            self = .model(unimplemented: [], removed: [])
        }
    }

    /// Every type decoded so far in the process; each session starts from a copy.
    static let known = Mutex<[ObjectIdentifier: DecodeRoute]>([:])
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
            if Element.self == String.self, item.resolvedKind == .string, case .scalar(let value, _) = item.content {
                result.append(unsafeBitCast(value, to: Element.self))  // a string as it should be: no path made
                continue
            }
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
            if Value.self == String.self, pair.value.resolvedKind == .string, case .scalar(let value, _) = pair.value.content {
                result[key] = unsafeBitCast(value, to: Value.self)  // a string as it should be: no path made
                continue
            }
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
        for pair in pairs where pair.key.scalarValue == nil {
            session.problems.append(DecodingProblem(severity: .error, path: path, mark: pair.key.mark, message: "keys must be strings, got \(session.describe(pair.key))"))
        }
        let tracker = KeyTracker(decoder: self, pairs: pairs, suggesting: session.suggesting)
        session.trackers.append(tracker)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(tracker: tracker))
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

    var decoder: NodeDecoder { tracker.decoder }

    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        tracker.allRequested = true
        return tracker.keys.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        tracker.lookup(key.stringValue) != nil
    }

    /// The value node when present and not null; notes the key as known, warns if unimplemented.
    private func present(_ key: Key) -> YAMLNode? {
        let name = key.stringValue
        guard let node = tracker.lookup(name), node.resolvedKind != .null else { return nil }
        if !tracker.unimplemented.isEmpty, tracker.unimplemented.contains(name) {
            tracker.session.warnUnimplemented(tracker.path / name, node.mark)
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        tracker.lookup(key.stringValue).map { $0.resolvedKind == .null } ?? true
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let node = present(key) else {
            throw DecodingFailure(tracker.path / key.stringValue, tracker.node.mark, "is required")
        }
        return try tracker.session.decodeValue(T.self, node: node, path: tracker.path / key.stringValue)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = present(key) else { return nil }
        return tracker.session.decodeReporting(T.self, node: node, path: tracker.path / key.stringValue)
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

    // Strings and booleans as they should be (nearly all) take no field path and no generic
    // dispatch; anything else goes the general way, which reports the problem at its path.
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let node = present(key) else { return nil }
        if node.resolvedKind == .bool, case .scalar(let value, _) = node.content { return DecodingSession.isTrue(value) }
        return tracker.session.decodeReporting(Bool.self, node: node, path: tracker.path / key.stringValue)
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let node = present(key) else { return nil }
        if node.resolvedKind == .string, case .scalar(let value, _) = node.content { return value }
        return tracker.session.decodeReporting(String.self, node: node, path: tracker.path / key.stringValue)
    }

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
            throw DecodingFailure(tracker.path / key.stringValue, tracker.node.mark, "must be an integer between \(I.min) and \(I.max)")
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
            throw DecodingFailure(tracker.path / key.stringValue, tracker.node.mark, "is required")
        }
        return NodeDecoder(node: node, path: tracker.path / key.stringValue, session: tracker.session, unimplemented: [])
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
