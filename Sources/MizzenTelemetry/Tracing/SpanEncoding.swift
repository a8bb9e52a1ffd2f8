/// Zipkin v2 JSON, the body of `POST /api/v2/spans` (`openzipkin/zipkin-api: zipkin2-api.yaml`).
///
/// This is what Istio configures for its Zipkin provider (`HTTP_JSON`, `SharedSpanContext: false`),
/// so `shared` is never written.
package enum ZipkinV2 {
    /// A JSON array with one Zipkin v2 span object per span, in order.
    package static func encode(_ spans: [FinishedSpan]) -> [UInt8] {
        var json = SpanJSONWriter(capacity: 512 * spans.count + 2)
        json.raw("[")
        for (index, span) in spans.enumerated() {
            if index > 0 { json.raw(",") }
            encode(span, into: &json)
        }
        json.raw("]")
        return json.bytes
    }

    private static func encode(_ span: FinishedSpan, into json: inout SpanJSONWriter) {
        json.raw("{\"traceId\":")
        json.string(span.traceID.hex)
        if let parentSpanID = span.parentSpanID {
            json.raw(",\"parentId\":")
            json.string(TraceContext.hex(spanID: parentSpanID))
        }
        json.raw(",\"id\":")
        json.string(TraceContext.hex(spanID: span.spanID))
        json.raw(",\"kind\":")
        json.string(span.kind.rawValue)
        json.raw(",\"name\":")
        json.string(span.name)
        json.raw(",\"timestamp\":")
        json.integer(span.startMicroseconds)
        json.raw(",\"duration\":")
        json.integer(max(1, span.durationMicroseconds))
        if span.debug {
            json.raw(",\"debug\":true")
        }
        json.raw(",\"localEndpoint\":{\"serviceName\":")
        json.string(span.localServiceName)
        if let address = span.localIPv4 {
            json.raw(",")
            json.address(address)
        }
        json.raw("}")
        let port = span.remotePort.flatMap { (1...65535).contains($0) ? $0 : nil }
        if span.remoteIPv4 != nil || port != nil {
            json.raw(",\"remoteEndpoint\":{")
            if let address = span.remoteIPv4 {
                json.address(address)
                if port != nil { json.raw(",") }
            }
            if let port {
                json.raw("\"port\":")
                json.integer(Int64(port))
            }
            json.raw("}")
        }
        json.raw(",\"tags\":{")
        var first = true
        for tag in lastOfEachKey(span.tags) {
            if !first { json.raw(",") }
            first = false
            json.string(tag.key)
            json.raw(":")
            json.string(tag.value)
        }
        json.raw("}}")
    }
}

/// OTLP/HTTP JSON, the body of `POST /v1/traces` (`opentelemetry-proto: docs/specification.md`).
///
/// The JSON mapping differs from proto3's: ids are hex, not base64; enums are integers; 64-bit
/// integers are decimal strings. Each batch is one `ResourceSpans` with one `ScopeSpans`.
package enum OTLPJSON {
    /// An `ExportTraceServiceRequest` holding `spans` under one resource with the `resource` attributes.
    ///
    /// OTLP backends group by `service.name`, so when `resource` lacks it, the first span's
    /// `localServiceName` supplies it.
    package static func encode(_ spans: [FinishedSpan], resource: [SpanTag]) -> [UInt8] {
        var json = SpanJSONWriter(capacity: 640 * spans.count + 256)
        var resourceAttributes = resource
        if !resource.contains(where: { $0.key == "service.name" }), let first = spans.first {
            resourceAttributes.insert(SpanTag("service.name", first.localServiceName), at: 0)
        }
        json.raw("{\"resourceSpans\":[{\"resource\":{\"attributes\":")
        attributes(lastOfEachKey(resourceAttributes), into: &json)
        json.raw("},\"scopeSpans\":[{\"scope\":{\"name\":\"mizzen\"},\"spans\":[")
        for (index, span) in spans.enumerated() {
            if index > 0 { json.raw(",") }
            encode(span, into: &json)
        }
        json.raw("]}]}]}")
        return json.bytes
    }

    /// OTLP `Span.SpanKind`: SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3.
    static func kind(_ kind: SpanKind) -> Int64 {
        switch kind {
        case .server: 2
        case .client: 3
        }
    }

    private static func encode(_ span: FinishedSpan, into json: inout SpanJSONWriter) {
        json.raw("{\"traceId\":")
        json.string(span.traceID.hex32)
        json.raw(",\"spanId\":")
        json.string(TraceContext.hex(spanID: span.spanID))
        if let parentSpanID = span.parentSpanID {
            json.raw(",\"parentSpanId\":")
            json.string(TraceContext.hex(spanID: parentSpanID))
        }
        json.raw(",\"name\":")
        json.string(span.name)
        json.raw(",\"kind\":")
        json.integer(kind(span.kind))
        // Nanoseconds before 1970 cannot be expressed (the fields are fixed64), so clamp at 0.
        let start = UInt64(max(0, span.startMicroseconds)) &* 1_000
        let end = start &+ UInt64(max(1, span.durationMicroseconds)) &* 1_000
        json.raw(",\"startTimeUnixNano\":")
        json.quotedInteger(start)
        json.raw(",\"endTimeUnixNano\":")
        json.quotedInteger(end)

        var spanAttributes = lastOfEachKey(span.tags)
        // Zipkin's endpoints have no OTLP field; the semantic conventions name them as attributes.
        func addAttribute(_ key: String, _ value: String?) {
            if let value, !spanAttributes.contains(where: { $0.key == key }) {
                spanAttributes.append(SpanTag(key, value))
            }
        }
        addAttribute("network.local.address", span.localIPv4)
        addAttribute("network.peer.address", span.remoteIPv4)
        addAttribute("network.peer.port", span.remotePort.map { String($0) })
        json.raw(",\"attributes\":")
        attributes(spanAttributes, into: &json)

        // Envoy marks a failed request with the Zipkin `error` tag; OTLP says it with STATUS_CODE_ERROR.
        if let error = spanAttributes.first(where: { $0.key == "error" }) {
            json.raw(",\"status\":{\"code\":2")
            if !error.value.isEmpty && error.value != "true" {
                json.raw(",\"message\":")
                json.string(error.value)
            }
            json.raw("}")
        }
        json.raw("}")
    }

    /// `[{"key":…,"value":{"stringValue":…}},…]`; every value is a string, as Envoy's tags are.
    private static func attributes(_ tags: [SpanTag], into json: inout SpanJSONWriter) {
        json.raw("[")
        for (index, tag) in tags.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"key\":")
            json.string(tag.key)
            json.raw(",\"value\":{\"stringValue\":")
            json.string(tag.value)
            json.raw("}}")
        }
        json.raw("]")
    }
}

/// The tags with each key kept once, at its last position with its last value.
///
/// A JSON object with a repeated key means different things to different parsers, and a later
/// tag set on a span overwrites an earlier one in Envoy too. Spans carry around a dozen tags,
/// so the quadratic scan costs less than building a dictionary.
private func lastOfEachKey(_ tags: [SpanTag]) -> [SpanTag] {
    var kept: [SpanTag] = []
    kept.reserveCapacity(tags.count)
    for index in tags.indices {
        let key = tags[index].key
        if !tags[(index + 1)...].contains(where: { $0.key == key }) {
            kept.append(tags[index])
        }
    }
    return kept
}

/// Builds JSON text as UTF-8 bytes; the encoders above decide the structure, this writes tokens.
private struct SpanJSONWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends text that is already JSON (punctuation and fixed keys).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends `value` as a JSON string.
    ///
    /// Swift strings are always valid UTF-8, so everything from U+0020 up passes through as is;
    /// only the quote, the backslash and the C0 controls need escapes (RFC 8259 §7).
    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(escape: UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): append(escape: UInt8(ascii: "\\"))
            case 0x0A: append(escape: UInt8(ascii: "n"))
            case 0x0D: append(escape: UInt8(ascii: "r"))
            case 0x09: append(escape: UInt8(ascii: "t"))
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(Self.hexDigit(byte >> 4))
                bytes.append(Self.hexDigit(byte & 0x0F))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `"ipv4":"…"`, or `"ipv6":"…"` for an address with a colon, which Zipkin keeps apart.
    mutating func address(_ address: String) {
        if address.utf8.contains(UInt8(ascii: ":")) {
            raw("\"ipv6\":")
        } else {
            raw("\"ipv4\":")
        }
        string(address)
    }

    /// Appends a JSON number.
    mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        digits(value.magnitude)
    }

    /// Appends a decimal in quotes, the OTLP JSON form of 64-bit integers.
    mutating func quotedInteger(_ value: UInt64) {
        bytes.append(UInt8(ascii: "\""))
        digits(value)
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func append(escape letter: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(letter)
    }

    private mutating func digits(_ value: UInt64) {
        let start = bytes.count
        var rest = value
        repeat {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }
}
