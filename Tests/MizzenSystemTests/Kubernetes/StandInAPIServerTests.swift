import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The stand-in Kubernetes API server the Kubernetes-source tests run against: checked with the
/// official Python client (Peers/kube_apiserver_check.py), and its Swift wrapper as a test uses it.
struct StandInAPIServerTests {
    /// The official client (and PyYAML) importable: `pip install kubernetes` or Peers/requirements.txt.
    static let officialClientAvailable: Bool =
        (try? Harness.run("python3", ["-c", "import kubernetes, yaml"], timeout: 60))?.status == 0
    static let officialClientAbsentNotice: Comment =
        "the official Kubernetes Python client is not installed (pip install kubernetes): the stand-in's conformance check is skipped"

    @Test(.enabled(if: officialClientAvailable, officialClientAbsentNotice))
    func officialClientCheckPasses() throws {
        let run = try Harness.run("python3", [Harness.peers.appendingPathComponent("kube_apiserver_check.py").path], timeout: 150)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains(" passed, 0 failed"), "\(run.stdout)")
    }

    static let bookinfo = """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: bookinfo, labels: {app: reviews}}
        spec: {ports: [{name: http, port: 9080}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews, subset: v1}}]}]
        """

    func get(_ api: StandInAPIServer, _ path: String, token: String? = nil, extra: [String] = []) throws -> Harness.Output {
        var arguments = ["--cacert", api.caFile, "-w", "\n%{http_code}"] + extra
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        return try Harness.curl(arguments + [api.url + path])
    }

    /// The body and the status code of a `get` (curl's `-w` line).
    func split(_ output: Harness.Output) -> (body: String, status: Int) {
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (lines.dropLast().joined(separator: "\n"), Int(lines.last ?? "") ?? 0)
    }

    func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test func wrapperAppliesListsExpiresAndGoesDown() throws {
        let api = try StandInAPIServer.start()
        defer { api.stop() }
        let before = Date()
        let applied = try api.apply(Self.bookinfo)
        #expect(applied.objects.map(\.kind) == ["Service", "VirtualService"])
        #expect(applied.objects.allSatisfy { $0.action == "created" && $0.namespace == "bookinfo" })
        let rvs = applied.resourceVersions.compactMap(Int.init)
        #expect(rvs.count == 2 && rvs[0] < rvs[1] && String(rvs[1]) == applied.resourceVersion, "\(applied.resourceVersions)")
        #expect(applied.eventTime >= before.addingTimeInterval(-1) && applied.eventTime <= Date().addingTimeInterval(1))
        #expect(try api.apply(Self.bookinfo).objects.allSatisfy { $0.action == "unchanged" }, "re-applying changes nothing")

        // A list with the token; 401 without one or with a wrong one.
        let (body, status) = split(try get(api, "/api/v1/namespaces/bookinfo/services", token: api.token))
        #expect(status == 200, "\(body)")
        let list = json(body)
        #expect(list["kind"] as? String == "ServiceList")
        let items = list["items"] as? [[String: Any]] ?? []
        #expect(items.count == 1 && (items.first?["metadata"] as? [String: Any])?["name"] as? String == "reviews", "\(body)")
        for token in [nil, "wrong"] as [String?] {
            let (refused, code) = split(try get(api, "/api/v1/namespaces/bookinfo/services", token: token))
            #expect(code == 401 && json(refused)["reason"] as? String == "Unauthorized", "\(refused)")
        }

        // After a compaction, a watch from an older RV gets HTTP 200, one ERROR 410 event, and the end.
        let oldRV = applied.resourceVersion
        try api.apply(Self.bookinfo.replacingOccurrences(of: "subset: v1", with: "subset: v2"))
        try api.compact()
        let watched = try get(api, "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices?watch=1&resourceVersion=\(oldRV)",
                              token: api.token)
        let (stream, watchStatus) = split(watched)
        #expect(watchStatus == 200 && watched.status == 0, "\(watched.stdout) \(watched.stderr)")
        let events = stream.split(separator: "\n").map { json(String($0)) }
        #expect(events.count == 1 && events.first?["type"] as? String == "ERROR", "\(stream)")
        let error = events.first?["object"] as? [String: Any] ?? [:]
        #expect(error["kind"] as? String == "Status" && error["code"] as? Int == 410 && error["reason"] as? String == "Expired", "\(stream)")
        #expect((error["message"] as? String ?? "").hasPrefix("too old resource version: \(oldRV) ("), "\(stream)")

        let log = try api.requests()
        let watches = log.filter(\.watch)
        #expect(watches.count == 1 && watches.first?.parameter("resourceVersion") == oldRV && watches.first?.user == "token-user",
                "\(watches)")
        #expect(log.contains { $0.status == 401 && $0.user == nil })
        #expect(try api.openWatches()["virtualservices"] == 0)

        // Down for 2 s: connections refused (curl exit 7), then served again on the same port.
        try api.down(seconds: 2)
        let started = Date()
        let refused = try get(api, "/version")
        #expect(refused.status == 7, "curl status \(refused.status) \(refused.stdout)")
        var back = false
        while Date().timeIntervalSince(started) < 10 {
            if try get(api, "/api/v1/namespaces", token: api.token).stdout.hasSuffix("\n200") {
                back = true
                break
            }
            usleep(50_000)
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(back && elapsed >= 1.5 && elapsed < 8, "back: \(back) after \(elapsed) s")
    }

    @Test func clientCertificatesKubeconfigAndRotatedTokens() throws {
        let api = try StandInAPIServer.start(tokens: ["first-token"], tokenFile: true, clientCA: true)
        defer { api.stop() }
        let certificate = ["--cert", api.clientCertificateFile, "--key", api.clientKeyFile]
        #expect(split(try get(api, "/api/v1/namespaces", extra: certificate)).status == 200)
        let untrusted = try get(api, "/api/v1/namespaces", extra: ["--cert", api.untrustedClientCertificateFile, "--key", api.untrustedClientKeyFile])
        #expect(untrusted.status != 0, "a certificate from another CA is refused in the handshake: \(untrusted.stdout)")
        #expect(try api.requests().last?.user == "mizzen-test-client")

        #expect(split(try get(api, "/api/v1/namespaces", token: "first-token")).status == 200)
        try api.rotateToken(to: "second-token")
        #expect(split(try get(api, "/api/v1/namespaces", token: "first-token")).status == 401)
        #expect(split(try get(api, "/api/v1/namespaces", token: api.token)).status == 200)

        let directory = try Harness.temporaryDirectory("kubeconfig")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try api.writeKubeconfig(to: directory.appendingPathComponent("kubeconfig").path, clientCertificate: true)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("    server: \(api.url)\n") && text.contains("    client-certificate-data: ")
                && text.contains("    client-key-data: ") && text.contains("current-context: stand-in"), "\(text)")
        let account = try api.writeServiceAccount(to: directory.appendingPathComponent("serviceaccount"))
        #expect(try String(contentsOf: account.appendingPathComponent("token"), encoding: .utf8) == "second-token")

        try api.deny(["list:secrets:default"])
        #expect(split(try get(api, "/api/v1/namespaces/default/secrets", token: api.token)).status == 403)
        try api.allow()
        #expect(split(try get(api, "/api/v1/namespaces/default/secrets", token: api.token)).status == 200)
    }
}
