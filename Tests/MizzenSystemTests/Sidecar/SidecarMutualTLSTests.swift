import Foundation
import Testing

/// Mutual TLS between two sidecars in real pods: the client's sidecar originates Istio's mTLS
/// automatically (the server's workload is labelled `security.istio.io/tlsMode: istio`), the
/// server's sidecar terminates it with its workload certificate, tells the application who
/// called (`x-forwarded-client-cert`) and counts the request with both identities. A
/// PeerAuthentication makes the server STRICT except on one port.
@Suite(.serialized, .enabled(if: PodNetwork.available, PodNetwork.unavailableNotice))
struct SidecarMutualTLSTests {
    static func yaml(podB: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: server, namespace: default}
        spec:
          hosts: [server.default.svc.cluster.local]
          addresses: [\(SidecarCaptureTests.serviceVIP)]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
          - {number: 9000, name: tcp-echo, protocol: TCP}
          workloadSelector: {labels: {app: server}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: server-1, namespace: default}
        spec:
          address: \(podB)
          labels: {app: server, version: v1, security.istio.io/tlsMode: istio}
          serviceAccount: upstream
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: server, namespace: default}
        spec:
          selector: {matchLabels: {app: server}}
          mtls: {mode: STRICT}
          portLevelMtls:
            9000: {mode: PERMISSIVE}

        """
    }

    /// Istio's workload certificate files for one identity of the test PKI.
    static func workloadCertificates(_ leaf: String) throws -> String {
        let certificates = Harness.certificates
        let directory = try Harness.temporaryDirectory("workload-\(leaf)")
        let fileManager = FileManager.default
        try fileManager.copyItem(at: certificates.appendingPathComponent("\(leaf).crt"), to: directory.appendingPathComponent("cert-chain.pem"))
        try fileManager.copyItem(at: certificates.appendingPathComponent("\(leaf).key"), to: directory.appendingPathComponent("key.pem"))
        try fileManager.copyItem(at: certificates.appendingPathComponent("ca.crt"), to: directory.appendingPathComponent("root-cert.pem"))
        return directory.path
    }

    @Test func sidecarsTalkMutualTLSAndTheServerKnowsItsCaller() throws {
        // The server pod's probes as the injector rewrites them: they must still reach the
        // application although its port takes only mutual TLS.
        let probes = #"{"/app-health/server/readyz":{"httpGet":{"path":"/status/204","port":8080}},"/app-health/server/livez":{"tcpSocket":{"port":9000}},"/app-health/server/startupz":{"httpGet":{"port":7999},"timeoutSeconds":2},"/app-health/grpc/readyz":{"grpc":{"port":9090},"timeoutSeconds":5},"/app-health/grpc/livez":{"grpc":{"port":9090,"service":"down"},"timeoutSeconds":5}}"#
        let serverCertificates = try Self.workloadCertificates("upstream")
        let pods = try SidecarCaptureTests.Pods(yaml: Self.yaml(podB:), clientArguments: ["--workload-certs", try Self.workloadCertificates("client")],
                                                serverArguments: ["--workload-certs", serverCertificates],
                                                serverEnvironment: ["ISTIO_KUBE_APP_PROBERS=\(probes)"])
        defer { pods.stop() }

        // Through both sidecars: mutual TLS on the wire, the caller's identity for the app.
        let call = try pods.curl("http://\(SidecarCaptureTests.serviceVIP)/hello",
                                 headers: ["Host: server", "x-forwarded-client-cert: By=spiffe://forged;URI=spiffe://forged"])
        #expect(call.status == 200, "\(call.body)")
        let echoed = try #require(try? JSONSerialization.jsonObject(with: Data(call.body.utf8)) as? [String: Any], "\(call.body)")
        let headers = (echoed["headers"] as? [[String]] ?? []).filter { $0.first?.lowercased() == "x-forwarded-client-cert" }.map { $0.last ?? "" }
        #expect(headers.count == 1, "\(headers)")
        let xfcc = headers.first ?? ""
        #expect(xfcc.hasPrefix("By=spiffe://cluster.local/ns/default/sa/upstream;Hash="), "\(xfcc)")
        #expect(xfcc.hasSuffix(#";Subject="";URI=spiffe://cluster.local/ns/default/sa/client"#), "\(xfcc)")
        #expect(!xfcc.contains("forged"), "the client's own header is not forwarded by its sidecar: \(xfcc)")

        // The server's sidecar counts it as mutual TLS from the client's identity.
        let metrics = try pods.metrics(pods.network.podB)
        #expect(metrics.split(separator: "\n").contains { line in
            line.hasPrefix("istio_requests_total{reporter=\"destination\"")
                && line.contains("source_principal=\"spiffe://cluster.local/ns/default/sa/client\"")
                && line.contains("source_workload_namespace=\"default\"")
                && line.contains("destination_principal=\"spiffe://cluster.local/ns/default/sa/upstream\"")
                && line.contains("connection_security_policy=\"mutual_tls\"")
        }, "\(metrics.split(separator: "\n").filter { $0.hasPrefix("istio_requests_total") })")

        // The rewritten probes: to the application from 127.0.0.6, around the STRICT policy.
        func probe(_ path: String) throws -> String {
            try pods.network.run(in: pods.network.podB, ["curl", "-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15020\(path)"]).stdout
        }
        #expect(try probe("/app-health/server/readyz") == "204")
        #expect(try probe("/app-health/server/livez") == "200")
        #expect(try probe("/app-health/server/startupz") == "500", "nothing listens on 7999")
        #expect(try probe("/app-health/other/readyz") == "400")
        // gRPC probes: grpc.health.v1.Health/Check over HTTP/2 (a gRPC server in the pod).
        let grpcServer = try pods.network.start(in: pods.network.podB, ["python3", Harness.peers.appendingPathComponent("grpc_echo.py").path, "--host", "0.0.0.0",
                                                                          "--port", "9090", "--parent-pid", String(getpid())])
        defer { grpcServer.stop() }
        #expect(grpcServer.waitFor(timeout: 20) { $0.contains("READY") }, "\(grpcServer.errors)")
        #expect(try probe("/app-health/grpc/readyz") == "200")
        #expect(try probe("/app-health/grpc/livez") == "500", "NOT_SERVING fails the probe")
        #expect(try probe("/healthz/ready") == "200")

        // STRICT: a client outside the mesh (plain text, around the client's sidecar) is refused.
        let before = SidecarCaptureTests.Pods.peers(pods.serverLog).count
        let plain = try pods.curl("http://\(pods.network.addressB):8080/plain", bypassingTheSidecar: true)
        #expect(plain.status == 0, "\(plain.body)")
        #expect(SidecarCaptureTests.Pods.peers(pods.serverLog).count == before, "the refused request never reached the application")

        // TCP through the mesh (mTLS with ALPN istio), and plain text on the PERMISSIVE port.
        #expect(try pods.echo(SidecarCaptureTests.serviceVIP, 9000).contains("ping through the mesh"))
        #expect(try pods.echo(pods.network.addressB, 9000, bypassingTheSidecar: true).contains("ping through the mesh"))

        // The client's sidecar reports both identities too (connection_security_policy stays
        // unknown on the client side, as Istio's); the server's counts TCP by security.
        let source = try pods.metrics(pods.network.podA)
        #expect(source.split(separator: "\n").contains { line in
            line.hasPrefix("istio_requests_total{reporter=\"source\"")
                && line.contains("source_principal=\"spiffe://cluster.local/ns/default/sa/client\"")
                && line.contains("destination_principal=\"spiffe://cluster.local/ns/default/sa/upstream\"")
                && line.contains("connection_security_policy=\"unknown\"")
        }, "\(source.split(separator: "\n").filter { $0.hasPrefix("istio_requests_total") })")
        let destination = try pods.metrics(pods.network.podB)
        let tcp = destination.split(separator: "\n").filter { $0.hasPrefix("istio_tcp_connections_opened_total{reporter=\"destination\"") }
        #expect(tcp.contains { $0.contains("connection_security_policy=\"mutual_tls\"") && $0.contains("source_principal=\"spiffe://cluster.local/ns/default/sa/client\"") }, "\(tcp)")
        #expect(tcp.contains { $0.contains("connection_security_policy=\"none\"") }, "the plain connection on the PERMISSIVE port: \(tcp)")

        // Certificate rotation: istio-agent rewrites the files, the sidecar re-reads them on
        // reload; new connections get the new certificate (open ones keep theirs, as Envoy's).
        func presentedIdentity() throws -> String {
            let certificates = Harness.certificates.path
            let run = try pods.network.run(in: pods.network.podA, ["setpriv", "--regid", "1337", "--clear-groups", "sh", "-c",
                "openssl s_client -connect \(pods.network.addressB):8080 -cert \(certificates)/client.crt -key \(certificates)/client.key "
                + "-CAfile \(certificates)/ca.crt -alpn istio-http/1.1 </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName"])
            return run.stdout
        }
        #expect(try presentedIdentity().contains("spiffe://cluster.local/ns/default/sa/upstream"))
        let certificates = Harness.certificates
        for (source, target) in [("workload.crt", "cert-chain.pem"), ("workload.key", "key.pem")] {
            let destination = URL(fileURLWithPath: serverCertificates).appendingPathComponent(target)
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: certificates.appendingPathComponent(source), to: destination)
        }
        let sidecar = try #require(pods.serverSidecar)
        kill(sidecar.process.processIdentifier, SIGHUP)
        #expect(sidecar.waitFor(timeout: 10) { $0.contains("configuration reloaded") }, "\(sidecar.errors.suffix(2000))")
        #expect(try presentedIdentity().contains("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"))
    }
}
