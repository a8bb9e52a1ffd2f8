import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The operator ports through the binary, as an operator uses them with curl: the admin port
/// (Envoy's `/server_info`, `/ready`, `/config_dump`, `/clusters`, `/routes`, `/listeners`,
/// `/stats`, `/graph` and the POST actions), the stats port (`/stats/prometheus`) and the
/// status port (`/healthz/ready`). Pages that only read share one gateway, each test on hosts of
/// its own so the counts it asserts are its own; a test that changes the process's state
/// (health check, log level, drain, quit) runs a gateway of its own.
struct AdminEndpointTests {
    final class Fixture: @unchecked Sendable {
        let upstream: Peer
        /// Answers every request 503: an endpoint for outlier detection to eject.
        let failing: Peer
        let yaml: String
        let gateway: GatewayProcess

        init() throws {
            upstream = try Peer("upstream.py", ["--name", "admin-up"])
            failing = try Peer("upstream.py", ["--name", "admin-failing", "--status", "503"])
            let up = upstream.port
            yaml = [
                EdgeConfig.gateway,
                EdgeConfig.serviceEntry("admin.test", [up]), EdgeConfig.virtualService("admin.test"),
                EdgeConfig.serviceEntry("graph.test", [up]), EdgeConfig.virtualService("graph.test"),
                EdgeConfig.serviceEntry("stats.test", [up]), EdgeConfig.virtualService("stats.test"),
                EdgeConfig.serviceEntry("slow.test", [up]), EdgeConfig.virtualService("slow.test"),
                EdgeConfig.serviceEntry("eject.test", [up, failing.port]), EdgeConfig.virtualService("eject.test"),
                EdgeConfig.destinationRule("eject.test", "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}}"),
            ].joined(separator: "\n") + "\n"
            gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        }

        var port: Int { gateway.port(8080) }
        var configFile: String { gateway.directory.appendingPathComponent("config.yaml").path }
    }

    static let fixture: Result<Fixture, any Error> = Result { try Fixture() }

    static func setUp() throws -> Fixture {
        let f = try fixture.get()
        try #require(f.gateway.background.process.isRunning, "gateway exited: \(f.gateway.background.errors.suffix(2000))")
        return f
    }

    // MARK: Helpers (also used by OperationsLifecycleTests)

    /// An operator request with curl: `method` (GET by default) on 127.0.0.1:`port` `path`.
    static func admin(_ port: Int, _ path: String, method: String? = nil) throws -> HTTPExchange {
        try Traffic.send(port, host: "127.0.0.1:\(port)", path, method: method)
    }

    /// `GET /healthz/ready` on the status port.
    static func readiness(_ gateway: GatewayProcess) throws -> HTTPExchange {
        try admin(gateway.statusPort, "/healthz/ready")
    }

    /// The Prometheus text the stats port serves.
    static func scrape(_ gateway: GatewayProcess) throws -> String {
        try admin(gateway.statsPort, "/stats/prometheus").body
    }

    /// The value of one series in Prometheus text: `series` is everything before the value, e.g.
    /// `mizzen_config_reloads_total{result="rejected"}`.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Checks `condition` every 50 ms until it holds or `timeout` seconds pass; whether it held.
    static func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try condition() { return true }
            Traffic.pause(0.05)
        } while Date() < deadline
        return try condition()
    }

    /// A JSON number as a Double (JSONSerialization gives integers and fractions apart).
    static func number(_ value: Any?) -> Double? {
        if let double = value as? Double { return double }
        if let integer = value as? Int { return Double(integer) }
        return nil
    }

    /// `/clusters` lines of one endpoint: `stat` -> value (`cx_active` -> "1", `health_flags` -> "healthy").
    static func endpointLines(_ clusters: String, cluster: String, address: String) -> [String: String] {
        var values: [String: String] = [:]
        let prefix = "\(cluster)::\(address)::"
        for line in clusters.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let separator = rest.range(of: "::") else { continue }
            values[String(rest[..<separator.lowerBound])] = String(rest[separator.upperBound...])
        }
        return values
    }

    /// A gateway answering every request itself (no upstream).
    static let answering = EdgeConfig.gateway + """

    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: answer, namespace: default}
    spec:
      hosts: ["*"]
      gateways: [edge]
      http:
      - directResponse: {status: 200, body: {string: "answered"}}
    """

    static func closes(_ exchange: HTTPExchange) -> Bool {
        exchange.values("connection").contains { $0.lowercased() == "close" }
    }

    // MARK: Read-only pages

    @Test func serverInfoReadyAndTheIndexDescribeALiveServer() throws {
        let f = try Self.setUp()
        let ready = try Self.readiness(f.gateway)
        #expect(ready.status == 200, "\(ready.summary)")
        #expect(ready.body.isEmpty, "readiness answers 200 with an empty body: \(ready.summary)")

        let info = try Self.admin(f.gateway.adminPort, "/server_info")
        #expect(info.status == 200)
        #expect(info.json["state"] as? String == "LIVE", "\(info.body)")
        #expect((info.json["version"] as? String)?.isEmpty == false, "\(info.body)")
        #expect(info.json["config_generation"] as? Int == 1, "\(info.body)")
        #expect(info.json["health_check_failed"] as? Bool == false, "\(info.body)")
        #expect(info.json["command_line_options"] is [String: Any], "\(info.body)")

        let live = try Self.admin(f.gateway.adminPort, "/ready")
        #expect(live.status == 200)
        #expect(live.body == "LIVE\n")

        let index = try Self.admin(f.gateway.adminPort, "/")
        #expect(index.status == 200)
        for path in ["/config_dump", "/clusters", "/routes", "/listeners", "/stats", "/stats/prometheus", "/graph", "/server_info", "/ready",
                     "/healthcheck/fail", "/healthcheck/ok", "/drain_listeners", "/quitquitquit", "/logging"] {
            #expect(index.body.contains(path), "the index lists \(path): \(index.body)")
        }
    }

    @Test func configDumpShowsEachObjectWhereItIsWrittenAndTheRouteTable() throws {
        let f = try Self.setUp()
        let dump = try Self.admin(f.gateway.adminPort, "/config_dump")
        #expect(dump.status == 200)
        #expect(dump.header("content-type")?.hasPrefix("application/json") == true, "\(dump.summary)")
        let json = dump.json
        #expect(json["generation"] as? Int == 1, "\(dump.body.prefix(300))")
        #expect((json["files"] as? [String] ?? []).contains(f.gateway.directory.path), "\(json["files"] ?? "no files")")
        #expect(json["problems"] is [Any])

        // Every object of the file, once; the VirtualService with its file and the line of its
        // first key (the `apiVersion` line before `kind: VirtualService`).
        let lines = f.yaml.components(separatedBy: "\n")
        let objects = json["objects"] as? [[String: Any]] ?? []
        #expect(objects.count == lines.filter { $0.hasPrefix("kind: ") }.count, "\(objects.map { "\($0["kind"] ?? "?") \($0["name"] ?? "?")" })")
        let kindLine = try #require(lines.indices.first { lines[$0] == "kind: VirtualService" && $0 + 1 < lines.count && lines[$0 + 1].contains("name: admin-test,") })
        let virtualService = try #require(objects.first { $0["kind"] as? String == "VirtualService" && $0["name"] as? String == "admin-test" },
                                          "\(dump.body.prefix(2000))")
        #expect(virtualService["namespace"] as? String == "default")
        #expect(virtualService["apiVersion"] as? String == "networking.istio.io/v1")
        #expect(virtualService["source"] as? String == "\(f.configFile):\(kindLine)", "apiVersion of the VirtualService is line \(kindLine)")
        let object = virtualService["object"] as? [String: Any] ?? [:]
        #expect(object["kind"] as? String == "VirtualService", "\(object)")
        let spec = object["spec"] as? [String: Any] ?? [:]
        #expect(spec["hosts"] as? [String] == ["admin.test"], "\(object)")
        #expect(spec["gateways"] as? [String] == ["edge"], "\(object)")

        let table = json["route_table"] as? [String: Any] ?? [:]
        #expect(table["proxy"] is String, "\(table.keys)")
        #expect((table["listeners"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int } == [8080])
        let clusters = table["clusters"] as? [[String: Any]] ?? []
        let cluster = try #require(clusters.first { $0["name"] as? String == "outbound|80||admin.test" }, "\(clusters.map { $0["name"] ?? "?" })")
        let endpoints = cluster["endpoints"] as? [[String: Any]] ?? []
        #expect(endpoints.count == 1)
        #expect(endpoints.first?["address"] as? String == "127.0.0.1")
        #expect(endpoints.first?["port"] as? Int == f.upstream.port)
    }

    /// `/routes` is what `mizzen routes` prints for the same configuration, as text and JSON.
    @Test func routesAreWhatMizzenRoutesPrints() throws {
        let f = try Self.setUp()
        let text = try Self.admin(f.gateway.adminPort, "/routes")
        #expect(text.status == 200)
        #expect(text.body.contains("outbound|80||admin.test: endpoints 127.0.0.1:\(f.upstream.port)"), "\(text.body)")
        let cli = try ValidateCommandTests.run(["routes", "--config", f.gateway.directory.path])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(text.body == cli.stdout)

        let json = try Self.admin(f.gateway.adminPort, "/routes?format=json")
        #expect(json.status == 200)
        let cliJSON = try ValidateCommandTests.run(["routes", "--config", f.gateway.directory.path, "-o", "json"])
        #expect(json.body == cliJSON.stdout)
        let clusters = json.json["clusters"] as? [[String: Any]] ?? []
        #expect(clusters.contains { $0["name"] as? String == "outbound|80||slow.test" }, "\(json.body.prefix(500))")
    }

    @Test func listenersShowTheBoundAddress() throws {
        let f = try Self.setUp()
        let text = try Self.admin(f.gateway.adminPort, "/listeners")
        #expect(text.status == 200)
        let lines = text.body.split(separator: "\n")
        #expect(lines.count == 1, "\(text.body)")
        #expect(lines.first?.hasSuffix("::127.0.0.1:\(f.port)") == true, "\(text.body)")
        let json = try Self.admin(f.gateway.adminPort, "/listeners?format=json")
        let statuses = json.json["listener_statuses"] as? [[String: Any]] ?? []
        #expect(statuses.count == 1, "\(json.body)")
        #expect(statuses.first?["local_address"] as? String == "127.0.0.1:\(f.port)", "\(json.body)")
        #expect((statuses.first?["name"] as? String)?.isEmpty == false, "\(json.body)")
    }

    /// A request held by the upstream shows as one request and one connection on its endpoint,
    /// and the request is gone once answered; an endpoint that fails twice in a row is shown
    /// ejected, the other healthy.
    @Test func clustersShowRequestsConnectionsAndEjections() throws {
        let f = try Self.setUp()
        let cluster = "outbound|80||slow.test"
        let address = "127.0.0.1:\(f.upstream.port)"
        // The upstream holds the request for 6 s: long enough that both listings below are read
        // while it is in flight even on a loaded machine (CI once read the JSON after a 2.5 s
        // hold had ended).
        let holder = try ExchangeCoreTests.background { try Traffic.send(f.port, host: "slow.test", "/delay/6000") }
        var during = ""
        var host: [String: Any]? = nil
        var json: [String: Any] = [:]
        let busy = try Self.eventually(timeout: 4) {
            during = try Self.admin(f.gateway.adminPort, "/clusters").body
            json = try Self.admin(f.gateway.adminPort, "/clusters?format=json").json
            let statuses = json["cluster_statuses"] as? [[String: Any]] ?? []
            let slow = statuses.first { $0["name"] as? String == cluster }
            host = (slow?["host_statuses"] as? [[String: Any]])?.first { $0["address"] as? String == address }
            let stats = host?["stats"] as? [String: Any] ?? [:]
            return Self.endpointLines(during, cluster: cluster, address: address)["rq_active"] == "1"
                && stats["rq_active"] as? Int == 1
        }
        #expect(busy, "the held request is active on its endpoint in both listings: \(during) \(json)")
        let endpoint = Self.endpointLines(during, cluster: cluster, address: address)
        #expect(endpoint["cx_active"] == "1", "\(endpoint)")
        #expect(endpoint["health_flags"] == "healthy", "\(endpoint)")
        #expect(endpoint["weight"].flatMap { Int($0) } != nil, "\(endpoint)")
        let stats = host?["stats"] as? [String: Any] ?? [:]
        #expect(stats["cx_active"] as? Int == 1, "\(json)")
        #expect(host?["weight"] is Int, "\(json)")

        #expect(try holder.get().status == 200)
        var after = ""
        let idle = try Self.eventually(timeout: 3) {
            after = try Self.admin(f.gateway.adminPort, "/clusters").body
            return Self.endpointLines(after, cluster: cluster, address: address)["rq_active"] == "0"
        }
        #expect(idle, "no request active once answered: \(after)")

        // Outlier detection: the endpoint answering 503 is ejected after two in a row.
        let ejectCluster = "outbound|80||eject.test"
        let bad = "127.0.0.1:\(f.failing.port)"
        var listing = ""
        let ejected = try Self.eventually(timeout: 10) {
            _ = try Traffic.send(f.port, host: "eject.test", "/eject")
            listing = try Self.admin(f.gateway.adminPort, "/clusters").body
            return Self.endpointLines(listing, cluster: ejectCluster, address: bad)["health_flags"] == "/failed_outlier_check"
        }
        #expect(ejected, "\(listing)")
        #expect(Self.endpointLines(listing, cluster: ejectCluster, address: address)["health_flags"] == "healthy", "\(listing)")
        let ejectJSON = try Self.admin(f.gateway.adminPort, "/clusters?format=json").json
        let hosts = ((ejectJSON["cluster_statuses"] as? [[String: Any]] ?? []).first { $0["name"] as? String == ejectCluster }?["host_statuses"]
            as? [[String: Any]]) ?? []
        let health = { (endpoint: String) -> [String: Any] in
            hosts.first { $0["address"] as? String == endpoint }?["health_status"] as? [String: Any] ?? [:]
        }
        #expect(health(bad)["failed_outlier_check"] as? Bool == true, "\(hosts)")
        #expect(health(address)["failed_outlier_check"] == nil, "\(hosts)")
    }

    /// Three requests to one service: Envoy's `/stats` lines (filtered, used only, JSON) and the
    /// Prometheus text on the stats port (and on `/metrics` and the admin port) count them.
    @Test func statsCountRequestsInEnvoyAndPrometheusFormats() throws {
        let f = try Self.setUp()
        for index in 0..<3 {
            #expect(try Traffic.send(f.port, host: "stats.test", "/stats/\(index)").status == 200)
        }
        let total = "cluster.outbound|80||stats.test.upstream_rq_total: 3"
        var filtered = ""
        let counted = try Self.eventually {
            filtered = try Self.admin(f.gateway.adminPort, "/stats?filter=stats%5C.test").body
            return filtered.split(separator: "\n").contains { $0 == total }
        }
        #expect(counted, "\(filtered)")
        let filteredLines = filtered.split(separator: "\n")
        #expect(filteredLines.allSatisfy { $0.contains("stats.test") }, "the filter keeps only matching names: \(filtered)")
        #expect(filteredLines.contains("cluster.outbound|80||stats.test.upstream_rq_2xx: 3"), "\(filtered)")
        #expect(!filtered.contains("admin.test"))

        let all = try Self.admin(f.gateway.adminPort, "/stats").body
        #expect(all.split(separator: "\n").contains("server.live: 1"), "\(all.prefix(1000))")
        #expect(all.split(separator: "\n").contains { $0.hasSuffix(": 0") }, "unused stats are listed without ?usedonly")
        let used = try Self.admin(f.gateway.adminPort, "/stats?usedonly").body
        #expect(!used.isEmpty)
        #expect(!used.split(separator: "\n").contains { $0.hasSuffix(": 0") }, "?usedonly leaves zeros out: \(used.prefix(1000))")
        #expect(used.split(separator: "\n").contains { $0 == total })

        let json = try Self.admin(f.gateway.adminPort, "/stats?format=json").json
        let stats = json["stats"] as? [[String: Any]] ?? []
        #expect(stats.contains { $0["name"] as? String == "cluster.outbound|80||stats.test.upstream_rq_total" && $0["value"] as? Int == 3 },
                "\(stats.prefix(20))")

        let series = #"envoy_cluster_upstream_rq_total{cluster_name="outbound|80||stats.test"}"#
        let prometheus = try Self.admin(f.gateway.statsPort, "/stats/prometheus")
        #expect(prometheus.status == 200)
        #expect(Self.sample(prometheus.body, series) == 3, "\(prometheus.body.prefix(3000))")
        #expect(Self.sample(prometheus.body, "envoy_server_live") == 1)
        #expect(Self.sample(prometheus.body, "mizzen_config_generation") == 1)
        #expect(prometheus.body.split(separator: "\n").contains { $0.hasPrefix("istio_requests_total{") && $0.contains("stats.test") && $0.hasSuffix(" 3") },
                "Istio's request counter for the service: \(prometheus.body.prefix(3000))")
        #expect(try Self.sample(Self.admin(f.gateway.statsPort, "/metrics").body, series) == 3, "/metrics is the same text")
        #expect(try Self.sample(Self.admin(f.gateway.adminPort, "/stats/prometheus").body, series) == 3, "and so is the admin port's")
    }

    /// Five requests to one service: the graph has the gateway, the service and the edge between
    /// them with five requests and no error; the HTML page draws it.
    @Test func graphHasTheEdgeFromTheGatewayToTheService() throws {
        let f = try Self.setUp()
        for index in 0..<5 {
            #expect(try Traffic.send(f.port, host: "graph.test", "/graph/\(index)").status == 200)
        }
        let gateway = "workload:istio-ingressgateway.istio-system"
        let service = "service:graph.test"
        var graph: [String: Any] = [:]
        var edge: [String: Any]?
        let drawn = try Self.eventually {
            graph = try Self.admin(f.gateway.adminPort, "/graph?format=json").json
            edge = (graph["edges"] as? [[String: Any]] ?? []).first { $0["source"] as? String == gateway && $0["target"] as? String == service }
            return edge?["requests"] as? Int == 5
        }
        #expect(drawn, "\(graph)")
        #expect(edge?["protocol"] as? String == "http", "\(edge ?? [:])")
        #expect(edge?["errors"] as? Int == 0, "\(edge ?? [:])")
        #expect((Self.number(edge?["mean_ms"]) ?? -1) >= 0, "\(edge ?? [:])")
        let nodes = graph["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.first { $0["id"] as? String == gateway }?["kind"] as? String == "workload", "\(nodes)")
        #expect(nodes.first { $0["id"] as? String == service }?["kind"] as? String == "service", "\(nodes)")

        let page = try Self.admin(f.gateway.adminPort, "/graph")
        #expect(page.status == 200)
        #expect(page.header("content-type")?.hasPrefix("text/html") == true, "\(page.summary)")
        #expect(page.body.contains("<svg"), "\(page.body.prefix(500))")
        #expect(page.body.contains("graph.test"), "the page names the service")
    }

    /// A GET to an endpoint that changes state is refused (405) and changes nothing; an unknown
    /// path is 404.
    @Test func wrongMethodIs405AndUnknownPathIs404() throws {
        let f = try Self.setUp()
        for path in ["/quitquitquit", "/healthcheck/fail", "/drain_listeners", "/logging?level=trace"] {
            let refused = try Self.admin(f.gateway.adminPort, path)
            #expect(refused.status == 405, "GET \(path): \(refused.summary)")
        }
        #expect(try Self.admin(f.gateway.adminPort, "/config_dump", method: "POST").status == 405)
        #expect(try Self.admin(f.gateway.adminPort, "/no-such-page").status == 404)
        #expect(try Self.admin(f.gateway.statsPort, "/config_dump").status == 404, "the stats port serves only the metrics")
        #expect(try Self.admin(f.gateway.statusPort, "/stats").status == 404, "the status port serves only readiness")
        // Nothing happened: still running, ready, and at the default log level.
        #expect(f.gateway.background.process.isRunning)
        #expect(try Self.readiness(f.gateway).status == 200)
        #expect(try Self.admin(f.gateway.adminPort, "/server_info").json["health_check_failed"] as? Bool == false)
    }

    // MARK: Actions (a gateway each)

    /// `/healthcheck/fail`: readiness 503 and HTTP/1 responses close their connection;
    /// `/healthcheck/ok`: ready again and keep-alive again.
    @Test func healthcheckFailFailsReadinessAndClosesConnectionsUntilOk() throws {
        let upstream = try Peer("upstream.py", ["--name", "health"])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("health.test", [upstream.port]), EdgeConfig.virtualService("health.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(try Self.readiness(gateway).status == 200)
        let before = try Traffic.send(port, host: "health.test", "/before")
        #expect(before.status == 200 && !Self.closes(before), "\(before.summary)")

        let fail = try Self.admin(gateway.adminPort, "/healthcheck/fail", method: "POST")
        #expect(fail.status == 200)
        #expect(fail.body == "OK\n")
        let notReady = try Self.readiness(gateway)
        #expect(notReady.status == 503, "\(notReady.summary)")
        #expect(!notReady.body.isEmpty, "the 503 says why")
        #expect(try Self.admin(gateway.adminPort, "/server_info").json["health_check_failed"] as? Bool == true)
        let closing = try Traffic.send(port, host: "health.test", "/failing")
        #expect(closing.status == 200, "still serving: \(closing.summary)")
        #expect(Self.closes(closing), "a proxied HTTP/1 response closes its connection: \(closing.summary)")
        let failingRun = try Traffic.load(port, host: "health.test", path: "/failing/{i}", requests: 3)
        #expect(failingRun.map(\.status) == [200, 200, 200])
        #expect(failingRun.allSatisfy { $0.newConnection }, "every request needed a new connection")

        let ok = try Self.admin(gateway.adminPort, "/healthcheck/ok", method: "POST")
        #expect(ok.status == 200)
        #expect(ok.body == "OK\n")
        #expect(try Self.readiness(gateway).status == 200)
        #expect(try Self.admin(gateway.adminPort, "/server_info").json["health_check_failed"] as? Bool == false)
        let kept = try Traffic.load(port, host: "health.test", path: "/ok/{i}", requests: 3)
        #expect(kept.map(\.status) == [200, 200, 200])
        #expect(kept.map(\.newConnection) == [true, false, false], "keep-alive again: one connection for three requests")
        #expect(kept.allSatisfy { $0.header("connection")?.lowercased() != "close" })
    }

    /// `POST /logging?level=debug` turns the exchange lines on while the process runs.
    @Test func loggingLevelChangesWhileRunning() throws {
        let upstream = try Peer("upstream.py", ["--name", "logging"])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("logging.test", [upstream.port]), EdgeConfig.virtualService("logging.test")].joined(separator: "\n")
        // GatewayProcess logs at info: no exchange lines.
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let quiet = Traffic.token()
        #expect(try Traffic.send(port, host: "logging.test", "/quiet/\(quiet)").status == 200)

        let changed = try Self.admin(gateway.adminPort, "/logging?level=debug", method: "POST")
        #expect(changed.status == 200)
        #expect(changed.body.trimmingCharacters(in: .whitespacesAndNewlines) == "active level: debug", "\(changed.summary)")
        let loud = Traffic.token()
        #expect(try Traffic.send(port, host: "logging.test", "/loud/\(loud)").status == 200)
        let line = ExchangeCoreTests.exchangeLine(gateway, containing: loud)
        #expect(line != nil, "an exchange line at debug: \(gateway.background.errors.suffix(2000))")
        // The earlier request's line would have been written before this one.
        let quietLines = gateway.background.errors.split(separator: "\n").filter { $0.contains("exchange:") && $0.contains(quiet) }
        #expect(quietLines.isEmpty, "no exchange line at info: \(quietLines)")

        let unknown = try Self.admin(gateway.adminPort, "/logging?level=chatty", method: "POST")
        #expect(unknown.status == 400, "\(unknown.summary)")
        let back = try Self.admin(gateway.adminPort, "/logging?level=info", method: "POST")
        #expect(back.body.trimmingCharacters(in: .whitespacesAndNewlines) == "active level: info")
    }

    @Test func quitquitquitExitsZeroPromptly() throws {
        let gateway = try GatewayProcess(yaml: Self.answering, gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(try Traffic.send(port, host: "quit.test", "/").status == 200)
        let started = Date()
        // The answer may or may not make it out before the process is gone.
        _ = try Self.admin(gateway.adminPort, "/quitquitquit", method: "POST")
        let exited = Self.eventually(timeout: 5) { !gateway.background.process.isRunning }
        let elapsed = Date().timeIntervalSince(started)
        try #require(exited, "still running 5 s after /quitquitquit: \(gateway.background.errors.suffix(2000))")
        #expect(gateway.background.exitStatus == 0)
        #expect(elapsed < 3, "exited after \(elapsed) s")
        #expect(try Traffic.send(port, host: "quit.test", "/").status == 0, "nothing listens after the exit")
    }

    /// `/drain_listeners?inboundonly` drains nothing on a gateway (its listeners are outbound);
    /// `?graceful` fails readiness, closes connections after their answers and keeps accepting
    /// for the drain duration, then stops listening while the admin port stays; without
    /// `graceful` the listeners close at once.
    @Test func drainListenersStopsAcceptingAndKeepsTheAdminPort() throws {
        let gateway = try GatewayProcess(yaml: Self.answering, gatewayPorts: [8080], extraArguments: ["--drain-duration", "1"])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let inbound = try Self.admin(gateway.adminPort, "/drain_listeners?inboundonly", method: "POST")
        #expect(inbound.status == 200, "\(inbound.summary)")
        #expect(try Self.readiness(gateway).status == 200, "inboundonly selects none of a gateway's listeners")
        let kept = try Traffic.send(port, host: "drain.test", "/kept")
        #expect(kept.status == 200 && !Self.closes(kept), "\(kept.summary)")

        let started = Date()
        let graceful = try Self.admin(gateway.adminPort, "/drain_listeners?graceful", method: "POST")
        #expect(graceful.status == 200, "\(graceful.summary)")
        // Readiness failing says the drain has begun (the request is handled on the run loop).
        #expect(try Self.eventually(timeout: 1) { try Self.readiness(gateway).status == 503 }, "readiness fails while draining")
        let during = try Traffic.send(port, host: "drain.test", "/during")
        #expect(during.status == 200, "a new connection is still accepted: \(during.summary)")
        #expect(Self.closes(during), "\(during.summary)")
        let closed = try Self.eventually(timeout: 6) { try Traffic.send(port, host: "drain.test", "/after").status == 0 }
        let elapsed = Date().timeIntervalSince(started)
        #expect(closed, "the listener closes after the drain duration")
        #expect(elapsed > 0.7, "the listener stayed open for the drain duration (1 s), closed after \(elapsed) s")
        let info = try Self.admin(gateway.adminPort, "/server_info")
        #expect(info.json["state"] as? String == "DRAINING", "\(info.summary)")
        let ready = try Self.admin(gateway.adminPort, "/ready")
        #expect(ready.status == 503)
        #expect(ready.body == "DRAINING\n")

        let abrupt = try GatewayProcess(yaml: Self.answering, gatewayPorts: [8080])
        defer { abrupt.stop() }
        #expect(try Self.admin(abrupt.adminPort, "/drain_listeners", method: "POST").status == 200)
        #expect(try Self.eventually(timeout: 1) { try Traffic.send(abrupt.port(8080), host: "drain.test", "/").status == 0 },
                "without graceful the listener closes at once")
        #expect(try Self.admin(abrupt.adminPort, "/server_info").status == 200, "the admin port stays")
    }
}
