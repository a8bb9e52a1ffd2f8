import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The gateway process's signals, as an operator uses them: SIGHUP reloads the configuration
/// and swaps the route table in; SIGTERM drains requests in flight, then exits 0.
@Suite(.serialized)
struct GatewayLifecycleTests {
    static func configuration(body: String, upstream: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: upstream, namespace: default}
        spec:
          hosts: [upstream.test]
          location: MESH_EXTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints: [{address: 127.0.0.1, ports: {http: \(upstream)}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: edge, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [edge]
          http:
          - match: [{uri: {exact: /version}}]
            directResponse: {status: 200, body: {string: \(body)}}
          - route: [{destination: {host: upstream.test, port: {number: 80}}}]
        """
    }

    @Test func sighupReloadsTheRouteTable() throws {
        let upstream = try Peer("upstream.py", ["--name", "lifecycle"])
        // Not watched: the SIGHUP alone must reload.
        let gateway = try GatewayProcess(yaml: Self.configuration(body: "one", upstream: upstream.port), gatewayPorts: [8080],
                                         extraArguments: ["--no-watch"])
        let url = "http://127.0.0.1:\(gateway.port(8080))/version"
        #expect(try Harness.curl([url]).stdout == "one")
        try Self.configuration(body: "two", upstream: upstream.port)
            .write(to: gateway.directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        kill(gateway.background.process.processIdentifier, SIGHUP)
        var served = ""
        for _ in 0..<100 {
            served = try Harness.curl([url]).stdout
            if served == "two" { break }
            usleep(100_000)
        }
        #expect(served == "two", "after SIGHUP the new route table answers")
        #expect(gateway.background.process.isRunning)
    }

    @Test func sigtermDrainsRequestsInFlightThenExits() throws {
        let upstream = try Peer("upstream.py", ["--name", "lifecycle"])
        let gateway = try GatewayProcess(yaml: Self.configuration(body: "one", upstream: upstream.port), gatewayPorts: [8080])
        let port = gateway.port(8080)
        let slow = try BackgroundProcess("curl", ["-s", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
                                                  "http://127.0.0.1:\(port)/delay/1500"])
        usleep(400_000)
        kill(gateway.background.process.processIdentifier, SIGTERM)
        #expect(slow.waitForExit(timeout: 30), "curl ends within its own 20 s")
        #expect(slow.output == "200", "the request in flight at SIGTERM completes")
        let deadline = Date().addingTimeInterval(10)
        while gateway.background.process.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!gateway.background.process.isRunning)
        #expect(gateway.background.exitStatus == 0)
        #expect(try Harness.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/version"]).stdout == "000",
                "nothing listens after the drain")
    }
}
