import Foundation
import NIOHTTP1
import Testing
@testable import MizzenAdmin
@testable import MizzenTelemetry

/// The service graph made from the reported metrics, and the admin request parsing.
struct ServiceGraphTests {
    static let gateway = MetricsIdentity(source: WorkloadLabels.fromPodLabels(["app": "istio-ingressgateway"], workload: "istio-ingressgateway",
                                                                              namespace: "istio-system", cluster: "Kubernetes"))

    static func metrics() -> MetricsSnapshot {
        let loop = LoopMetrics()
        let v1 = loop.peer(DestinationLabels(workload: WorkloadLabels.fromPodLabels(["app": "reviews", "version": "v1"], workload: "reviews-v1", namespace: "default"),
                                             service: "reviews.default.svc.cluster.local", serviceName: "reviews", serviceNamespace: "default"))
        let unknown = loop.peer(DestinationLabels.host("nowhere.example.com"))
        // A delayed (DI) but successful request is not an error.
        loop.recordRequest(RequestSeriesKey(reporter: .source, peer: v1, requestProtocol: .http, responseCode: 200, grpcStatus: -1,
                                            responseFlags: ResponseFlags([.delayInjected])),
                           durationMilliseconds: 10, requestBytes: 1, responseBytes: 1)
        for _ in 0..<4 {
            loop.recordRequest(RequestSeriesKey(reporter: .source, peer: v1, requestProtocol: .http, responseCode: 200, grpcStatus: -1, responseFlags: ResponseFlags()),
                               durationMilliseconds: 10, requestBytes: 1, responseBytes: 1)
        }
        loop.recordRequest(RequestSeriesKey(reporter: .source, peer: v1, requestProtocol: .http, responseCode: 503, grpcStatus: -1,
                                            responseFlags: ResponseFlags([.upstreamConnectionFailure])),
                           durationMilliseconds: 20, requestBytes: 1, responseBytes: 1)
        loop.recordRequest(RequestSeriesKey(reporter: .source, peer: unknown, requestProtocol: .http, responseCode: 404, grpcStatus: -1,
                                            responseFlags: ResponseFlags([.noRoute])),
                           durationMilliseconds: 0, requestBytes: 1, responseBytes: 1)
        return loop.snapshot()
    }

    @Test("gateway → service → serving workload, with requests, errors and mean latency per edge")
    func edges() throws {
        let graph = ServiceGraph(identity: Self.gateway, metrics: Self.metrics())
        let gateway = "workload:istio-ingressgateway.istio-system"
        let edge = try #require(graph.edges.first { $0.source == gateway && $0.target == "service:reviews.default.svc.cluster.local" })
        #expect(edge.requests == 6 && edge.errors == 1)
        #expect(edge.meanMilliseconds == 70.0 / 6)
        let inner = try #require(graph.edges.first { $0.source == "service:reviews.default.svc.cluster.local" })
        #expect(inner.target == "workload:reviews-v1.default" && inner.requests == 6)
        #expect(graph.edges.contains { $0.target == "service:nowhere.example.com" && $0.errors == 0 && $0.requests == 1 }, "a 404 is not a 5xx")
        #expect(graph.nodes.map(\.id).contains(gateway))
    }

    @Test("workloads known only by their labels stay apart: one node per canonical service and version")
    func unnamedWorkloadsApart() {
        let loop = LoopMetrics()
        for (service, version) in [("reviews", "v1"), ("reviews", "v2"), ("productpage", "v1")] {
            let peer = loop.peer(DestinationLabels(workload: WorkloadLabels.fromPodLabels(["app": service, "version": version], workload: nil, namespace: "default"),
                                                   service: "\(service).default.svc.cluster.local", serviceName: service, serviceNamespace: "default"))
            loop.recordRequest(RequestSeriesKey(reporter: .source, peer: peer, requestProtocol: .http, responseCode: 200, grpcStatus: -1,
                                                responseFlags: ResponseFlags()),
                               durationMilliseconds: 1, requestBytes: 1, responseBytes: 1)
        }
        let graph = ServiceGraph(identity: Self.gateway, metrics: loop.snapshot())
        let workloads = Set(graph.nodes.filter { $0.kind == "workload" }.map(\.id))
        #expect(workloads == ["workload:istio-ingressgateway.istio-system", "workload:reviews-v1.default", "workload:reviews-v2.default",
                              "workload:productpage-v1.default"])
        #expect(graph.edges.contains { $0.source == "service:reviews.default.svc.cluster.local" && $0.target == "workload:reviews-v2.default" })
    }

    @Test("JSON parses back; the HTML page carries the SVG drawing with a node per workload and service")
    func renderings() throws {
        let graph = ServiceGraph(identity: Self.gateway, metrics: Self.metrics())
        let json = try #require(try JSONSerialization.jsonObject(with: Data(graph.json.utf8)) as? [String: Any])
        #expect((json["nodes"] as? [[String: Any]])?.count == graph.nodes.count)
        #expect((json["edges"] as? [[String: Any]])?.count == graph.edges.count)
        let html = graph.html
        #expect(html.contains("<svg"))
        #expect(html.components(separatedBy: "class=\"node\"").count - 1 == graph.nodes.count)
        #expect(html.components(separatedBy: "class=\"edge\"").count - 1 == graph.edges.count)
        #expect(ServiceGraph.escaped("<a&\"b>") == "&lt;a&amp;&quot;b&gt;")
    }

    @Test("admin query strings are split and percent-decoded", arguments: [
        ("/stats?filter=cluster%5C..*&usedonly", "/stats", ["filter": "cluster\\..*", "usedonly": ""]),
        ("/logging?level=debug", "/logging", ["level": "debug"]),
        ("/ready", "/ready", [:]),
    ])
    func query(uri: String, path: String, query: [String: String]) {
        let request = AdminRequest(method: .GET, uri: uri)
        #expect(request.path == path)
        #expect(request.query == query)
    }
}
