import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The gateway as the image and the Kubernetes Deployment run it: uid and gid 1337, every
/// capability dropped. Root hides socket options that need a capability (SO_DEBUG, set by
/// mistake for TCP_NODELAY, reset every connection as 1337).
struct UnprivilegedGatewayTests {
    static let available = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    static let notice: Comment = "needs root and setpriv (util-linux) to run the gateway as uid 1337 without capabilities: skipped"

    @Test(.enabled(if: available, notice))
    func servesAsUid1337WithoutCapabilities() throws {
        let upstream = try Peer("upstream.py", ["--name", "plain"])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("plain.test", [upstream.port]), """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: plain, namespace: default}
            spec:
              hosts: [plain.test]
              gateways: [edge]
              http: [{route: [{destination: {host: plain.test, port: {number: 80}}}]}]
            """].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], launcher: [
            "/usr/bin/setpriv", "--reuid=1337", "--regid=1337", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
        ])
        defer { gateway.stop() }
        let status = try String(contentsOfFile: "/proc/\(gateway.background.process.processIdentifier)/status", encoding: .utf8)
        #expect(status.contains("\nUid:\t1337\t"), "runs as 1337")
        #expect(status.contains("\nCapEff:\t0000000000000000"), "with no capability")
        for _ in 0..<3 {
            let answer = try Harness.curl(["-s", "-i", "-H", "Host: plain.test", "http://127.0.0.1:\(gateway.port(8080))/"])
            #expect(answer.stdout.hasPrefix("HTTP/1.1 200"), "\(answer.stdout.prefix(200)) \(answer.stderr) \(gateway.background.errors.suffix(500))")
        }
    }
}
