/// Reads JSON (RFC 8259) into the same `YAMLNode` trees the YAML composer makes, so objects from
/// the Kubernetes API are decoded and validated by the code that reads files.
///
/// Faster than handing JSON to libyaml (which scans it as YAML flow syntax) and strict: a
/// trailing comma, a comment or a bare word is an error with its line and column. Strings
/// become double-quoted scalars (so `"true"` stays a string), numbers, `true`, `false` and
/// `null` plain ones. Keys named in `droppedMetadataKeys` under a top-level `metadata` are
/// dropped as they are read (the API server's `managedFields` can be most of an object).
package struct JSONReader {
    package struct Problem: Error, Sendable, CustomStringConvertible {
        package var mark: SourceMark
        package var message: String
        package var description: String { "line \(mark.line), column \(mark.column): \(message)" }
    }

    package static let droppedMetadataKeys: Set<String> = ["managedFields"]

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private let maxDepth: Int

    private init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// The node of one JSON value taking all of `bytes` (surrounding whitespace allowed).
    package static func read(_ bytes: [UInt8], maxDepth: Int = 128) -> Result<YAMLNode, Problem> {
        var reader = JSONReader(bytes, maxDepth: maxDepth)
        do {
            reader.skipSpace()
            let node = try reader.value(depth: 0, path: .root)
            reader.skipSpace()
            guard reader.index == reader.bytes.count else { throw reader.problem("unexpected text after the JSON value") }
            return .success(node)
        } catch let problem as Problem {
            return .failure(problem)
        } catch {
            return .failure(Problem(mark: SourceMark(line: 1, column: 1), message: "\(error)"))
        }
    }

    package static func read(_ text: String) -> Result<YAMLNode, Problem> { read(Array(text.utf8)) }

    /// Where a mapping sits, to know which keys are dropped.
    private enum Place { case root, metadata, other }

    private var mark: SourceMark { SourceMark(line: line, column: index - lineStart + 1) }

    private func problem(_ message: String) -> Problem { Problem(mark: mark, message: message) }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "\n"):
                index += 1
                line += 1
                lineStart = index
            default:
                return
            }
        }
    }

    private mutating func value(depth: Int, path: Place) throws -> YAMLNode {
        guard depth <= maxDepth else { throw problem("nested more than \(maxDepth) deep") }
        guard index < bytes.count else { throw problem("unexpected end of JSON") }
        let start = mark
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var pairs: [YAMLNode.Pair] = []
            var size = 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return YAMLNode(content: .mapping([]), tag: nil, mark: start, expandedSize: 1)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw problem("expected a string key") }
                let keyMark = mark
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw problem("expected ':' after the key") }
                index += 1
                skipSpace()
                if path == .metadata, Self.droppedMetadataKeys.contains(key) {
                    try skipValue(depth: depth + 1)
                } else {
                    let child = try value(depth: depth + 1, path: path == .root && key == "metadata" ? .metadata : .other)
                    let keyNode = YAMLNode(content: .scalar(key, .doubleQuoted), tag: nil, mark: keyMark, expandedSize: 1)
                    pairs.append(YAMLNode.Pair(key: keyNode, value: child))
                    size = Self.saturatingAdd(size, child.expandedSize + 1)
                }
                skipSpace()
                guard index < bytes.count else { throw problem("unexpected end of JSON in an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw problem("expected ',' or '}' in an object")
            }
            return YAMLNode(content: .mapping(pairs), tag: nil, mark: start, expandedSize: size)
        case UInt8(ascii: "["):
            index += 1
            var items: [YAMLNode] = []
            var size = 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return YAMLNode(content: .sequence([]), tag: nil, mark: start, expandedSize: 1)
            }
            while true {
                skipSpace()
                let child = try value(depth: depth + 1, path: .other)
                items.append(child)
                size = Self.saturatingAdd(size, child.expandedSize)
                skipSpace()
                guard index < bytes.count else { throw problem("unexpected end of JSON in an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; break }
                throw problem("expected ',' or ']' in an array")
            }
            return YAMLNode(content: .sequence(items), tag: nil, mark: start, expandedSize: size)
        case UInt8(ascii: "\""):
            return YAMLNode(content: .scalar(try string(), .doubleQuoted), tag: nil, mark: start, expandedSize: 1)
        case UInt8(ascii: "t"):
            try literal("true")
            return YAMLNode(content: .scalar("true", .plain), tag: nil, mark: start, expandedSize: 1)
        case UInt8(ascii: "f"):
            try literal("false")
            return YAMLNode(content: .scalar("false", .plain), tag: nil, mark: start, expandedSize: 1)
        case UInt8(ascii: "n"):
            try literal("null")
            return YAMLNode(content: .scalar("null", .plain), tag: nil, mark: start, expandedSize: 1)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return YAMLNode(content: .scalar(try number(), .plain), tag: nil, mark: start, expandedSize: 1)
        default:
            throw problem("unexpected character '\(Character(Unicode.Scalar(bytes[index])))'")
        }
    }

    private static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max / 4 : min(sum, Int.max / 4)
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw problem("unexpected end of JSON") }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw problem("expected \(word)") }
        index += count
    }

    private mutating func number() throws -> String {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ reader: inout JSONReader) -> Int {
            let from = reader.index
            while reader.index < reader.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(reader.bytes[reader.index]) { reader.index += 1 }
            return reader.index - from
        }
        let integerDigits = digits(&self)
        guard integerDigits > 0 else { throw problem("a number needs digits") }
        if integerDigits > 1, bytes[index - integerDigits] == UInt8(ascii: "0") { throw problem("a number may not start with 0") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw problem("a fraction needs digits") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw problem("an exponent needs digits") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    private mutating func string() throws -> String {
        index += 1  // the opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw problem("a control character must be escaped in a string") }
            index += 1
        }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: scalars, as: UTF8.self)
            }
            if byte < 0x20 { throw problem("a control character must be escaped in a string") }
            guard byte == UInt8(ascii: "\\") else {
                scalars.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw problem("a high surrogate must be followed by a low one")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw problem("invalid low surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw problem("a lone low surrogate")
                }
                guard let scalar = Unicode.Scalar(code) else { throw problem("invalid \\u escape") }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw problem("invalid escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
        }
        throw problem("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw problem("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw problem("a \\u escape needs four hex digits")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Steps over one value: its syntax is checked, the nodes made for it are dropped.
    private mutating func skipValue(depth: Int) throws {
        _ = try value(depth: depth, path: .other)
    }
}

extension YAMLNode {
    /// Compact JSON of the node as Kubernetes' JSON sees it (scalars by their resolved type).
    package var jsonText: String {
        var output = ""
        write(into: &output)
        // Kept for as long as the object is (the Kubernetes store): copied to its own length,
        // as appending leaves up to twice the capacity it needs.
        return output.utf8.count < 16 ? output : String(unsafeUninitializedCapacity: output.utf8.count) { buffer in
            _ = buffer.initialize(fromContentsOf: output.utf8)
            return output.utf8.count
        }
    }

    private func write(into output: inout String) {
        switch content {
        case .mapping(let pairs):
            output += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { output += "," }
                Self.quote(pair.key.scalarValue ?? "", into: &output)
                output += ":"
                pair.value.write(into: &output)
            }
            output += "}"
        case .sequence(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                item.write(into: &output)
            }
            output += "]"
        case .scalar(let text, _):
            switch resolvedKind {
            case .null: output += "null"
            case .bool: output += text.lowercased() == "true" ? "true" : "false"
            case .integer, .float:
                if let value = YAMLNumber.integer(text) { output += String(value) } else if Double(text)?.isFinite == true { output += text } else { Self.quote(text, into: &output) }
            default: Self.quote(text, into: &output)
            }
        }
    }

    private static func quote(_ text: String, into output: inout String) {
        // Most strings need no escape: appended whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            output += "\""
            output += text
            output += "\""
            return
        }
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}
