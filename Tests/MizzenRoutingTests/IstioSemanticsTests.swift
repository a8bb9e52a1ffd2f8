import Foundation
import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// Istio's routing semantics, rule by rule, as tables of (configuration, request, destination).
struct IstioSemanticsTests {
    static let services = """
    apiVersion: v1
    kind: Service
    metadata: {name: a, namespace: default}
    spec: {ports: [{port: 80, name: http}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: b, namespace: default}
    spec: {ports: [{port: 80, name: http}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: multi, namespace: default}
    spec: {ports: [{port: 80, name: http}, {port: 9090, name: http-admin}]}
    ---
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]

    """

    static let gateway = ProxyIdentity.defaultGateway
    static let clusterA = "outbound|80||a.default.svc.cluster.local"
    static let clusterB = "outbound|80||b.default.svc.cluster.local"

    static func vs(_ name: String, hosts: String = "[\"*\"]", gateways: String = "[gw]", created: String? = nil, _ http: String) -> String {
        var text = "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: \(name)\n  namespace: default\n"
        if let created { text += "  creationTimestamp: \"\(created)\"\n" }
        text += "spec:\n  hosts: \(hosts)\n  gateways: \(gateways)\n  http:\n"
        text += http.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        return text
    }

    // MARK: Match fields

    struct MatchCase: CustomStringConvertible, Sendable {
        var name: String
        var match: String
        var method = "GET"
        var host = "example.com"
        var target: String
        var headers: [(String, String)] = []
        var matches: Bool
        var description: String { name }
    }

    static let matchCases: [MatchCase] = [
        MatchCase(name: "uri exact", match: "uri: {exact: /a}", target: "/a", matches: true),
        MatchCase(name: "uri exact ignores the query", match: "uri: {exact: /a}", target: "/a?x=1", matches: true),
        MatchCase(name: "uri exact is not a prefix", match: "uri: {exact: /a}", target: "/a/b", matches: false),
        MatchCase(name: "uri exact is case-sensitive", match: "uri: {exact: /a}", target: "/A", matches: false),
        MatchCase(name: "uri prefix is not segment-aware", match: "uri: {prefix: /v2}", target: "/v2example", matches: true),
        MatchCase(name: "uri prefix", match: "uri: {prefix: /api/}", target: "/api/x", matches: true),
        MatchCase(name: "uri prefix miss", match: "uri: {prefix: /api/}", target: "/api", matches: false),
        MatchCase(name: "uri regex full match", match: "uri: {regex: \"/items/[0-9]+\"}", target: "/items/42", matches: true),
        MatchCase(name: "uri regex is anchored at the end", match: "uri: {regex: \"/items/[0-9]+\"}", target: "/items/42/x", matches: false),
        MatchCase(name: "uri regex is anchored at the start", match: "uri: {regex: \"[0-9]+\"}", target: "/42", matches: false),
        MatchCase(name: "ignoreUriCase exact", match: "uri: {exact: /Login}\nignoreUriCase: true", target: "/LOGIN", matches: true),
        MatchCase(name: "ignoreUriCase prefix", match: "uri: {prefix: /API}\nignoreUriCase: true", target: "/api/v1", matches: true),
        MatchCase(name: "ignoreUriCase exact is still exact", match: "uri: {exact: /Login}\nignoreUriCase: true", target: "/LOGINS", matches: false),
        MatchCase(name: "ignoreUriCase prefix longer than the path", match: "uri: {prefix: /Login/}\nignoreUriCase: true", target: "/login", matches: false),
        MatchCase(name: "ignoreUriCase folds ASCII only", match: "uri: {exact: /É}\nignoreUriCase: true", target: "/é", matches: false),
        MatchCase(name: "method exact", match: "method: {exact: POST}", method: "POST", target: "/", matches: true),
        MatchCase(name: "method is case-sensitive", match: "method: {exact: post}", method: "POST", target: "/", matches: false),
        MatchCase(name: "method HEAD is not GET", match: "method: {exact: GET}", method: "HEAD", target: "/", matches: false),
        MatchCase(name: "authority exact as sent", match: "authority: {exact: example.com}", target: "/", matches: true),
        MatchCase(name: "authority includes the port as sent", match: "authority: {exact: example.com}", host: "example.com:80", target: "/", matches: false),
        MatchCase(name: "authority prefix", match: "authority: {prefix: exam}", host: "example.com:80", target: "/", matches: true),
        MatchCase(name: "header exact", match: "headers: {end-user: {exact: jason}}", target: "/", headers: [("end-user", "jason")], matches: true),
        MatchCase(name: "header name is case-insensitive", match: "headers: {end-user: {exact: jason}}", target: "/", headers: [("End-User", "jason")], matches: true),
        MatchCase(name: "header value is case-sensitive", match: "headers: {end-user: {exact: jason}}", target: "/", headers: [("end-user", "Jason")], matches: false),
        MatchCase(name: "header absent", match: "headers: {end-user: {exact: jason}}", target: "/", matches: false),
        MatchCase(name: "header presence {}", match: "headers: {x-canary: {}}", target: "/", headers: [("x-canary", "")], matches: true),
        MatchCase(name: "header presence absent", match: "headers: {x-canary: {}}", target: "/", matches: false),
        MatchCase(name: "header prefix", match: "headers: {user-agent: {prefix: curl/}}", target: "/", headers: [("user-agent", "curl/8.0")], matches: true),
        MatchCase(name: "header regex", match: "headers: {x-id: {regex: \"[a-f0-9]{4}\"}}", target: "/", headers: [("x-id", "beef")], matches: true),
        MatchCase(name: "withoutHeaders passes when absent", match: "withoutHeaders: {x-debug: {exact: \"1\"}}", target: "/", matches: true),
        MatchCase(name: "withoutHeaders fails when it matches", match: "withoutHeaders: {x-debug: {exact: \"1\"}}", target: "/", headers: [("x-debug", "1")], matches: false),
        MatchCase(name: "withoutHeaders passes when it differs", match: "withoutHeaders: {x-debug: {exact: \"1\"}}", target: "/", headers: [("x-debug", "0")], matches: true),
        MatchCase(name: "withoutHeaders {} requires absence", match: "withoutHeaders: {x-debug: {}}", target: "/", headers: [("x-debug", "0")], matches: false),
        MatchCase(name: "query exact", match: "queryParams: {animal: {exact: whale}}", target: "/?animal=whale", matches: true),
        MatchCase(name: "query exact value", match: "queryParams: {animal: {exact: whale}}", target: "/?animal=whaledolphin", matches: false),
        MatchCase(name: "query empty value", match: "queryParams: {debug: {exact: \"\"}}", target: "/?debug", matches: true),
        MatchCase(name: "query regex full match", match: "queryParams: {id: {regex: \"\\\\d+$\"}}", target: "/?id=a123", matches: false),
        MatchCase(name: "query regex digits", match: "queryParams: {id: {regex: \"\\\\d+$\"}}", target: "/?id=123", matches: true),
        MatchCase(name: "query names are case-sensitive", match: "queryParams: {animal: {exact: whale}}", target: "/?ANIMAL=whale", matches: false),
        MatchCase(name: "fields within one match AND", match: "uri: {prefix: /a}\nheaders: {x: {exact: \"1\"}}", target: "/a", matches: false),
        MatchCase(name: "port of the listener", match: "port: 80", target: "/", matches: true),
        MatchCase(name: "another port drops the match", match: "port: 8080", target: "/", matches: false),
        MatchCase(name: "scheme", match: "scheme: {exact: http}", target: "/", matches: true),
    ]

    @Test(arguments: matchCases)
    func matchConditions(_ testCase: MatchCase) {
        let yaml = Self.services + Self.vs("m", "- match:\n  - \(testCase.match.replacingOccurrences(of: "\n", with: "\n    "))\n  route:\n  - destination: {host: a}")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        let cluster = table.cluster(method: testCase.method, host: testCase.host, target: testCase.target, headers: testCase.headers, port: 80)
        #expect((cluster == Self.clusterA) == testCase.matches, "\(table.explain(RequestAttributes(method: testCase.method, authority: testCase.host, target: testCase.target, headers: testCase.headers.map { (name: $0.0, value: $0.1) }, port: 80), random: 0).reasons)")
    }

    @Test func severalMatchBlocksAreORed() {
        let yaml = Self.services + Self.vs("m", "- match:\n  - uri: {exact: /one}\n  - headers: {x: {exact: \"1\"}}\n  route:\n  - destination: {host: a}")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "h", target: "/one", port: 80) == Self.clusterA)
        #expect(table.cluster(host: "h", target: "/two", headers: [("x", "1")], port: 80) == Self.clusterA)
        #expect(table.cluster(host: "h", target: "/two", port: 80) == nil)
    }

    @Test func firstMatchWinsInDeclaredOrder() {
        let yaml = Self.services + Self.vs("m", """
        - match: [{uri: {prefix: /}}]
          route: [{destination: {host: a}}]
        - match: [{uri: {exact: /specific}}]
          route: [{destination: {host: b}}]
        """)
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        // No specificity sorting within a VirtualService (unlike Gateway API).
        #expect(table.cluster(host: "h", target: "/specific", port: 80) == Self.clusterA)
    }

    // MARK: Hosts and virtual hosts

    @Test(arguments: [
        ("api.example.com", "exact"), ("www.example.com", "wildcard"), ("a.b.example.com", "wildcard"), ("x.shop.example.com", "longer-wildcard"),
        ("other.org", "catch-all"), ("API.EXAMPLE.COM", "exact"), ("api.example.com:80", "exact"), ("example.com", "catch-all"),
    ] as [(String, String)])
    func exactBeatsWildcardAndLongestSuffixWins(_ host: String, _ expected: String) {
        var yaml = Self.services
        for (name, vsHost) in [("exact", "api.example.com"), ("wildcard", "\"*.example.com\""), ("longer-wildcard", "\"*.shop.example.com\""), ("catch-all", "\"*\"")] {
            yaml += Self.vs(name, hosts: "[\(vsHost)]", "- directResponse: {status: 200, body: {string: \(name)}}")
        }
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        let decision = table.decide(RequestAttributes(authority: host, target: "/", port: 80), random: 0)
        #expect(decision.route?.source.virtualService.name == expected)
    }

    @Test func shortNamesExpandWithTheVirtualServiceNamespace() {
        let yaml = Self.services + Self.vs("short", hosts: "[a]", "- route: [{destination: {host: b}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "a.default.svc.cluster.local", target: "/", port: 80) == Self.clusterB)
        #expect(table.cluster(host: "a", target: "/", port: 80) == nil)
    }

    @Test func gatewayMergesVirtualServicesOldestFirstWithCatchAllsLast() {
        let yaml = Self.services
            + Self.vs("older", hosts: "[shop.example.com]", created: "2024-01-01T00:00:00Z", "- route: [{destination: {host: a}}]")
            + Self.vs("newer", hosts: "[shop.example.com]", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /api}}]\n  route: [{destination: {host: b}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        // The older VirtualService's catch-all moves behind the newer one's /api rule.
        #expect(table.cluster(host: "shop.example.com", target: "/api/x", port: 80) == Self.clusterB)
        #expect(table.cluster(host: "shop.example.com", target: "/", port: 80) == Self.clusterA)
    }

    @Test func creationTimeDecidesOrderNotLoadOrder() {
        let yaml = Self.services
            + Self.vs("loaded-first", hosts: "[shop.example.com]", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /}}, {headers: {x: {exact: \"1\"}}}]\n  route: [{destination: {host: b}}]")
            + Self.vs("created-first", hosts: "[shop.example.com]", created: "2024-01-01T00:00:00Z", "- match: [{headers: {x: {exact: \"1\"}}}]\n  route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "shop.example.com", target: "/", headers: [("x", "1")], port: 80) == Self.clusterA)
    }

    @Test func sidecarUsesTheOldestVirtualServiceForAHost() {
        let yaml = Self.services
            + Self.vs("newer", hosts: "[a]", gateways: "[mesh]", created: "2024-06-01T00:00:00Z", "- route: [{destination: {host: b}}]")
            + Self.vs("older", hosts: "[a]", gateways: "[mesh]", created: "2024-01-01T00:00:00Z", "- match: [{uri: {prefix: /x}}]\n  route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: .sidecar(namespace: "default", labels: [:]))
        #expect(table.cluster(host: "a", target: "/x", port: 80) == Self.clusterA)
        // No merging: the newer VirtualService's catch-all is not used, so /y has no route.
        #expect(table.cluster(host: "a", target: "/y", port: 80) == nil)
    }

    // MARK: Binding

    @Test(arguments: [
        ("[gw]", true), ("[default/gw]", true), ("[gw.default.svc.cluster.local]", true), ("[other/gw]", false),
        ("[mesh]", false), ("[gw, mesh]", true), ("[missing]", false),
    ] as [(String, Bool)])
    func virtualServiceBindsByGatewayName(_ gateways: String, _ bound: Bool) {
        let yaml = Self.services + Self.vs("v", hosts: "[x.example.com]", gateways: gateways, "- route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect((table.cluster(host: "x.example.com", target: "/", port: 80) != nil) == bound)
    }

    @Test(arguments: [
        (["istio": "ingressgateway"], true), (["istio": "ingressgateway", "app": "x"], true), (["istio": "egressgateway"], false), ([:], false),
    ] as [([String: String], Bool)])
    func gatewaysSelectProxiesByLabels(_ labels: [String: String], _ selected: Bool) {
        let yaml = Self.services + Self.vs("v", "- route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: .gateway(namespace: "istio-system", labels: labels))
        #expect((table.listener(port: 80) != nil) == selected)
    }

    @Test(arguments: [
        ("\"*/shop.example.com\"", "default", true), ("\"./shop.example.com\"", "default", true), ("\"team/shop.example.com\"", "default", false),
        ("\"default/shop.example.com\"", "default", true), ("\"*.example.com\"", "default", true), ("\"api.example.com\"", "default", false),
    ] as [(String, String, Bool)])
    func serverHostsFilterVirtualServicesByNamespaceAndName(_ serverHost: String, _ namespace: String, _ bound: Bool) {
        let yaml = Self.services.replacingOccurrences(of: "hosts: [\"*\"]", with: "hosts: [\(serverHost)]")
            + Self.vs("v", hosts: "[shop.example.com]", "- route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect((table.cluster(host: "shop.example.com", target: "/", port: 80) != nil) == bound)
    }

    @Test func exportToHidesAVirtualServiceFromOtherNamespaces() {
        let yaml = Self.services.replacingOccurrences(of: "metadata: {name: gw, namespace: default}", with: "metadata: {name: gw, namespace: istio-system}")
            + Self.vs("v", gateways: "[istio-system/gw]", "- route: [{destination: {host: a}}]").replacingOccurrences(of: "  hosts:", with: "  exportTo: [\".\"]\n  hosts:")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "x.example.com", target: "/", port: 80) == nil)
    }

    @Test func perMatchGatewaysNarrowARule() {
        let yaml = Self.services + Self.vs("v", hosts: "[x.example.com]", gateways: "[gw, mesh]", """
        - match: [{gateways: [mesh], uri: {prefix: /internal}}]
          route: [{destination: {host: b}}]
        - route: [{destination: {host: a}}]
        """)
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "x.example.com", target: "/internal", port: 80) == Self.clusterA)
    }

    // MARK: Destinations

    @Test func weightsAreRelativeAndZeroWeightsGetNothing() {
        let yaml = Self.services + Self.vs("v", "- route:\n  - {destination: {host: a}, weight: 550}\n  - {destination: {host: b}, weight: 500}\n  - {destination: {host: multi}, weight: 0}")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        var generator = SplitMix64(state: 3)
        var counts: [String: Int] = [:]
        for _ in 0..<10_500 { counts[table.cluster(host: "h", target: "/", port: 80, random: generator.next()) ?? "none", default: 0] += 1 }
        #expect((5_300...5_700).contains(counts[Self.clusterA] ?? 0), "\(counts)")
        #expect(counts.count == 2)
    }

    @Test(arguments: [
        ("{host: multi, port: {number: 9090}}", "outbound|9090||multi.default.svc.cluster.local"),
        ("{host: multi}", "outbound|80||multi.default.svc.cluster.local"),
        ("{host: a}", "outbound|80||a.default.svc.cluster.local"),
        ("{host: a, subset: v1}", "outbound|80|v1|a.default.svc.cluster.local"),
        ("{host: external.example.org}", "outbound|80||external.example.org"),
    ] as [(String, String)])
    func destinationPortSelection(_ destination: String, _ cluster: String) {
        let yaml = Self.services + Self.vs("v", "- route: [{destination: \(destination)}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect(table.cluster(host: "h", target: "/", port: 80) == cluster)
    }

    @Test func subsetsResolveToEndpointsByLabels() throws {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: svc}
        spec:
          hosts: [svc.internal]
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints:
          - {address: 10.0.0.1, labels: {version: v1}}
          - {address: 10.0.0.2, labels: {version: v2}, ports: {http: 8080}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc}
        spec:
          host: svc.internal
          trafficPolicy: {loadBalancer: {simple: RANDOM}, connectionPool: {tcp: {maxConnections: 5}}}
          subsets:
          - {name: v1, labels: {version: v1}}
          - name: v2
            labels: {version: v2}
            trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
        """ + "\n" + Self.vs("v", hosts: "[svc.internal]", gateways: "[mesh]", "- route:\n  - {destination: {host: svc.internal, subset: v1}, weight: 1}\n  - {destination: {host: svc.internal, subset: v2}, weight: 1}")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: .sidecar(namespace: "default", labels: [:]))
        let v1 = try #require(table.clusters["outbound|80|v1|svc.internal"])
        #expect(v1.endpoints.map { "\($0.address):\($0.port)" } == ["10.0.0.1:80"])
        #expect(v1.loadBalancer.algorithm == .random)
        let v2 = try #require(table.clusters["outbound|80|v2|svc.internal"])
        #expect(v2.endpoints.map { "\($0.address):\($0.port)" } == ["10.0.0.2:8080"])
        // The subset's loadBalancer replaces the rule's; its connectionPool is inherited.
        #expect(v2.loadBalancer.algorithm == .roundRobin)
        #expect(v2.limits.maxConnections == 5)
    }

    @Test func httpsRedirectServersAnswerWithARedirect() {
        let yaml = Self.services.replacingOccurrences(of: "hosts: [\"*\"]", with: "hosts: [\"*\"]\n    tls: {httpsRedirect: true}")
            + Self.vs("v", "- route: [{destination: {host: a}}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        let decision = table.decide(RequestAttributes(authority: "x", target: "/", port: 80), random: 0)
        guard case .httpsRedirect = decision.outcome else {
            Issue.record("expected an https redirect, got \(decision.outcome)")
            return
        }
    }

    // MARK: TCP and TLS

    static let l4 = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: edge, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 443, name: tls, protocol: TLS}
        hosts: ["*.example.com"]
        tls: {mode: PASSTHROUGH}
      - port: {number: 5432, name: tcp, protocol: TCP}
        hosts: ["*"]
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: passthrough, namespace: default}
    spec:
      hosts: ["*.example.com"]
      gateways: [edge]
      tls:
      - match: [{sniHosts: [api.example.com]}]
        route: [{destination: {host: api.internal, port: {number: 443}}}]
      - match: [{sniHosts: ["*.example.com"]}]
        route: [{destination: {host: web.internal, port: {number: 443}}}]
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: database, namespace: default}
    spec:
      hosts: ["*"]
      gateways: [edge]
      tcp:
      - match: [{port: 5432}]
        route: [{destination: {host: db.internal, port: {number: 5432}}}]
    """

    @Test(arguments: [
        ("api.example.com", "outbound|443||api.internal"), ("www.example.com", "outbound|443||web.internal"), ("other.org", nil),
    ] as [(String, String?)])
    func tlsPassthroughRoutesBySNI(_ sni: String, _ cluster: String?) {
        let table = RouteTable.compile(snapshot(yaml: Self.l4), for: Self.gateway)
        #expect(table.decideConnection(port: 443, serverName: sni, random: 0)?.destination.cluster == cluster)
    }

    @Test func tcpRoutesByPort() {
        let table = RouteTable.compile(snapshot(yaml: Self.l4), for: Self.gateway)
        #expect(table.decideConnection(port: 5432, serverName: nil, random: 0)?.destination.cluster == "outbound|5432||db.internal")
        #expect(table.decideConnection(port: 5433, serverName: nil, random: 0) == nil)
    }

    @Test(arguments: [("10.1.2.3", true), ("10.2.0.1", false), (nil, false)] as [(String?, Bool)])
    func tcpDestinationSubnets(_ address: String?, _ routed: Bool) {
        let yaml = Self.l4.replacingOccurrences(of: "- match: [{port: 5432}]", with: "- match: [{port: 5432, destinationSubnets: [10.1.0.0/16]}]")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: Self.gateway)
        #expect((table.decideConnection(port: 5432, serverName: nil, destinationAddress: address, random: 0) != nil) == routed)
    }
}

/// `sourceLabels` and `sourceNamespace` choose rules for the client workload, at compile time.
struct SourceSelectionTests {
    static let yaml = IstioSemanticsTests.services + IstioSemanticsTests.vs("v", hosts: "[a]", gateways: "[mesh]", """
    - match: [{sourceLabels: {app: frontend}}]
      route: [{destination: {host: b}}]
    - match: [{sourceNamespace: team-x}]
      route: [{destination: {host: multi, port: {number: 80}}}]
    - route: [{destination: {host: a}}]
    """)

    @Test(arguments: [
        ("default", ["app": "frontend", "version": "v1"], IstioSemanticsTests.clusterB),
        ("default", ["app": "backend"], IstioSemanticsTests.clusterA),
        ("team-x", ["app": "backend"], "outbound|80||multi.default.svc.cluster.local"),
    ] as [(String, [String: String], String)])
    func rulesApplyToTheirClientWorkloads(_ namespace: String, _ labels: [String: String], _ expected: String) {
        let table = RouteTable.compile(snapshot(yaml: Self.yaml), for: .sidecar(namespace: namespace, labels: labels))
        #expect(table.cluster(host: "a.default.svc.cluster.local", target: "/", port: 80) == expected)
    }

    /// At a gateway the source is the gateway's own pod (Istio's `sourceMatchHTTP` with the
    /// gateway proxy's labels and namespace): a rule for its labels applies, one for others not.
    @Test(arguments: [("{istio: ingressgateway}", IstioSemanticsTests.clusterB), ("{app: frontend}", IstioSemanticsTests.clusterA)] as [(String, String)])
    func sourceLabelsAtAGatewayAreTheGatewaysOwn(_ labels: String, _ expected: String) {
        let yaml = IstioSemanticsTests.services + IstioSemanticsTests.vs("v", hosts: "[x.example.com]", """
        - match: [{sourceLabels: \(labels), uri: {prefix: /s}}]
          route: [{destination: {host: b}}]
        - route: [{destination: {host: a}}]
        """)
        let table = RouteTable.compile(snapshot(yaml: yaml), for: IstioSemanticsTests.gateway)
        #expect(table.cluster(host: "x.example.com", target: "/s", port: 80) == expected)
    }
}

/// HTTPS servers on one port each keep their own routes, chosen by the TLS server name.
struct TerminatedTLSServerTests {
    static let yaml = IstioSemanticsTests.services.replacingOccurrences(of: """
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]
    """, with: """
      - port: {number: 443, name: https-shop, protocol: HTTPS}
        hosts: [shop.example.com]
        tls: {mode: SIMPLE, credentialName: shop-cert}
      - port: {number: 443, name: https-api, protocol: HTTPS}
        hosts: ["*.api.example.com"]
        tls: {mode: SIMPLE, credentialName: api-cert}
      - port: {number: 443, name: https-again, protocol: HTTPS}
        hosts: [shop.example.com]
        tls: {mode: SIMPLE, credentialName: other-cert}
    """) + IstioSemanticsTests.vs("shop", hosts: "[shop.example.com]", "- route: [{destination: {host: a}}]")
        + IstioSemanticsTests.vs("api", hosts: "[\"*.api.example.com\"]", "- route: [{destination: {host: b}}]")

    @Test(arguments: [
        ("shop.example.com", IstioSemanticsTests.clusterA), ("v1.api.example.com", IstioSemanticsTests.clusterB), ("other.example.com", nil),
    ] as [(String, String?)])
    func serverIsChosenBySNI(_ sni: String, _ cluster: String?) {
        let table = RouteTable.compile(snapshot(yaml: Self.yaml), for: IstioSemanticsTests.gateway)
        let request = RequestAttributes(scheme: "https", authority: sni, target: "/", port: 443, serverName: sni)
        #expect(table.decide(request, random: 0).cluster == cluster)
    }

    @Test func aLaterServerForAClaimedHostIsSkippedWithAProblem() {
        let table = RouteTable.compile(snapshot(yaml: Self.yaml), for: IstioSemanticsTests.gateway)
        #expect(table.listener(port: 443)?.servers.count == 2)
        #expect(table.problems.contains { $0.contains("host shop.example.com on port 443 is already served by an earlier server") })
    }
}

struct DelegationAndAddressTests {
    @Test func delegateRulesAreANDedWithTheRootMatch() {
        let yaml = IstioSemanticsTests.services + IstioSemanticsTests.vs("root", hosts: "[shop.example.com]", """
        - match: [{uri: {prefix: /cart}}]
          delegate: {name: cart-team}
        - route: [{destination: {host: a}}]
        """) + """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: cart-team, namespace: default}
        spec:
          http:
          - match: [{headers: {x-beta: {exact: "1"}}}]
            route: [{destination: {host: b}}]
        """
        let table = RouteTable.compile(snapshot(yaml: yaml), for: IstioSemanticsTests.gateway)
        #expect(table.cluster(host: "shop.example.com", target: "/cart/1", headers: [("x-beta", "1")], port: 80) == IstioSemanticsTests.clusterB)
        #expect(table.cluster(host: "shop.example.com", target: "/other", headers: [("x-beta", "1")], port: 80) == IstioSemanticsTests.clusterA)
        #expect(table.cluster(host: "shop.example.com", target: "/cart/1", port: 80) == IstioSemanticsTests.clusterA)
    }

    @Test func sidecarReachesAServiceByItsClusterIPAndShortForms() {
        let yaml = IstioSemanticsTests.services.replacingOccurrences(of: "metadata: {name: a, namespace: default}\nspec: {ports: [{port: 80, name: http}]}",
                                                                     with: "metadata: {name: a, namespace: default}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80, name: http}]}")
        let table = RouteTable.compile(snapshot(yaml: yaml), for: .sidecar(namespace: "default", labels: [:]))
        for host in ["10.96.0.10", "10.96.0.10:80", "a", "a:80", "a.default", "a.default.svc", "a.default.svc.cluster.local:80"] {
            #expect(table.cluster(host: host, target: "/", port: 80) == IstioSemanticsTests.clusterA, "\(host)")
        }
        let other = RouteTable.compile(snapshot(yaml: yaml), for: .sidecar(namespace: "elsewhere", labels: [:]))
        // A bare short name resolves only in the service's namespace: elsewhere it is an unknown
        // host, sent on by Istio's allow_any virtual host.
        #expect(other.cluster(host: "a", target: "/", port: 80) == "PassthroughCluster")
        #expect(other.cluster(host: "a.default", target: "/", port: 80) == IstioSemanticsTests.clusterA)
    }
}
