import Foundation
import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// Gateway API HTTPRoute conformance cases (../shared/corpus/gateway-api/CASES.md) that map onto
/// VirtualService semantics. Each HTTPRoute is written as the VirtualService Istio's own
/// translation produces: one http route per match, ordered by Gateway API precedence (exact,
/// longest prefix, method, most headers, most query parameters, rule order), and a segment-aware
/// PathPrefix `/p` as `exact /p` or `prefix /p/`. The requests and expectations are the suite's.
struct GatewayAPIConformanceTests {
    static let base = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: same-namespace, namespace: gateway-conformance-infra}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["gateway-conformance-infra/*"]
    """

    static func vs(_ name: String, hosts: [String] = ["*"], created: String? = nil, routes: [(matches: [String], backend: String)], weights: [(String, Int)]? = nil) -> String {
        var text = "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: \(name)\n  namespace: gateway-conformance-infra\n"
        if let created { text += "  creationTimestamp: \"\(created)\"\n" }
        text += "spec:\n  hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]\n  gateways: [same-namespace]\n  http:\n"
        for route in routes {
            text += "  - match:\n"
            for match in route.matches { text += "    - {\(match)}\n" }
            text += "    route: [{destination: {host: \(route.backend), port: {number: 8080}}}]\n"
        }
        return text
    }

    static func backend(_ cluster: String?) -> String {
        guard let cluster else { return "404" }
        return cluster.split(separator: "|").last.map { String($0.split(separator: ".").first ?? "") }.map { $0.replacingOccurrences(of: "infra-backend-", with: "") } ?? "?"
    }

    static func route(_ yaml: String, host: String = "example.com", method: String = "GET", target: String, headers: [(String, String)] = []) -> String {
        let table = RouteTable.compile(snapshot(yaml: base + "\n" + yaml), for: .defaultGateway)
        return backend(table.cluster(method: method, host: host, target: target, headers: headers, port: 80))
    }

    static func prefix(_ path: String) -> [String] {
        path == "/" ? ["uri: {prefix: /}"] : ["uri: {exact: \(path)}", "uri: {prefix: \(path)/}"]
    }

    // HTTPRouteExactPathMatching
    @Test(arguments: [("/one", "v1"), ("/two", "v2"), ("/", "404"), ("/one/example", "404"), ("/two/", "404"), ("/Two", "404")])
    func httpRouteExactPathMatching(_ path: String, _ expected: String) {
        let yaml = Self.vs("exact", routes: [(["uri: {exact: /one}"], "infra-backend-v1"), (["uri: {exact: /two}"], "infra-backend-v2")])
        #expect(Self.route(yaml, target: path) == expected)
    }

    // HTTPRoutePathMatchOrder
    @Test(arguments: [
        ("/match/exact/one", "v3"), ("/match/exact", "v2"), ("/match", "v1"), ("/match/prefix/one/any", "v2"),
        ("/match/prefix/any", "v1"), ("/match/any", "v3"),
    ])
    func httpRoutePathMatchOrder(_ path: String, _ expected: String) {
        let yaml = Self.vs("order", routes: [
            (["uri: {exact: /match/exact/one}"], "infra-backend-v3"), (["uri: {exact: /match/exact}"], "infra-backend-v2"),
            (["uri: {exact: /match}"], "infra-backend-v1"), (Self.prefix("/match/prefix/one"), "infra-backend-v2"),
            (["uri: {prefix: /match/prefix/}"], "infra-backend-v1"), (["uri: {prefix: /match/}"], "infra-backend-v3"),
        ])
        #expect(Self.route(yaml, target: path) == expected)
    }

    // HTTPRouteMatching
    @Test(arguments: [
        ("/", nil, "v1"), ("/example", nil, "v1"), ("/", "one", "v1"), ("/v2", nil, "v2"), ("/v2/example", nil, "v2"),
        ("/", "two", "v2"), ("/v2/", nil, "v2"), ("/v2example", nil, "v1"), ("/foo/v2/example", nil, "v1"),
    ] as [(String, String?, String)])
    func httpRouteMatching(_ path: String, _ version: String?, _ expected: String) {
        let yaml = Self.vs("matching", routes: [
            (Self.prefix("/v2"), "infra-backend-v2"),
            (["uri: {prefix: /}, headers: {version: {exact: two}}"], "infra-backend-v2"),
            (["uri: {prefix: /}, headers: {version: {exact: one}}"], "infra-backend-v1"),
            (["uri: {prefix: /}"], "infra-backend-v1"),
        ])
        #expect(Self.route(yaml, target: path, headers: version.map { [("Version", $0)] } ?? []) == expected)
    }

    // HTTPRouteMatchingAcrossRoutes: two VirtualServices for example.com merged at the gateway.
    @Test(arguments: [
        ("example.com", "/", nil, "v1"), ("example.com", "/example", nil, "v1"), ("example.net", "/example", nil, "v1"),
        ("example.com", "/example", "one", "v1"), ("example.com", "/v2", nil, "v2"), ("example.net", "/v2", nil, "v1"),
        ("example.com", "/v2/example", nil, "v2"), ("example.com", "/", "two", "v2"),
    ] as [(String, String, String?, String)])
    func httpRouteMatchingAcrossRoutes(_ host: String, _ path: String, _ version: String?, _ expected: String) {
        let yaml = Self.vs("matching-part2", hosts: ["example.com"], created: "2024-01-01T00:00:00Z", routes: [
            (Self.prefix("/v2"), "infra-backend-v2"), (["uri: {prefix: /}, headers: {version: {exact: two}}"], "infra-backend-v2"),
        ]) + Self.vs("matching-part1", hosts: ["example.com", "example.net"], created: "2024-01-02T00:00:00Z", routes: [
            (["uri: {prefix: /}, headers: {version: {exact: one}}"], "infra-backend-v1"), (["uri: {prefix: /}"], "infra-backend-v1"),
        ])
        #expect(Self.route(yaml, host: host, target: path, headers: version.map { [("Version", $0)] } ?? []) == expected)
    }

    // HTTPRouteHeaderMatching
    @Test(arguments: [
        ([("Version", "one")], "v1"), ([("Version", "two")], "v2"), ([("Version", "two"), ("Color", "orange")], "v1"),
        ([("Version", "two"), ("Color", "blue")], "v2"), ([("Color", "orange")], "404"), ([("Some-Other-Header", "one")], "404"),
        ([("Color", "blue")], "v1"), ([("Color", "green")], "v1"), ([("Color", "red")], "v2"), ([("Color", "yellow")], "v2"), ([("Color", "purple")], "404"),
    ] as [([(String, String)], String)])
    func httpRouteHeaderMatching(_ headers: [(String, String)], _ expected: String) {
        let yaml = Self.vs("headers", routes: [
            (["headers: {version: {exact: two}, color: {exact: orange}}"], "infra-backend-v1"),
            (["headers: {version: {exact: one}}"], "infra-backend-v1"), (["headers: {version: {exact: two}}"], "infra-backend-v2"),
            (["headers: {color: {exact: blue}}", "headers: {color: {exact: green}}"], "infra-backend-v1"),
            (["headers: {color: {exact: red}}", "headers: {color: {exact: yellow}}"], "infra-backend-v2"),
        ])
        #expect(Self.route(yaml, target: "/", headers: headers) == expected)
    }

    // HTTPRouteQueryParamMatching
    @Test(arguments: [
        ("/?animal=whale", nil, "v1"), ("/?animal=dolphin", nil, "v2"), ("/?animal=dolphin&color=blue", nil, "v3"), ("/?ANIMAL=Whale", nil, "v3"),
        ("/?animal=whale&otherparam=irrelevant", nil, "v1"), ("/?animal=dolphin&color=yellow", nil, "v2"), ("/?color=blue", nil, "404"),
        ("/?animal=dog", nil, "404"), ("/?animal=whaledolphin", nil, "404"), ("/", nil, "404"), ("/path1?animal=whale", nil, "v1"),
        ("/?animal=whale", "one", "v2"), ("/path2?animal=whale", "two", "v3"), ("/path3?animal=shark", nil, "v1"),
        ("/path4?animal=kraken", "three", "v1"), ("/?animal=shark", nil, "404"), ("/path4?animal=kraken", nil, "404"),
        ("/path5?animal=hydra", nil, "v1"), ("/?animal=hydra", "four", "v3"),
    ] as [(String, String?, String)])
    func httpRouteQueryParamMatching(_ target: String, _ version: String?, _ expected: String) {
        func withPrefix(_ path: String, _ rest: String) -> [String] { Self.prefix(path).map { "\($0), \(rest)" } }
        let yaml = Self.vs("query", routes: [
            (withPrefix("/path2", "headers: {version: {exact: two}}, queryParams: {animal: {exact: whale}}"), "infra-backend-v3"),
            (withPrefix("/path4", "headers: {version: {exact: three}}, queryParams: {animal: {exact: kraken}}"), "infra-backend-v1"),
            (withPrefix("/path1", "queryParams: {animal: {exact: whale}}"), "infra-backend-v1"),
            (withPrefix("/path3", "queryParams: {animal: {exact: shark}}"), "infra-backend-v1"),
            (Self.prefix("/path5"), "infra-backend-v1"),
            (["headers: {version: {exact: one}}, queryParams: {animal: {exact: whale}}"], "infra-backend-v2"),
            (["headers: {version: {exact: four}}"], "infra-backend-v3"),
            (["queryParams: {animal: {exact: dolphin}, color: {exact: blue}}"], "infra-backend-v3"),
            (["queryParams: {animal: {exact: whale}}"], "infra-backend-v1"), (["queryParams: {animal: {exact: dolphin}}"], "infra-backend-v2"),
            (["queryParams: {ANIMAL: {exact: Whale}}"], "infra-backend-v3"), (["queryParams: {animal: {exact: hydra}}"], "infra-backend-v2"),
        ])
        #expect(Self.route(yaml, target: target, headers: version.map { [("version", $0)] } ?? []) == expected)
    }

    // HTTPRouteMethodMatching
    @Test(arguments: [
        ("POST", "/", nil, "v1"), ("GET", "/", nil, "v2"), ("HEAD", "/", nil, "404"), ("GET", "/path1", nil, "v1"), ("PUT", "/", "one", "v2"),
        ("POST", "/path2", "two", "v3"), ("PATCH", "/path3", nil, "v1"), ("DELETE", "/path4", "three", "v1"), ("PUT", "/", nil, "404"),
        ("DELETE", "/path4", nil, "404"), ("PATCH", "/path5", nil, "v1"), ("PATCH", "/", "four", "v2"),
    ] as [(String, String, String?, String)])
    func httpRouteMethodMatching(_ method: String, _ path: String, _ version: String?, _ expected: String) {
        func withPrefix(_ path: String, _ rest: String) -> [String] { Self.prefix(path).map { "\($0), \(rest)" } }
        let yaml = Self.vs("method", routes: [
            (withPrefix("/path2", "method: {exact: POST}, headers: {version: {exact: two}}"), "infra-backend-v3"),
            (withPrefix("/path4", "method: {exact: DELETE}, headers: {version: {exact: three}}"), "infra-backend-v1"),
            (withPrefix("/path1", "method: {exact: GET}"), "infra-backend-v1"),
            (withPrefix("/path3", "method: {exact: PATCH}"), "infra-backend-v1"),
            (Self.prefix("/path5"), "infra-backend-v1"),
            (["method: {exact: PUT}, headers: {version: {exact: one}}"], "infra-backend-v2"),
            (["method: {exact: POST}"], "infra-backend-v1"), (["method: {exact: GET}"], "infra-backend-v2"),
            (["method: {exact: PATCH}"], "infra-backend-v2"), (["headers: {version: {exact: four}}"], "infra-backend-v3"),
        ])
        #expect(Self.route(yaml, method: method, target: path, headers: version.map { [("version", $0)] } ?? []) == expected)
    }

    // HTTPRouteWeight: 70/30/0 within 5 points over the suite's 500 requests; here 10,000 seeded decisions.
    @Test func httpRouteWeight() {
        let yaml = """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: weighted, namespace: gateway-conformance-infra}
        spec:
          hosts: ["*"]
          gateways: [same-namespace]
          http:
          - route:
            - {destination: {host: infra-backend-v1, port: {number: 8080}}, weight: 70}
            - {destination: {host: infra-backend-v2, port: {number: 8080}}, weight: 30}
            - {destination: {host: infra-backend-v3, port: {number: 8080}}, weight: 0}
        """
        let table = RouteTable.compile(snapshot(yaml: Self.base + "\n" + yaml), for: .defaultGateway)
        var generator = SplitMix64(state: 2024)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[Self.backend(table.cluster(host: "example.com", target: "/", port: 80, random: generator.next())), default: 0] += 1 }
        #expect((6_500...7_500).contains(counts["v1"] ?? 0), "\(counts)")
        #expect((2_500...3_500).contains(counts["v2"] ?? 0), "\(counts)")
        #expect(counts["v3"] == nil)
    }
}
