import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// DestinationRule traffic policies end to end (Istio / Envoy semantics): connection-pool
/// circuit breaking, outlier detection, upstream (client-side) TLS, and subset and port-level
/// policies overriding the rule's. One gateway; every service is a ServiceEntry with STATIC
/// endpoints on `upstream.py` peers, reached through a request host of its own. Tests check what
/// the client got and what the upstreams saw (echo JSON, request and connection log).
@Suite(.serialized)
struct TrafficPolicyTests {
    final class Fixture: @unchecked Sendable {
        let certs: URL
        /// Circuit breaking: each upstream serves one service only, so its connection log is
        /// that service's.
        let cbLog: UpstreamLog
        let cb: Peer
        let cb2Log: UpstreamLog
        let cb2: Peer
        /// Connection reuse (maxRequestsPerConnection, idleTimeout): several services, told
        /// apart by the request targets.
        let poolLog: UpstreamLog
        let pool: Peer
        /// Outlier detection: one good endpoint and three that fail every request.
        let odLog: UpstreamLog
        let odGood: Peer
        let odBadA: Peer
        let odBadB: Peer
        let odBad502: Peer
        /// Subset policies.
        let subOneLog: UpstreamLog
        let subOne: Peer
        let subManyLog: UpstreamLog
        let subMany: Peer
        let plainLog: UpstreamLog
        let plain: Peer
        /// Upstream TLS: server certificate `upstream` (SANs DNS:upstream.internal and
        /// URI:spiffe://cluster.local/ns/default/sa/upstream); `mtls` requires a client certificate.
        let tlsLog: UpstreamLog
        let tls: Peer
        let mtlsLog: UpstreamLog
        let mtls: Peer
        let gateway: GatewayProcess

        init() throws {
            certs = Harness.certificates
            let path = certs.path
            cbLog = try UpstreamLog()
            cb = try Peer("upstream.py", ["--name", "cb", "--log", cbLog.url.path])
            cb2Log = try UpstreamLog()
            cb2 = try Peer("upstream.py", ["--name", "cb2", "--log", cb2Log.url.path])
            poolLog = try UpstreamLog()
            pool = try Peer("upstream.py", ["--name", "pool", "--log", poolLog.url.path])
            odLog = try UpstreamLog()
            odGood = try Peer("upstream.py", ["--name", "od-good", "--log", odLog.url.path])
            odBadA = try Peer("upstream.py", ["--name", "od-bad-a", "--status", "500", "--log", odLog.url.path])
            odBadB = try Peer("upstream.py", ["--name", "od-bad-b", "--status", "500", "--log", odLog.url.path])
            odBad502 = try Peer("upstream.py", ["--name", "od-bad-502", "--status", "502", "--log", odLog.url.path])
            subOneLog = try UpstreamLog()
            subOne = try Peer("upstream.py", ["--name", "sub-one", "--log", subOneLog.url.path])
            subManyLog = try UpstreamLog()
            subMany = try Peer("upstream.py", ["--name", "sub-many", "--log", subManyLog.url.path])
            plainLog = try UpstreamLog()
            plain = try Peer("upstream.py", ["--name", "plain", "--log", plainLog.url.path])
            tlsLog = try UpstreamLog()
            tls = try Peer("upstream.py", ["--name", "tls-up", "--tls-cert", "\(path)/upstream.crt", "--tls-key", "\(path)/upstream.key",
                                           "--log", tlsLog.url.path])
            mtlsLog = try UpstreamLog()
            mtls = try Peer("upstream.py", ["--name", "mtls-up", "--tls-cert", "\(path)/upstream.crt", "--tls-key", "\(path)/upstream.key",
                                            "--tls-client-ca", "\(path)/ca.crt", "--log", mtlsLog.url.path])
            let ports = Ports(cb: cb.port, cb2: cb2.port, pool: pool.port, odGood: odGood.port, odBadA: odBadA.port, odBadB: odBadB.port,
                              odBad502: odBad502.port, subOne: subOne.port, subMany: subMany.port, plain: plain.port, tls: tls.port,
                              mtls: mtls.port)
            gateway = try GatewayProcess(yaml: Self.configuration(certs: path, ports), gatewayPorts: [8080],
                                         extraArguments: ["--credentials", "\(path)/credentials", "--workload-certs", "\(path)/workload"])
        }

        /// The peers' local ports.
        struct Ports {
            var cb: Int
            var cb2: Int
            var pool: Int
            var odGood: Int
            var odBadA: Int
            var odBadB: Int
            var odBad502: Int
            var subOne: Int
            var subMany: Int
            var plain: Int
            var tls: Int
            var mtls: Int
        }

        var port: Int { gateway.port(8080) }

        static func name(_ host: String) -> String { host.replacingOccurrences(of: ".", with: "-") }

        /// A ServiceEntry on port 80 (or `port`) whose endpoints are (local port, labels).
        static func serviceEntry(_ host: String, port: UInt32 = 80, _ endpoints: [(Int, String)]) -> String {
            let list = endpoints.map { endpoint in
                "{address: 127.0.0.1, ports: {http: \(endpoint.0)}\(endpoint.1.isEmpty ? "" : ", labels: {\(endpoint.1)}")}"
            }
            return """
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: \(name(host)), namespace: default}
            spec:
              hosts: [\(host)]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: \(port), name: http, protocol: HTTP}]
              endpoints: [\(list.joined(separator: ", "))]
            """
        }

        /// A DestinationRule whose `spec` body (after `host:`) is written from column 0.
        static func destinationRule(_ host: String, _ body: String) -> String {
            let indented = body.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
            return """
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: \(name(host)), namespace: default}
            spec:
              host: \(host)
            \(indented)
            """
        }

        /// A VirtualService for request host `host`; `http` written from column 0, or by default
        /// one route to the service of the same name on port 80.
        static func virtualService(_ host: String, _ http: String? = nil) -> String {
            let routes = http ?? "- route: [{destination: {host: \(host), port: {number: 80}}}]"
            let indented = routes.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
            return """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name(host)), namespace: default}
            spec:
              hosts: [\(host)]
              gateways: [edge]
              http:
            \(indented)
            """
        }

        static func configuration(certs: String, _ p: Ports) -> String {
            let simple = "{mode: SIMPLE, caCertificates: \(certs)/ca.crt, sni: upstream.internal}"
            var parts = ["""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
            """]
            func service(_ host: String, _ endpoints: [(Int, String)], rule: String?) {
                parts.append(Self.serviceEntry(host, endpoints))
                if let rule { parts.append(Self.destinationRule(host, rule)) }
                parts.append(Self.virtualService(host))
            }

            // 10. connection pool
            service("cb.test", [(p.cb, "")], rule: """
            trafficPolicy:
              connectionPool:
                tcp: {maxConnections: 1}
                http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
            """)
            service("cb2.test", [(p.cb2, "")], rule: "trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}")
            service("mrpc.test", [(p.pool, "")], rule: "trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 2}}}")
            service("idle.test", [(p.pool, "")], rule: "trafficPolicy: {connectionPool: {http: {idleTimeout: 1s}}}")
            service("keep.test", [(p.pool, "")], rule: nil)

            // 11. outlier detection
            let ejectOn5xx = """
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100}
            """
            service("od5xx.test", [(p.odGood, ""), (p.odBadA, "")], rule: ejectOn5xx)
            service("odmax.test", [(p.odGood, ""), (p.odBadA, ""), (p.odBadB, "")], rule: """
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 34}
            """)
            let ejectOnGatewayErrors = """
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              outlierDetection: {consecutiveGatewayErrors: 2, consecutive5xxErrors: 0, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100}
            """
            service("odgw.test", [(p.odGood, ""), (p.odBad502, "")], rule: ejectOnGatewayErrors)
            service("odgw500.test", [(p.odGood, ""), (p.odBadB, "")], rule: ejectOnGatewayErrors)

            // 12. upstream TLS
            service("tls-none.test", [(p.tls, "")], rule: nil)
            service("tls-simple.test", [(p.tls, "")], rule: "trafficPolicy: {tls: \(simple)}")
            service("tls-wrong-ca.test", [(p.tls, "")], rule: "trafficPolicy: {tls: {mode: SIMPLE, caCertificates: \(certs)/other-ca.crt, sni: upstream.internal}}")
            service("tls-skip.test", [(p.tls, "")], rule: "trafficPolicy: {tls: {mode: SIMPLE, insecureSkipVerify: true, sni: upstream.internal}}")
            service("tls-san-wrong.test", [(p.tls, "")], rule: """
            trafficPolicy: {tls: {mode: SIMPLE, caCertificates: \(certs)/ca.crt, sni: upstream.internal, subjectAltNames: [wrong.name]}}
            """)
            service("tls-san-ok.test", [(p.tls, "")], rule: """
            trafficPolicy: {tls: {mode: SIMPLE, caCertificates: \(certs)/ca.crt, sni: upstream.internal, subjectAltNames: [upstream.internal]}}
            """)
            service("tls-san-spiffe.test", [(p.tls, "")], rule: """
            trafficPolicy:
              tls:
                mode: SIMPLE
                caCertificates: \(certs)/ca.crt
                sni: upstream.internal
                subjectAltNames: ["spiffe://cluster.local/ns/default/sa/upstream"]
            """)
            // No sni: the request's host name is sent. Requests come with Host upstream.internal:8080.
            parts.append(Self.serviceEntry("tls-auto-sni.test", [(p.tls, "")]))
            parts.append(Self.destinationRule("tls-auto-sni.test", "trafficPolicy: {tls: {mode: SIMPLE, caCertificates: \(certs)/ca.crt}}"))
            parts.append(Self.virtualService("upstream.internal", "- route: [{destination: {host: tls-auto-sni.test, port: {number: 80}}}]"))
            service("tls-mutual.test", [(p.mtls, "")], rule: """
            trafficPolicy:
              tls:
                mode: MUTUAL
                clientCertificate: \(certs)/client.crt
                privateKey: \(certs)/client.key
                caCertificates: \(certs)/ca.crt
                sni: upstream.internal
            """)
            service("tls-mutual-missing.test", [(p.mtls, "")], rule: "trafficPolicy: {tls: \(simple)}")
            service("tls-credential.test", [(p.mtls, "")], rule: """
            trafficPolicy: {tls: {mode: MUTUAL, credentialName: upstream-client-credential, sni: upstream.internal}}
            """)
            parts.append(Self.serviceEntry("istio-mtls.test", port: 8080, [(p.mtls, "version: v1")]))
            parts.append(Self.destinationRule("istio-mtls.test", """
            trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
            subsets: [{name: v1, labels: {version: v1}}]
            """))
            parts.append(Self.virtualService("istio-mtls.test", """
            - match: [{headers: {x-case: {exact: v1}}}]
              route: [{destination: {host: istio-mtls.test, subset: v1, port: {number: 8080}}}]
            - route: [{destination: {host: istio-mtls.test, port: {number: 8080}}}]
            """))

            // 13. subset and port-level policies
            parts.append(Self.serviceEntry("subpool.test", [(p.subOne, "v: one"), (p.subMany, "v: many")]))
            parts.append(Self.destinationRule("subpool.test", """
            trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 1}}}
            subsets:
            - {name: one, labels: {v: one}}
            - name: many
              labels: {v: many}
              trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 100}}}
            """))
            parts.append(Self.virtualService("subpool.test", """
            - match: [{headers: {x-case: {exact: many}}}]
              route: [{destination: {host: subpool.test, subset: many, port: {number: 80}}}]
            - route: [{destination: {host: subpool.test, subset: one, port: {number: 80}}}]
            """))
            parts.append(Self.serviceEntry("tls-subset.test", [(p.plain, "kind: plain"), (p.tls, "kind: tls")]))
            parts.append(Self.destinationRule("tls-subset.test", """
            trafficPolicy: {tls: \(simple)}
            subsets:
            - {name: secure, labels: {kind: tls}}
            - name: plain
              labels: {kind: plain}
              trafficPolicy: {tls: {mode: DISABLE}}
            """))
            parts.append(Self.virtualService("tls-subset.test", """
            - match: [{headers: {x-case: {exact: plain}}}]
              route: [{destination: {host: tls-subset.test, subset: plain, port: {number: 80}}}]
            - route: [{destination: {host: tls-subset.test, subset: secure, port: {number: 80}}}]
            """))
            parts.append("""
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: tls-port, namespace: default}
            spec:
              hosts: [tls-port.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports:
              - {number: 80, name: http, protocol: HTTP}
              - {number: 8443, name: http-tls, protocol: HTTP}
              endpoints: [{address: 127.0.0.1, ports: {http: \(p.plain), http-tls: \(p.tls)}}]
            """)
            parts.append(Self.destinationRule("tls-port.test", """
            trafficPolicy:
              portLevelSettings:
              - port: {number: 8443}
                tls: \(simple)
            """))
            parts.append(Self.virtualService("tls-port.test", """
            - match: [{headers: {x-case: {exact: secure}}}]
              route: [{destination: {host: tls-port.test, port: {number: 8443}}}]
            - route: [{destination: {host: tls-port.test, port: {number: 80}}}]
            """))
            return parts.joined(separator: "\n") + "\n"
        }
    }

    static let fixture: Result<Fixture, any Error> = Result { try Fixture() }

    static func setUp() throws -> Fixture {
        let f = try fixture.get()
        try #require(f.gateway.background.process.isRunning, "gateway exited: \(f.gateway.background.errors.suffix(2000))")
        return f
    }

    static func statusCounts(_ responses: [LoadResponse]) -> [Int: Int] {
        Dictionary(grouping: responses, by: \.status).mapValues(\.count)
    }

    // MARK: 10. connection pool

    /// The most connections (and requests) the circuit-breaker upstream may see at once with
    /// `maxConnections: 1` and the gateway's two event loops: the limit is cluster-wide, but as
    /// in Envoy a loop whose pool has no connection at all may open one (otherwise its waiting
    /// requests could never be served), so two loops can hold one each.
    static let circuitBreakerConnectionLimit = 2

    /// Istio's circuit-breaking task: maxConnections 1, http1MaxPendingRequests 1,
    /// maxRequestsPerConnection 1, and 20 concurrent clients. The overflow gets 503 with
    /// x-envoy-overloaded; the upstream never has more connections or requests at once than there are event loops.
    @Test func circuitBreakerOverflowsWith503AndKeepsOneUpstreamConnection() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let before = f.cbLog.entries.count
        let responses = try Traffic.load(f.port, host: "cb.test", path: "/delay/100?cb=\(token)-{n}", connections: 20, requests: 5)
        let counts = Self.statusCounts(responses)
        #expect(responses.count == 100)
        #expect(Set(counts.keys).isSubset(of: [200, 503]), "\(counts) \(responses.compactMap(\.error).prefix(3))")
        #expect((counts[200] ?? 0) >= 1, "\(counts)")
        #expect((counts[503] ?? 0) >= 1, "20 clients on one upstream connection with one pending slot must overflow: \(counts)")
        for overflow in responses where overflow.status == 503 {
            #expect(overflow.header("x-envoy-overloaded") == "true", "\(overflow.headers)")
            #expect(overflow.body.contains("overflow"), "\(overflow.body)")
        }
        #expect(responses.filter { $0.status == 200 }.allSatisfy { $0.upstream == "cb" })

        Traffic.pause(0.2)
        let requests = f.cbLog.requests(containing: token)
        #expect(requests.count == counts[200] ?? 0, "the upstream saw exactly the requests answered 200")
        let inFlight = requests.compactMap { $0["in_flight"] as? Int }.max() ?? 0
        #expect(inFlight <= Self.circuitBreakerConnectionLimit, "the upstream had \(inFlight) requests at once")
        let opened = f.cbLog.connectionEvents(from: before).compactMap { $0["open_connections"] as? Int }
        #expect(!opened.isEmpty)
        #expect((opened.max() ?? 0) <= Self.circuitBreakerConnectionLimit, "the upstream had \(opened.max() ?? 0) connections open at once (maxConnections 1)")
        let perConnection = f.cbLog.connections(carrying: token)
        #expect(perConnection.values.allSatisfy { $0 == 1 }, "maxRequestsPerConnection 1: \(perConnection.values.sorted())")
    }

    /// http2MaxRequests bounds the requests in flight to the cluster, HTTP/1 upstreams included.
    @Test func http2MaxRequestsBoundsConcurrentRequestsToAnHTTP1Upstream() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "cb2.test", path: "/delay/200?cb2=\(token)-{n}", connections: 10, requests: 3)
        let counts = Self.statusCounts(responses)
        #expect(Set(counts.keys).isSubset(of: [200, 503]), "\(counts)")
        #expect((counts[200] ?? 0) >= 1, "\(counts)")
        #expect((counts[503] ?? 0) >= 1, "10 concurrent requests over a limit of 1 must overflow: \(counts)")
        for overflow in responses where overflow.status == 503 {
            #expect(overflow.header("x-envoy-overloaded") == "true", "\(overflow.headers)")
        }
        Traffic.pause(0.2)
        let requests = f.cb2Log.requests(containing: token)
        #expect(requests.count == counts[200] ?? 0)
        let inFlight = requests.compactMap { $0["in_flight"] as? Int }.max() ?? 0
        #expect(inFlight <= 1, "the upstream had \(inFlight) requests at once")
    }

    /// maxRequestsPerConnection 2: four requests in turn (one client connection, so one event
    /// loop) use two upstream connections, two requests each.
    @Test func maxRequestsPerConnectionOpensANewConnectionEveryTwoRequests() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "mrpc.test", path: "/mrpc/\(token)/{i}", requests: 4)
        #expect(responses.map(\.status) == [200, 200, 200, 200], "\(responses.map(\.status))")
        Traffic.pause(0.1)
        let perConnection = f.poolLog.connections(carrying: token)
        #expect(perConnection.values.sorted() == [2, 2], "requests per upstream connection: \(perConnection)")
    }

    /// http.idleTimeout 1s closes an upstream connection idle for 2 s, so the next request opens
    /// a new one; without it the same connection is reused.
    @Test func idleTimeoutClosesIdleUpstreamConnections() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let idle = try Traffic.load(f.port, host: "idle.test", path: "/idle/\(token)/{i}", requests: 2, pauseMilliseconds: 2000)
        #expect(idle.map(\.status) == [200, 200], "\(idle.map { $0.error ?? String($0.status) })")
        #expect(idle.allSatisfy { $0.error == nil })
        let idleConnections = f.poolLog.connections(carrying: token)
        #expect(idleConnections.count == 2, "an idle upstream connection is closed after 1 s: \(idleConnections)")

        let other = Traffic.token()
        let kept = try Traffic.load(f.port, host: "keep.test", path: "/keep/\(other)/{i}", requests: 2, pauseMilliseconds: 2000)
        #expect(kept.map(\.status) == [200, 200])
        let keptConnections = f.poolLog.connections(carrying: other)
        #expect(keptConnections.values.sorted() == [2], "without idleTimeout the connection is reused: \(keptConnections)")
    }

    // MARK: 11. outlier detection

    /// The upstream names serving `responses` in order (x-upstream).
    static func servers(_ responses: [LoadResponse]) -> [String] {
        responses.sorted { $0.index < $1.index }.map { $0.upstream ?? "status \($0.status)" }
    }

    /// Checks that the upstream log agrees with the client's count per upstream.
    static func expectLogAgrees(_ f: Fixture, _ token: String, _ served: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        Traffic.pause(0.1)
        let logged = Dictionary(grouping: f.odLog.requests(containing: token), by: { $0["upstream"] as? String ?? "?" }).mapValues(\.count)
        let seen = Dictionary(grouping: served, by: { $0 }).mapValues(\.count)
        #expect(logged == seen, "log \(logged), client \(seen)", sourceLocation: sourceLocation)
    }

    /// consecutive5xxErrors 2: once the failing endpoint has answered 500 twice it is ejected
    /// (every following request goes to the good one) until baseEjectionTime has passed.
    @Test func consecutive5xxErrorsEjectTheEndpointForTheEjectionTime() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "od5xx.test", path: "/od5xx/\(token)/{i}", requests: 24)
        let served = Self.servers(responses)
        #expect(responses.allSatisfy { $0.status == ($0.upstream == "od-bad-a" ? 500 : 200) }, "\(served)")
        let badPositions = served.indices.filter { served[$0] == "od-bad-a" }
        try #require(badPositions.count >= 2, "round robin reaches the bad endpoint: \(served)")
        let ejectedAt = badPositions[1]
        #expect(ejectedAt <= 5, "\(served)")
        #expect(badPositions.count == 2, "after 2 consecutive 5xx the endpoint gets nothing: \(served)")
        #expect(served.count - ejectedAt - 1 >= 18)
        Self.expectLogAgrees(f, token, served)

        // baseEjectionTime 3 s, checked every 1 s: back in rotation within 4 s.
        Traffic.pause(5)
        let later = try Traffic.load(f.port, host: "od5xx.test", path: "/od5xx/\(token)/after-{i}", requests: 6)
        let laterServed = Self.servers(later)
        #expect(laterServed.contains("od-bad-a"), "the endpoint returns after the ejection time: \(laterServed)")
        #expect(laterServed.contains("od-good"))
        Self.expectLogAgrees(f, token, served + laterServed)
    }

    /// maxEjectionPercent 34 of 3 endpoints: at most one is ejected; the other failing endpoint
    /// keeps being picked.
    @Test func maxEjectionPercentCapsTheEjectedEndpoints() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "odmax.test", path: "/odmax/\(token)/{i}", requests: 30)
        let served = Self.servers(responses)
        let tail = Array(served.suffix(20))
        let badInTail = Set(tail.filter { $0.hasPrefix("od-bad") })
        #expect(badInTail.count == 1, "exactly one failing endpoint ejected, the other still served: \(served)")
        #expect(tail.filter { $0.hasPrefix("od-bad") }.count >= 5, "\(served)")
        #expect(tail.filter { $0 == "od-good" }.count >= 5, "\(served)")
        let ejected = Set(["od-bad-a", "od-bad-b"]).subtracting(badInTail)
        #expect(ejected.count == 1 && served.filter { ejected.contains($0) }.count == 2,
                "the ejected one served its two failures only: \(served)")
        Self.expectLogAgrees(f, token, served)
    }

    /// consecutiveGatewayErrors 2 (consecutive5xxErrors 0): 502s eject, 500s do not.
    @Test func consecutiveGatewayErrorsEjectOn502ButNot500() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let gateway = try Traffic.load(f.port, host: "odgw.test", path: "/odgw/\(token)/{i}", requests: 24)
        let served = Self.servers(gateway)
        #expect(served.filter { $0 == "od-bad-502" }.count == 2, "ejected after two 502s: \(served)")
        #expect(gateway.filter { $0.upstream == "od-bad-502" }.allSatisfy { $0.status == 502 })
        Self.expectLogAgrees(f, token, served)

        let other = Traffic.token()
        let internalErrors = try Traffic.load(f.port, host: "odgw500.test", path: "/odgw500/\(other)/{i}", requests: 20)
        let internalServed = Self.servers(internalErrors)
        #expect(internalServed.filter { $0 == "od-bad-b" }.count >= 8, "500 is not a gateway error; never ejected: \(internalServed)")
        #expect(internalServed.suffix(10).contains("od-bad-b"), "\(internalServed)")
        Self.expectLogAgrees(f, other, internalServed)
    }

    // MARK: 12. upstream TLS

    /// Sends one request to `host` and returns the exchange and the TLS upstream's log entries for it.
    static func tlsRequest(_ f: Fixture, host: String, log: UpstreamLog, headers: [String] = [], expectSeen: Bool) throws -> (HTTPExchange, [[String: Any]]) {
        let token = Traffic.token()
        let exchange = try Traffic.send(f.port, host: host, "/tls/\(token)", headers: headers)
        if expectSeen {
            return (exchange, log.waitForRequests(containing: token, count: 1, timeout: 2))
        }
        // A request that wrongly got through has been logged by now.
        try log.barrier(through: f.port, host: log.url == f.mtlsLog.url ? "tls-mutual.test" : "tls-simple.test")
        return (exchange, log.requests(containing: token))
    }

    @Test func simpleTLSVerifiesTheUpstreamAndSendsTheConfiguredSNI() throws {
        let f = try Self.setUp()
        let (exchange, seen) = try Self.tlsRequest(f, host: "tls-simple.test", log: f.tlsLog, expectSeen: true)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["upstream"] as? String == "tls-up")
        let tls = Traffic.tls(exchange.json)
        #expect(tls["sni"] as? String == "upstream.internal", "\(tls)")
        #expect(["TLSv1.2", "TLSv1.3"].contains(tls["version"] as? String ?? ""), "\(tls)")
        #expect(tls["client_subject"] is NSNull || tls["client_subject"] == nil, "SIMPLE presents no client certificate: \(tls)")
        #expect(seen.count == 1)
        #expect(seen.first.flatMap { Traffic.tls($0)["sni"] as? String } == "upstream.internal")
    }

    /// Without a DestinationRule the gateway speaks plaintext to a TLS port: the request fails.
    @Test func plaintextToATLSUpstreamFails() throws {
        let f = try Self.setUp()
        let (exchange, seen) = try Self.tlsRequest(f, host: "tls-none.test", log: f.tlsLog, expectSeen: false)
        #expect([502, 503].contains(exchange.status), "\(exchange.summary)")
        #expect(seen.isEmpty)
    }

    @Test func simpleTLSWithTheWrongCAFailsAndInsecureSkipVerifyPasses() throws {
        let f = try Self.setUp()
        let (wrong, wrongSeen) = try Self.tlsRequest(f, host: "tls-wrong-ca.test", log: f.tlsLog, expectSeen: false)
        #expect(wrong.status == 503, "a certificate from an untrusted CA fails the handshake: \(wrong.summary)")
        #expect(wrongSeen.isEmpty)
        let (skip, skipSeen) = try Self.tlsRequest(f, host: "tls-skip.test", log: f.tlsLog, expectSeen: true)
        #expect(skip.status == 200, "\(skip.summary)")
        #expect(Traffic.tls(skip.json)["sni"] as? String == "upstream.internal")
        #expect(skipSeen.count == 1)
    }

    @Test func subjectAltNamesAreChecked() throws {
        let f = try Self.setUp()
        let (wrong, wrongSeen) = try Self.tlsRequest(f, host: "tls-san-wrong.test", log: f.tlsLog, expectSeen: false)
        #expect(wrong.status == 503, "the certificate lacks SAN wrong.name: \(wrong.summary)")
        #expect(wrongSeen.isEmpty)
        for host in ["tls-san-ok.test", "tls-san-spiffe.test"] {
            let (ok, okSeen) = try Self.tlsRequest(f, host: host, log: f.tlsLog, expectSeen: true)
            #expect(ok.status == 200, "\(host): \(ok.summary)")
            #expect(okSeen.count == 1, "\(host)")
        }
    }

    /// SIMPLE without `sni`: the SNI is the request's host name, port stripped.
    @Test func sniDefaultsToTheRequestHostName() throws {
        let f = try Self.setUp()
        let (exchange, seen) = try Self.tlsRequest(f, host: "upstream.internal:8080", log: f.tlsLog, expectSeen: true)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(Traffic.tls(exchange.json)["sni"] as? String == "upstream.internal", "\(Traffic.tls(exchange.json))")
        #expect(seen.count == 1)
    }

    @Test func mutualTLSPresentsTheClientCertificate() throws {
        let f = try Self.setUp()
        let (exchange, seen) = try Self.tlsRequest(f, host: "tls-mutual.test", log: f.mtlsLog, expectSeen: true)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["upstream"] as? String == "mtls-up")
        let subject = Traffic.tls(exchange.json)["client_subject"] as? [String: Any]
        #expect(subject?["commonName"] as? String == "client.example.com", "\(Traffic.tls(exchange.json))")
        #expect(Traffic.clientSANs(exchange.json).contains("URI:spiffe://cluster.local/ns/default/sa/client"))
        #expect(Traffic.tls(exchange.json)["sni"] as? String == "upstream.internal")
        #expect(seen.count == 1)

        let (missing, missingSeen) = try Self.tlsRequest(f, host: "tls-mutual-missing.test", log: f.mtlsLog, expectSeen: false)
        #expect(missing.status == 503, "the upstream requires a client certificate; SIMPLE sends none: \(missing.summary)")
        #expect(missingSeen.isEmpty)
    }

    /// MUTUAL with credentialName: certificate, key and CA from --credentials DIR/NAME.
    @Test func mutualTLSFromACredentialName() throws {
        let f = try Self.setUp()
        let (exchange, seen) = try Self.tlsRequest(f, host: "tls-credential.test", log: f.mtlsLog, expectSeen: true)
        #expect(exchange.status == 200, "\(exchange.summary)")
        let subject = Traffic.tls(exchange.json)["client_subject"] as? [String: Any]
        #expect(subject?["commonName"] as? String == "client.example.com", "\(Traffic.tls(exchange.json))")
        #expect(seen.count == 1)
    }

    /// ISTIO_MUTUAL: the workload certificate from --workload-certs, and Istio's SNI
    /// `outbound_.<port>_.<subset>_.<host>` (empty subset without one).
    @Test func istioMutualUsesTheWorkloadCertificateAndOutboundSNI() throws {
        let f = try Self.setUp()
        let (plain, plainSeen) = try Self.tlsRequest(f, host: "istio-mtls.test", log: f.mtlsLog, expectSeen: true)
        #expect(plain.status == 200, "\(plain.summary)")
        #expect(Traffic.tls(plain.json)["sni"] as? String == "outbound_.8080_._.istio-mtls.test", "\(Traffic.tls(plain.json))")
        #expect(Traffic.clientSANs(plain.json).contains("URI:spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"),
                "\(Traffic.clientSANs(plain.json))")
        #expect(plainSeen.count == 1)
        let (subset, subsetSeen) = try Self.tlsRequest(f, host: "istio-mtls.test", log: f.mtlsLog, headers: ["x-case: v1"], expectSeen: true)
        #expect(subset.status == 200, "\(subset.summary)")
        #expect(Traffic.tls(subset.json)["sni"] as? String == "outbound_.8080_.v1_.istio-mtls.test", "\(Traffic.tls(subset.json))")
        #expect(subsetSeen.count == 1)
    }

    // MARK: 13. subset and port-level policies

    /// The rule allows one request per connection; subset `many` overrides that.
    @Test func aSubsetConnectionPoolOverridesTheRuleLevelOne() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let one = try Traffic.load(f.port, host: "subpool.test", path: "/subpool/\(token)/one-{i}", requests: 4)
        #expect(one.map(\.status) == [200, 200, 200, 200])
        #expect(one.allSatisfy { $0.upstream == "sub-one" })
        let many = try Traffic.load(f.port, host: "subpool.test", path: "/subpool/\(token)/many-{i}", requests: 4, headers: ["x-case: many"])
        #expect(many.map(\.status) == [200, 200, 200, 200])
        #expect(many.allSatisfy { $0.upstream == "sub-many" })
        Traffic.pause(0.1)
        #expect(f.subOneLog.connections(carrying: token).values.sorted() == [1, 1, 1, 1], "the rule's maxRequestsPerConnection 1")
        #expect(f.subManyLog.connections(carrying: token).values.sorted() == [4], "the subset's own pool reuses the connection")
    }

    /// The rule originates TLS; subset `plain` turns it off.
    @Test func aSubsetTLSSettingOverridesTheRuleLevelOne() throws {
        let f = try Self.setUp()
        let (secure, secureSeen) = try Self.tlsRequest(f, host: "tls-subset.test", log: f.tlsLog, expectSeen: true)
        #expect(secure.status == 200, "\(secure.summary)")
        #expect(secure.json["upstream"] as? String == "tls-up")
        #expect(Traffic.tls(secure.json)["sni"] as? String == "upstream.internal")
        #expect(secureSeen.count == 1)
        let (plain, plainSeen) = try Self.tlsRequest(f, host: "tls-subset.test", log: f.plainLog, headers: ["x-case: plain"], expectSeen: true)
        #expect(plain.status == 200, "subset plain has tls DISABLE: \(plain.summary)")
        #expect(plain.json["upstream"] as? String == "plain")
        #expect(plain.json["tls"] == nil)
        #expect(plainSeen.count == 1)
    }

    /// portLevelSettings TLS applies to port 8443 only; port 80 of the same service stays plaintext.
    @Test func portLevelSettingsApplyToTheirPortOnly() throws {
        let f = try Self.setUp()
        let (secure, secureSeen) = try Self.tlsRequest(f, host: "tls-port.test", log: f.tlsLog, headers: ["x-case: secure"], expectSeen: true)
        #expect(secure.status == 200, "\(secure.summary)")
        #expect(secure.json["upstream"] as? String == "tls-up")
        #expect(Traffic.tls(secure.json)["sni"] as? String == "upstream.internal")
        #expect(secureSeen.count == 1)
        let (plain, plainSeen) = try Self.tlsRequest(f, host: "tls-port.test", log: f.plainLog, expectSeen: true)
        #expect(plain.status == 200, "\(plain.summary)")
        #expect(plain.json["upstream"] as? String == "plain")
        #expect(plainSeen.count == 1)
    }
}
