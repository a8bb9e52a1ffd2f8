import Foundation
import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// A compile that reuses the last one (`RouteCompileCache`, after every change the API server
/// sends) must give exactly the table a compile from nothing gives. Each case is one change to
/// the objects, made after the ones before it; after each, the two tables are compared whole,
/// and the cache must have reused what the change did not touch.
struct IncrementalCompileTests {
    /// The objects by name, in the order they are loaded.
    struct Objects {
        var documents: [(name: String, yaml: String)] = []
        var version = 1

        mutating func set(_ name: String, _ yaml: String) {
            version += 1
            let text = yaml.replacingOccurrences(of: "RV", with: "\"\(version)\"")
            if let index = documents.firstIndex(where: { $0.name == name }) {
                documents[index].yaml = text
            } else {
                documents.append((name, text))
            }
        }

        mutating func remove(_ name: String) { documents.removeAll { $0.name == name } }

        var snapshot: ConfigSnapshot { MizzenRoutingTests.snapshot(yaml: documents.map(\.yaml).joined(separator: "\n---\n")) }
    }

    static func virtualService(_ name: String, created: Int, hosts: [String], gateways: [String] = ["istio-system/gw"], http: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:\(String(format: "%02d", created))Z"}
        spec:
          hosts: [\(hosts.joined(separator: ", "))]
          gateways: [\(gateways.joined(separator: ", "))]
          http:
        \(http)
        """
    }

    /// DestinationRule `shop/dr-a`.
    static func ruleA(host: String, subsets: String, policy: String? = nil) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: dr-a, namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:00Z"}
        spec:
          host: \(host)
          subsets: \(subsets)
        """ + (policy.map { "\n  trafficPolicy: \($0)" } ?? "")
    }

    static func service(_ name: String, ports: [UInt32] = [80], endpoints: [String], version: String = "v1") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:00Z"}
        spec:
          clusterIP: 10.96.0.\(Int(name.utf8.first ?? 0) - 90)
          ports: [\(ports.map { "{name: http-\($0), port: \($0), targetPort: 8080}" }.joined(separator: ", "))]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: \(name), namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:00Z"}
        subsets:
        - addresses: [\(endpoints.map { "{ip: \($0)}" }.joined(separator: ", "))]
          ports: [\(ports.map { "{name: http-\($0), port: 8080}" }.joined(separator: ", "))]
        """
    }

    /// The Pod behind endpoint 10.1.0.1 (found by its address): its labels select subsets.
    static func pod(labels: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: a-1, namespace: shop, labels: {\(labels)}, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:00Z"}
        spec: {containers: [{name: app, image: app}]}
        status: {podIP: 10.1.0.1}
        """
    }

    static let gateway = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: istio-system, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:00Z"}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*/*.shop.example.com"]
      - port: {number: 80, name: http-legacy, protocol: HTTP}
        hosts: ["shop/legacy.example.com"]
        tls: {httpsRedirect: true}
    """

    static func route(to host: String, prefix: String? = nil, subset: String? = nil) -> String {
        var text = "  - "
        if let prefix { text += "match: [{uri: {prefix: \(prefix)}}]\n    " }
        text += "route: [{destination: {host: \(host)\(subset.map { ", subset: \($0)" } ?? "")}}]"
        return text
    }

    /// The starting objects: two services, a DestinationRule with subsets, VirtualServices on
    /// both servers, one that delegates, its delegate, and one without a resourceVersion.
    static func initial() -> Objects {
        var objects = Objects()
        objects.set("gateway", gateway)
        objects.set("svc-a", service("a", endpoints: ["10.1.0.1", "10.1.0.2"]))
        objects.set("svc-b", service("b", endpoints: ["10.2.0.1"]))
        objects.set("pod-a-1", pod(labels: "version: v2"))
        objects.set("dr-a", ruleA(host: "a", subsets: "[{name: v1, labels: {version: v1}}]", policy: "{loadBalancer: {simple: LEAST_REQUEST}}"))
        objects.set("vs-1", virtualService("vs-1", created: 1, hosts: ["one.shop.example.com"], http: route(to: "a", prefix: "/api") + "\n" + route(to: "b")))
        objects.set("vs-2", virtualService("vs-2", created: 2, hosts: ["two.shop.example.com", "legacy.example.com"], http: route(to: "b")))
        objects.set("vs-3", virtualService("vs-3", created: 3, hosts: ["one.shop.example.com"], http: route(to: "b", prefix: "/three")))
        objects.set("vs-root", virtualService("vs-root", created: 4, hosts: ["root.shop.example.com"], http: "  - match: [{uri: {prefix: /d}}]\n    delegate: {name: vs-leaf, namespace: shop}"))
        objects.set("vs-leaf", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs-leaf, namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:05Z"}
        spec:
          http:
        \(route(to: "a"))
        """)
        objects.set("vs-plain", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs-plain, namespace: shop}
        spec:
          hosts: [plain.shop.example.com]
          gateways: [istio-system/gw]
          http:
        \(route(to: "b"))
        """)
        return objects
    }

    struct Step: CustomStringConvertible, Sendable {
        var name: String
        var changed: RouteCompileCache.Inputs
        var change: @Sendable (inout Objects) -> Void
        /// Whether most of the last compile's fragments must have been reused.
        var reusesRoutes = true
        var description: String { name }
    }

    static let steps: [Step] = [
        Step(name: "a VirtualService's route changed", changed: .virtualServices) {
            $0.set("vs-1", virtualService("vs-1", created: 1, hosts: ["one.shop.example.com"], http: route(to: "b", prefix: "/api") + "\n" + route(to: "a")))
        },
        Step(name: "a VirtualService added before the others", changed: .virtualServices) {
            $0.set("vs-0", virtualService("vs-0", created: 0, hosts: ["zero.shop.example.com", "one.shop.example.com"], http: route(to: "a", prefix: "/zero")))
        },
        Step(name: "a VirtualService deleted", changed: .virtualServices) { $0.remove("vs-2") },
        Step(name: "a VirtualService's hosts changed", changed: .virtualServices) {
            $0.set("vs-3", virtualService("vs-3", created: 3, hosts: ["three.shop.example.com"], http: route(to: "b", prefix: "/three")))
        },
        Step(name: "the delegate changed", changed: .virtualServices) {
            $0.set("vs-leaf", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vs-leaf, namespace: shop, resourceVersion: RV, creationTimestamp: "2026-01-01T00:00:05Z"}
            spec:
              http:
            \(route(to: "b"))
            """)
        },
        Step(name: "a VirtualService bound to another gateway", changed: .virtualServices) {
            $0.set("vs-other", virtualService("vs-other", created: 6, hosts: ["other.shop.example.com"], gateways: ["istio-system/elsewhere"], http: route(to: "a")))
        },
        Step(name: "a subset route added", changed: .virtualServices) {
            $0.set("vs-4", virtualService("vs-4", created: 7, hosts: ["four.shop.example.com"], http: route(to: "a", subset: "v1")))
        },
        Step(name: "the DestinationRule's policy changed", changed: .destinationRules) {
            $0.set("dr-a", ruleA(host: "a", subsets: "[{name: v1, labels: {version: v2}}]", policy: "{loadBalancer: {simple: RANDOM}}"))
        },
        Step(name: "endpoints changed", changed: .serviceRegistry) {
            $0.set("svc-a", service("a", endpoints: ["10.1.0.1", "10.1.0.3", "10.1.0.4"]))
        },
        Step(name: "a Pod's labels changed (subsets select by them)", changed: .serviceRegistry) {
            $0.set("pod-a-1", pod(labels: "version: v1"))
        },
        Step(name: "a Pod's labels changed back", changed: .serviceRegistry) {
            $0.set("pod-a-1", pod(labels: "version: v2"))
        },
        Step(name: "a service's ports changed (routes name clusters by them)", changed: .serviceRegistry, change: {
            $0.set("svc-b", service("b", ports: [80, 81], endpoints: ["10.2.0.1"]))
        }, reusesRoutes: false),
        Step(name: "the gateway's servers changed", changed: .gateways, change: {
            $0.set("gateway", gateway.replacingOccurrences(of: "\"*/*.shop.example.com\"", with: "\"*/*.shop.example.com\", \"*/one.shop.example.com\""))
        }, reusesRoutes: false),
        Step(name: "a VirtualService and the DestinationRule deleted", changed: [.virtualServices, .destinationRules]) {
            $0.remove("vs-4")
            $0.remove("dr-a")
        },
        Step(name: "the delegating VirtualService deleted", changed: .virtualServices) { $0.remove("vs-root") },
        // From here every VirtualService has a version and none delegates: a change that feeds
        // no route takes each route configuration whole, and the precedence order as it was.
        Step(name: "the VirtualService without a resourceVersion deleted", changed: .virtualServices) { $0.remove("vs-plain") },
        Step(name: "endpoints changed (route configurations taken whole)", changed: .serviceRegistry) {
            $0.set("svc-a", service("a", endpoints: ["10.1.0.5"]))
        },
        Step(name: "the DestinationRule added back (route configurations taken whole)", changed: .destinationRules) {
            $0.set("dr-a", ruleA(host: "a.shop.svc.cluster.local", subsets: "[{name: v2, labels: {version: v2}}]"))
        },
        Step(name: "a VirtualService's route changed after routes were taken whole", changed: .virtualServices) {
            $0.set("vs-3", virtualService("vs-3", created: 3, hosts: ["one.shop.example.com"], http: route(to: "a", prefix: "/three-moved")))
        },
        Step(name: "a VirtualService older than the others added after routes were taken whole", changed: .virtualServices) {
            $0.set("vs-0", virtualService("vs-0", created: 0, hosts: ["one.shop.example.com"], http: route(to: "b", prefix: "/zero")))
        },
        Step(name: "a VirtualService made again under its name, now the newest (its routes go last)", changed: .virtualServices) {
            $0.set("vs-1", virtualService("vs-1", created: 9, hosts: ["one.shop.example.com"], http: route(to: "a", prefix: "/api") + "\n" + route(to: "b")))
        },
        Step(name: "endpoints changed again", changed: .serviceRegistry) {
            $0.set("svc-b", service("b", ports: [80, 81], endpoints: ["10.2.0.9"]))
        },
    ]

    @Test func everyStepCompilesToTheTableOfAFullCompile() {
        var objects = Self.initial()
        let cache = RouteCompileCache()
        let first = RouteTable.compile(objects.snapshot, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
        #expect(Self.fingerprint(first) == Self.fingerprint(RouteTable.compile(objects.snapshot, for: .defaultGateway)))
        for step in Self.steps {
            step.change(&objects)
            cache.invalidate(step.changed)
            let snapshot = objects.snapshot
            let incremental = RouteTable.compile(snapshot, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
            let full = RouteTable.compile(snapshot, for: .defaultGateway)
            let (a, b) = (Self.fingerprint(incremental), Self.fingerprint(full))
            #expect(a == b, "\(step): \(Self.difference(a, b))")
            let reuse = cache.lastReuse
            if step.reusesRoutes {
                #expect(reuse.fragments > reuse.fragmentsCompiled, "\(step): \(reuse)")
            }
        }
    }

    @Test func anUnchangedRecompileReusesWhatCanBeReused() {
        let objects = Self.initial()
        let cache = RouteCompileCache()
        let first = RouteTable.compile(objects.snapshot, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
        cache.invalidate(.virtualServices)
        let second = RouteTable.compile(objects.snapshot, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
        #expect(Self.fingerprint(first) == Self.fingerprint(second))
        #expect(cache.lastReuse.fragmentsCompiled == 0, "\(cache.lastReuse)")
        #expect(cache.lastReuse.clustersCompiled == 0, "\(cache.lastReuse)")
        // The delegating VirtualService and the one without a resourceVersion are compiled
        // again; the others' virtual hosts are the ones already made.
        let host = "one.shop.example.com"
        #expect(first.listener(port: 80)?.httpRoutes?.virtualHost(for: host) === second.listener(port: 80)?.httpRoutes?.virtualHost(for: host))
        #expect(first.listener(port: 80)?.httpRoutes?.virtualHost(for: "root.shop.example.com") !== second.listener(port: 80)?.httpRoutes?.virtualHost(for: "root.shop.example.com"))
    }

    @Test func anotherProxyOrMeshStartsAfresh() {
        let objects = Self.initial()
        let cache = RouteCompileCache()
        _ = RouteTable.compile(objects.snapshot, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
        // Selected by the same Gateway, so the same routes would be found in the cache: another
        // proxy must not take them (its labels may pick other sourceLabels matches).
        let other = ProxyIdentity.gateway(namespace: "istio-system", labels: ["istio": "ingressgateway", "zone": "b"])
        cache.invalidate(.virtualServices)
        let table = RouteTable.compile(objects.snapshot, for: other, mesh: MeshSettings(), cache: cache)
        #expect(table.listener(port: 80) != nil)
        #expect(cache.lastReuse.fragments == 0, "\(cache.lastReuse)")
        #expect(cache.lastReuse.clusters == 0, "\(cache.lastReuse)")
        #expect(Self.fingerprint(table) == Self.fingerprint(RouteTable.compile(objects.snapshot, for: other)))
        cache.invalidate(.virtualServices)
        _ = RouteTable.compile(objects.snapshot, for: other, mesh: MeshSettings(trustDomain: "example.org"), cache: cache)
        #expect(cache.lastReuse.fragments == 0, "another mesh: nothing reused")
    }

    /// Everything a request's routing depends on, as text.
    static func fingerprint(_ table: RouteTable) -> [String] {
        var lines: [String] = []
        for listener in table.listeners {
            lines.append("listener \(listener.port)")
            var configurations = listener.servers.compactMap(\.httpRoutes)
            if let shared = listener.httpRoutes { configurations.append(shared) }
            for server in listener.servers { lines.append("  server \(server.label) \(server.kind) \(server.hosts)") }
            for configuration in configurations {
                lines.append("  configuration \(configuration.name)")
                for host in configuration.virtualHosts {
                    lines.append("    host \(host.name) \(host.domains) tls=\(host.requireTLS)")
                    #expect(configuration.virtualHost(for: host.domains[0].replacingOccurrences(of: "*", with: "x")) === host, "the domain index finds \(host.name)")
                    for route in host.routes {
                        let conditions = route.matches.map { $0.conditions.map(\.description).joined(separator: "&") }.joined(separator: "|")
                        lines.append("      route \(route.source) [\(conditions)] -> \(Self.action(route.action)) policy=\(route.policy.timeout.map(String.init) ?? "-")")
                    }
                }
            }
        }
        for name in table.clusters.keys.sorted() {
            let cluster = table.clusters[name]!
            lines.append("cluster \(name) \(cluster.subsetLabels.sorted { $0.key < $1.key }) \(cluster.endpoints.map { "\($0.address):\($0.port)" }) \(cluster.policySource ?? "-") \(cluster.loadBalancer.configuredName ?? "-")")
        }
        lines += table.problems.sorted().map { "problem \($0)" }
        return lines
    }

    static func action(_ action: Route.Action) -> String {
        switch action {
        case .forward(let weighted): weighted.map { "\($0.cluster)@\($0.weight)" }.joined(separator: ",")
        case .redirect(let redirect): "redirect \(redirect.status)"
        case .directResponse(let response): "respond \(response.status)"
        }
    }

    static func difference(_ a: [String], _ b: [String]) -> String {
        let onlyIncremental = a.filter { !b.contains($0) }
        let onlyFull = b.filter { !a.contains($0) }
        return "incremental only: \(onlyIncremental.prefix(6)); full only: \(onlyFull.prefix(6))"
    }
}
