import Foundation
import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// Istio stops translating a VirtualService's http rules at its first catch-all
/// (route.go `BuildHTTPRoutesForVirtualService`, `IsCatchAllRoute`): rules after it are never
/// reached, a gateway moves catch-all routes behind the routes of later VirtualServices, and a
/// sidecar keeps the VirtualService's order. Each case: configuration, request, destination.
struct CatchAllTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var yaml: String
        var sidecar = false
        var target: String
        var port: UInt32 = 80
        var headers: [(String, String)] = []
        /// "a", "b" or nil (404).
        var expected: String?
        var description: String { name }
    }

    static let a = IstioSemanticsTests.clusterA
    static let b = IstioSemanticsTests.clusterB
    static let services = IstioSemanticsTests.services.replacingOccurrences(of: """
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]
    """, with: """
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]
      - port: {number: 8080, name: http-alt, protocol: HTTP}
        hosts: ["*"]
    """)

    static func vs(_ name: String, created: String = "2024-01-01T00:00:00Z", hosts: String = "[shop.example.com]",
                   gateways: String = "[gw]", _ http: String) -> String {
        IstioSemanticsTests.vs(name, hosts: hosts, gateways: gateways, created: created, http)
    }

    static let toA = "  route: [{destination: {host: a}}]"
    static let toB = "  route: [{destination: {host: b}}]"
    static let newerToB = vs("newer", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /b}}]\n\(toB)")

    static func olderCatchAll(_ match: String) -> String {
        vs("older", "- match: [\(match)]\n\(toA)") + newerToB
    }

    static let delegateTail = """
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: d1, namespace: default}
    spec:
      http:
      - match: [{uri: {prefix: /x}}]
        route: [{destination: {host: a}}]
      - route: [{destination: {host: a}}]
      - match: [{uri: {prefix: /z}}]
        route: [{destination: {host: b}}]
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: d2, namespace: default}
    spec:
      http:
      - route: [{destination: {host: b}}]

    """

    static let cases: [Case] = [
        Case(name: "a rule without match ends the VirtualService",
             yaml: vs("v", "- route: [{destination: {host: a}}]\n- match: [{uri: {prefix: /b}}]\n\(toB)"), target: "/b", expected: "a"),
        Case(name: "at a sidecar too",
             yaml: vs("v", hosts: "[a]", gateways: "[mesh]", "- route: [{destination: {host: a}}]\n- match: [{uri: {prefix: /b}}]\n\(toB)"),
             sidecar: true, target: "/b", expected: "a"),
        Case(name: "prefix / is a catch-all and goes behind a newer VirtualService's rule",
             yaml: olderCatchAll("{uri: {prefix: /}}"), target: "/b", expected: "b"),
        Case(name: "regex .* is a catch-all", yaml: olderCatchAll("{uri: {regex: \".*\"}}"), target: "/b", expected: "b"),
        Case(name: "prefix / with ignoreUriCase is a catch-all", yaml: olderCatchAll("{uri: {prefix: /}, ignoreUriCase: true}"), target: "/b", expected: "b"),
        Case(name: "the catch-all itself still serves", yaml: olderCatchAll("{uri: {prefix: /}}"), target: "/other", expected: "a"),
        Case(name: "prefix \"\" matches everything but is not a catch-all, so it stays first",
             yaml: olderCatchAll("{uri: {prefix: \"\"}}"), target: "/b", expected: "a"),
        Case(name: "exact / is not a catch-all", yaml: olderCatchAll("{uri: {exact: /}}"), target: "/b", expected: "b"),
        Case(name: "a header condition makes prefix / specific", yaml: olderCatchAll("{uri: {prefix: /}, headers: {x: {exact: \"1\"}}}"),
             target: "/b", headers: [("x", "1")], expected: "a"),
        Case(name: "a port-only match is a catch-all on its port",
             yaml: vs("v", "- match: [{port: 8080}]\n\(toA)\n- match: [{uri: {prefix: /b}}]\n\(toB)\n- route: [{destination: {host: b}}]"),
             target: "/b", port: 8080, expected: "a"),
        Case(name: "and does not apply on other ports",
             yaml: vs("v", "- match: [{port: 8080}]\n\(toA)\n- match: [{uri: {prefix: /b}}]\n\(toB)\n- route: [{destination: {host: b}}]"),
             target: "/", port: 80, expected: "b"),
        Case(name: "a catch-all match after a specific one: the specific one keeps its place",
             yaml: vs("older", "- match: [{headers: {x: {exact: \"1\"}}}, {uri: {prefix: /}}]\n\(toA)\n- match: [{uri: {prefix: /b}}]\n\(toB)")
                + vs("newer", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /y}}]\n\(toB)"),
             target: "/y", headers: [("x", "1")], expected: "a"),
        Case(name: "the catch-all match of that rule goes last",
             yaml: vs("older", "- match: [{headers: {x: {exact: \"1\"}}}, {uri: {prefix: /}}]\n\(toA)\n- match: [{uri: {prefix: /b}}]\n\(toB)")
                + vs("newer", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /y}}]\n\(toB)"),
             target: "/y", expected: "b"),
        Case(name: "and the rules after it are gone",
             yaml: vs("older", "- match: [{headers: {x: {exact: \"1\"}}}, {uri: {prefix: /}}]\n\(toA)\n- match: [{uri: {prefix: /b}}]\n\(toB)")
                + vs("newer", created: "2024-06-01T00:00:00Z", "- match: [{uri: {prefix: /y}}]\n\(toB)"),
             target: "/b", expected: "a"),
        Case(name: "a match for another gateway is filtered out before the check",
             yaml: vs("v", gateways: "[gw, mesh]", "- match: [{gateways: [mesh]}]\n\(toB)\n- match: [{uri: {prefix: /x}}]\n\(toA)"),
             target: "/x", expected: "a"),
        Case(name: "and at the sidecar it is the catch-all",
             yaml: vs("v", hosts: "[a]", gateways: "[gw, mesh]", "- match: [{gateways: [mesh]}]\n\(toB)\n- match: [{uri: {prefix: /x}}]\n\(toA)"),
             sidecar: true, target: "/x", expected: "b"),
        Case(name: "a delegate's catch-all under a root rule without match ends the root too",
             yaml: vs("root", "- delegate: {name: d1}\n- match: [{uri: {prefix: /b}}]\n\(toB)") + delegateTail, target: "/b", expected: "a"),
        Case(name: "and the delegate's rules after it",
             yaml: vs("root", "- delegate: {name: d1}\n- match: [{uri: {prefix: /b}}]\n\(toB)") + delegateTail, target: "/z", expected: "a"),
        Case(name: "a delegate's rules before its catch-all serve",
             yaml: vs("root", "- delegate: {name: d1}\n- match: [{uri: {prefix: /b}}]\n\(toB)") + delegateTail, target: "/x", expected: "a"),
        Case(name: "a rule whose delegate is missing is dropped alone (Istio: 'ignore only the current HTTP route')",
             yaml: vs("root", "- delegate: {name: missing}\n- match: [{uri: {prefix: /b}}]\n\(toB)") + delegateTail, target: "/b", expected: "b"),
        Case(name: "a delegate's catch-all under a matched root rule ends nothing",
             yaml: vs("root", "- match: [{uri: {prefix: /api}}]\n  delegate: {name: d2}\n- match: [{uri: {prefix: /b}}]\n\(toB)\n- route: [{destination: {host: a}}]")
                + delegateTail, target: "/b", expected: "b"),
        Case(name: "it serves its root's prefix",
             yaml: vs("root", "- match: [{uri: {prefix: /api}}]\n  delegate: {name: d2}\n- match: [{uri: {prefix: /b}}]\n\(toB)\n- route: [{destination: {host: a}}]")
                + delegateTail, target: "/api/x", expected: "b"),
        Case(name: "sourceNamespace other than the gateway's: the match does not apply",
             yaml: vs("v", "- match: [{sourceNamespace: default}]\n\(toB)\n- match: [{uri: {prefix: /x}}]\n\(toA)"), target: "/", expected: nil),
    ]

    @Test(arguments: cases)
    func routesAsIstioTranslatesThem(_ testCase: Case) {
        let proxy: ProxyIdentity = testCase.sidecar ? .sidecar(namespace: "default", labels: [:]) : IstioSemanticsTests.gateway
        let table = RouteTable.compile(snapshot(yaml: Self.services + testCase.yaml), for: proxy)
        let host = testCase.sidecar ? "a" : "shop.example.com"
        let cluster = table.cluster(host: host, target: testCase.target, headers: testCase.headers, port: testCase.port)
        let expected = testCase.expected.map { $0 == "a" ? Self.a : Self.b }
        #expect(cluster == expected, "\(table.explain(RequestAttributes(authority: host, target: testCase.target, port: testCase.port), random: 0).reasons)")
    }

    @Test(arguments: [
        ("{uri: {prefix: /}}", true), ("{uri: {regex: \".*\"}}", true), ("{}", true), ("{ignoreUriCase: true}", true),
        ("{port: 80}", true), ("{uri: {prefix: /}, ignoreUriCase: true}", true), ("{name: n, uri: {prefix: /}}", true),
        ("{uri: {prefix: \"\"}}", false), ("{uri: {exact: /}}", false), ("{uri: {regex: \"^.*$\"}}", false),
        ("{uri: {prefix: /}, method: {exact: GET}}", false), ("{authority: {prefix: a}}", false), ("{scheme: {exact: http}}", false),
        ("{headers: {uri: {exact: /}}}", false), ("{withoutHeaders: {x: {exact: \"1\"}}}", false), ("{queryParams: {q: {exact: \"1\"}}}", false),
    ] as [(String, Bool)])
    func whatCountsAsACatchAll(_ match: String, _ catchAll: Bool) throws {
        let yaml = IstioSemanticsTests.services + IstioSemanticsTests.vs("v", "- match: [\(match)]\n\(Self.toA)")
        let result = ConfigLoader(analyze: false).load(text: yaml, file: "case.yaml")
        let request = try #require(result.snapshot.virtualServices.first?.spec.http?.first?.match?.first)
        #expect(request.isIstioCatchAll == catchAll)
    }
}
