@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// The configuration the data-plane unit suites build on: Gateway `default/gw` on port 80 for
/// every host, service `svc.test` (STATIC endpoints, port 80 `http`) routed by a VirtualService
/// bound to it, compiled into a `ProxySnapshot` as the gateway would.
enum ProxyFixtures {
    static let gateway = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
    """

    /// `svc.test` with endpoints at `addresses` (`ip:port`).
    static func serviceEntry(_ addresses: [String]) -> String {
        let endpoints = addresses.map { address -> String in
            let (ip, port) = (address.split(separator: ":")[0], address.split(separator: ":")[1])
            return "{address: \(ip), ports: {http: \(port)}}"
        }.joined(separator: ", ")
        return """
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: svc, namespace: default}
        spec:
          hosts: [svc.test]
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints: [\(endpoints)]
        """
    }

    /// The VirtualService routing `svc.test`: one http rule to it, `routeExtras` (more fields of
    /// that rule, one per line) added.
    static func virtualService(routeExtras: String = "") -> String {
        """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: svc, namespace: default}
        spec:
          hosts: [svc.test]
          gateways: [gw]
          http:
          - route: [{destination: {host: svc.test}}]
        \(routeExtras.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    /// `svc.test`'s DestinationRule with `trafficPolicy` (a YAML flow map).
    static func destinationRule(_ trafficPolicy: String) -> String {
        """
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc, namespace: default}
        spec:
          host: svc.test
          trafficPolicy: \(trafficPolicy)
        """
    }

    /// `yaml` (which must be valid) compiled for the default gateway into a snapshot published
    /// after `previous`.
    static func snapshot(_ yaml: String, previous: ProxySnapshot? = nil, runtimes: ClusterRuntimes = ClusterRuntimes()) -> ProxySnapshot {
        let result = ConfigLoader(analyze: false).load(text: yaml, file: "case.yaml")
        precondition(result.errorCount == 0, "\(result.diagnostics)")
        let table = RouteTable.compile(result.snapshot, for: .defaultGateway)
        return ProxySnapshot.build(table: table, generation: (previous?.generation ?? 0) + 1, previous: previous, runtimes: runtimes)
    }
}
