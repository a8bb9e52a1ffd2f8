import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// PeerAuthentication composition (mesh, namespace, workload, port) and Istio's auto mTLS:
/// which endpoints a cluster talks mutual TLS to, with which SNI, ALPN and identities.
struct MutualTLSRoutingTests {
    static func policy(_ name: String, _ namespace: String, created: String, _ spec: String) -> String {
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: \(name), namespace: \(namespace), creationTimestamp: "\(created)"}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    struct CompositionCase: CustomTestStringConvertible, Sendable {
        var name: String
        var policies: [String]
        var labels: [String: String]
        var port: UInt32
        var mode: MTLSMode
        var testDescription: String { name }
    }

    @Test(arguments: [
        CompositionCase(name: "nothing: PERMISSIVE", policies: [], labels: ["app": "web"], port: 8080, mode: .permissive),
        CompositionCase(name: "mesh STRICT", policies: [policy("default", "istio-system", created: "2024-01-01T00:00:00Z", "mtls: {mode: STRICT}")],
                        labels: ["app": "web"], port: 8080, mode: .strict),
        CompositionCase(name: "namespace DISABLE over mesh STRICT", policies: [
            policy("default", "istio-system", created: "2024-01-01T00:00:00Z", "mtls: {mode: STRICT}"),
            policy("ns", "default", created: "2024-01-01T00:00:00Z", "mtls: {mode: DISABLE}"),
        ], labels: ["app": "web"], port: 8080, mode: .disable),
        CompositionCase(name: "UNSET inherits", policies: [
            policy("default", "istio-system", created: "2024-01-01T00:00:00Z", "mtls: {mode: STRICT}"),
            policy("ns", "default", created: "2024-01-01T00:00:00Z", "mtls: {mode: UNSET}"),
        ], labels: ["app": "web"], port: 8080, mode: .strict),
        CompositionCase(name: "workload over namespace", policies: [
            policy("ns", "default", created: "2024-01-01T00:00:00Z", "mtls: {mode: PERMISSIVE}"),
            policy("web", "default", created: "2024-01-01T00:00:00Z", "selector: {matchLabels: {app: web}}\nmtls: {mode: STRICT}"),
        ], labels: ["app": "web"], port: 8080, mode: .strict),
        CompositionCase(name: "a workload policy for other labels does not apply", policies: [
            policy("other", "default", created: "2024-01-01T00:00:00Z", "selector: {matchLabels: {app: other}}\nmtls: {mode: STRICT}"),
        ], labels: ["app": "web"], port: 8080, mode: .permissive),
        CompositionCase(name: "port level", policies: [
            policy("web", "default", created: "2024-01-01T00:00:00Z", "selector: {matchLabels: {app: web}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: PERMISSIVE}"),
        ], labels: ["app": "web"], port: 9000, mode: .permissive),
        CompositionCase(name: "port level UNSET takes the workload's", policies: [
            policy("web", "default", created: "2024-01-01T00:00:00Z", "selector: {matchLabels: {app: web}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: UNSET}"),
        ], labels: ["app": "web"], port: 9000, mode: .strict),
        CompositionCase(name: "oldest namespace policy wins", policies: [
            policy("newer", "default", created: "2024-02-01T00:00:00Z", "mtls: {mode: DISABLE}"),
            policy("older", "default", created: "2024-01-01T00:00:00Z", "mtls: {mode: STRICT}"),
        ], labels: ["app": "web"], port: 8080, mode: .strict),
        CompositionCase(name: "selector policies in the root namespace are ignored", policies: [
            policy("web", "istio-system", created: "2024-01-01T00:00:00Z", "selector: {matchLabels: {app: web}}\nmtls: {mode: STRICT}"),
        ], labels: ["app": "web"], port: 8080, mode: .permissive),
        CompositionCase(name: "another namespace's policy does not apply", policies: [
            policy("ns", "other", created: "2024-01-01T00:00:00Z", "mtls: {mode: STRICT}"),
        ], labels: ["app": "web"], port: 8080, mode: .permissive),
    ])
    func composition(_ test: CompositionCase) {
        let config = snapshot(yaml: test.policies.joined(separator: "\n---\n"))
        let table = RouteTable.compile(config, for: .sidecar(namespace: "default", labels: test.labels))
        #expect(table.inboundPeerAuthentication?.mode(forPort: test.port) == test.mode)
    }

    static let mesh = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: web, namespace: default}
        spec:
          hosts: [web.default.svc.cluster.local]
          addresses: [10.96.1.1]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}, {number: 5432, name: tcp-db, protocol: TCP}]
          workloadSelector: {labels: {app: web}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: web-1, namespace: default}
        spec: {address: 10.0.0.1, labels: {app: web, version: v1, security.istio.io/tlsMode: istio}, serviceAccount: web}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: web-2, namespace: default}
        spec: {address: 10.0.0.2, labels: {app: web, version: v2}, serviceAccount: web-legacy}
        """

    static func cluster(_ extra: String = "", name: String = "outbound|80||web.default.svc.cluster.local") -> UpstreamCluster? {
        let table = RouteTable.compile(snapshot(yaml: mesh + (extra.isEmpty ? "" : "\n---\n" + extra)), for: .sidecar(namespace: "default", labels: ["app": "client"]))
        return table.clusters[name]
    }

    @Test func autoMTLSGoesToEndpointsWithASidecar() throws {
        let cluster = try #require(Self.cluster())
        let byAddress = Dictionary(uniqueKeysWithValues: cluster.endpoints.map { ($0.address, $0.meshTLS) })
        #expect(byAddress == ["10.0.0.1": true, "10.0.0.2": false])
        let tls = try #require(cluster.connection.meshTLS)
        #expect(tls.mode == .istioMutual)
        #expect(tls.sni == "outbound_.80_._.web.default.svc.cluster.local")
        #expect(tls.alpn == ["istio-http/1.1", "istio", "http/1.1"])
        #expect(tls.subjectAltNames == ["spiffe://cluster.local/ns/default/sa/web", "spiffe://cluster.local/ns/default/sa/web-legacy"])
        #expect(cluster.connection.tls == nil)
        let tcp = try #require(Self.cluster(name: "outbound|5432||web.default.svc.cluster.local")?.connection.meshTLS)
        #expect(tcp.alpn == ["istio"], "TCP offers istio alone (no metadata exchange)")
    }

    @Test(arguments: [
        ("a DestinationRule's TLS mode wins", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: web, namespace: default}
            spec: {host: web.default.svc.cluster.local, trafficPolicy: {tls: {mode: DISABLE}}}
            """),
        ("the service's namespace disables mTLS", """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: DISABLE}}
            """),
        ("the mesh disables mTLS", """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: istio-system}
            spec: {mtls: {mode: DISABLE}}
            """),
    ])
    func noAutoMTLS(_ name: String, _ extra: String) throws {
        let cluster = try #require(Self.cluster(extra))
        #expect(cluster.connection.meshTLS == nil, "\(name)")
    }

    @Test func anEndpointWhosePortIsDisabledGetsPlainText() throws {
        let cluster = try #require(Self.cluster("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: web, namespace: default}
            spec: {selector: {matchLabels: {version: v1}}, mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}}
            """))
        #expect(cluster.endpoints.allSatisfy { !$0.meshTLS })
    }

    @Test func istioMutualFromADestinationRuleNamesTheServiceAccounts() throws {
        let cluster = try #require(Self.cluster("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: web, namespace: default}
            spec: {host: web.default.svc.cluster.local, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
            """))
        let tls = try #require(cluster.connection.tls)
        #expect(tls.mode == .istioMutual)
        #expect(tls.alpn == ["istio-http/1.1", "istio", "http/1.1"])
        #expect(tls.subjectAltNames.contains("spiffe://cluster.local/ns/default/sa/web"))
        #expect(cluster.connection.meshTLS == nil)
    }

    @Test func aMeshExternalServiceEntryGetsNoAutoMTLS() {
        let table = RouteTable.compile(snapshot(yaml: """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: default}
            spec:
              hosts: [api.example.com]
              resolution: STATIC
              ports: [{number: 443, name: tls, protocol: TLS}]
              endpoints: [{address: 192.0.2.1, labels: {security.istio.io/tlsMode: istio}}]
            """), for: .sidecar(namespace: "default", labels: [:]))
        #expect(table.clusters["outbound|443||api.example.com"]?.connection.meshTLS == nil)
    }
}
