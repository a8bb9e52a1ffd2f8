internal import Dispatch
package import Logging
package import MizzenAdmin
package import MizzenConfig
package import MizzenSources
package import MizzenProxy
import MizzenRouting
package import MizzenTelemetry
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The configuration being served, for the admin pages: the loaded objects and the proxy
/// snapshot compiled from them. Replaced whole on reload.
package final class ServedConfiguration: Sendable {
    package struct Current: Sendable {
        package var objects: ConfigSnapshot
        package var snapshot: ProxySnapshot
        package var files: [String]
        /// The list/watch the objects come from, for its sync state.
        package var kubernetes: KubernetesSource?
    }

    private let current: Mutex<Current>

    package init(objects: ConfigSnapshot, snapshot: ProxySnapshot, files: [String]) {
        current = Mutex(Current(objects: objects, snapshot: snapshot, files: files))
    }

    package var value: Current { current.withLock { $0 } }

    package var kubernetes: KubernetesSource? {
        get { current.withLock { $0.kubernetes } }
        set { current.withLock { $0.kubernetes = newValue } }
    }

    package func replace(objects: ConfigSnapshot, snapshot: ProxySnapshot, files: [String]) {
        current.withLock {
            $0.objects = objects
            $0.snapshot = snapshot
            $0.files = files
        }
    }
}

/// What the operator endpoints act on: the running proxy, its configuration and status, and
/// the actions only the run loop may take (drain, quit).
package struct OperatorContext: Sendable {
    package var engine: ProxyEngine
    package var served: ServedConfiguration
    package var status: ServerStatus
    package var telemetry: ProxyTelemetry
    package var logLevel: LogLevelControl?
    package var listenerDescriptions: @Sendable () async -> [(name: String, address: String)]
    /// `POST /drain_listeners`: graceful (keep accepting for the drain duration) or not.
    package var drainListeners: @Sendable (_ graceful: Bool) -> Void
    /// `POST /quitquitquit`: stop now, without draining.
    package var quit: @Sendable () -> Void
    package var commandLine: [String]

    package init(engine: ProxyEngine, served: ServedConfiguration, status: ServerStatus, telemetry: ProxyTelemetry, logLevel: LogLevelControl?,
                 listenerDescriptions: @escaping @Sendable () async -> [(name: String, address: String)],
                 drainListeners: @escaping @Sendable (Bool) -> Void, quit: @escaping @Sendable () -> Void, commandLine: [String]) {
        self.engine = engine
        self.served = served
        self.status = status
        self.telemetry = telemetry
        self.logLevel = logLevel
        self.listenerDescriptions = listenerDescriptions
        self.drainListeners = drainListeners
        self.quit = quit
        self.commandLine = commandLine
    }
}

/// The endpoints of the admin port (Envoy's admin, ISTIO-OPS §4.2), the stats port
/// (`/stats/prometheus`) and the status port (`/healthz/ready`).
package enum OperatorEndpoints {
    package static let version = "mizzen/0.1"

    // MARK: Ports

    package static func admin(_ context: OperatorContext) -> [AdminEndpoint] {
        [
            AdminEndpoint("/stats/prometheus", help: "Istio's and Envoy's metrics in the Prometheus text format") { _ in
                await prometheus(context)
            },
            AdminEndpoint("/stats", help: "counters and gauges, Envoy's 'name: value' lines (?format=json, ?filter=REGEX, ?usedonly)") { request in
                await stats(context, request)
            },
            AdminEndpoint("/server_info", help: "version, state, uptime, command line (JSON)") { _ in serverInfo(context) },
            AdminEndpoint("/ready", help: "LIVE (200) or the server's state (503)") { _ in
                let state = context.status.state
                return .text("\(state.name)\n", status: state == .live ? .ok : .serviceUnavailable)
            },
            AdminEndpoint("/config_dump", help: "the loaded objects and the compiled route table (JSON)") { _ in configDump(context) },
            AdminEndpoint("/clusters", help: "clusters and endpoints: health, outlier ejection, requests and connections (?format=json)") { request in
                await clusters(context, request)
            },
            AdminEndpoint("/routes", help: "the compiled route table, as 'mizzen routes' prints it (?format=json)") { request in
                let table = context.served.value.snapshot.table
                return request.query["format"] == "json" ? .json(RouteTableReport.json(table)) : .text(RouteTableReport.text(table))
            },
            AdminEndpoint("/listeners", help: "listeners and their addresses (?format=json)") { request in
                let listeners = await context.listenerDescriptions()
                if request.query["format"] == "json" {
                    let items = listeners.map { "{\"name\":\(JSONWriter.string($0.name)),\"local_address\":\(JSONWriter.string($0.address))}" }
                    return .json("{\"listener_statuses\":[\(items.joined(separator: ","))]}\n")
                }
                return .text(listeners.map { "\($0.name)::\($0.address)\n" }.joined())
            },
            AdminEndpoint("/graph", help: "the service graph from the reported metrics (HTML; ?format=json or svg)") { request in
                let statistics = await context.engine.statistics()
                let graph = ServiceGraph(identity: context.telemetry.identity, metrics: statistics.metrics)
                switch request.query["format"] {
                case "json": return .json(graph.json)
                case "svg": return AdminResponse(contentType: "image/svg+xml", body: graph.svg)
                default: return AdminResponse(contentType: "text/html; charset=utf-8", body: graph.html)
                }
            },
            AdminEndpoint("/healthcheck/fail", methods: [.POST], help: "fail readiness and start draining connections") { _ in
                context.status.setHealthCheckFailed(true)
                context.engine.setDraining(true)
                return .text("OK\n")
            },
            AdminEndpoint("/healthcheck/ok", methods: [.POST], help: "pass readiness again") { _ in
                context.status.setHealthCheckFailed(false)
                if context.status.state != .draining { context.engine.setDraining(false) }
                return .text("OK\n")
            },
            AdminEndpoint("/drain_listeners", methods: [.POST], help: "drain the listeners (?graceful: keep accepting for the drain duration; ?inboundonly)") { request in
                // A gateway's listeners are all outbound (Istio's traffic direction): inboundonly
                // selects none.
                if request.query["inboundonly"] != nil { return .text("OK\n") }
                context.drainListeners(request.query["graceful"] != nil)
                return .text("OK\n")
            },
            AdminEndpoint("/quitquitquit", methods: [.POST], help: "exit now, without draining") { _ in
                context.quit()
                return .text("OK\n")
            },
            AdminEndpoint("/logging", methods: [.POST], help: "set the log level: ?level=trace|debug|info|notice|warning|error|critical") { request in
                guard let control = context.logLevel else { return .text("log level is fixed\n", status: .badRequest) }
                guard let name = request.query["level"] else { return .text("active level: \(control.current)\n") }
                guard let level = Logger.Level(rawValue: name == "warn" ? "warning" : name) else {
                    return .text("unknown level '\(name)'; one of trace, debug, info, notice, warning, error, critical\n", status: .badRequest)
                }
                control.current = level
                return .text("active level: \(level)\n")
            },
        ]
    }

    /// Port 15090: only the Prometheus endpoint (Istio's `prometheus_stats` listener).
    package static func stats(_ context: OperatorContext) -> [AdminEndpoint] {
        [
            AdminEndpoint("/stats/prometheus", help: "Istio's and Envoy's metrics in the Prometheus text format") { _ in await prometheus(context) },
            AdminEndpoint("/metrics", help: "the same (pilot-agent's alias)") { _ in await prometheus(context) },
        ]
    }

    /// Port 15021: readiness as the kubelet probes it.
    package static func status(_ context: OperatorContext) -> [AdminEndpoint] {
        [
            AdminEndpoint("/healthz/ready", help: "200 once configured and listening; 503 before, while draining or after /healthcheck/fail") { _ in
                if let reason = context.status.notReadyReason { return .text(reason + "\n", status: .serviceUnavailable) }
                return .text("")
            },
        ]
    }

    // MARK: Metrics

    package static func prometheus(_ context: OperatorContext) async -> AdminResponse {
        let statistics = await context.engine.statistics()
        let snapshot = context.served.value.snapshot
        let families = metricFamilies(context, statistics: statistics, snapshot: snapshot)
        let bytes = PrometheusText.renderBuffer(identity: context.telemetry.identity, metrics: statistics.metrics, families: families)
        return AdminResponse(contentType: PrometheusText.contentType, bytes: bytes)
    }

    static func metricFamilies(_ context: OperatorContext, statistics: EngineStatistics, snapshot: ProxySnapshot) -> [MetricFamily] {
        let gauges = context.engine.clusterGauges(snapshot, statistics: statistics)
        var families = PrometheusText.clusterFamilies(counters: statistics.metrics.clusters, gauges: gauges)
        let status = context.status
        let state = status.state
        let reloads = status.reloads
        let uptime = Double((ContinuousClock.now - status.startedAt).components.seconds)
        families += [
            MetricFamily(name: "envoy_server_live", kind: .gauge, value: state == .live ? 1 : 0),
            MetricFamily(name: "envoy_server_state", kind: .gauge, value: Double(state.rawValue)),
            MetricFamily(name: "envoy_server_uptime", kind: .gauge, value: uptime),
            MetricFamily(name: "envoy_server_concurrency", kind: .gauge, value: Double(context.engine.group.makeIterator().reduce(0) { count, _ in count + 1 })),
            MetricFamily(name: "envoy_http_downstream_rq_active", kind: .gauge, value: Double(statistics.activeRequests)),
            // Istio's agent reads these to decide readiness: a file reload counts as one CDS and
            // one LDS update (accepted or rejected), the first load included.
            MetricFamily(name: "envoy_cluster_manager_cds_update_success", kind: .counter, value: Double(reloads.succeeded + (state == .preInitializing ? 0 : 1))),
            MetricFamily(name: "envoy_cluster_manager_cds_update_rejected", kind: .counter, value: Double(reloads.rejected)),
            MetricFamily(name: "envoy_listener_manager_lds_update_success", kind: .counter, value: Double(reloads.succeeded + (state == .preInitializing ? 0 : 1))),
            MetricFamily(name: "envoy_listener_manager_lds_update_rejected", kind: .counter, value: Double(reloads.rejected)),
            MetricFamily(name: "envoy_listener_manager_total_listeners_active", kind: .gauge, value: Double(status.listenersBound)),
            MetricFamily(name: "mizzen_config_reloads_total", kind: .counter, samples: [
                MetricFamily.Sample(labels: [("result", "success")], value: Double(reloads.succeeded)),
                MetricFamily.Sample(labels: [("result", "rejected")], value: Double(reloads.rejected)),
            ]),
            MetricFamily(name: "mizzen_config_generation", kind: .gauge, value: Double(status.generation)),
        ]
        if let accessLog = context.telemetry.accessLog {
            let counts = accessLog.writer.counts
            families.append(MetricFamily(name: "mizzen_access_log_lines_total", kind: .counter, samples: [
                MetricFamily.Sample(labels: [("result", "written")], value: Double(counts.written)),
                MetricFamily.Sample(labels: [("result", "dropped")], value: Double(counts.dropped)),
                MetricFamily.Sample(labels: [("result", "failed")], value: Double(counts.failed)),
            ]))
        }
        if let exporter = context.telemetry.tracing?.exporter {
            let counts = exporter.counts
            families.append(MetricFamily(name: "mizzen_tracing_spans_total", kind: .counter, samples: [
                MetricFamily.Sample(labels: [("result", "exported")], value: Double(counts.exported)),
                MetricFamily.Sample(labels: [("result", "dropped")], value: Double(counts.dropped)),
                MetricFamily.Sample(labels: [("result", "failed")], value: Double(counts.failed)),
            ]))
            families.append(MetricFamily(name: "mizzen_tracing_spans_queued", kind: .gauge, value: Double(counts.queued)))
        }
        return families
    }

    /// Envoy's `/stats`: `cluster.<name>.<stat>: value` and `server.<stat>: value` lines.
    static func stats(_ context: OperatorContext, _ request: AdminRequest) async -> AdminResponse {
        let statistics = await context.engine.statistics()
        let families = metricFamilies(context, statistics: statistics, snapshot: context.served.value.snapshot)
        var entries: [(String, Double)] = []
        for family in families {
            for sample in family.samples {
                entries.append((envoyStatName(family.name, labels: sample.labels), sample.value))
            }
        }
        var requests: UInt64 = 0
        for series in statistics.metrics.requests.values { requests &+= series.count }
        entries.append(("http.downstream_rq_completed", Double(requests)))
        if let filter = request.query["filter"], !filter.isEmpty {
            guard let regex = try? Regex(filter) else { return .text("invalid regex '\(filter)'\n", status: .badRequest) }
            entries = entries.filter { (try? regex.firstMatch(in: $0.0)) != nil }
        }
        if request.query["usedonly"] != nil { entries = entries.filter { $0.1 != 0 } }
        entries.sort { $0.0 < $1.0 }
        if request.query["format"] == "json" {
            let items = entries.map { "{\"name\":\(JSONWriter.string($0.0)),\"value\":\(PrometheusTextNumber.format($0.1))}" }
            return .json("{\"stats\":[\(items.joined(separator: ","))]}\n")
        }
        return .text(entries.map { "\($0.0): \(PrometheusTextNumber.format($0.1))\n" }.joined())
    }

    /// `envoy_cluster_upstream_rq_total{cluster_name="x"}` as Envoy names it: `cluster.x.upstream_rq_total`.
    static func envoyStatName(_ name: String, labels: [(String, String)]) -> String {
        var stat = name.hasPrefix("envoy_") ? String(name.dropFirst(6)) : name
        if let cluster = labels.first(where: { $0.0 == "cluster_name" })?.1, stat.hasPrefix("cluster_") {
            stat = "cluster.\(cluster)." + stat.dropFirst(8)
            if let code = labels.first(where: { $0.0 == "envoy_response_code_class" })?.1 { stat = stat.replacingOccurrences("upstream_rq_xx", "upstream_rq_\(code)xx") }
            return stat
        }
        for prefix in ["server_", "cluster_manager_", "listener_manager_", "http_"] where stat.hasPrefix(prefix) {
            return String(prefix.dropLast()) + "." + stat.dropFirst(prefix.count)
        }
        let rest = labels.map { "\($0.0)=\($0.1)" }.joined(separator: ".")
        return rest.isEmpty ? stat : "\(stat).\(rest)"
    }

    // MARK: Pages

    static func serverInfo(_ context: OperatorContext) -> AdminResponse {
        let status = context.status
        let uptime = (ContinuousClock.now - status.startedAt).components.seconds
        let identity = context.telemetry.identity.source
        let arguments = context.commandLine.map(JSONWriter.string).joined(separator: ",")
        let body = """
        {"version":\(JSONWriter.string(version)),"state":"\(status.state.name)","hot_restart_version":"disabled",\
        "uptime_current_epoch":"\(uptime)s","uptime_all_epochs":"\(uptime)s",\
        "node":{"id":\(JSONWriter.string("router~\(identity.workload).\(identity.namespace)")),"cluster":\(JSONWriter.string(identity.workload)),\
        "metadata":{"WORKLOAD_NAME":\(JSONWriter.string(identity.workload)),"NAMESPACE":\(JSONWriter.string(identity.namespace)),\
        "CLUSTER_ID":\(JSONWriter.string(identity.cluster))}},\
        "command_line_options":{"concurrency":\(context.engine.group.makeIterator().reduce(0) { count, _ in count + 1 }),"args":[\(arguments)]},\
        "config_generation":\(status.generation),"health_check_failed":\(status.healthCheckFailed)}

        """
        return .json(body)
    }

    static func configDump(_ context: OperatorContext) -> AdminResponse {
        let current = context.served.value
        var objects: [[String: Any]] = []
        let fromKubernetes = current.kubernetes != nil
        func add<P>(_ resources: [ConfigResource<P>], kind: String, withObject: Bool = true) {
            for resource in resources {
                var entry: [String: Any] = [
                    "kind": kind, "apiVersion": resource.apiVersion, "namespace": resource.namespace, "name": resource.name,
                    "source": fromKubernetes ? "kubernetes" : "\(resource.source.file):\(resource.source.mark.line)",
                ]
                if let version = resource.metadata.resourceVersion { entry["resourceVersion"] = version }
                // Secrets are named, never shown (Envoy's config_dump redacts them too).
                if withObject {
                    if let json = resource.source.json, case .success(let node) = JSONReader.read(json) {
                        entry["object"] = yamlValue(node)
                    } else if !fromKubernetes {
                        entry["object"] = yamlValue(resource.source.node)
                    }
                    // From the API server, EndpointSlices and Pods are listed without their
                    // text (the store does not keep it): their endpoints are in /clusters.
                }
                objects.append(entry)
            }
        }
        let loaded = current.objects
        add(loaded.gateways, kind: "Gateway")
        add(loaded.virtualServices, kind: "VirtualService")
        add(loaded.destinationRules, kind: "DestinationRule")
        add(loaded.serviceEntries, kind: "ServiceEntry")
        add(loaded.workloadEntries, kind: "WorkloadEntry")
        add(loaded.sidecars, kind: "Sidecar")
        add(loaded.peerAuthentications, kind: "PeerAuthentication")
        add(loaded.services, kind: "Service")
        add(loaded.endpoints, kind: "Endpoints")
        add(loaded.endpointSlices, kind: "EndpointSlice")
        add(loaded.pods, kind: "Pod")
        add(loaded.secrets, kind: "Secret", withObject: false)
        let table = RouteTableReport.json(current.snapshot.table)
        var dump: [String: Any] = [
            "generation": context.status.generation, "files": current.files, "objects": objects,
            "problems": current.snapshot.problems + current.snapshot.table.problems,
        ]
        if let source = current.kubernetes {
            dump["kubernetes"] = [
                "server": source.access.serverDescription,
                "synced": source.store.isSynced,
                "watches": source.store.scopes.sorted { $0.key.description < $1.key.description }.map { scope, status -> [String: Any] in
                    var entry: [String: Any] = [
                        "resource": scope.kind.description, "apiVersion": scope.kind.apiVersion, "synced": status.synced,
                        "resourceVersion": status.resourceVersion, "lists": status.lists, "watches": status.watches,
                        "expired": status.expired, "failures": status.failures,
                    ]
                    if let namespace = scope.namespace { entry["namespace"] = namespace }
                    if let problem = status.lastProblem { entry["lastProblem"] = problem }
                    return entry
                },
            ] as [String: Any]
        }
        // The compiled table is already JSON text: spliced in as the last key.
        var text = JSONText.serialize(dump, escapingSlashes: false)
        if text.hasSuffix("}") {
            text.removeLast()
            text += ",\n  \"route_table\" : " + table.trimmingSuffixNewline() + "\n}"
        }
        return .json(text + "\n")
    }

    /// A YAML node as JSON-ready values (scalars typed as the core schema resolves them;
    /// nulls left out).
    static func yamlValue(_ node: YAMLNode) -> Any? {
        switch node.content {
        case .scalar(let text, _):
            switch node.resolvedKind {
            case .null: return nil
            case .bool: return text.lowercased() == "true"
            case .integer: return Int(text) ?? text
            default: return text
            }
        case .sequence(let items):
            return items.compactMap(yamlValue)
        case .mapping(let pairs):
            var object: [String: Any] = [:]
            for pair in pairs {
                guard case .scalar(let key, _) = pair.key.content, let value = yamlValue(pair.value) else { continue }
                object[key] = value
            }
            return object
        }
    }

    static func clusters(_ context: OperatorContext, _ request: AdminRequest) async -> AdminResponse {
        let statistics = await context.engine.statistics()
        let snapshot = context.served.value.snapshot
        let details = context.engine.endpointDetails(snapshot)
        var lines = ""
        var json: [String] = []
        for name in snapshot.clusters.keys.sorted() {
            let pool = statistics.pools[name]
            var hosts: [String] = []
            for endpoint in details[name] ?? [] {
                let counts = pool?.endpoints[endpoint.address] ?? (0, 0)
                let health = endpoint.ejected ? "/failed_outlier_check" : "healthy"
                lines += "\(name)::\(endpoint.address)::cx_active::\(counts.connections)\n"
                lines += "\(name)::\(endpoint.address)::rq_active::\(counts.active)\n"
                lines += "\(name)::\(endpoint.address)::health_flags::\(health)\n"
                lines += "\(name)::\(endpoint.address)::weight::\(endpoint.weight)\n"
                if endpoint.ejections > 0 { lines += "\(name)::\(endpoint.address)::outlier_ejections::\(endpoint.ejections)\n" }
                hosts.append("{\"address\":\(JSONWriter.string(endpoint.address)),\"health_status\":{\"eds_health_status\":\"HEALTHY\""
                    + (endpoint.ejected ? ",\"failed_outlier_check\":true" : "") + "},\"weight\":\(endpoint.weight),"
                    + "\"stats\":{\"cx_active\":\(counts.connections),\"rq_active\":\(counts.active)},\"labels\":{"
                    + endpoint.labels.sorted { $0.key < $1.key }.map { "\(JSONWriter.string($0.key)):\(JSONWriter.string($0.value))" }.joined(separator: ",")
                    + "}}")
            }
            json.append("{\"name\":\(JSONWriter.string(name)),\"host_statuses\":[\(hosts.joined(separator: ","))],"
                + "\"stats\":{\"upstream_cx_active\":\(pool?.connections ?? 0),\"upstream_rq_pending_active\":\(pool?.pending ?? 0)}}")
        }
        if request.query["format"] == "json" { return .json("{\"cluster_statuses\":[\(json.joined(separator: ","))]}\n") }
        return .text(lines)
    }
}

/// Numbers in `/stats` as Envoy prints them (integers without a fraction).
enum PrometheusTextNumber {
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

extension String {
    func trimmingSuffixNewline() -> String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The first `target` replaced (no Foundation).
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var text = self
        text.replaceSubrange(range, with: replacement)
        return text
    }
}
