internal import CLibYAML

/// Limits that keep hostile YAML bounded in time and memory.
package struct YAMLLimits: Sendable {
    /// Deepest nesting of mappings and sequences accepted. Istio objects nest about 12 deep.
    package var maxDepth: Int = 256
    /// Aliases may make a walk visit at most this many nodes more than the text holds
    /// (the "billion laughs" guard).
    package var maxAliasExpansion: Int = 100_000

    package init() {}
}

/// A problem found while reading YAML text; `fatal` problems end the stream.
package struct YAMLProblem: Sendable, Equatable {
    package var mark: SourceMark
    package var message: String
}

/// The documents of one YAML stream, and the problems met while composing them.
package struct YAMLStream: Sendable {
    /// Each document's root node (nil for an empty document) and where the document starts.
    package var documents: [(root: YAMLNode?, start: SourceMark)]
    /// Problems that cost one document (duplicate keys, aliasing) or, for the last one, the rest of the stream.
    package var problems: [YAMLProblem]
}

/// Builds `YAMLNode` trees from libyaml's event stream.
///
/// Our own composer rather than Yams': Yams hashes mapping keys deeply to find duplicates, so an
/// alias bomb used as a key never finishes (measured: killed after 20 s), it stops the whole
/// stream at the first duplicate key, and its messages quote the whole offending line.
package enum YAMLComposer {
    package static func compose(_ bytes: [UInt8], limits: YAMLLimits = YAMLLimits()) -> YAMLStream {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return YAMLStream(documents: [], problems: [YAMLProblem(mark: SourceMark(line: 1, column: 1), message: "cannot initialise the YAML parser")])
        }
        defer { yaml_parser_delete(&parser) }
        // libyaml wants a non-null pointer even for empty input.
        let input = bytes.isEmpty ? [0] : bytes
        let length = bytes.count
        return input.withUnsafeBufferPointer { buffer -> YAMLStream in
            withUnsafeMutablePointer(to: &parser) { parserPointer -> YAMLStream in
                yaml_parser_set_input_string(parserPointer, buffer.baseAddress!, length)
                var composer = Composer(parser: parserPointer, limits: limits, bytes: bytes)
                return composer.run()
            }
        }
    }
}

private struct ComposeFailure: Error {
    var problem: YAMLProblem
    /// Whether the event stream can go on to the next document.
    var recoverable: Bool
}

private struct Composer {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    let limits: YAMLLimits
    /// The input, to turn the byte offset of a reader (encoding) error into a line and column.
    let bytes: [UInt8]
    var anchors: [String: YAMLNode] = [:]
    var documentProblems: [YAMLProblem] = []
    /// Nodes created for the current document (not counting alias re-use).
    var nodeCount = 0

    init(parser: UnsafeMutablePointer<yaml_parser_t>, limits: YAMLLimits, bytes: [UInt8]) {
        self.parser = parser
        self.limits = limits
        self.bytes = bytes
    }

    mutating func run() -> YAMLStream {
        var stream = YAMLStream(documents: [], problems: [])
        do {
            var event = try next()
            guard event.type == YAML_STREAM_START_EVENT else { return stream }
            while true {
                event = try next()
                if event.type == YAML_STREAM_END_EVENT { break }
                guard event.type == YAML_DOCUMENT_START_EVENT else { continue }
                let start = mark(event.start)
                anchors.removeAll(keepingCapacity: true)
                documentProblems.removeAll()
                nodeCount = 0
                var root: YAMLNode?
                var rootFailure: ComposeFailure?
                do {
                    let first = try next()
                    if first.type != YAML_DOCUMENT_END_EVENT {
                        root = try node(from: first, depth: 1)
                        let end = try next()
                        precondition(end.type == YAML_DOCUMENT_END_EVENT, "libyaml emits DOCUMENT-END after the root node")
                    }
                } catch let failure as ComposeFailure {
                    guard failure.recoverable else { throw failure }
                    rootFailure = failure
                    try skipToDocumentEnd()
                }
                if let failure = rootFailure {
                    stream.problems.append(failure.problem)
                    stream.documents.append((nil, start))
                    continue
                }
                if let root, root.expandedSize > nodeCount + limits.maxAliasExpansion {
                    stream.problems.append(YAMLProblem(
                        mark: root.mark,
                        message: "aliases would expand this document from \(nodeCount) to more than \(nodeCount + limits.maxAliasExpansion) nodes; refusing it (alias expansion bomb)"))
                    stream.documents.append((nil, start))
                    continue
                }
                stream.problems.append(contentsOf: documentProblems)
                stream.documents.append((documentProblems.isEmpty ? root : nil, start))
            }
        } catch let failure as ComposeFailure {
            stream.problems.append(failure.problem)
        } catch {
            preconditionFailure("only ComposeFailure is thrown")
        }
        return stream
    }

    /// The next event, copied out of libyaml (strings decoded), so nothing needs freeing later.
    mutating func next() throws(ComposeFailure) -> Event {
        var raw = yaml_event_t()
        guard yaml_parser_parse(parser, &raw) == 1 else {
            throw ComposeFailure(problem: parserProblem(), recoverable: false)
        }
        defer { yaml_event_delete(&raw) }
        return Event(raw)
    }

    func parserProblem() -> YAMLProblem {
        let p = parser.pointee
        var message = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        if let context = p.context.map({ String(cString: $0) }) {
            message += " \(context) started at line \(p.context_mark.line + 1), column \(p.context_mark.column + 1)"
        }
        if p.problem_value != -1, p.error == YAML_READER_ERROR {
            message += " (byte 0x\(String(UInt8(truncatingIfNeeded: p.problem_value), radix: 16)))"
        }
        let at = p.error == YAML_READER_ERROR
            ? readerMark(offset: p.problem_offset)
            : SourceMark(line: p.problem_mark.line + 1, column: p.problem_mark.column + 1)
        return YAMLProblem(mark: at, message: message)
    }

    /// libyaml's reader reports a byte offset, not a mark (it decodes ahead of the scanner).
    func readerMark(offset: Int) -> SourceMark {
        var line = 1
        var lineStart = 0
        let end = min(max(offset, 0), bytes.count)
        for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        // Columns count characters, as libyaml's marks do: skip UTF-8 continuation bytes.
        let column = bytes[lineStart..<end].reduce(1) { count, byte in byte & 0xC0 == 0x80 ? count : count + 1 }
        return SourceMark(line: line, column: column)
    }

    mutating func skipToDocumentEnd() throws(ComposeFailure) {
        var depth = 0
        while true {
            let event = try next()
            switch event.type {
            case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT: depth += 1
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT: depth -= 1
            case YAML_DOCUMENT_END_EVENT where depth <= 0: return
            case YAML_STREAM_END_EVENT: return
            default: break
            }
        }
    }

    func mark(_ raw: yaml_mark_t) -> SourceMark {
        SourceMark(line: raw.line + 1, column: raw.column + 1)
    }

    mutating func node(from event: Event, depth: Int) throws(ComposeFailure) -> YAMLNode {
        let at = mark(event.start)
        switch event.type {
        case YAML_ALIAS_EVENT:
            guard let target = anchors[event.anchor ?? ""] else {
                throw ComposeFailure(problem: YAMLProblem(mark: at, message: "alias *\(event.anchor ?? "") names no anchor defined before it"), recoverable: true)
            }
            return target
        case YAML_SCALAR_EVENT:
            nodeCount += 1
            let node = YAMLNode(content: .scalar(event.value, event.style), tag: event.tag, mark: at, expandedSize: 1)
            register(event.anchor, node)
            return node
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            guard depth <= limits.maxDepth else {
                throw ComposeFailure(problem: YAMLProblem(mark: at, message: "nesting deeper than \(limits.maxDepth) levels"), recoverable: true)
            }
            nodeCount += 1
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            var size = 1
            var items: [YAMLNode] = []
            var pairs: [YAMLNode.Pair] = []
            var seenKeys: [String: SourceMark] = [:]
            var merges: [YAMLNode] = []
            while true {
                let child = try next()
                if child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT { break }
                let first = try node(from: child, depth: depth + 1)
                size = saturatingAdd(size, first.expandedSize)
                if isMapping {
                    let value = try node(from: try next(), depth: depth + 1)
                    size = saturatingAdd(size, value.expandedSize)
                    if case .scalar("<<", .plain) = first.content, first.tag == nil {
                        // A merge key (YAML 1.1, which Kubernetes' YAML reader supports): its
                        // mappings fill in the keys this mapping does not set itself.
                        merges.append(contentsOf: try mergeSources(value))
                        continue
                    }
                    if case .scalar(let name, _) = first.content {
                        if let earlier = seenKeys[name] {
                            documentProblems.append(YAMLProblem(
                                mark: first.mark,
                                message: "duplicate key \"\(name.prefix(100))\" (first at line \(earlier.line), column \(earlier.column))"))
                        } else {
                            seenKeys[name] = first.mark
                        }
                    }
                    pairs.append(YAMLNode.Pair(key: first, value: value))
                } else {
                    items.append(first)
                }
            }
            for source in merges {
                guard case .mapping(let merged) = source.content else { continue }
                for pair in merged {
                    guard case .scalar(let name, _) = pair.key.content, seenKeys[name] == nil else { continue }
                    seenKeys[name] = pair.key.mark
                    pairs.append(pair)
                }
            }
            let node = YAMLNode(content: isMapping ? .mapping(pairs) : .sequence(items), tag: event.tag, mark: at, expandedSize: size)
            register(event.anchor, node)
            return node
        default:
            throw ComposeFailure(problem: YAMLProblem(mark: at, message: "unexpected YAML event"), recoverable: false)
        }
    }

    /// The mappings a merge key names: one mapping, or a list of them (earlier ones win).
    func mergeSources(_ value: YAMLNode) throws(ComposeFailure) -> [YAMLNode] {
        switch value.content {
        case .mapping: return [value]
        case .sequence(let items) where items.allSatisfy({ if case .mapping = $0.content { return true } else { return false } }):
            return items
        default:
            throw ComposeFailure(problem: YAMLProblem(mark: value.mark, message: "a merge key (<<) must name a mapping or a list of mappings"), recoverable: true)
        }
    }

    mutating func register(_ anchor: String?, _ node: YAMLNode) {
        if let anchor { anchors[anchor] = node }
    }

    func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max / 4 : min(sum, Int.max / 4)
    }
}

/// The parts of a libyaml event the composer uses, copied into Swift values.
private struct Event {
    var type: yaml_event_type_t
    var start: yaml_mark_t
    var anchor: String?
    var tag: String?
    var value: String = ""
    var style: YAMLNode.ScalarStyle = .plain

    init(_ raw: yaml_event_t) {
        type = raw.type
        start = raw.start_mark
        switch raw.type {
        case YAML_SCALAR_EVENT:
            let scalar = raw.data.scalar
            anchor = scalar.anchor.map { String(cString: $0) }
            tag = scalar.tag.map { String(cString: $0) }
            if let bytes = scalar.value {
                value = String(decoding: UnsafeBufferPointer(start: bytes, count: scalar.length), as: UTF8.self)
            }
            switch scalar.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            // `!` alone (non-specific tag on a quoted scalar) means "string".
            if tag == "!" { tag = nil; if style == .plain { style = .singleQuoted } }
        case YAML_ALIAS_EVENT:
            anchor = raw.data.alias.anchor.map { String(cString: $0) }
        case YAML_SEQUENCE_START_EVENT:
            anchor = raw.data.sequence_start.anchor.map { String(cString: $0) }
            tag = raw.data.sequence_start.tag.map { String(cString: $0) }
        case YAML_MAPPING_START_EVENT:
            anchor = raw.data.mapping_start.anchor.map { String(cString: $0) }
            tag = raw.data.mapping_start.tag.map { String(cString: $0) }
        default:
            break
        }
    }
}
