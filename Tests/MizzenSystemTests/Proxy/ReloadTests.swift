import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reloads through the binary: requests in flight finish on the configuration they
/// started with, none is lost; pooled upstream connections survive a reload that leaves their
/// cluster's connection settings alone, and are not reused once those settings or the TLS
/// files change.
@Suite(.serialized)
struct ReloadTests {
    /// A gateway on `configuration(generation)`, reloaded by rewriting its file and SIGHUP.
    final class ReloadingGateway: @unchecked Sendable {
        let gateway: GatewayProcess
        private(set) var generation = 1

        init(_ yaml: String, extraArguments: [String] = []) throws {
            // SIGHUP alone reloads here (the file watcher would reload the same edits too and
            // shift the generations these tests count).
            gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], extraArguments: ["--no-watch"] + extraArguments)
        }

        var port: Int { gateway.port(8080) }

        func reload(_ yaml: String) throws {
            generation += 1
            try FaultToleranceTests.reload(gateway, yaml, generation: generation)
        }

        func stop() { gateway.stop() }
    }

    /// Two weighted services over three upstreams, reloaded 40 times under load: endpoints come
    /// and go, weights move. Every request is answered 200.
    @Test func fortyReloadsUnderLoadLoseNoRequest() throws {
        let upstreams = try (0..<3).map { try Peer("upstream.py", ["--name", "u\($0)"]) }
        defer { upstreams.forEach { $0.stop() } }
        let ports = upstreams.map(\.port)
        func configuration(_ round: Int) -> String {
            // Each service keeps at least one endpoint; which ones rotates with the round.
            let a = [ports[round % 3]] + (round % 2 == 0 ? [ports[(round + 1) % 3]] : [])
            let b = round % 4 == 0 ? ports : [ports[(round + 2) % 3]]
            let weightA = 10 + (round * 7) % 80
            return [EdgeConfig.gateway, EdgeConfig.serviceEntry("a.test", a), EdgeConfig.serviceEntry("b.test", b), """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: split, namespace: default}
            spec:
              hosts: [split.test]
              gateways: [edge]
              http:
              - route:
                - {destination: {host: a.test, port: {number: 80}}, weight: \(weightA)}
                - {destination: {host: b.test, port: {number: 80}}, weight: \(100 - weightA)}
            """].joined(separator: "\n")
        }
        let gateway = try ReloadingGateway(configuration(0))
        defer { gateway.stop() }
        let port = gateway.port
        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "split.test", path: "/r/{n}", connections: 6, requests: 400, pauseMilliseconds: 5,
                                                  timeout: 120) })
        }
        Traffic.pause(0.3)
        for round in 1...40 {
            try gateway.reload(configuration(round))
            Traffic.pause(0.05)
        }
        #expect(group.wait(timeout: .now() + 120) == .success)
        let responses = try results.get()
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses == [200: 2400], "\(statuses) \(responses.filter { $0.status != 200 }.prefix(3).map { "\($0.status) \($0.error ?? $0.body.prefix(100).description)" })")
        #expect(Set(responses.compactMap(\.upstream)) == ["u0", "u1", "u2"], "every upstream served while the configuration moved")
        FaultToleranceTests.requireRunning(gateway.gateway)
    }

    /// A reload that leaves a cluster's connection settings alone keeps its pooled connection;
    /// one that changes them (here the connect timeout) makes the next request use a new
    /// connection, and the old one is closed.
    @Test func pooledConnectionsLastAsLongAsTheirSettings() throws {
        let log = try UpstreamLog()
        let upstream = try Peer("upstream.py", ["--name", "pooled", "--log", log.url.path])
        defer { upstream.stop() }
        func configuration(connectTimeout: String) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("pooled.test", [upstream.port]), EdgeConfig.virtualService("pooled.test"), EdgeConfig.destinationRule("pooled.test", "{connectionPool: {tcp: {connectTimeout: \(connectTimeout)}}}")].joined(separator: "\n")
        }
        // One event loop: every request uses the same pool.
        let gateway = try ReloadingGateway(configuration(connectTimeout: "2s"), extraArguments: ["--concurrency", "1"])
        defer { gateway.stop() }
        func peer(_ label: String) throws -> String {
            let token = Traffic.token()
            let answer = try Traffic.send(gateway.port, host: "pooled.test", "/\(label)/\(token)")
            #expect(answer.status == 200, "\(answer.summary)")
            return try #require(log.waitForRequests(containing: token, count: 1).first?["peer"] as? String)
        }
        let first = try peer("first")
        #expect(try peer("again") == first, "keep-alive reuses the connection")
        try gateway.reload(configuration(connectTimeout: "2s"))
        #expect(try peer("unchanged") == first, "a reload that changes nothing keeps the pooled connection")
        try gateway.reload(configuration(connectTimeout: "3s"))
        let changed = try peer("changed")
        #expect(changed != first, "a changed connect timeout means a new connection")
        #expect(try peer("after") == changed)
        // The old connection was idle in a draining pool: closed, only the new one is left.
        let open = Traffic.establishedConnections(toPort: upstream.port, until: { $0 == 1 })
        #expect(open == 1, "connections to the upstream after the drain: \(open)")
    }

    /// A reload whose configuration Istio would reject keeps the one being served, and the log
    /// says which file, line and field.
    @Test func anInvalidReloadKeepsTheConfigurationServed() throws {
        let upstream = try Peer("upstream.py", ["--name", "kept"])
        defer { upstream.stop() }
        let valid = [EdgeConfig.gateway, EdgeConfig.serviceEntry("kept.test", [upstream.port]), EdgeConfig.virtualService("kept.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: valid, gatewayPorts: [8080], extraArguments: ["--no-watch"])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(try Traffic.send(port, host: "kept.test", "/before").status == 200)
        let invalid = valid.replacingOccurrences(of: "route: [{destination: {host: kept.test, port: {number: 80}}}]",
                                                 with: "route: [{destination: {host: kept.test, port: {number: 80}}, weight: -5}]")
        #expect(invalid != valid)
        try invalid.write(to: gateway.directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        kill(gateway.background.process.processIdentifier, SIGHUP)
        let logged = gateway.background.waitFor(timeout: 10) { $0.contains("reload rejected") }
        #expect(logged, "no failed reload logged: \(gateway.background.errors.suffix(2000))")
        let problem = gateway.background.errors.split(separator: "\n").first { $0.contains("config.yaml:") && $0.contains("weight") }
        #expect(problem != nil, "the problem is named at its file, line and field: \(gateway.background.errors.suffix(2000))")
        #expect(try Traffic.send(port, host: "kept.test", "/after").status == 200, "still serving the previous configuration")
        // Garbage that is not YAML at all: the same.
        try "spec: [unclosed\n  - {".write(to: gateway.directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        kill(gateway.background.process.processIdentifier, SIGHUP)
        let twice = gateway.background.waitFor(timeout: 10) { $0.components(separatedBy: "reload rejected").count == 3 }
        #expect(twice, "no second failed reload logged: \(gateway.background.errors.suffix(2000))")
        #expect(try Traffic.send(port, host: "kept.test", "/garbage").status == 200, "still serving the previous configuration")
        FaultToleranceTests.requireRunning(gateway)
    }

    /// An endpoint that leaves the configuration and comes back (readiness flapping) while its
    /// pool is busy: the pool drained when it left and is in use again when it is back, so
    /// keep-alive resumes instead of one connection per request for as long as the pool has
    /// work.
    @Test func anEndpointThatComesBackReusesConnectionsAgain() throws {
        let log = try UpstreamLog()
        let upstream = try Peer("upstream.py", ["--name", "flapping", "--log", log.url.path])
        let other = try Peer("upstream.py", ["--name", "stand-in"])
        defer { upstream.stop(); other.stop() }
        func configuration(_ port: Int) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("flap.test", [port]), EdgeConfig.virtualService("flap.test")].joined(separator: "\n")
        }
        let gateway = try ReloadingGateway(configuration(upstream.port), extraArguments: ["--concurrency", "1"])
        defer { gateway.stop() }
        // Keeps the endpoint's pool busy across both reloads.
        let long = Traffic.token()
        let holder = try ExchangeCoreTests.background { try Traffic.send(gateway.port, host: "flap.test", "/delay/6000?long=\(long)") }
        try #require(log.waitForRequests(containing: long, count: 1).count == 1, "the long request reached the upstream")
        try gateway.reload(configuration(other.port))
        try gateway.reload(configuration(upstream.port))
        var peers: Set<String> = []
        for index in 0..<5 {
            let token = Traffic.token()
            #expect(try Traffic.send(gateway.port, host: "flap.test", "/again/\(index)/\(token)").status == 200)
            if let peer = log.waitForRequests(containing: token, count: 1).first?["peer"] as? String { peers.insert(peer) }
        }
        #expect(peers.count == 1, "five requests one after another on one kept-alive connection, not \(peers.count)")
        #expect(try holder.get().status == 200)
    }

    /// Circuit-breaker limits are not part of a pool's identity (changing them keeps the pooled
    /// connections), yet the pool in use must apply the new ones: with one connection and one
    /// pending request, concurrent slow requests overflow (503); after a reload to ten pending
    /// requests, the same burst waits its turn on the same pooled connection.
    @Test func aReloadedLimitReachesThePoolInUse() throws {
        let upstream = try Peer("upstream.py", ["--name", "limits"])
        defer { upstream.stop() }
        func configuration(pending: Int) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("limits.test", [upstream.port]), EdgeConfig.virtualService("limits.test"), EdgeConfig.destinationRule("limits.test", "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: \(pending)}}}")].joined(separator: "\n")
        }
        let gateway = try ReloadingGateway(configuration(pending: 1), extraArguments: ["--concurrency", "1"])
        defer { gateway.stop() }
        func burst() throws -> [Int: Int] {
            let responses = try Traffic.load(gateway.port, host: "limits.test", path: "/delay/400", connections: 4, requests: 1, timeout: 30)
            return Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        }
        #expect(try Traffic.send(gateway.port, host: "limits.test", "/warm").status == 200, "the pool has its connection")
        let limited = try burst()
        #expect((limited[503] ?? 0) > 0, "one connection and one pending request: the rest overflow: \(limited)")
        try gateway.reload(configuration(pending: 10))
        let relaxed = try burst()
        #expect(relaxed == [200: 4], "ten pending requests: every request waits its turn: \(relaxed)")
        FaultToleranceTests.requireRunning(gateway.gateway)
    }

    /// A new CA for a cluster reaches the connections the pool kept: after the reload, the
    /// request is made on a new connection whose handshake fails (503 UF), instead of on the
    /// pooled connection verified against the old CA.
    @Test func aNewCAIsNotBypassedByPooledConnections() throws {
        let certs = Harness.certificates.path
        let upstream = try Peer("upstream.py", ["--name", "tls-reload", "--tls-cert", "\(certs)/upstream.crt", "--tls-key", "\(certs)/upstream.key"])
        defer { upstream.stop() }
        func configuration(ca: String) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("tls.test", [upstream.port]), EdgeConfig.virtualService("tls.test"), EdgeConfig.destinationRule("tls.test", "{tls: {mode: SIMPLE, caCertificates: \(certs)/\(ca), sni: upstream.internal}}")].joined(separator: "\n")
        }
        let gateway = try ReloadingGateway(configuration(ca: "ca.crt"), extraArguments: ["--concurrency", "1"])
        defer { gateway.stop() }
        #expect(try Traffic.send(gateway.port, host: "tls.test", "/ok").status == 200)
        try gateway.reload(configuration(ca: "other-ca.crt"))
        let refused = try Traffic.send(gateway.port, host: "tls.test", "/refused")
        #expect(refused.status == 503, "the upstream's certificate is not signed by the new CA: \(refused.summary)")
        #expect(refused.body.contains("connection failure"), "\(refused.body)")
        try gateway.reload(configuration(ca: "ca.crt"))
        #expect(try Traffic.send(gateway.port, host: "tls.test", "/ok-again").status == 200)
    }
}
