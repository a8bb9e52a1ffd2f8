import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Trace propagation and span export through the binary: incoming B3 (multi and single) and
/// W3C contexts continued upstream with the gateway's span as parent, a trace started when none
/// comes in, sampling honoured, and the spans a Zipkin v2 collector and an OTLP/HTTP receiver
/// (`Peers/trace_collector.py`) get.
@Suite(.serialized)
struct TracingTests {
    struct Setup {
        let upstream: Peer
        let log: UpstreamLog
        let collector: Peer
        let spans: URL
        let gateway: GatewayProcess

        init(exporter: String, sampling: Int) throws {
            log = try UpstreamLog()
            upstream = try Peer("upstream.py", ["--name", "traced", "--log", log.url.path])
            let directory = try Harness.temporaryDirectory("traces")
            spans = directory.appendingPathComponent("spans.jsonl")
            collector = try Peer("trace_collector.py", ["--log", spans.path])
            let yaml = EdgeConfig.gateway + "\n" + EdgeConfig.serviceEntry("trace.test", [upstream.port]) + "\n" + EdgeConfig.virtualService("trace.test")
            let target = exporter == "zipkin" ? ["--zipkin", "127.0.0.1:\(collector.port)"] : ["--otlp", "http://127.0.0.1:\(collector.port)/v1/traces"]
            gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], extraArguments: target + ["--trace-sampling", String(sampling)])
        }

        /// The headers the upstream got for the request whose path contains `token`.
        func upstreamHeaders(_ token: String) throws -> [String: String] {
            let entry = try #require(log.waitForRequests(containing: token, count: 1).first)
            var headers: [String: String] = [:]
            for (name, value) in Traffic.pairs(entry["headers"]) { headers[name.lowercased()] = value }
            return headers
        }

        /// Spans received so far whose trace id is `traceID`, waiting up to `timeout` for one.
        func spans(trace traceID: String, timeout: Double = 8) -> [[String: Any]] {
            let deadline = Date().addingTimeInterval(timeout)
            var found: [[String: Any]] = []
            repeat {
                let text = (try? String(contentsOf: spans, encoding: .utf8)) ?? ""
                found = text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
                    .filter { ($0["traceId"] as? String) == traceID }
                if !found.isEmpty { return found }
                usleep(100_000)
            } while Date() < deadline
            return found
        }
    }

    static func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }

    @Test("incoming B3 multi headers: the trace continues upstream with the gateway's span as parent; Zipkin gets that span")
    func b3Continued() throws {
        let setup = try Setup(exporter: "zipkin", sampling: 0)
        let traceID = Self.hex(32), spanID = Self.hex(16), token = Traffic.token()
        let exchange = try Traffic.send(setup.gateway.port(8080), host: "trace.test", "/b3/\(token)",
                                        headers: ["x-b3-traceid: \(traceID)", "x-b3-spanid: \(spanID)", "x-b3-sampled: 1", "x-request-id: rid-\(token)"])
        #expect(exchange.status == 200)
        let headers = try setup.upstreamHeaders(token)
        #expect(headers["x-b3-traceid"] == traceID)
        #expect(headers["x-b3-parentspanid"] == spanID)
        let gatewaySpan = try #require(headers["x-b3-spanid"])
        #expect(gatewaySpan.count == 16 && gatewaySpan != spanID)
        #expect(headers["x-b3-sampled"] == "1", "the incoming decision is honoured over --trace-sampling 0")
        #expect(headers["traceparent"] == "00-\(traceID)-\(gatewaySpan)-01", "W3C written too")
        #expect(headers["x-request-id"] == "rid-\(token)")
        let spans = setup.spans(trace: traceID)
        let span = try #require(spans.first)
        #expect(span["format"] as? String == "zipkin")
        #expect(span["id"] as? String == gatewaySpan)
        #expect(span["parentId"] as? String == spanID)
        #expect(span["kind"] as? String == "CLIENT")
        #expect(span["name"] as? String == "trace.test:80/*")
        let tags = span["tags"] as? [String: String] ?? [:]
        #expect(tags["http.status_code"] == "200" && tags["http.method"] == "GET" && tags["guid:x-request-id"] == "rid-\(token)")
        #expect(tags["upstream_cluster"] == "outbound|80||trace.test")
        #expect(tags["istio.canonical_service"] == "istio-ingressgateway" && tags["istio.namespace"] == "istio-system")
        #expect((span["duration"] as? Int ?? 0) >= 1 && (span["timestamp"] as? Int ?? 0) > 1_600_000_000_000_000)
    }

    @Test("incoming W3C traceparent and B3 single header are continued too")
    func w3cAndSingleContinued() throws {
        let setup = try Setup(exporter: "zipkin", sampling: 0)
        let port = setup.gateway.port(8080)
        let w3cTrace = Self.hex(32), w3cSpan = Self.hex(16), w3cToken = Traffic.token()
        #expect(try Traffic.send(port, host: "trace.test", "/w3c/\(w3cToken)",
                                 headers: ["traceparent: 00-\(w3cTrace)-\(w3cSpan)-01", "tracestate: vendor=1"]).status == 200)
        let w3c = try setup.upstreamHeaders(w3cToken)
        #expect(w3c["x-b3-traceid"] == w3cTrace && w3c["x-b3-parentspanid"] == w3cSpan)
        #expect(w3c["traceparent"]?.hasPrefix("00-\(w3cTrace)-") == true && w3c["tracestate"] == "vendor=1")
        #expect(setup.spans(trace: w3cTrace).first?["parentId"] as? String == w3cSpan)

        let singleTrace = Self.hex(32), singleSpan = Self.hex(16), singleToken = Traffic.token()
        #expect(try Traffic.send(port, host: "trace.test", "/single/\(singleToken)", headers: ["b3: \(singleTrace)-\(singleSpan)-1"]).status == 200)
        let single = try setup.upstreamHeaders(singleToken)
        #expect(single["x-b3-traceid"] == singleTrace && single["x-b3-parentspanid"] == singleSpan && single["b3"] == nil)
        #expect(setup.spans(trace: singleTrace).first?["parentId"] as? String == singleSpan)
    }

    @Test("no incoming context: with sampling 100 a root span starts and is exported; with an unsampled decision nothing is exported")
    func startedAndSampled() throws {
        let setup = try Setup(exporter: "zipkin", sampling: 100)
        let port = setup.gateway.port(8080)
        let token = Traffic.token()
        #expect(try Traffic.send(port, host: "trace.test", "/root/\(token)").status == 200)
        let headers = try setup.upstreamHeaders(token)
        let traceID = try #require(headers["x-b3-traceid"])
        #expect(traceID.count == 32 && headers["x-b3-parentspanid"] == nil && headers["x-b3-sampled"] == "1")
        let span = try #require(setup.spans(trace: traceID).first)
        #expect(span["parentId"] is NSNull || span["parentId"] == nil)
        #expect(span["id"] as? String == headers["x-b3-spanid"])

        let quiet = Traffic.token(), quietTrace = Self.hex(32)
        #expect(try Traffic.send(port, host: "trace.test", "/quiet/\(quiet)",
                                 headers: ["x-b3-traceid: \(quietTrace)", "x-b3-spanid: \(Self.hex(16))", "x-b3-sampled: 0"]).status == 200)
        #expect(try setup.upstreamHeaders(quiet)["x-b3-sampled"] == "0")
        #expect(setup.spans(trace: quietTrace, timeout: 2.5).isEmpty, "an unsampled request is not exported")
    }

    @Test("OTLP/HTTP: the span arrives as an ExportTraceServiceRequest with the trace, parent and kind")
    func otlpExport() throws {
        let setup = try Setup(exporter: "otlp", sampling: 0)
        let traceID = Self.hex(32), spanID = Self.hex(16), token = Traffic.token()
        #expect(try Traffic.send(setup.gateway.port(8080), host: "trace.test", "/otlp/\(token)",
                                 headers: ["traceparent: 00-\(traceID)-\(spanID)-01"]).status == 200)
        let headers = try setup.upstreamHeaders(token)
        let span = try #require(setup.spans(trace: traceID).first)
        #expect(span["format"] as? String == "otlp")
        #expect(span["parentId"] as? String == spanID)
        #expect(span["id"] as? String == headers["x-b3-spanid"])
        #expect(span["kind"] as? Int == 3, "SPAN_KIND_CLIENT")
        #expect((span["tags"] as? [String: String])?["http.status_code"] == "200")
    }
}
