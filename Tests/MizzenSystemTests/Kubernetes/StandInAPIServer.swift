import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The stand-in Kubernetes API server (`Peers/kube_apiserver.py`) for one test: HTTPS on a free
/// loopback port with real list/watch semantics, and its control API to change the cluster and
/// break things. Killed on `stop()`, on deinit, and when the test process exits.
///
/// ```swift
/// let api = try StandInAPIServer.start()
/// let applied = try api.apply(bookinfoYAML)          // RVs, and when the watches got the events
/// let kubeconfig = try api.writeKubeconfig(to: dir.appendingPathComponent("kubeconfig").path)
/// ```
final class StandInAPIServer: @unchecked Sendable {
    /// One object `apply` wrote (or found unchanged: no new RV and no event, as kube-apiserver).
    struct AppliedObject: Decodable, Sendable {
        var apiVersion: String
        var kind: String
        var namespace: String?
        var name: String
        var resourceVersion: String
        /// "created", "updated" or "unchanged".
        var action: String
    }

    /// What a control-API write did.
    struct AppliedResult: Sendable {
        /// The cluster's resourceVersion after the write.
        var resourceVersion: String
        /// Wall-clock time (Unix epoch, ns) at which the last event was handed to the open watches.
        var eventTimeNanoseconds: UInt64
        var objects: [AppliedObject]
        /// Each object's resourceVersion, in the order of the documents.
        var resourceVersions: [String] { objects.map(\.resourceVersion) }
        /// `eventTimeNanoseconds` as a Date.
        var eventTime: Date { Date(timeIntervalSince1970: Double(eventTimeNanoseconds) / 1e9) }
    }

    /// One API request the stand-in answered (`GET /requests`).
    struct RequestRecord: Decodable, Sendable {
        /// Unix epoch seconds.
        var time: Double
        var method: String
        var path: String
        /// The raw query string (`watch=1&resourceVersion=12`).
        var query: String
        /// The authenticated user (the token's user, or the client certificate's CN); nil on 401.
        var user: String?
        var status: Int
        var watch: Bool
        var verb: String?
        var resource: String?
        var namespace: String?

        /// The last value of a query parameter, percent-decoded.
        func parameter(_ name: String) -> String? {
            var value: String?
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.first.map(String.init)?.removingPercentEncoding == name else { continue }
                value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding : ""
            }
            return value
        }
    }

    /// `https://127.0.0.1:PORT`.
    let url: String
    let port: Int
    /// The control API's port (plain HTTP on 127.0.0.1).
    let controlPort: Int
    /// The CA that signed the server certificate (and the client certificate).
    let caFile: String
    /// A client certificate and key the server accepts when started with `clientCA: true`
    /// (user `mizzen-test-client`, group `system:masters`).
    let clientCertificateFile: String
    let clientKeyFile: String
    /// A client certificate from an unrelated CA: refused in the TLS handshake.
    let untrustedClientCertificateFile: String
    let untrustedClientKeyFile: String
    let directory: URL
    let background: BackgroundProcess
    private let tokenFile: String?
    private let lock = NSLock()
    private var currentToken: String

    /// The bearer token clients should send (the first of `tokens`, or the last rotated one).
    var token: String {
        lock.lock()
        defer { lock.unlock() }
        return currentToken
    }

    static let script = Harness.peers.appendingPathComponent("kube_apiserver.py")

    /// The stand-in's PKI, made once per test process with Peers/kube_certs.sh.
    static let certificates: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-kube-certs-\(getpid())")
        let result = try? Harness.run("/bin/bash", [Harness.peers.appendingPathComponent("kube_certs.sh").path, directory.path], timeout: 60)
        precondition(result?.status == 0, "kube_certs.sh failed: \(result?.stderr ?? "did not run")")
        return directory
    }()

    /// Starts a stand-in and waits until it listens.
    /// - Parameters:
    ///   - seed: objects loaded before it listens: each element is YAML/JSON text (one object, a
    ///     List or several documents) or the path of a file or folder of them.
    ///   - tokens: accepted bearer tokens (`TOKEN` or `TOKEN,USER`; the user defaults to `token-user`).
    ///   - tokenFile: take the tokens from a file re-read on every request (see `rotateToken`).
    ///   - clientCA: accept client certificates signed by the stand-in's CA (user = CN).
    ///   - history: events kept per resource for watches (default 1000); older RVs get 410.
    ///   - extraArguments: e.g. `["--bookmark-interval", "0.2", "--min-request-timeout", "2", "--deny", "list:secrets"]`.
    static func start(seed: [String] = [], tokens: [String] = ["test-token"], tokenFile: Bool = false, clientCA: Bool = false,
                      history: Int? = nil, extraArguments: [String] = []) throws -> StandInAPIServer {
        let directory = try Harness.temporaryDirectory("kube-apiserver")
        let certificates = Self.certificates
        func cert(_ name: String) -> String { certificates.appendingPathComponent(name).path }
        var arguments = [script.path, "--port", "0", "--control-port", "0",
                         "--ready-file", directory.appendingPathComponent("ready.json").path,
                         "--tls-cert", cert("server.crt"), "--tls-key", cert("server.key"),
                         "--parent-pid", String(getpid())]
        var tokenPath: String?
        if tokenFile {
            let path = directory.appendingPathComponent("token").path
            try (tokens.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            arguments += ["--token-file", path]
            tokenPath = path
        } else {
            for token in tokens { arguments += ["--token", token] }
        }
        if clientCA { arguments += ["--client-ca", cert("ca.crt")] }
        if let history { arguments += ["--history", String(history)] }
        for (index, item) in seed.enumerated() {
            if !item.contains("\n"), FileManager.default.fileExists(atPath: item) {
                arguments += ["--seed", item]
            } else {
                let path = directory.appendingPathComponent("seed-\(index).yaml")
                try item.write(to: path, atomically: true, encoding: .utf8)
                arguments += ["--seed", path.path]
            }
        }
        let background = try BackgroundProcess("python3", arguments + extraArguments)
        let readyFile = directory.appendingPathComponent("ready.json")
        let deadline = Date().addingTimeInterval(30)
        var ports: (Int, Int)?
        while Date() < deadline {
            if let data = try? Data(contentsOf: readyFile),
               let ready = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let port = ready["port"] as? Int, let control = ready["control_port"] as? Int {
                ports = (port, control)
                break
            }
            if !background.process.isRunning { break }
            usleep(20_000)
        }
        guard let (port, controlPort) = ports else {
            background.stop()
            throw HarnessError("kube_apiserver.py did not start: \(background.errors)")
        }
        return StandInAPIServer(port: port, controlPort: controlPort, directory: directory, background: background,
                                token: tokens.first?.split(separator: ",").first.map(String.init) ?? "", tokenFile: tokenPath)
    }

    private init(port: Int, controlPort: Int, directory: URL, background: BackgroundProcess, token: String, tokenFile: String?) {
        self.port = port
        self.controlPort = controlPort
        self.url = "https://127.0.0.1:\(port)"
        self.directory = directory
        self.background = background
        self.currentToken = token
        self.tokenFile = tokenFile
        let certificates = Self.certificates
        caFile = certificates.appendingPathComponent("ca.crt").path
        clientCertificateFile = certificates.appendingPathComponent("client.crt").path
        clientKeyFile = certificates.appendingPathComponent("client.key").path
        untrustedClientCertificateFile = certificates.appendingPathComponent("untrusted-client.crt").path
        untrustedClientKeyFile = certificates.appendingPathComponent("untrusted-client.key").path
    }

    // MARK: Changing the cluster

    /// Creates or replaces every object in `yaml` (YAML or JSON: one object, a List, or several
    /// documents; missing namespaces are created) in one step, without preconditions.
    @discardableResult
    func apply(_ yaml: String) throws -> AppliedResult {
        let answer = try controlJSON("POST", "/objects", body: Data(yaml.utf8), timeout: 120)
        return try Self.result(answer)
    }

    /// Deletes one object (`namespace` nil for cluster-scoped kinds); throws when it is absent.
    @discardableResult
    func delete(plural: String, namespace: String?, name: String) throws -> AppliedResult {
        let path = "/objects/\(plural)/\(namespace ?? "_")/\(name)"
        return try Self.result(controlJSON("DELETE", path))
    }

    private static func result(_ answer: Any) throws -> AppliedResult {
        guard let object = answer as? [String: Any], let rv = object["resourceVersion"] as? String else {
            throw HarnessError("unexpected control answer: \(answer)")
        }
        let time = (object["eventTimeNs"] as? Int).map { UInt64($0) } ?? (object["eventTimeNs"] as? NSNumber)?.uint64Value ?? 0
        var objects: [AppliedObject] = []
        if let list = object["objects"] {
            let data = try JSONSerialization.data(withJSONObject: list)
            objects = try JSONDecoder().decode([AppliedObject].self, from: data)
        }
        return AppliedResult(resourceVersion: rv, eventTimeNanoseconds: time, objects: objects)
    }

    /// Drops all watch history: watching or paging from any earlier resourceVersion now gets
    /// 410 Expired. Returns the current resourceVersion (still watchable).
    @discardableResult
    func compact() throws -> String {
        let answer = try controlJSON("POST", "/compact") as? [String: Any]
        return answer?["resourceVersion"] as? String ?? ""
    }

    /// Aborts every open watch mid-stream (the socket closes without the final chunk).
    /// Returns how many there were.
    @discardableResult
    func breakWatches() throws -> Int {
        (try controlJSON("POST", "/break-watches") as? [String: Any])?["watches"] as? Int ?? 0
    }

    /// Sends every open watch an ERROR event (410 Expired) and ends it cleanly.
    @discardableResult
    func errorWatches() throws -> Int {
        (try controlJSON("POST", "/error-watches") as? [String: Any])?["watches"] as? Int ?? 0
    }

    /// Closes the listener and every API connection: connections are refused for `seconds`,
    /// then the server listens again on the same port. Returns once the listener is closed.
    func down(seconds: Double) throws {
        _ = try controlJSON("POST", "/down?seconds=\(seconds)")
    }

    /// Ends a `down` early.
    func up() throws {
        _ = try controlJSON("POST", "/up")
    }

    /// Adds RBAC-like refusals (`VERB:RESOURCE[:NAMESPACE]`, `*` for any verb or resource): 403.
    func deny(_ rules: [String]) throws {
        _ = try controlJSON("POST", "/deny", body: try JSONSerialization.data(withJSONObject: ["rules": rules]))
    }

    /// Removes the given rules, or all of them when `rules` is empty.
    func allow(_ rules: [String] = []) throws {
        let body = rules.isEmpty ? nil : try JSONSerialization.data(withJSONObject: ["rules": rules])
        _ = try controlJSON("DELETE", "/deny", body: body)
    }

    /// The next `count` list requests that carry a continue token get 410 Expired, as when a
    /// compaction passed the list's version between two of its pages.
    func expireContinues(count: Int = 1) throws {
        _ = try controlJSON("POST", "/expire-continue?count=\(count)")
    }

    /// Replaces the accepted token (started with `tokenFile: true`): the old one gets 401 from
    /// the next request on, as after a projected token's rotation.
    func rotateToken(to newToken: String) throws {
        guard let tokenFile else { throw HarnessError("rotateToken needs start(tokenFile: true)") }
        try (newToken + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        lock.lock()
        currentToken = newToken
        lock.unlock()
    }

    // MARK: Observing

    /// Every API request answered so far (oldest first; the last 100,000 are kept).
    func requests() throws -> [RequestRecord] {
        let (status, data) = try control("GET", "/requests")
        guard status == 200 else { throw HarnessError("GET /requests: \(status)") }
        return try JSONDecoder().decode([RequestRecord].self, from: data)
    }

    func clearRequests() throws {
        _ = try controlJSON("DELETE", "/requests")
    }

    /// Open watches per resource plural (every resource listed, 0 included).
    func openWatches() throws -> [String: Int] {
        (try controlJSON("GET", "/watches") as? [String: Int]) ?? [:]
    }

    /// Object counts per resource plural.
    func objectCounts() throws -> [String: Int] {
        ((try controlJSON("GET", "/state") as? [String: Any])?["objects"] as? [String: Int]) ?? [:]
    }

    // MARK: Client configuration

    /// Writes a kubeconfig for this server (CA as certificate-authority-data; the bearer token,
    /// or the client certificate and key as *-data) and returns its path.
    @discardableResult
    func writeKubeconfig(to path: String, clientCertificate: Bool = false, namespace: String = "default") throws -> String {
        func base64(_ file: String) throws -> String { try Data(contentsOf: URL(fileURLWithPath: file)).base64EncodedString() }
        let user = clientCertificate
            ? "    client-certificate-data: \(try base64(clientCertificateFile))\n    client-key-data: \(try base64(clientKeyFile))\n"
            : "    token: \(token)\n"
        let text = """
        apiVersion: v1
        kind: Config
        current-context: stand-in
        clusters:
        - name: stand-in
          cluster:
            server: \(url)
            certificate-authority-data: \(try base64(caFile))
        contexts:
        - name: stand-in
          context:
            cluster: stand-in
            user: stand-in
            namespace: \(namespace)
        users:
        - name: stand-in
          user:
        \(user)
        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Writes the in-cluster service-account files (`token`, `ca.crt`, `namespace`) into
    /// `directory`, as mounted at /var/run/secrets/kubernetes.io/serviceaccount, and returns it.
    @discardableResult
    func writeServiceAccount(to directory: URL, namespace: String = "istio-system") throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try token.write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try Data(contentsOf: URL(fileURLWithPath: caFile)).write(to: directory.appendingPathComponent("ca.crt"))
        try namespace.write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        return directory
    }

    /// The in-cluster environment for this server (`KUBERNETES_SERVICE_HOST`/`_PORT`).
    var inClusterEnvironment: [String: String] {
        ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(port)]
    }

    // MARK: Lifetime

    func stop() {
        background.stop()
    }

    deinit {
        background.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Control API transport

    /// One request to the control API (HTTP/1.1, `Connection: close`): its status and body.
    func control(_ method: String, _ path: String, body: Data? = nil, timeout: Double = 30) throws -> (status: Int, body: Data) {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(controlPort)\r\nConnection: close\r\n"
        request += "Content-Length: \(body?.count ?? 0)\r\n\r\n"
        var bytes = Array(request.utf8)
        if let body { bytes += body }
        let response = RawSocket.exchange(port: controlPort, bytes, timeout: timeout)
        guard let status = RawSocket.status(response),
              let end = response.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw HarnessError("control API \(method) \(path): no answer (\(response.count) bytes)")
        }
        return (status, Data(response[end.upperBound...]))
    }

    private func controlJSON(_ method: String, _ path: String, body: Data? = nil, timeout: Double = 30) throws -> Any {
        let (status, data) = try control(method, path, body: body, timeout: timeout)
        guard status == 200 else {
            throw HarnessError("control API \(method) \(path): \(status) \(String(decoding: data, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: data)
    }
}
