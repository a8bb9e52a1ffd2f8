import Testing
@testable import MizzenTelemetry

/// Istio's metrics as a scrape shows them: per-loop counts summed, Envoy's buckets, the stats
/// filter's label order and values, escaping.
struct MetricsTests {
    static let gateway = MetricsIdentity(source: WorkloadLabels.fromPodLabels(["app": "istio-ingressgateway", "istio": "ingressgateway"],
                                                                              workload: "istio-ingressgateway", namespace: "istio-system",
                                                                              cluster: "Kubernetes"))

    static func reviews(_ version: String) -> DestinationLabels {
        DestinationLabels(workload: WorkloadLabels.fromPodLabels(["app": "reviews", "version": version], workload: nil, namespace: "default"),
                          service: "reviews.default.svc.cluster.local", serviceName: "reviews", serviceNamespace: "default")
    }

    @Test("a value on a bound counts in that bucket (le is inclusive); beyond the last bound, +Inf", arguments: [
        (0.0, 0), (0.5, 0), (0.6, 1), (1, 1), (4.9, 2), (10, 3), (3_600_000, 18), (3_600_001, 19),
    ])
    func histogramBuckets(value: Double, bucket: Int) {
        var histogram = Histogram()
        histogram.record(value)
        #expect(histogram.counts.firstIndex(of: 1) == bucket)
        #expect(histogram.count == 1 && histogram.sum == value)
    }

    @Test("two loops' counts are summed by label values at scrape time")
    func loopsSummed() {
        let first = LoopMetrics(), second = LoopMetrics()
        for (loop, count) in [(first, 3), (second, 2)] {
            let peer = loop.peer(Self.reviews("v1"))
            let key = RequestSeriesKey(reporter: .source, peer: peer, requestProtocol: .http, responseCode: 200, grpcStatus: -1, responseFlags: ResponseFlags())
            for _ in 0..<count { loop.recordRequest(key, durationMilliseconds: 7, requestBytes: 100, responseBytes: 1000) }
        }
        // A different interning order on the second loop must not matter.
        _ = second.peer(Self.reviews("v2"))
        var total = first.snapshot()
        total.merge(second.snapshot())
        #expect(total.requests.count == 1)
        let series = total.requests.values.first
        #expect(series?.count == 5)
        #expect(series?.duration.sum == 35)
        #expect(series?.responseBytes.count == 5)
    }

    @Test("a request series is written with Istio's labels in the stats filter's order, flags and unknowns as Istio writes them")
    func labelsInOrder() {
        let loop = LoopMetrics()
        let peer = loop.peer(Self.reviews("v2"))
        let key = RequestSeriesKey(reporter: .source, peer: peer, requestProtocol: .http, responseCode: 503, grpcStatus: -1,
                                   responseFlags: ResponseFlags([.upstreamRetryLimitExceeded, .upstreamConnectionFailure]))
        loop.recordRequest(key, durationMilliseconds: 12, requestBytes: 10, responseBytes: 20)
        let text = PrometheusText.render(identity: Self.gateway, metrics: loop.snapshot(), families: [])
        let expectedLabels = #"reporter="source",source_workload="istio-ingressgateway",source_workload_namespace="istio-system","#
            + #"source_principal="unknown",source_app="istio-ingressgateway",source_version="unknown","#
            + #"source_canonical_service="istio-ingressgateway",source_canonical_revision="latest",source_cluster="Kubernetes","#
            + #"destination_workload="unknown",destination_workload_namespace="default",destination_principal="unknown","#
            + #"destination_app="reviews",destination_version="v2",destination_service="reviews.default.svc.cluster.local","#
            + #"destination_service_name="reviews",destination_service_namespace="default",destination_canonical_service="reviews","#
            + #"destination_canonical_revision="v2",destination_cluster="unknown",request_protocol="http",response_code="503","#
            + #"grpc_response_status="",response_flags="URX,UF",connection_security_policy="unknown""#
        #expect(text.contains("istio_requests_total{\(expectedLabels)} 1\n"), "\(text)")
        #expect(text.contains("istio_request_duration_milliseconds_bucket{\(expectedLabels),le=\"10\"} 0\n"))
        #expect(text.contains("istio_request_duration_milliseconds_bucket{\(expectedLabels),le=\"25\"} 1\n"))
        #expect(text.contains("istio_request_duration_milliseconds_bucket{\(expectedLabels),le=\"+Inf\"} 1\n"))
        #expect(text.contains("istio_request_duration_milliseconds_sum{\(expectedLabels)} 12\n"))
        #expect(text.contains("istio_request_duration_milliseconds_count{\(expectedLabels)} 1\n"))
        #expect(text.contains("# TYPE istio_request_bytes histogram\n"))
        #expect(text.contains("le=\"3600000\""))
        #expect(!text.contains("istio_request_messages_total"), "gRPC message counters only for gRPC series")
    }

    @Test("gRPC series carry grpc_response_status and the message counters")
    func grpcSeries() {
        let loop = LoopMetrics()
        let key = RequestSeriesKey(reporter: .source, peer: loop.peer(Self.reviews("v1")), requestProtocol: .grpc, responseCode: 200, grpcStatus: 14,
                                   responseFlags: ResponseFlags())
        loop.recordRequest(key, durationMilliseconds: 1, requestBytes: 1, responseBytes: 1, requestMessages: 3, responseMessages: 2)
        let text = PrometheusText.render(identity: Self.gateway, metrics: loop.snapshot(), families: [])
        #expect(text.contains(#"request_protocol="grpc",response_code="200",grpc_response_status="14""#))
        #expect(text.contains("# TYPE istio_request_messages_total counter"))
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("istio_request_messages_total{") && $0.hasSuffix(" 3") })
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("istio_response_messages_total{") && $0.hasSuffix(" 2") })
    }

    @Test("TCP series: opened, closed and bytes each way, without response_code")
    func tcpSeries() {
        let loop = LoopMetrics()
        let series = loop.tcpSeries(TCPSeriesKey(reporter: .source, peer: loop.peer(Self.reviews("v1")), responseFlags: ResponseFlags()))
        loop.tcpOpened(series)
        loop.tcpBytes(series, sent: 100, received: 40)
        loop.tcpClosed(series)
        let text = PrometheusText.render(identity: Self.gateway, metrics: loop.snapshot(), families: [])
        for (name, value) in [("istio_tcp_connections_opened_total", 1), ("istio_tcp_connections_closed_total", 1),
                              ("istio_tcp_sent_bytes_total", 100), ("istio_tcp_received_bytes_total", 40)] {
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") }
            #expect(line?.hasSuffix(" \(value)") == true, "\(name): \(String(describing: line))")
            #expect(line?.contains("response_code") == false)
            #expect(line?.contains(#"request_protocol="tcp""#) == true)
        }
    }

    @Test("label values escape backslash, quote and newline; families come sorted with HELP and TYPE")
    func escapingAndOrder() {
        let families = [
            MetricFamily(name: "zz_last", kind: .gauge, value: 1),
            MetricFamily(name: "envoy_cluster_upstream_rq_total", kind: .counter, samples: [.init(labels: [("cluster_name", "a\"b\\c\nd")], value: 2)]),
        ]
        let text = PrometheusText.render(identity: Self.gateway, metrics: MetricsSnapshot(), families: families)
        #expect(text.contains(#"envoy_cluster_upstream_rq_total{cluster_name="a\"b\\c\nd"} 2"#))
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE") }
        #expect(types == ["# TYPE envoy_cluster_upstream_rq_total counter", "# TYPE zz_last gauge"])
        #expect(text.contains("# HELP envoy_cluster_upstream_rq_total Requests sent to the cluster's endpoints\n"))
    }

    @Test("peers past the bound are counted as unknown, not as new series")
    func peersBounded() {
        let loop = LoopMetrics(maxPeers: 3)
        let handles = (0..<10).map { loop.peer(DestinationLabels.host("host\($0).example.com")) }
        #expect(Set(handles).count <= 4)
        #expect(loop.peers.count <= 4)
        #expect(loop.peers.contains(DestinationLabels()))
    }

    @Test("response flags keep Envoy's order and print '-' when none", arguments: [
        ([ResponseFlag](), "-"), ([.noRoute], "NR"), ([.upstreamRetryLimitExceeded, .upstreamConnectionFailure], "URX,UF"),
        ([.delayInjected, .faultInjected], "DI,FI"),
    ])
    func flags(flags: [ResponseFlag], text: String) {
        #expect(ResponseFlags(flags).description == text)
    }
}
