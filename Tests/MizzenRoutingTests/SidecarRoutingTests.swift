import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// A sidecar's route table: outbound listeners per service port (HTTP by Host, TCP by VIP),
/// Istio's allow_any / block_all, the inbound listeners of the pod's ports, and the order in
/// which VirtualServices claim a host.
struct SidecarRoutingTests {
    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec:
          clusterIP: 10.96.0.10
          selector: {app: web}
          ports:
          - {name: http, port: 80, targetPort: 8080}
          - {name: tcp-db, port: 5432}
          - {name: custom, port: 7000, targetPort: 7001}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: web, namespace: default}
        subsets:
        - addresses: [{ip: 10.244.1.5}]
          ports: [{name: http, port: 8080}, {name: tcp-db, port: 5432}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: db, namespace: other}
        spec:
          clusterIP: 10.96.0.20
          ports: [{name: tcp, port: 5432}]
        """

    static func table(_ extra: String = "", labels: [String: String] = ["app": "client"], policy: MeshSettings.OutboundTrafficPolicy = .allowAny) -> RouteTable {
        RouteTable.compile(snapshot(yaml: services + (extra.isEmpty ? "" : "\n---\n" + extra)), for: .sidecar(namespace: "default", labels: labels),
                           mesh: MeshSettings(outboundTrafficPolicy: policy))
    }

    struct OutboundCase: CustomTestStringConvertible, Sendable {
        var name: String
        var host: String
        var port: UInt32
        var policy: MeshSettings.OutboundTrafficPolicy
        var cluster: String?
        var status: UInt?
        var testDescription: String { name }
    }

    @Test(arguments: [
        OutboundCase(name: "service FQDN", host: "web.default.svc.cluster.local", port: 80, policy: .allowAny, cluster: "outbound|80||web.default.svc.cluster.local"),
        OutboundCase(name: "short name in the namespace", host: "web", port: 80, policy: .allowAny, cluster: "outbound|80||web.default.svc.cluster.local"),
        OutboundCase(name: "VIP with port", host: "10.96.0.10:80", port: 80, policy: .allowAny, cluster: "outbound|80||web.default.svc.cluster.local"),
        OutboundCase(name: "undeclared protocol port routes HTTP too", host: "web", port: 7000, policy: .allowAny, cluster: "outbound|7000||web.default.svc.cluster.local"),
        OutboundCase(name: "unknown Host, ALLOW_ANY", host: "api.example.com", port: 80, policy: .allowAny, cluster: "PassthroughCluster"),
        OutboundCase(name: "unknown Host, REGISTRY_ONLY", host: "api.example.com", port: 80, policy: .registryOnly, cluster: nil, status: 502),
        OutboundCase(name: "known Host, REGISTRY_ONLY", host: "web", port: 80, policy: .registryOnly, cluster: "outbound|80||web.default.svc.cluster.local"),
    ])
    func outboundHTTP(_ test: OutboundCase) {
        let table = Self.table(policy: test.policy)
        let decision = table.decide(RequestAttributes(authority: test.host, target: "/", port: test.port), random: 0)
        #expect(decision.cluster == test.cluster)
        if let status = test.status {
            guard case .directResponse(let response) = decision.outcome else {
                Issue.record("expected a direct response, got \(decision.outcome)")
                return
            }
            #expect(response.status == status)
        }
    }

    struct ConnectionCase: CustomTestStringConvertible, Sendable {
        var name: String
        var inbound: Bool
        var port: UInt32
        var address: String
        var explicitOnly: Bool
        var cluster: String?
        var testDescription: String { name }
    }

    @Test(arguments: [
        ConnectionCase(name: "TCP service VIP", inbound: false, port: 5432, address: "10.96.0.10", explicitOnly: true, cluster: "outbound|5432||web.default.svc.cluster.local"),
        ConnectionCase(name: "another namespace's TCP service", inbound: false, port: 5432, address: "10.96.0.20", explicitOnly: true, cluster: "outbound|5432||db.other.svc.cluster.local"),
        ConnectionCase(name: "TCP port, unknown address", inbound: false, port: 5432, address: "10.1.2.3", explicitOnly: false, cluster: nil),
        ConnectionCase(name: "HTTP port has no TCP route", inbound: false, port: 80, address: "10.96.0.10", explicitOnly: false, cluster: nil),
        ConnectionCase(name: "inbound TCP port", inbound: true, port: 5432, address: "10.244.1.5", explicitOnly: false, cluster: "inbound|5432||"),
        ConnectionCase(name: "inbound TCP port is not decided before sniffing", inbound: true, port: 5432, address: "10.244.1.5", explicitOnly: true, cluster: nil),
        ConnectionCase(name: "inbound undeclared protocol: TCP after sniffing", inbound: true, port: 7001, address: "10.244.1.5", explicitOnly: false, cluster: "inbound|7001||"),
        ConnectionCase(name: "inbound HTTP port: no TCP route", inbound: true, port: 8080, address: "10.244.1.5", explicitOnly: false, cluster: nil),
    ])
    func capturedConnections(_ test: ConnectionCase) {
        let table = Self.table(labels: ["app": "web"])
        let decision = table.decideCapturedConnection(inbound: test.inbound, port: test.port, destinationAddress: test.address, explicitOnly: test.explicitOnly, random: 0)
        #expect(decision?.destination.cluster == test.cluster)
    }

    @Test func inboundListenersFollowTheServicesSelectingThePod() throws {
        let web = Self.table(labels: ["app": "web", "version": "v1"])
        #expect(web.inboundListeners.map(\.port) == [5432, 7001, 8080])
        let http = try #require(web.inboundListener(port: 8080))
        #expect(http.httpRoutes != nil)
        var request = RequestAttributes(authority: "anything", target: "/", port: 8080)
        request.inbound = true
        #expect(web.decide(request, random: 0).cluster == "inbound|8080||")
        let cluster = try #require(web.clusters["inbound|8080||"])
        #expect(cluster.originalDestination?.sourceAddress == "127.0.0.6")
        #expect(cluster.serviceName == "web" && cluster.serviceNamespace == "default")
        // A pod no service selects has no inbound listener: everything is passed through.
        #expect(Self.table(labels: ["app": "client"]).inboundListeners.isEmpty)
        #expect(web.inboundPassthrough?.destination.cluster == "InboundPassthroughCluster")
        #expect(web.clusters["InboundPassthroughCluster"]?.originalDestination?.sourceAddress == "127.0.0.6")
    }

    @Test(arguments: [(MeshSettings.OutboundTrafficPolicy.allowAny, "PassthroughCluster"), (.registryOnly, "BlackHoleCluster")])
    func unclaimedConnectionsGoToThePassthroughOrTheBlackHole(_ policy: MeshSettings.OutboundTrafficPolicy, _ cluster: String) {
        let table = Self.table(policy: policy)
        #expect(table.outboundPassthrough?.destination.cluster == cluster)
        #expect(table.clusters["PassthroughCluster"]?.originalDestination != nil)
        #expect(table.clusters["BlackHoleCluster"]?.endpoints.isEmpty == true)
        #expect(table.clusters["BlackHoleCluster"]?.originalDestination == nil)
    }

    @Test func undeclaredProtocolPortsTakeTCPOnlyAfterSniffing() {
        let table = Self.table()
        // Port 7000 has no protocol: HTTP by Host, and TCP by the VIP once the bytes are not HTTP.
        #expect(table.decideCapturedConnection(inbound: false, port: 7000, destinationAddress: "10.96.0.10", explicitOnly: true, random: 0) == nil)
        #expect(table.decideCapturedConnection(inbound: false, port: 7000, destinationAddress: "10.96.0.10", explicitOnly: false, random: 0)?.destination.cluster
                == "outbound|7000||web.default.svc.cluster.local")
        #expect(table.decideCapturedConnection(inbound: false, port: 7000, destinationAddress: "10.1.1.1", explicitOnly: false, random: 0) == nil)
    }

    @Test func tlsPortsRouteBySNIWithTheMeshVirtualServicesTLSRoutes() {
        let table = Self.table("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: default}
            spec:
              hosts: [api.example.com]
              resolution: DNS
              ports: [{number: 443, name: tls, protocol: TLS}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: api, namespace: default}
            spec:
              hosts: [api.example.com]
              tls:
              - match: [{port: 443, sniHosts: [api.example.com]}]
                route: [{destination: {host: web.default.svc.cluster.local, port: {number: 5432}}}]
            """)
        #expect(table.routesTLSBySNI(port: 443))
        #expect(table.decideCapturedTLS(port: 443, serverName: "API.example.com", destinationAddress: "192.0.2.1", random: 0)?.destination.cluster
                == "outbound|5432||web.default.svc.cluster.local")
        #expect(table.decideCapturedTLS(port: 443, serverName: "other.example.com", destinationAddress: "192.0.2.1", random: 0) == nil)
        #expect(!table.routesTLSBySNI(port: 5432))
    }

    @Test func aMeshVirtualServiceRoutesTCPByItsTCPRoutes() {
        let table = Self.table("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: db, namespace: default}
            spec:
              hosts: [db.other.svc.cluster.local]
              tcp:
              - match: [{port: 5432}]
                route: [{destination: {host: web.default.svc.cluster.local, port: {number: 5432}}}]
            """)
        let decision = table.decideCapturedConnection(inbound: false, port: 5432, destinationAddress: "10.96.0.20", explicitOnly: true, random: 0)
        #expect(decision?.destination.cluster == "outbound|5432||web.default.svc.cluster.local")
    }

    /// Istio's order for one host claimed by several VirtualServices: private to the proxy's
    /// namespace, then exported to it, then public, each group oldest first; at a sidecar the
    /// first wins.
    struct PrecedenceCase: CustomTestStringConvertible, Sendable {
        var name: String
        /// (name, namespace, exportTo, creationTimestamp)
        var services: [(String, String, String?, String)]
        var winner: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        PrecedenceCase(name: "oldest public wins", services: [("a", "default", nil, "2024-01-02T00:00:00Z"), ("b", "default", nil, "2024-01-01T00:00:00Z")], winner: "b"),
        PrecedenceCase(name: "private beats an older public one", services: [("pub", "other", nil, "2020-01-01T00:00:00Z"), ("priv", "default", "[.]", "2024-01-01T00:00:00Z")], winner: "priv"),
        PrecedenceCase(name: "exported to the namespace beats an older public one", services: [("pub", "default", nil, "2020-01-01T00:00:00Z"), ("exp", "other", "[default]", "2024-01-01T00:00:00Z")], winner: "exp"),
        PrecedenceCase(name: "private beats exported", services: [("exp", "other", "[default]", "2020-01-01T00:00:00Z"), ("priv", "default", "[.]", "2024-01-01T00:00:00Z")], winner: "priv"),
        PrecedenceCase(name: "another namespace's private one is not seen", services: [("theirs", "other", "[.]", "2020-01-01T00:00:00Z"), ("pub", "default", nil, "2024-01-01T00:00:00Z")], winner: "pub"),
        PrecedenceCase(name: "exported to everyone counts as public", services: [("star", "other", "['*']", "2020-01-01T00:00:00Z"), ("exp", "other", "[default]", "2024-01-01T00:00:00Z")], winner: "exp"),
    ])
    func virtualServicePrecedence(_ test: PrecedenceCase) {
        let documents = test.services.map { name, namespace, exportTo, created in
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name), namespace: \(namespace), creationTimestamp: "\(created)"}
            spec:
              hosts: [web.default.svc.cluster.local]
            \(exportTo.map { "  exportTo: \($0)\n" } ?? "")  http:
              - directResponse: {status: 200, body: {string: \(name)}}
            """
        }
        let table = Self.table(documents.joined(separator: "\n---\n"))
        let decision = table.decide(RequestAttributes(authority: "web", target: "/", port: 80), random: 0)
        #expect(decision.route?.source.virtualService.name == test.winner, "\(decision.route?.source.description ?? "no route")")
        // The others are named as not used, so `mizzen routes --sidecar` shows why.
        let losers = test.services.map(\.0).filter { $0 != test.winner }
        for loser in losers where test.services.first(where: { $0.0 == loser }).map({ $0.2 != "[.]" || $0.1 == "default" }) ?? false {
            #expect(table.problems.contains { $0.contains("/\(loser): not used for web.default.svc.cluster.local at this sidecar") }, "\(table.problems)")
        }
    }
}

/// The `Sidecar` resource: which one applies, what its egress hosts import, its
/// outboundTrafficPolicy and its ingress listeners.
struct SidecarResourceTests {
    static func sidecar(_ name: String, namespace: String = "default", created: String = "2024-01-01T00:00:00Z", _ spec: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: \(name), namespace: \(namespace), creationTimestamp: "\(created)"}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static func table(_ sidecars: [String], labels: [String: String] = ["app": "web"]) -> RouteTable {
        SidecarRoutingTests.table(sidecars.joined(separator: "\n---\n"), labels: labels)
    }

    @Test(arguments: [
        ("no Sidecar imports everything", [String](), true, true),
        ("this namespace only", [sidecar("s", "egress: [{hosts: [\"./*\"]}]")], true, false),
        ("another namespace by name", [sidecar("s", "egress: [{hosts: [\"other/*\"]}]")], false, true),
        ("one host", [sidecar("s", "egress: [{hosts: [\"*/db.other.svc.cluster.local\"]}]")], false, true),
        ("exclusion", [sidecar("s", "egress: [{hosts: [\"*/*\", \"~other/*\"]}]")], true, false),
        ("a workload selector for other labels does not apply", [sidecar("s", "workloadSelector: {labels: {app: other}}\negress: [{hosts: [\"./*\"]}]")], true, true),
        ("the root namespace's default", [sidecar("s", namespace: "istio-system", "egress: [{hosts: [\"./*\"]}]")], true, false),
        ("a namespace Sidecar beats the root default", [sidecar("root", namespace: "istio-system", "egress: [{hosts: [\"./*\"]}]"),
                                                         sidecar("ns", "egress: [{hosts: [\"*/*\"]}]")], true, true),
        ("a selector Sidecar beats the namespace one", [sidecar("ns", "egress: [{hosts: [\"*/*\"]}]"),
                                                         sidecar("web", created: "2024-05-01T00:00:00Z", "workloadSelector: {labels: {app: web}}\negress: [{hosts: [\"./*\"]}]")], true, false),
    ])
    func egressImports(_ name: String, _ sidecars: [String], _ seesWeb: Bool, _ seesDB: Bool) {
        let table = Self.table(sidecars)
        let web = table.decide(RequestAttributes(authority: "web", target: "/", port: 80), random: 0).cluster == "outbound|80||web.default.svc.cluster.local"
        let db = table.decideCapturedConnection(inbound: false, port: 5432, destinationAddress: "10.96.0.20", explicitOnly: true, random: 0) != nil
        #expect(web == seesWeb, "\(name)")
        #expect(db == seesDB, "\(name)")
    }

    @Test(arguments: [
        ("absent: the mesh's (ALLOW_ANY)", "egress: [{hosts: [\"*/*\"]}]", "PassthroughCluster"),
        ("present without a mode: REGISTRY_ONLY", "outboundTrafficPolicy: {}", "BlackHoleCluster"),
        ("REGISTRY_ONLY", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}", "BlackHoleCluster"),
        ("ALLOW_ANY", "outboundTrafficPolicy: {mode: ALLOW_ANY}", "PassthroughCluster"),
    ])
    func outboundTrafficPolicy(_ name: String, _ spec: String, _ cluster: String) {
        #expect(Self.table([Self.sidecar("s", spec)]).outboundPassthrough?.destination.cluster == cluster, "\(name)")
    }

    @Test func ingressListenersReplaceTheServicePorts() throws {
        let table = Self.table([Self.sidecar("s", """
            ingress:
            - {port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: "127.0.0.1:8080"}
            - {port: {number: 9090, protocol: TCP, name: tcp}, defaultEndpoint: "0.0.0.0:7070"}
            - {port: {number: 9191, protocol: HTTP, name: http-passthrough}}
            """)])
        #expect(table.inboundListeners.map(\.port) == [9080, 9090, 9191])
        let local = try #require(table.clusters["inbound|9080||"])
        #expect(local.endpoints.map(\.addressKey) == ["127.0.0.1:8080"])
        #expect(local.originalDestination == nil)
        #expect(table.clusters["inbound|9090||"]?.originalDestination == OriginalDestinationPolicy(sourceAddress: "127.0.0.6", port: 7070))
        #expect(table.clusters["inbound|9191||"]?.originalDestination == OriginalDestinationPolicy(sourceAddress: "127.0.0.6"))
        #expect(table.inboundListener(port: 8080) == nil)
    }
}

extension SidecarResourceTests {
    /// An egress listener with a port decides that port; the port-less one the others.
    @Test func portSpecificEgressListenersBeatThePortlessOne() {
        let table = Self.table([Self.sidecar("s", """
            egress:
            - port: {number: 5432, protocol: TCP, name: tcp}
              hosts: ["./*"]
            - hosts: ["*/*"]
            """)])
        // Port 5432: only this namespace's services (web's, not db's in "other").
        #expect(table.decideCapturedConnection(inbound: false, port: 5432, destinationAddress: "10.96.0.10", explicitOnly: true, random: 0) != nil)
        #expect(table.decideCapturedConnection(inbound: false, port: 5432, destinationAddress: "10.96.0.20", explicitOnly: true, random: 0) == nil)
        // Other ports: everything.
        #expect(table.decide(RequestAttributes(authority: "web", target: "/", port: 80), random: 0).cluster == "outbound|80||web.default.svc.cluster.local")
        // Without a port-less listener, the other ports import nothing.
        let narrow = Self.table([Self.sidecar("s", "egress:\n- port: {number: 5432, protocol: TCP, name: tcp}\n  hosts: [\"*/*\"]")])
        #expect(narrow.listener(port: 80) == nil)
    }
}
