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
            gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], extraArguments: extraArguments)
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
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("pooled.test", [upstream.port]), EdgeConfig.virtualService("pooled.test"), """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: pooled, namespace: default}
            spec:
              host: pooled.test
              trafficPolicy: {connectionPool: {tcp: {connectTimeout: \(connectTimeout)}}}
            """].joined(separator: "\n")
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
    }

    /// A new CA for a cluster reaches the connections the pool kept: after the reload, the
    /// request is made on a new connection whose handshake fails (503 UF), instead of on the
    /// pooled connection verified against the old CA.
    @Test func aNewCAIsNotBypassedByPooledConnections() throws {
        let certs = Harness.certificates.path
        let upstream = try Peer("upstream.py", ["--name", "tls-reload", "--tls-cert", "\(certs)/upstream.crt", "--tls-key", "\(certs)/upstream.key"])
        defer { upstream.stop() }
        func configuration(ca: String) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("tls.test", [upstream.port]), EdgeConfig.virtualService("tls.test"), """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: tls, namespace: default}
            spec:
              host: tls.test
              trafficPolicy: {tls: {mode: SIMPLE, caCertificates: \(certs)/\(ca), sni: upstream.internal}}
            """].joined(separator: "\n")
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
