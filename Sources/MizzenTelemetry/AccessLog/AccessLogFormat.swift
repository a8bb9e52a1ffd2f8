/// An access-log format parsed once: Envoy's text format (literal text and `%COMMAND%`
/// operators, each with an optional `:N` length limit) or its JSON format (keys to text
/// formats; a value that is exactly one operator keeps its type). Istio's defaults are
/// `istioText` and `istioJSON` (`pilot/pkg/model/telemetry_logging.go`, ISTIO-OPS §2).
package struct AccessLogFormat: Sendable {
    package enum Encoding: String, Sendable {
        case text = "TEXT"
        case json = "JSON"
    }

    /// A piece of a text format (literal text kept as bytes: appended as they are).
    @usableFromInline
    enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case field(AccessLogField, maxLength: Int?)
    }

    package let encoding: Encoding
    /// Text: the segments of the line. JSON: one entry per key, in the order given.
    @usableFromInline let segments: [Segment]
    /// The text line compiled for writing: all literal bytes in one array, the fields in
    /// another, and plain-integer pieces saying which to write (no reference counting per
    /// segment, which the enum walk paid on every line).
    let literalBytes: [UInt8]
    let lineFields: [AccessLogField]
    let pieces: [Piece]

    /// A literal run followed by a field (`field` -1: none).
    struct Piece: Sendable {
        var literalStart: Int32
        var literalCount: Int32
        var field: Int32
        var maxLength: Int32
    }
    @usableFromInline let keys: [JSONKey]

    /// One key of a JSON format: the key already quoted with its colon, and its value's format.
    @usableFromInline
    struct JSONKey: Sendable {
        @usableFromInline let quotedKey: [UInt8]
        @usableFromInline let segments: [Segment]

        init(key: String, segments: [Segment]) {
            var quoted: [UInt8] = []
            JSONWriter.appendString(key, to: &quoted)
            quoted.append(UInt8(ascii: ":"))
            quotedKey = quoted
            self.segments = segments
        }
    }

    /// Istio's default TEXT format, byte for byte (`EnvoyTextLogFormat`).
    package static let istioTextFormat = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
        + "%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" "
        + "%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" "
        + "\"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% "
        + "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"

    /// Istio's default JSON keys (`EnvoyJSONLogFormatIstio`), each with the TEXT operator of
    /// the same meaning.
    package static let istioJSONKeys: [(String, String)] = [
        ("start_time", "%START_TIME%"), ("route_name", "%ROUTE_NAME%"), ("method", "%REQ(:METHOD)%"),
        ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"), ("protocol", "%PROTOCOL%"), ("response_code", "%RESPONSE_CODE%"),
        ("response_flags", "%RESPONSE_FLAGS%"), ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
        ("connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"), ("bytes_received", "%BYTES_RECEIVED%"),
        ("bytes_sent", "%BYTES_SENT%"), ("duration", "%DURATION%"), ("upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
        ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"), ("user_agent", "%REQ(USER-AGENT)%"), ("request_id", "%REQ(X-REQUEST-ID)%"),
        ("authority", "%REQ(:AUTHORITY)%"), ("upstream_host", "%UPSTREAM_HOST%"), ("upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"),
        ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"), ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
        ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"), ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
        ("upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"),
    ]

    package static var istioText: AccessLogFormat { try! AccessLogFormat(encoding: .text, format: nil) }
    package static var istioJSON: AccessLogFormat { try! AccessLogFormat(encoding: .json, format: nil) }

    /// Parses `format` (nil: Istio's default for `encoding`). JSON formats are a JSON object
    /// whose values are strings (text formats).
    package init(encoding: Encoding, format: String?) throws(AccessLogFormatError) {
        self.encoding = encoding
        switch encoding {
        case .text:
            var text = format ?? Self.istioTextFormat
            // Envoy appends the newline a text format without one lacks.
            if !text.hasSuffix("\n") { text += "\n" }
            segments = try Self.parse(text)
            keys = []
            (literalBytes, lineFields, pieces) = Self.compile(segments)
        case .json:
            let pairs = try format.map(FlatJSONObject.parse) ?? Self.istioJSONKeys
            var parsed: [JSONKey] = []
            for (key, value) in pairs {
                do {
                    parsed.append(JSONKey(key: key, segments: try Self.parse(value)))
                } catch {
                    throw AccessLogFormatError("key \"\(key)\": \(error.message)")
                }
            }
            segments = []
            keys = parsed
            (literalBytes, lineFields, pieces) = ([], [], [])
        }
    }

    /// Every field the format asks for (what a record must keep).
    package var fields: Set<AccessLogField> {
        var result: Set<AccessLogField> = []
        for segment in segments + keys.flatMap({ $0.segments }) {
            if case .field(let field, _) = segment { result.insert(field) }
        }
        return result
    }

    // MARK: Writing

    /// Appends the line of `source` (with its newline) to `out` (tests, tools: the data plane
    /// writes into its loop's `LogBytes`).
    package func write(_ source: some AccessLogSource, to out: inout [UInt8]) {
        var bytes = LogBytes(capacity: 1024)
        defer { bytes.deallocate() }
        var cache = UTCTime.SecondCache()
        write(to: &bytes, timeCache: &cache) { source.value($0) }
        out.append(contentsOf: bytes.take())
    }

    /// The same with a cache of the last second's date and time text (one per event loop: most
    /// lines of a second share it, as Envoy's formatter caches it).
    /// Values are rendered straight into `out` (numbers, addresses and times included), without
    /// a String per field; the loop is not generic, so it runs without metadata lookups
    /// whatever the record's type.
    package func write(to out: inout LogBytes, timeCache: inout UTCTime.SecondCache, _ value: (AccessLogField) -> AccessLogValue) {
        switch encoding {
        case .text:
            literalBytes.withUnsafeBufferPointer { literals in
                lineFields.withUnsafeBufferPointer { fields in
                    for piece in pieces {
                        if piece.literalCount > 0 {
                            out.append(UnsafeBufferPointer(rebasing: literals[Int(piece.literalStart)..<Int(piece.literalStart + piece.literalCount)]))
                        }
                        if piece.field >= 0 {
                            AccessLogRender.text(value(fields[Int(piece.field)]), maxLength: piece.maxLength >= 0 ? Int(piece.maxLength) : nil,
                                                 timeCache: &timeCache, to: &out)
                        }
                    }
                }
            }
        case .json:
            out.append(UInt8(ascii: "{"))
            var first = true
            for entry in keys {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(entry.quotedKey)
                if entry.segments.count == 1, case .field(let field, let maxLength) = entry.segments[0] {
                    AccessLogRender.json(value(field), maxLength: maxLength, timeCache: &timeCache, to: &out)
                    continue
                }
                var text = LogBytes(capacity: 256)
                for segment in entry.segments {
                    switch segment {
                    case .literal(let bytes): text.append(bytes)
                    case .field(let field, let maxLength): AccessLogRender.text(value(field), maxLength: maxLength, timeCache: &timeCache, to: &text)
                    }
                }
                var quoted: [UInt8] = []
                JSONWriter.appendString(String(decoding: text.take(), as: UTF8.self), to: &quoted)
                text.deallocate()
                out.append(quoted)
            }
            out.append(UInt8(ascii: "}"))
            out.append(UInt8(ascii: "\n"))
        }
    }

    static func compile(_ segments: [Segment]) -> ([UInt8], [AccessLogField], [Piece]) {
        var bytes: [UInt8] = []
        var fields: [AccessLogField] = []
        var pieces: [Piece] = []
        var start = 0
        for segment in segments {
            switch segment {
            case .literal(let literal):
                bytes.append(contentsOf: literal)
            case .field(let field, let maxLength):
                pieces.append(Piece(literalStart: Int32(start), literalCount: Int32(bytes.count - start), field: Int32(fields.count),
                                    maxLength: Int32(maxLength ?? -1)))
                fields.append(field)
                start = bytes.count
            }
        }
        if bytes.count > start { pieces.append(Piece(literalStart: Int32(start), literalCount: Int32(bytes.count - start), field: -1, maxLength: -1)) }
        return (bytes, fields, pieces)
    }

    // MARK: Parsing

    /// Splits a text format into literals and operators. `%%` is not special in Envoy: a `%`
    /// that does not open a known operator is an error, as Envoy rejects the format.
    static func parse(_ format: String) throws(AccessLogFormatError) -> [Segment] {
        var segments: [Segment] = []
        var literal = ""
        let scalars = Array(format.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "%" else {
                literal.unicodeScalars.append(scalar)
                index += 1
                continue
            }
            // An operator: NAME, NAME(arg) or NAME(arg):N, up to the closing %.
            var end = index + 1
            var depth = 0
            while end < scalars.count {
                if scalars[end] == "(" { depth += 1 }
                if scalars[end] == ")" { depth -= 1 }
                if scalars[end] == "%", depth <= 0 { break }
                end += 1
            }
            guard end < scalars.count else {
                throw AccessLogFormatError("unterminated operator at offset \(index): '\(String(String.UnicodeScalarView(scalars[index...])))'")
            }
            let body = String(String.UnicodeScalarView(scalars[(index + 1)..<end]))
            if !literal.isEmpty {
                segments.append(.literal(Array(literal.utf8)))
                literal = ""
            }
            segments.append(try parseOperator(body))
            index = end + 1
        }
        if !literal.isEmpty { segments.append(.literal(Array(literal.utf8))) }
        return segments
    }

    static func parseOperator(_ body: String) throws(AccessLogFormatError) -> Segment {
        var name = body
        var argument: String?
        var maxLength: Int?
        if let open = body.firstIndex(of: "(") {
            guard let close = body.lastIndex(of: ")"), close > open else { throw AccessLogFormatError("'%\(body)%': missing ')'") }
            name = String(body[..<open])
            argument = String(body[body.index(after: open)..<close])
            let rest = body[body.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":", let length = Int(rest.dropFirst()), length > 0 else {
                    throw AccessLogFormatError("'%\(body)%': after ')' only ':LENGTH' may follow")
                }
                maxLength = length
            }
        } else if let colon = body.firstIndex(of: ":") {
            // `%NAME:N%` is not a thing for argument-less operators in Envoy; keep it an error.
            throw AccessLogFormatError("'%\(body)%': a length limit ':\(body[body.index(after: colon)...])' needs an operator with (...)")
        }
        func headerArgument() throws(AccessLogFormatError) -> (String, String?) {
            guard let argument, !argument.isEmpty else { throw AccessLogFormatError("'%\(body)%': a header name is required") }
            let parts = argument.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).map { $0.lowercased() }
            if parts.contains(where: \.isEmpty) { throw AccessLogFormatError("'%\(body)%': empty header name") }
            return (parts[0], parts.count > 1 ? parts[1] : nil)
        }
        switch name {
        case "START_TIME":
            return .field(.startTime(format: argument.flatMap { $0.isEmpty ? nil : $0 }), maxLength: maxLength)
        case "REQ":
            let (header, alternate) = try headerArgument()
            return .field(.requestHeader(header, alternate: alternate), maxLength: maxLength)
        case "RESP":
            let (header, alternate) = try headerArgument()
            return .field(.responseHeader(header, alternate: alternate), maxLength: maxLength)
        case "TRAILER":
            let (header, alternate) = try headerArgument()
            return .field(.responseTrailer(header, alternate: alternate), maxLength: maxLength)
        default:
            guard let field = AccessLogField.plain[name] else {
                throw AccessLogFormatError("unknown operator '%\(body)%'")
            }
            if argument != nil { throw AccessLogFormatError("'%\(body)%': \(name) takes no argument") }
            return .field(field, maxLength: maxLength)
        }
    }
}

/// Why a format cannot be used: the operator and the problem.
package struct AccessLogFormatError: Error, CustomStringConvertible {
    package var message: String
    init(_ message: String) { self.message = message }
    package var description: String { "access log format: \(message)" }
}
