/// An access-log format parsed once: Envoy's text format (literal text and `%COMMAND%`
/// operators, each with an optional `:N` length limit) or its JSON format (keys to text
/// formats; a value that is exactly one operator keeps its type). Istio's defaults are
/// `istioText` and `istioJSON` (`pilot/pkg/model/telemetry_logging.go`, ISTIO-OPS §2).
package struct AccessLogFormat: Sendable {
    package enum Encoding: String, Sendable {
        case text = "TEXT"
        case json = "JSON"
    }

    /// A piece of a text format.
    enum Segment: Sendable, Equatable {
        case literal(String)
        case field(AccessLogField, maxLength: Int?)
    }

    package let encoding: Encoding
    /// Text: the segments of the line. JSON: one entry per key, in the order given.
    let segments: [Segment]
    let keys: [(key: String, segments: [Segment])]

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
        case .json:
            let pairs = try format.map(FlatJSONObject.parse) ?? Self.istioJSONKeys
            var parsed: [(key: String, segments: [Segment])] = []
            for (key, value) in pairs {
                do {
                    parsed.append((key, try Self.parse(value)))
                } catch {
                    throw AccessLogFormatError("key \"\(key)\": \(error.message)")
                }
            }
            segments = []
            keys = parsed
        }
    }

    /// Every field the format asks for (what a record must keep).
    package var fields: Set<AccessLogField> {
        var result: Set<AccessLogField> = []
        for segment in segments + keys.flatMap(\.segments) {
            if case .field(let field, _) = segment { result.insert(field) }
        }
        return result
    }

    // MARK: Writing

    /// Appends the line of `source` (with its newline) to `out`.
    package func write(_ source: some AccessLogSource, to out: inout [UInt8]) {
        switch encoding {
        case .text:
            for segment in segments {
                switch segment {
                case .literal(let text):
                    out.append(contentsOf: text.utf8)
                case .field(let field, let maxLength):
                    switch source.value(field) {
                    case .none: out.append(UInt8(ascii: "-"))
                    case .text(let text): Self.append(text, maxLength: maxLength, to: &out)
                    case .integer(let number): out.append(contentsOf: String(number).utf8)
                    }
                }
            }
        case .json:
            out.append(UInt8(ascii: "{"))
            for (index, entry) in keys.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(entry.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if entry.segments.count == 1, case .field(let field, let maxLength) = entry.segments[0] {
                    switch source.value(field) {
                    case .none: out.append(contentsOf: "null".utf8)
                    case .integer(let number): out.append(contentsOf: String(number).utf8)
                    case .text(let text): JSONWriter.appendString(maxLength.map { String(text.prefix($0)) } ?? text, to: &out)
                    }
                    continue
                }
                var text: [UInt8] = []
                for segment in entry.segments {
                    switch segment {
                    case .literal(let literal): text.append(contentsOf: literal.utf8)
                    case .field(let field, let maxLength):
                        switch source.value(field) {
                        case .none: text.append(UInt8(ascii: "-"))
                        case .text(let value): Self.append(value, maxLength: maxLength, to: &text)
                        case .integer(let number): text.append(contentsOf: String(number).utf8)
                        }
                    }
                }
                JSONWriter.appendString(String(decoding: text, as: UTF8.self), to: &out)
            }
            out.append(contentsOf: "}\n".utf8)
        }
    }

    private static func append(_ text: String, maxLength: Int?, to out: inout [UInt8]) {
        if let maxLength {
            out.append(contentsOf: text.prefix(maxLength).utf8)
        } else {
            out.append(contentsOf: text.utf8)
        }
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
                segments.append(.literal(literal))
                literal = ""
            }
            segments.append(try parseOperator(body))
            index = end + 1
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
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
