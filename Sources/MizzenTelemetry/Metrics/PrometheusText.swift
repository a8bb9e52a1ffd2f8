package import NIOCore

/// A metric family that is not one of Istio's: Envoy's server and cluster stats, the
/// proxy's own counters. Written in the Prometheus text format with the rest.
package struct MetricFamily: Sendable {
    package enum Kind: String, Sendable {
        case counter
        case gauge
    }

    package struct Sample: Sendable {
        package var labels: [(String, String)]
        package var value: Double

        package init(labels: [(String, String)] = [], value: Double) {
            self.labels = labels
            self.value = value
        }
    }

    package var name: String
    package var kind: Kind
    package var help: String
    package var samples: [Sample]

    package init(name: String, kind: Kind, help: String = "", samples: [Sample]) {
        self.name = name
        self.kind = kind
        self.help = help.isEmpty ? Self.defaultHelp[name] ?? name.replacingUnderscores : help
        self.samples = samples
    }

    package init(name: String, kind: Kind, help: String = "", value: Double) {
        self.init(name: name, kind: kind, help: help, samples: [Sample(value: value)])
    }

    /// Envoy's stats do not come with descriptions; these say what each one counts.
    static let defaultHelp: [String: String] = [
        "envoy_cluster_upstream_rq_total": "Requests sent to the cluster's endpoints",
        "envoy_cluster_upstream_rq_retry": "Retries of requests to the cluster",
        "envoy_cluster_upstream_rq_timeout": "Requests to the cluster that timed out waiting for a response",
        "envoy_cluster_upstream_cx_connect_fail": "Connections to the cluster's endpoints that failed",
        "envoy_cluster_upstream_rq_pending_overflow": "Requests that overflowed a circuit breaker of the cluster",
        "envoy_cluster_upstream_cx_active": "Connections open to the cluster's endpoints",
        "envoy_cluster_upstream_rq_active": "Requests in flight to the cluster's endpoints",
        "envoy_cluster_upstream_rq_pending_active": "Requests waiting for a connection to the cluster",
        "envoy_cluster_outlier_detection_ejections_active": "Endpoints of the cluster ejected by outlier detection now",
        "envoy_cluster_membership_total": "Endpoints of the cluster",
        "envoy_cluster_membership_healthy": "Endpoints of the cluster not ejected",
        "envoy_cluster_upstream_rq_xx": "Responses from the cluster by status class",
        "envoy_server_live": "1 while the server is live, 0 while draining or starting",
        "envoy_server_state": "Server state: 0 live, 1 draining, 2 pre-initializing, 3 initializing",
        "envoy_server_uptime": "Seconds since the server started",
        "envoy_server_concurrency": "Event loops (worker threads)",
        "envoy_http_downstream_rq_active": "Requests in flight from downstream clients",
        "envoy_cluster_manager_cds_update_success": "Configurations accepted (the first load and every reload)",
        "envoy_cluster_manager_cds_update_rejected": "Reloads rejected (the previous configuration kept serving)",
        "envoy_listener_manager_lds_update_success": "Configurations accepted (the first load and every reload)",
        "envoy_listener_manager_lds_update_rejected": "Reloads rejected (the previous configuration kept serving)",
        "envoy_listener_manager_total_listeners_active": "Listeners bound",
        "mizzen_config_reloads_total": "Configuration reloads by result",
        "mizzen_config_generation": "Generation of the configuration served",
        "mizzen_access_log_lines_total": "Access log lines written, dropped (buffer full) or lost (write error)",
        "mizzen_tracing_spans_total": "Spans exported, dropped (queue full) or failed (collector error)",
        "mizzen_tracing_spans_queued": "Spans waiting to be exported",
    ]
}

/// Writes metrics in the Prometheus text exposition format (version 0.0.4) as Envoy's
/// `/stats/prometheus` does: one `# TYPE` line per family, families sorted by name, Istio's
/// labels in the stats filter's order (`all_tags_` of `istio_stats.cc`), histograms as
/// cumulative `_bucket{le=...}` lines with `_sum` and `_count`.
package enum PrometheusText {
    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Envoy's cluster gauges and counters, by the cluster's name (`cluster_name` label).
    package static func clusterFamilies(counters: [String: ClusterCounters], gauges: [String: ClusterGauges]) -> [MetricFamily] {
        var names = Set(counters.keys)
        names.formUnion(gauges.keys)
        let ordered = names.sorted()
        func family(_ name: String, _ kind: MetricFamily.Kind, _ value: (String) -> Double) -> MetricFamily {
            MetricFamily(name: name, kind: kind, samples: ordered.map { MetricFamily.Sample(labels: [("cluster_name", $0)], value: value($0)) })
        }
        var families = [
            family("envoy_cluster_upstream_rq_total", .counter) { Double(counters[$0]?.requests ?? 0) },
            family("envoy_cluster_upstream_rq_retry", .counter) { Double(counters[$0]?.retries ?? 0) },
            family("envoy_cluster_upstream_rq_timeout", .counter) { Double(counters[$0]?.timeouts ?? 0) },
            family("envoy_cluster_upstream_cx_connect_fail", .counter) { Double(counters[$0]?.connectFailures ?? 0) },
            family("envoy_cluster_upstream_rq_pending_overflow", .counter) { Double(counters[$0]?.pendingOverflows ?? 0) },
            family("envoy_cluster_upstream_cx_active", .gauge) { Double(gauges[$0]?.connectionsActive ?? 0) },
            family("envoy_cluster_upstream_rq_active", .gauge) { Double(gauges[$0]?.requestsActive ?? 0) },
            family("envoy_cluster_upstream_rq_pending_active", .gauge) { Double(gauges[$0]?.requestsPending ?? 0) },
            family("envoy_cluster_outlier_detection_ejections_active", .gauge) { Double(gauges[$0]?.ejectionsActive ?? 0) },
            family("envoy_cluster_membership_total", .gauge) { Double(gauges[$0]?.membershipTotal ?? 0) },
            family("envoy_cluster_membership_healthy", .gauge) { Double(gauges[$0]?.membershipHealthy ?? 0) },
        ]
        // Envoy's `upstream_rq_xx` with the class as a tag (`envoy_response_code_class`).
        var byClass: [MetricFamily.Sample] = []
        for name in ordered {
            guard let counts = counters[name] else { continue }
            for (index, count) in counts.byClass.enumerated() where count > 0 {
                byClass.append(MetricFamily.Sample(labels: [("envoy_response_code_class", "\(index + 1)"), ("cluster_name", name)], value: Double(count)))
            }
        }
        families.append(MetricFamily(name: "envoy_cluster_upstream_rq_xx", kind: .counter, samples: byClass))
        return families
    }

    /// The whole exposition: Istio's series from `metrics`, then `families`, all sorted by name.
    package static func render(identity: MetricsIdentity, metrics: MetricsSnapshot, families: [MetricFamily]) -> String {
        String(decoding: renderBytes(identity: identity, metrics: metrics, families: families), as: UTF8.self)
    }

    /// The exposition as bytes (what a scrape sends; a String would be validated and copied).
    package static func renderBytes(identity: MetricsIdentity, metrics: MetricsSnapshot, families: [MetricFamily]) -> [UInt8] {
        var bytes: [UInt8] = []
        renderInto(identity: identity, metrics: metrics, families: families) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The exposition in a ByteBuffer, copied once from the buffer it is written into (a
    /// 1,000-cluster scrape is tens of MB: each copy and regrowth showed as page faults).
    package static func renderBuffer(identity: MetricsIdentity, metrics: MetricsSnapshot, families: [MetricFamily],
                                     allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 0)
        renderInto(identity: identity, metrics: metrics, families: families) { bytes in
            buffer.reserveCapacity(bytes.count)
            buffer.writeBytes(bytes)
        }
        return buffer
    }

    private static func renderInto(identity: MetricsIdentity, metrics: MetricsSnapshot, families: [MetricFamily],
                                   _ deliver: (UnsafeBufferPointer<UInt8>) -> Void) {
        var sections: [(String, (inout LogBytes) -> Void)] = []
        // Sort keys made once per series, not once per comparison.
        let requests = metrics.requests.map { (sortKey($0.key), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        let tcp = metrics.tcp.map { (sortKey($0.key), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        let requestLabels = requests.map { labelText(identity: identity, $0.key) }
        let tcpLabels = tcp.map { labelText(identity: identity, $0.key) }
        // Sized from the series: each request series is 67 lines of its labels and a little
        // more; growing a buffer of tens of MB by doubling copied it several times.
        var estimate = 65536 + families.reduce(0) { $0 + 128 * ($1.samples.count + 2) }
        for labels in requestLabels { estimate += (labels.utf8.count + 96) * 70 }
        for labels in tcpLabels { estimate += (labels.utf8.count + 64) * 4 }
        var out = LogBytes(capacity: estimate)
        defer { out.deallocate() }
        if !requests.isEmpty {
            sections.append(("istio_requests_total", { out in
                out.append("# HELP istio_requests_total Requests reported by the proxy (Istio standard metric)\n")
                out.append("# TYPE istio_requests_total counter\n")
                for (index, entry) in requests.enumerated() { line(&out, "istio_requests_total", requestLabels[index], entry.value.count) }
            }))
            sections.append(("istio_request_duration_milliseconds", { out in
                histogram(&out, "istio_request_duration_milliseconds", requests.enumerated().map { (requestLabels[$0.offset], $0.element.value.duration) })
            }))
            sections.append(("istio_request_bytes", { out in
                histogram(&out, "istio_request_bytes", requests.enumerated().map { (requestLabels[$0.offset], $0.element.value.requestBytes) })
            }))
            sections.append(("istio_response_bytes", { out in
                histogram(&out, "istio_response_bytes", requests.enumerated().map { (requestLabels[$0.offset], $0.element.value.responseBytes) })
            }))
            let grpc = requests.indices.filter { requests[$0].key.requestProtocol == .grpc }
            if !grpc.isEmpty {
                sections.append(("istio_request_messages_total", { out in
                    out.append("# HELP istio_request_messages_total gRPC messages sent by clients\n")
                    out.append("# TYPE istio_request_messages_total counter\n")
                    for index in grpc { line(&out, "istio_request_messages_total", requestLabels[index], requests[index].value.requestMessages) }
                }))
                sections.append(("istio_response_messages_total", { out in
                    out.append("# HELP istio_response_messages_total gRPC messages sent by servers\n")
                    out.append("# TYPE istio_response_messages_total counter\n")
                    for index in grpc { line(&out, "istio_response_messages_total", requestLabels[index], requests[index].value.responseMessages) }
                }))
            }
        }
        if !tcp.isEmpty {
            let counters: [(String, KeyPath<TCPSeries, UInt64>)] = [
                ("istio_tcp_connections_opened_total", \.opened), ("istio_tcp_connections_closed_total", \.closed),
                ("istio_tcp_sent_bytes_total", \.sentBytes), ("istio_tcp_received_bytes_total", \.receivedBytes),
            ]
            for (name, path) in counters {
                sections.append((name, { out in
                    out.append("# HELP \(name) TCP \(name.dropFirst(10).replacingUnderscores) (Istio standard metric)\n")
                    out.append("# TYPE \(name) counter\n")
                    for (index, entry) in tcp.enumerated() { line(&out, name, tcpLabels[index], entry.value[keyPath: path]) }
                }))
            }
        }
        for family in families where !family.samples.isEmpty {
            sections.append((family.name, { out in
                out.append("# HELP \(family.name) \(family.help)\n")
                out.append("# TYPE \(family.name) \(family.kind.rawValue)\n")
                for sample in family.samples {
                    out.append(family.name)
                    if !sample.labels.isEmpty {
                        out.append("{")
                        for (index, (name, value)) in sample.labels.enumerated() {
                            if index > 0 { out.append(",") }
                            out.append(name)
                            out.append("=\"")
                            var escaped = ""
                            appendEscaped(value, to: &escaped)
                            out.append(escaped)
                            out.append("\"")
                        }
                        out.append("}")
                    }
                    out.append(" ")
                    out.append(number(sample.value))
                    out.append("\n")
                }
            }))
        }
        for (_, write) in sections.sorted(by: { $0.0 < $1.0 }) { write(&out) }
        out.withBytes(deliver)
    }

    // MARK: Pieces

    private static func line(_ out: inout LogBytes, _ name: String, _ labels: String, _ value: UInt64) {
        out.append(name)
        out.append("{")
        out.append(labels)
        out.append("} ")
        AccessLogRender.appendDecimal(Int64(clamping: value), to: &out)
        out.append("\n")
    }

    static let histogramHelp = [
        "istio_request_duration_milliseconds": "Request durations in milliseconds (Istio standard metric)",
        "istio_request_bytes": "Request sizes in bytes, headers included (Istio standard metric)",
        "istio_response_bytes": "Response sizes in bytes, headers included (Istio standard metric)",
    ]

    private static func histogram(_ out: inout LogBytes, _ name: String, _ series: [(String, Histogram)]) {
        out.append("# HELP \(name) \(histogramHelp[name] ?? name)\n")
        out.append("# TYPE \(name) histogram\n")
        // Each bucket line is the series' prefix, its bound and a count: the prefix is made once.
        let bounds = (Histogram.envoyDefaultBounds.map(number) + ["+Inf"]).map { Array(",le=\"\($0)\"} ".utf8) }
        for (labels, histogram) in series {
            let prefix = Array("\(name)_bucket{\(labels)".utf8)
            var cumulative: UInt64 = 0
            for index in 0..<bounds.count {
                cumulative &+= histogram.counts[index]
                out.append(prefix)
                out.append(bounds[index])
                AccessLogRender.appendDecimal(Int64(clamping: cumulative), to: &out)
                out.append(UInt8(ascii: "\n"))
            }
            out.append("\(name)_sum{\(labels)} \(number(histogram.sum))\n")
            out.append("\(name)_count{\(labels)} \(histogram.count)\n")
        }
    }

    /// A sample value as Prometheus reads it: integers without a fraction.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Label values escape backslash, double quote and newline.
    static func appendEscaped(_ value: String, to out: inout String) {
        if !value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) {
            out += value
            return
        }
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
    }

    private static func sortKey(_ labels: MetricsSnapshot.RequestLabels) -> String {
        "\(labels.peer.service)|\(labels.peer.workload.workload)|\(labels.peer.workload.version)|\(labels.responseCode)|\(labels.responseFlags)|\(labels.requestProtocol.rawValue)|\(labels.grpcStatus)|\(labels.reporter.rawValue)"
    }

    private static func sortKey(_ labels: MetricsSnapshot.TCPLabels) -> String {
        "\(labels.peer.service)|\(labels.peer.workload.workload)|\(labels.peer.workload.version)|\(labels.responseFlags)|\(labels.reporter.rawValue)"
    }

    /// Both sides' labels: the proxy's own workload on the reporter's side, the peer's on the
    /// other.
    private static func sideLabels(identity: MetricsIdentity, reporter: Reporter, peer: DestinationLabels) -> [(String, String)] {
        var own = identity.source
        if let principal = peer.localPrincipal { own.principal = principal }
        let source = reporter == .source ? own : peer.workload
        let destination = reporter == .source ? peer.workload : own
        return [
            ("reporter", reporter.label),
            ("source_workload", source.workload), ("source_workload_namespace", source.namespace), ("source_principal", source.principal),
            ("source_app", source.app), ("source_version", source.version), ("source_canonical_service", source.canonicalService),
            ("source_canonical_revision", source.canonicalRevision), ("source_cluster", source.cluster),
            ("destination_workload", destination.workload), ("destination_workload_namespace", destination.namespace),
            ("destination_principal", destination.principal), ("destination_app", destination.app), ("destination_version", destination.version),
            ("destination_service", peer.service), ("destination_service_name", peer.serviceName),
            ("destination_service_namespace", peer.serviceNamespace), ("destination_canonical_service", destination.canonicalService),
            ("destination_canonical_revision", destination.canonicalRevision), ("destination_cluster", destination.cluster),
        ]
    }

    private static func labelText(identity: MetricsIdentity, _ key: MetricsSnapshot.RequestLabels) -> String {
        var labels = sideLabels(identity: identity, reporter: key.reporter, peer: key.peer)
        labels.append(("request_protocol", key.requestProtocol.label))
        labels.append(("response_code", String(key.responseCode)))
        labels.append(("grpc_response_status", key.grpcStatus < 0 ? "" : String(key.grpcStatus)))
        labels.append(("response_flags", key.responseFlags.description))
        labels.append(("connection_security_policy", key.peer.connectionSecurityPolicy ?? identity.connectionSecurityPolicy))
        return joined(labels)
    }

    private static func labelText(identity: MetricsIdentity, _ key: MetricsSnapshot.TCPLabels) -> String {
        var labels = sideLabels(identity: identity, reporter: key.reporter, peer: key.peer)
        labels.append(("request_protocol", "tcp"))
        labels.append(("response_flags", key.responseFlags.description))
        labels.append(("connection_security_policy", key.peer.connectionSecurityPolicy ?? identity.connectionSecurityPolicy))
        return joined(labels)
    }

    private static func joined(_ labels: [(String, String)]) -> String {
        var out = ""
        for (index, (name, value)) in labels.enumerated() {
            if index > 0 { out += "," }
            out += name
            out += "=\""
            appendEscaped(value, to: &out)
            out += "\""
        }
        return out
    }
}

extension StringProtocol {
    /// `upstream_rq_total` as words, for a default help text.
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
