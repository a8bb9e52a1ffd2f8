/// Bookinfo as the routing tests use it, in the repository so that a plain clone runs them:
/// the four Services of Istio's `platform/kube/bookinfo.yaml` and the networking files the
/// tasks apply, under the same names. `BookinfoRoutingTests.fixturesRouteAsIstiosSamples` checks them against Istio's own
/// files when the corpus is beside the repository.
enum BookinfoFixtures {
    /// The sample's four Services (its ServiceAccounts and Deployments play no part in routing).
    static let platform: String = ["details", "ratings", "reviews", "productpage"].map { service in
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(service), namespace: default, labels: {app: \(service), service: \(service)}}
        spec:
          ports: [{port: 9080, name: http}]
          selector: {app: \(service)}
        """
    }.joined(separator: "\n---\n")

    static func destinationRule(_ host: String, _ versions: [String]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: \(host), namespace: default}
        spec:
          host: \(host)
          subsets: [\(versions.map { "{name: \($0), labels: {version: \($0)}}" }.joined(separator: ", "))]
        """
    }

    static func virtualService(_ host: String, _ http: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(host), namespace: default}
        spec:
          hosts: [\(host)]
          http:
        \(http)
        """
    }

    static func toSubset(_ host: String, _ subset: String) -> String {
        "  - route: [{destination: {host: \(host), subset: \(subset)}}]"
    }

    static let jason = "  - match: [{headers: {end-user: {exact: jason}}}]"

    /// The networking files, by the name Istio's samples give them.
    static let networking: [String: String] = [
        "destination-rule-all.yaml": [
            destinationRule("productpage", ["v1"]),
            destinationRule("reviews", ["v1", "v2", "v3"]),
            destinationRule("ratings", ["v1", "v2", "v2-mysql", "v2-mysql-vm"]),
            destinationRule("details", ["v1", "v2"]),
        ].joined(separator: "\n---\n"),
        "bookinfo-gateway.yaml": """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: bookinfo-gateway, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bookinfo, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [bookinfo-gateway]
          http:
          - match:
            - uri: {exact: /productpage}
            - uri: {prefix: /static}
            - uri: {exact: /login}
            - uri: {exact: /logout}
            - uri: {prefix: /api/v1/products}
            route: [{destination: {host: productpage, port: {number: 9080}}}]
        """,
        "virtual-service-all-v1.yaml": ["productpage", "reviews", "ratings", "details"].map {
            virtualService($0, toSubset($0, "v1"))
        }.joined(separator: "\n---\n"),
        "virtual-service-reviews-test-v2.yaml": virtualService("reviews", """
        \(jason)
            route: [{destination: {host: reviews, subset: v2}}]
        \(toSubset("reviews", "v1"))
        """),
        "virtual-service-reviews-50-v3.yaml": virtualService("reviews", """
          - route:
            - {destination: {host: reviews, subset: v1}, weight: 50}
            - {destination: {host: reviews, subset: v3}, weight: 50}
        """),
        "virtual-service-reviews-80-20.yaml": virtualService("reviews", """
          - route:
            - {destination: {host: reviews, subset: v1}, weight: 80}
            - {destination: {host: reviews, subset: v2}, weight: 20}
        """),
        "virtual-service-reviews-v3.yaml": virtualService("reviews", toSubset("reviews", "v3")),
        "virtual-service-ratings-test-delay.yaml": virtualService("ratings", """
        \(jason)
            fault: {delay: {percentage: {value: 100.0}, fixedDelay: 7s}}
            route: [{destination: {host: ratings, subset: v1}}]
        \(toSubset("ratings", "v1"))
        """),
        "virtual-service-ratings-test-abort.yaml": virtualService("ratings", """
        \(jason)
            fault: {abort: {percentage: {value: 100.0}, httpStatus: 500}}
            route: [{destination: {host: ratings, subset: v1}}]
        \(toSubset("ratings", "v1"))
        """),
    ]
}
