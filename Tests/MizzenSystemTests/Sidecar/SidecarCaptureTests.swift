import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen sidecar` in two real pods (network namespaces on a veth link), each with the
/// istio-init rules `mizzen iptables` installs: the client in pod A calls the service VIP, its
/// sidecar captures the call (15001), routes it by the `mesh` VirtualService to pod B, whose
/// sidecar captures it inbound (15006) and hands it to the application from 127.0.0.6.
@Suite(.serialized, .enabled(if: PodNetwork.available, PodNetwork.unavailableNotice))
struct SidecarCaptureTests {
    static let serviceVIP = "10.96.0.10"

    final class Pods: @unchecked Sendable {
        let network: PodNetwork
        let directory: URL
        var processes: [BackgroundProcess] = []
        /// The server pod's sidecar (for signals).
        var serverSidecar: BackgroundProcess?
        let serverLog: URL
        let passthroughLog: URL

        init(yaml: ((String) -> String)? = nil, clientArguments: [String] = [], serverArguments: [String] = [], serverEnvironment: [String] = [],
             serverInterception: String = "REDIRECT") throws {
            network = try PodNetwork()
            directory = try Harness.temporaryDirectory("sidecar")
            serverLog = directory.appendingPathComponent("server.log")
            passthroughLog = directory.appendingPathComponent("passthrough.log")
            let configuration = directory.appendingPathComponent("config")
            try FileManager.default.createDirectory(at: configuration, withIntermediateDirectories: true)
            try (yaml ?? { Self.yaml(podB: $0) })(network.addressB).write(to: configuration.appendingPathComponent("mesh.yaml"), atomically: true, encoding: .utf8)

            // The applications of pod B: HTTP on 8080 (the service's target port), a TCP echo
            // on 9000, and HTTP on 7070, a port no service declares.
            let peers = Harness.peers.path
            processes.append(try network.start(in: network.podB, ["python3", "\(peers)/upstream.py", "--host", "0.0.0.0", "--port", "8080", "--name", "server",
                                                                  "--log", serverLog.path, "--parent-pid", String(getpid())]))
            processes.append(try network.start(in: network.podB, ["python3", "\(peers)/tcp_echo.py", "--host", "0.0.0.0", "--port", "9000",
                                                                  "--parent-pid", String(getpid())]))
            processes.append(try network.start(in: network.podB, ["python3", "\(peers)/upstream.py", "--host", "0.0.0.0", "--port", "7070", "--name", "unlisted",
                                                                  "--log", passthroughLog.path, "--parent-pid", String(getpid())]))
            for process in processes {
                guard process.waitFor(timeout: 20, { $0.contains("READY") }) else { throw HarnessError("peer did not start: \(process.errors)") }
            }
            // istio-init's rules, as the injector renders its arguments (dual stack: ip6tables too).
            for pod in [network.podA, network.podB] {
                let mode = pod == network.podB ? serverInterception : "REDIRECT"
                let rules = try network.run(in: pod, [ValidateCommandTests.binary.path, "iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", mode,
                                                      "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020", "--dual-stack"])
                guard rules.status == 0 else { throw HarnessError("mizzen iptables in \(pod): \(rules.stdout)\(rules.stderr)") }
            }
            // An IPv6 application on a port no service declares.
            processes.append(try network.start(in: network.podB, ["python3", "-c", """
                import http.server, socket, sys
                class Handler(http.server.BaseHTTPRequestHandler):
                    def do_GET(self):
                        body = ("peer %s\\n" % self.client_address[0]).encode()
                        self.send_response(200)
                        self.send_header("content-length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    def log_message(self, *args):
                        pass
                class Server(http.server.HTTPServer):
                    address_family = socket.AF_INET6
                server = Server(("::", 7071), Handler)
                print("READY 7071", flush=True)
                server.serve_forever()
                """]))
            guard processes.last?.waitFor(timeout: 20, { $0.contains("READY") }) == true else { throw HarnessError("IPv6 peer did not start") }
            // The sidecars, with the proxy's group (the rules let its own connections out).
            for (pod, labels) in [(network.podA, "app=client"), (network.podB, "app=server,version=v1")] {
                let environment = pod == network.podB && !serverEnvironment.isEmpty ? ["env"] + serverEnvironment : []
                let sidecar = try network.start(in: pod, environment + ["setpriv", "--regid", "1337", "--clear-groups", ValidateCommandTests.binary.path, "sidecar",
                                                          "--config", configuration.path, "--namespace", "default", "--pod-labels", labels,
                                                          "--workload-name", labels.hasPrefix("app=client") ? "client" : "server-v1",
                                                          "--pod-ip", pod == network.podA ? network.addressA : network.addressB,
                                                          "--concurrency", "1", "--drain-duration", "0", "--no-watch", "--log-level", "info"]
                                                          + (pod == network.podA ? clientArguments : serverArguments + ["--interception-mode", serverInterception]))
                processes.append(sidecar)
                if pod == network.podB { serverSidecar = sidecar }
                let started = sidecar.waitFor(timeout: 30) { text in
                    text.contains("listening on 0.0.0.0:15006") && text.contains("status (readiness: /healthz/ready) listening")
                }
                guard started else { throw HarnessError("sidecar in \(pod) did not start: \(sidecar.errors)") }
            }
        }

        static func yaml(podB: String) -> String {
            """
            apiVersion: v1
            kind: Service
            metadata: {name: server, namespace: default}
            spec:
              clusterIP: \(SidecarCaptureTests.serviceVIP)
              selector: {app: server}
              ports:
              - {name: http, port: 80, targetPort: 8080}
              - {name: tcp-echo, port: 9000, targetPort: 9000}
              - {name: custom, port: 9100, targetPort: 9000}
            ---
            apiVersion: v1
            kind: Endpoints
            metadata: {name: server, namespace: default}
            subsets:
            - addresses: [{ip: \(podB)}]
              ports: [{name: http, port: 8080}, {name: tcp-echo, port: 9000}, {name: custom, port: 9000}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: server, namespace: default}
            spec:
              hosts: [server]
              http:
              - match: [{headers: {end-user: {exact: jason}}}]
                directResponse: {status: 418, body: {string: "mesh route for jason"}}
              - route: [{destination: {host: server}}]

            """
        }

        /// curl from the client's pod: status and body. `bypassingTheSidecar`: with the proxy's
        /// group, so the rules let it out uncaptured (a client outside the mesh).
        func curl(_ url: String, headers: [String] = [], bypassingTheSidecar: Bool = false) throws -> (status: Int, body: String) {
            let marker = "\n##status##"
            let prefix = bypassingTheSidecar ? ["setpriv", "--regid", "1337", "--clear-groups"] : []
            let run = try network.run(in: network.podA, prefix + ["curl", "-g", "-s", "-m", "10", "-w", "\(marker)%{http_code}", url] + headers.flatMap { ["-H", $0] })
            let text = run.stdout
            guard let range = text.range(of: marker, options: .backwards) else { return (0, text + run.stderr) }
            return (Int(text[range.upperBound...]) ?? 0, String(text[..<range.lowerBound]))
        }

        /// A line through a TCP connection from the client's pod, and what came back.
        func echo(_ host: String, _ port: Int, bypassingTheSidecar: Bool = false) throws -> String {
            let prefix = bypassingTheSidecar ? ["setpriv", "--regid", "1337", "--clear-groups"] : []
            let run = try network.run(in: network.podA, prefix + ["python3", "-c", """
                import socket
                s = socket.create_connection(("\(host)", \(port)), timeout=10)
                s.sendall(b"ping through the mesh\\n")
                data = b""
                while not data.endswith(b"\\n"):
                    chunk = s.recv(100)
                    if not chunk: break
                    data += chunk
                print(data.decode().strip())
                """])
            return run.stdout + run.stderr
        }

        func metrics(_ pod: String) throws -> String {
            try network.run(in: pod, ["curl", "-s", "-m", "10", "http://127.0.0.1:15090/stats/prometheus"]).stdout
        }

        /// The peers the application saw, from an upstream's request log.
        static func peers(_ log: URL) -> [String] {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["event"] as? String == "request" else { return nil }
                return object["peer"] as? String
            }
        }

        func stop() {
            for process in processes.reversed() { process.stop() }
            network.remove()
            try? FileManager.default.removeItem(at: directory)
        }

        deinit { stop() }
    }

    @Test func meshTrafficIsCapturedRoutedAndHandedToTheApplication() throws {
        let pods = try Pods()
        defer { pods.stop() }

        // HTTP to the service VIP: captured in A, routed by Host, captured in B, delivered from
        // 127.0.0.6 (the inbound passthrough address the rules let through).
        let call = try pods.curl("http://\(Self.serviceVIP)/hello", headers: ["Host: server"])
        #expect(call.status == 200, "\(call.body)")
        #expect(call.body.contains("\"upstream\": \"server\"") || call.body.contains("\"upstream\":\"server\""), "\(call.body)")
        let peers = Pods.peers(pods.serverLog)
        #expect(peers.count == 1 && peers.allSatisfy { $0.hasPrefix("127.0.0.6:") }, "the application sees the sidecar's inbound address: \(peers)")

        // The mesh VirtualService applies at the client's sidecar.
        let jason = try pods.curl("http://\(Self.serviceVIP)/hello", headers: ["Host: server", "end-user: jason"])
        #expect(jason.status == 418, "\(jason.body)")
        #expect(jason.body == "mesh route for jason")
        #expect(Pods.peers(pods.serverLog).count == 1, "answered by the client's sidecar, not the server")

        // A TCP service port: routed by the VIP, proxied both ways.
        #expect(try pods.echo(Self.serviceVIP, 9000).contains("ping through the mesh"))
        // A port of undeclared protocol: sniffed, not HTTP, so TCP to the service by its VIP.
        #expect(try pods.echo(Self.serviceVIP, 9100).contains("ping through the mesh"))

        // A destination no service declares: passed through (ALLOW_ANY) to the pod's address,
        // and there by the inbound passthrough to the application.
        let unlisted = try pods.curl("http://\(pods.network.addressB):7070/direct")
        #expect(unlisted.status == 200, "\(unlisted.body)")
        let unlistedPeers = Pods.peers(pods.passthroughLog)
        #expect(unlistedPeers.count == 1 && unlistedPeers.allSatisfy { $0.hasPrefix("127.0.0.6:") }, "\(unlistedPeers)")

        // IPv6: captured on [::]:15001 (ip6tables), passed through, captured on [::]:15006 and
        // handed to the application from ::6.
        let six = try pods.curl("http://[\(pods.network.addressB6)]:7071/six")
        #expect(six.status == 200 && six.body == "peer ::6\n", "\(six)")

        // Applying the rules again replaces them (a restarted init container).
        let again = try pods.network.run(in: pods.network.podA, [ValidateCommandTests.binary.path, "iptables", "-p", "15001", "-z", "15006", "-u", "1337",
                                                                 "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020", "--dual-stack"])
        #expect(again.status == 0 && again.stdout.contains("replaced"), "\(again.stdout)\(again.stderr)")
        let saved = try pods.network.run(in: pods.network.podA, ["iptables-save", "-t", "nat"]).stdout
        #expect(saved.split(separator: "\n").filter { $0 == "-A OUTPUT -j ISTIO_OUTPUT" }.count == 1, "\(saved)")
        #expect(try pods.curl("http://\(Self.serviceVIP)/again", headers: ["Host: server"]).status == 200)

        // An HTTP port with a Host no service has: Istio's allow_any virtual host.
        let otherHost = try pods.curl("http://\(pods.network.addressB):80/", headers: ["Host: elsewhere.example"])
        #expect(otherHost.status == 503, "nothing listens on the pod's port 80: the passthrough fails to connect (UF): \(otherHost.body)")

        // Each side reports what it saw: the client's sidecar as the source, the server's as the
        // destination.
        let source = try pods.metrics(pods.network.podA)
        #expect(source.split(separator: "\n").contains { line in
            line.hasPrefix("istio_requests_total{reporter=\"source\"") && line.contains("destination_service=\"server.default.svc.cluster.local\"")
                && line.contains("response_code=\"200\"")
        }, "\(source.prefix(3000))")
        #expect(source.contains("istio_tcp_connections_opened_total{reporter=\"source\""), "\(source.prefix(3000))")
        let destination = try pods.metrics(pods.network.podB)
        #expect(destination.split(separator: "\n").contains { line in
            line.hasPrefix("istio_requests_total{reporter=\"destination\"") && line.contains("destination_workload=\"server-v1\"")
                && line.contains("response_code=\"200\"")
        }, "\(destination.prefix(3000))")
    }

    /// istio-iptables `-m TPROXY` in the server's pod: inbound connections keep their address
    /// (no NAT), the sidecar's transparent listener takes them by their local address, and
    /// hands them to the application from 127.0.0.6 as in REDIRECT mode.
    @Test(.enabled(if: PodNetwork.tproxyAvailable, PodNetwork.tproxyUnavailableNotice))
    func tproxyInterceptionServesInboundTraffic() throws {
        let pods = try Pods(serverInterception: "TPROXY")
        defer { pods.stop() }
        let saved = try pods.network.run(in: pods.network.podB, ["iptables-save", "-t", "mangle"]).stdout
        #expect(saved.contains("-j TPROXY --on-port 15006"), "\(saved)")
        let call = try pods.curl("http://\(Self.serviceVIP)/tproxy", headers: ["Host: server"])
        #expect(call.status == 200, "\(call.body)")
        #expect(Pods.peers(pods.serverLog).allSatisfy { $0.hasPrefix("127.0.0.6:") } && Pods.peers(pods.serverLog).count == 1, "\(Pods.peers(pods.serverLog))")
        let unlisted = try pods.curl("http://\(pods.network.addressB):7070/tproxy")
        #expect(unlisted.status == 200, "\(unlisted.body)")
        #expect(try pods.echo(Self.serviceVIP, 9000).contains("ping through the mesh"))
        let destination = try pods.metrics(pods.network.podB)
        #expect(destination.contains("istio_requests_total{reporter=\"destination\""), "\(destination.prefix(2000))")
    }

    /// `--outbound-traffic-policy REGISTRY_ONLY`: unknown destinations are refused (HTTP 502 from
    /// Istio's block_all virtual host; TCP closed), known ones still served.
    @Test func registryOnlyRefusesUnknownDestinations() throws {
        let pods = try Pods(clientArguments: ["--outbound-traffic-policy", "REGISTRY_ONLY"])
        defer { pods.stop() }
        let known = try pods.curl("http://\(Self.serviceVIP)/hello", headers: ["Host: server"])
        #expect(known.status == 200, "\(known.body)")
        let unknownHost = try pods.curl("http://\(pods.network.addressB):80/", headers: ["Host: elsewhere.example"])
        #expect(unknownHost.status == 502, "\(unknownHost.body)")
        let unknownPort = try pods.curl("http://\(pods.network.addressB):7070/direct")
        #expect(unknownPort.status == 0, "the connection is closed (curl reports no status): \(unknownPort.body)")
        #expect(Pods.peers(pods.passthroughLog).isEmpty)
    }
}
