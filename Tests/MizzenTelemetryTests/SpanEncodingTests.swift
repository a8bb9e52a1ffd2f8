import Foundation
import Testing

@testable import MizzenTelemetry

private let traceID = TraceID(high: 0x80f1_98ee_5634_3ba8, low: 0x64fe_8b2a_57d3_eff7)

private func serverSpan(tags: [SpanTag] = [], name: String = "bookinfo.example.com:80/*") -> FinishedSpan {
    FinishedSpan(
        traceID: traceID,
        spanID: 0xe457_b5a2_e4d8_6bd1,
        parentSpanID: 0x05e3_ac9a_4f6e_3b90,
        name: name,
        kind: .server,
        startMicroseconds: 1_700_000_000_123_456,
        durationMicroseconds: 2_500,
        localServiceName: "istio-ingressgateway.istio-system",
        localIPv4: "10.0.0.7",
        remoteIPv4: "192.0.2.1",
        remotePort: 51234,
        tags: tags,
        debug: true
    )
}

private func clientSpan() -> FinishedSpan {
    FinishedSpan(
        traceID: TraceID(high: 0, low: 0x64fe_8b2a_57d3_eff7, is64Bit: true),
        spanID: 0x0000_0000_0000_00ab,
        name: "reviews.default.svc.cluster.local:9080/*",
        kind: .client,
        startMicroseconds: 1_700_000_000_000_000,
        durationMicroseconds: 0,
        localServiceName: "istio-ingressgateway.istio-system"
    )
}

/// Parses `bytes` as JSON the way a collector would; the encoders must produce what Foundation accepts.
private func parse(_ bytes: [UInt8]) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(bytes), options: [])
}

private func zipkinSpans(_ spans: [FinishedSpan]) throws -> [[String: Any]] {
    try #require(try parse(ZipkinV2.encode(spans)) as? [[String: Any]])
}

private func otlpSpans(_ json: Any) throws -> [[String: Any]] {
    let request = try #require(json as? [String: Any])
    let resourceSpans = try #require(request["resourceSpans"] as? [[String: Any]])
    let scopeSpans = try #require(resourceSpans.first?["scopeSpans"] as? [[String: Any]])
    return try #require(scopeSpans.first?["spans"] as? [[String: Any]])
}

/// OTLP attributes as a dictionary of their string values.
private func attributes(_ object: [String: Any]?) throws -> [String: String] {
    let list = try #require(object?["attributes"] as? [[String: Any]])
    var result: [String: String] = [:]
    for attribute in list {
        let key = try #require(attribute["key"] as? String)
        let value = try #require(attribute["value"] as? [String: Any])
        result[key] = try #require(value["stringValue"] as? String)
    }
    return result
}

struct SpanEncodingTests {
    static let awkwardTexts: [String] = [
        "plain",
        "",
        "say \"hi\"",
        "back\\slash",
        "line\nbreak\r\nand\ttab",
        "bell\u{07} nul\u{00} unit\u{1F} del\u{7F}",
        "héllo wörld",
        "日本語のパス",
        "rocket 🚀 and flag 🇳🇴",
        "line separator \u{2028} paragraph \u{2029}",
        "</script>",
        "{\"json\":[1,2]}",
    ]

    @Test("Zipkin v2 carries every field the span has")
    func zipkinFields() throws {
        let tags = [SpanTag("http.method", "GET"), SpanTag("http.status_code", "200")]
        let spans = try zipkinSpans([serverSpan(tags: tags)])
        let span = try #require(spans.first)
        #expect(span["traceId"] as? String == "80f198ee56343ba864fe8b2a57d3eff7")
        #expect(span["id"] as? String == "e457b5a2e4d86bd1")
        #expect(span["parentId"] as? String == "05e3ac9a4f6e3b90")
        #expect(span["name"] as? String == "bookinfo.example.com:80/*")
        #expect(span["kind"] as? String == "SERVER")
        #expect((span["timestamp"] as? NSNumber)?.int64Value == 1_700_000_000_123_456)
        #expect((span["duration"] as? NSNumber)?.int64Value == 2_500)
        #expect(span["debug"] as? Bool == true)
        #expect(span["shared"] == nil)
        let local = try #require(span["localEndpoint"] as? [String: Any])
        #expect(local["serviceName"] as? String == "istio-ingressgateway.istio-system")
        #expect(local["ipv4"] as? String == "10.0.0.7")
        let remote = try #require(span["remoteEndpoint"] as? [String: Any])
        #expect(remote["ipv4"] as? String == "192.0.2.1")
        #expect((remote["port"] as? NSNumber)?.intValue == 51234)
        #expect(span["tags"] as? [String: String] == ["http.method": "GET", "http.status_code": "200"])
    }

    @Test("a Zipkin root span omits what it does not have")
    func zipkinRootSpan() throws {
        let spans = try zipkinSpans([serverSpan(), clientSpan()])
        #expect(spans.count == 2)
        let span = spans[1]
        #expect(span["traceId"] as? String == "64fe8b2a57d3eff7")
        #expect(span["id"] as? String == "00000000000000ab")
        #expect(span["kind"] as? String == "CLIENT")
        #expect(span["parentId"] == nil)
        #expect(span["debug"] == nil)
        #expect(span["remoteEndpoint"] == nil)
        #expect((span["duration"] as? NSNumber)?.int64Value == 1)
        let local = try #require(span["localEndpoint"] as? [String: Any])
        #expect(local["ipv4"] == nil)
        #expect(span["tags"] as? [String: String] == [:])
    }

    @Test("an empty batch is an empty array")
    func zipkinEmpty() throws {
        #expect(ZipkinV2.encode([]) == Array("[]".utf8))
    }

    @Test("Zipkin keeps an IPv6 address apart and a port without an address")
    func zipkinIPv6() throws {
        var span = clientSpan()
        span.localIPv4 = "fd00::7"
        span.remotePort = 9080
        let encoded = try #require(try zipkinSpans([span]).first)
        let local = try #require(encoded["localEndpoint"] as? [String: Any])
        #expect(local["ipv6"] as? String == "fd00::7")
        #expect(local["ipv4"] == nil)
        let remote = try #require(encoded["remoteEndpoint"] as? [String: Any])
        #expect((remote["port"] as? NSNumber)?.intValue == 9080)
        #expect(remote["ipv4"] == nil)
    }

    @Test("a repeated tag keeps its last value")
    func repeatedTagKeepsLastValue() throws {
        let tags = [SpanTag("error", "false"), SpanTag("http.method", "GET"), SpanTag("error", "true")]
        let span = try #require(try zipkinSpans([serverSpan(tags: tags)]).first)
        #expect(span["tags"] as? [String: String] == ["http.method": "GET", "error": "true"])
    }

    @Test("any text survives JSON escaping in Zipkin", arguments: awkwardTexts)
    func zipkinEscaping(_ text: String) throws {
        let span = try #require(try zipkinSpans([serverSpan(tags: [SpanTag(text, text)], name: text)]).first)
        #expect(span["name"] as? String == text)
        #expect(span["tags"] as? [String: String] == [text: text])
    }

    @Test("any text survives JSON escaping in OTLP", arguments: awkwardTexts)
    func otlpEscaping(_ text: String) throws {
        let batch = [serverSpan(tags: [SpanTag(text, text)], name: text)]
        let json = try parse(OTLPJSON.encode(batch, resource: [SpanTag("k", text)]))
        let span = try #require(try otlpSpans(json).first)
        #expect(span["name"] as? String == text)
        #expect(try attributes(span)[text] == text)
    }

    @Test("escapes are the JSON ones: quote, backslash, short forms and \\u00XX for other controls")
    func escapeSpelling() throws {
        let encoded = String(decoding: ZipkinV2.encode([serverSpan(name: "a\"b\\c\nd\u{01}e\u{1F}fé")]), as: UTF8.self)
        #expect(encoded.contains(#""name":"a\"b\\c\nd\u0001e\u001ffé""#))
    }

    @Test("OTLP JSON is an ExportTraceServiceRequest with hex ids, integer kinds and string nanoseconds")
    func otlpFields() throws {
        let resource = [SpanTag("service.name", "istio-ingressgateway"), SpanTag("k8s.namespace.name", "istio-system")]
        let batch = [serverSpan(tags: [SpanTag("http.method", "GET")]), clientSpan()]
        let json = try parse(OTLPJSON.encode(batch, resource: resource))
        let request = try #require(json as? [String: Any])
        let resourceSpans = try #require(request["resourceSpans"] as? [[String: Any]])
        #expect(resourceSpans.count == 1)
        #expect(try attributes(resourceSpans[0]["resource"] as? [String: Any]) == [
            "service.name": "istio-ingressgateway", "k8s.namespace.name": "istio-system",
        ])
        let scopeSpans = try #require(resourceSpans[0]["scopeSpans"] as? [[String: Any]])
        let scope = try #require(scopeSpans.first?["scope"] as? [String: Any])
        #expect(scope["name"] as? String == "mizzen")

        let spans = try otlpSpans(json)
        #expect(spans.count == 2)
        let server = spans[0]
        #expect(server["traceId"] as? String == "80f198ee56343ba864fe8b2a57d3eff7")
        #expect(server["spanId"] as? String == "e457b5a2e4d86bd1")
        #expect(server["parentSpanId"] as? String == "05e3ac9a4f6e3b90")
        #expect((server["kind"] as? NSNumber)?.intValue == 2)
        #expect(server["startTimeUnixNano"] as? String == "1700000000123456000")
        #expect(server["endTimeUnixNano"] as? String == "1700000000125956000")
        #expect(server["status"] == nil)
        #expect(try attributes(server) == [
            "http.method": "GET",
            "network.local.address": "10.0.0.7",
            "network.peer.address": "192.0.2.1",
            "network.peer.port": "51234",
        ])

        let client = spans[1]
        #expect(client["traceId"] as? String == "000000000000000064fe8b2a57d3eff7")
        #expect(client["parentSpanId"] == nil)
        #expect((client["kind"] as? NSNumber)?.intValue == 3)
        #expect(client["startTimeUnixNano"] as? String == "1700000000000000000")
        #expect(client["endTimeUnixNano"] as? String == "1700000000000001000")
    }

    @Test(
        "an error tag becomes OTLP status ERROR",
        arguments: [("true", nil), ("upstream reset", "upstream reset")] as [(String, String?)]
    )
    func otlpErrorStatus(_ value: String, _ message: String?) throws {
        let json = try parse(OTLPJSON.encode([serverSpan(tags: [SpanTag("error", value)])], resource: []))
        let span = try #require(try otlpSpans(json).first)
        let status = try #require(span["status"] as? [String: Any])
        #expect((status["code"] as? NSNumber)?.intValue == 2)
        #expect(status["message"] as? String == message)
    }

    @Test("without service.name the resource takes the span's service")
    func otlpDefaultServiceName() throws {
        let json = try parse(OTLPJSON.encode([clientSpan()], resource: [SpanTag("k8s.pod.name", "gw-1")]))
        let request = try #require(json as? [String: Any])
        let resourceSpans = try #require(request["resourceSpans"] as? [[String: Any]])
        #expect(try attributes(resourceSpans[0]["resource"] as? [String: Any]) == [
            "service.name": "istio-ingressgateway.istio-system", "k8s.pod.name": "gw-1",
        ])
    }
}
