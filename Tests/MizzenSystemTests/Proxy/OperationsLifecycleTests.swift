import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's life as Kubernetes drives it, through the binary: SIGTERM drains under load
/// (readiness fails at once, connections are told to close, new ones are still accepted for
/// `--drain-duration`, HTTP/2 gets GOAWAY, then exit 0); configuration and certificates
/// change on disk and are picked up without a signal (an edited file, a ConfigMap volume's
/// `..data` swap, a rotated TLS secret); a broken edit is rejected and counted while the
/// previous configuration serves; listeners come and go with the Gateway's servers; fifty
/// watched reloads under load lose no request. Serialized: the drain and load tests measure
/// time and count every request on a two-core machine, and they run better alone.
@Suite(.serialized)
struct OperationsLifecycleTests {
    // MARK: Helpers

    /// Replaces `file` as an editor or `kubectl cp` does: the new text is written outside the
    /// watched directory (on the same filesystem) and renamed over the old file, so the
    /// watcher sees one change and never a half-written file.
    static func replace(_ file: URL, with text: String) throws {
        let staging = try Harness.temporaryDirectory("staging")
        defer { try? FileManager.default.removeItem(at: staging) }
        let written = staging.appendingPathComponent(file.lastPathComponent)
        try text.write(to: written, atomically: false, encoding: .utf8)
        try move(written, to: file)
    }

    /// rename(2): atomic on one filesystem.
    static func move(_ source: URL, to destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            throw HarnessError("rename \(source.path) -> \(destination.path): \(String(cString: strerror(errno)))")
        }
    }

    /// A Gateway `default/edge` with an HTTP server on each of `ports`, for every host.
    static func gatewayYAML(ports: [UInt32]) -> String {
        let servers = ports.map { "  - port: {number: \($0), name: http-\($0), protocol: HTTP}\n    hosts: [\"*\"]" }.joined(separator: "\n")
        return """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
        \(servers)
        """
    }

    /// A VirtualService `name` bound to `edge` for `host`, answering each exact path itself.
    static func answers(_ name: String, host: String, _ routes: [(path: String, body: String)]) -> String {
        let http = routes.map { "  - match: [{uri: {exact: \($0.path)}}]\n    directResponse: {status: 200, body: {string: \"\($0.body)\"}}" }
            .joined(separator: "\n")
        return """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [\(host)]
          gateways: [edge]
          http:
        \(http)
        """
    }

    static func closes(_ response: LoadResponse) -> Bool {
        response.headers.contains { $0.name.lowercased() == "connection" && $0.value.lowercased() == "close" }
    }

    /// The local ports `/listeners` shows (`NAME::HOST:PORT` lines).
    static func listenerPorts(_ gateway: GatewayProcess) throws -> Set<Int> {
        let body = try AdminEndpointTests.admin(gateway.adminPort, "/listeners").body
        return Set(body.split(separator: "\n").compactMap { line in
            line.lastIndex(of: ":").flatMap { Int(line[line.index(after: $0)...]) }
        })
    }

    /// Publishes `text` as `file` of a Kubernetes ConfigMap volume the way the kubelet's
    /// AtomicWriter does: a new `..<timestamp>` directory, a `..data_tmp` symlink to it renamed
    /// over `..data`, the visible `file -> ..data/file` symlink made once, the old directory
    /// removed.
    static func publishConfigMap(_ volume: URL, file: String, text: String, version: String) throws {
        let manager = FileManager.default
        let data = volume.appendingPathComponent(version)
        try manager.createDirectory(at: data, withIntermediateDirectories: false)
        try text.write(to: data.appendingPathComponent(file), atomically: false, encoding: .utf8)
        let link = volume.appendingPathComponent("..data")
        let previous = try? manager.destinationOfSymbolicLink(atPath: link.path)
        let temporary = volume.appendingPathComponent("..data_tmp")
        try manager.createSymbolicLink(atPath: temporary.path, withDestinationPath: version)
        try move(temporary, to: link)
        let visible = volume.appendingPathComponent(file)
        if (try? manager.destinationOfSymbolicLink(atPath: visible.path)) == nil {
            try manager.createSymbolicLink(atPath: visible.path, withDestinationPath: "..data/\(file)")
        }
        if let previous, previous != version {
            try manager.removeItem(at: volume.appendingPathComponent(previous))
        }
    }

    /// A new EC key and a certificate for `san` with `subject`, signed by the test CA, in a
    /// directory of their own (as `tls.crt` and `tls.key`).
    static func newServerCertificate(subject: String, san: String) throws -> (certificate: URL, key: URL) {
        let certs = Harness.certificates
        let work = try Harness.temporaryDirectory("rotated-cert")
        let key = work.appendingPathComponent("tls.key")
        let request = work.appendingPathComponent("tls.csr")
        let extensions = work.appendingPathComponent("tls.ext")
        let certificate = work.appendingPathComponent("tls.crt")
        func openssl(_ arguments: [String]) throws {
            let run = try Harness.run("openssl", arguments, timeout: 30)
            guard run.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")): \(run.stderr)") }
        }
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.path])
        try openssl(["req", "-new", "-key", key.path, "-subj", subject, "-config", "/dev/null", "-out", request.path])
        try """
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = \(san)

        """.write(to: extensions, atomically: true, encoding: .utf8)
        let serial = "0x" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        try openssl(["x509", "-req", "-in", request.path, "-CA", certs.appendingPathComponent("ca.crt").path,
                     "-CAkey", certs.appendingPathComponent("ca.key").path, "-set_serial", serial, "-days", "30", "-sha256",
                     "-extfile", extensions.path, "-out", certificate.path])
        return (certificate, key)
    }

    /// What `openssl s_client` sees on 127.0.0.1:`port` with SNI `bookinfo.example.com`: the
    /// server certificate (PEM) and the whole output.
    static func presentedCertificate(port: Int) throws -> (pem: String, output: String) {
        let output = try Harness.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "bookinfo.example.com",
                                                 "-CAfile", Harness.certificates.appendingPathComponent("ca.crt").path, "-verify_return_error"],
                                     timeout: 15, stdin: Data("Q\n".utf8))
        let text = output.stdout
        guard let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex) else { return ("", text + output.stderr) }
        return (String(text[begin.lowerBound..<end.upperBound]) + "\n", text)
    }

    /// The SHA-256 fingerprint of a PEM certificate ("" for none).
    static func fingerprint(_ pem: String) throws -> String {
        guard !pem.isEmpty else { return "" }
        let run = try Harness.run("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], timeout: 10, stdin: Data(pem.utf8))
        return run.status == 0 ? run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// Load batches run one after another until `stop`; their responses, or the first error.
    final class LoadRecorder: @unchecked Sendable {
        private let lock = NSLock()
        private var collected: [LoadResponse] = []
        private var failure: (any Error)?
        private var stopping = false

        var stopped: Bool { lock.lock(); defer { lock.unlock() }; return stopping }
        func stop() { lock.lock(); stopping = true; lock.unlock() }
        func add(_ responses: [LoadResponse]) { lock.lock(); collected += responses; lock.unlock() }
        func fail(_ error: any Error) { lock.lock(); failure = error; lock.unlock() }

        func responses() throws -> [LoadResponse] {
            lock.lock()
            defer { lock.unlock() }
            if let failure { throw failure }
            return collected
        }
    }

    static let rejectedSeries = #"mizzen_config_reloads_total{result="rejected"}"#
    static let succeededSeries = #"mizzen_config_reloads_total{result="success"}"#

    // MARK: SIGTERM

    /// SIGTERM with `--drain-duration 2` while four keep-alive clients send requests and an
    /// HTTP/2 client holds an idle connection: readiness fails at once; no request fails;
    /// answers before the signal keep their connection, every answer during the drain carries
    /// `Connection: close` and the clients' new connections are accepted; a new client during
    /// the window is served; the HTTP/2 client gets GOAWAY (NO_ERROR) and its connection
    /// closed; the process exits 0 about the drain duration after the signal.
    @Test func sigtermDrainsUnderLoadWithoutFailingARequest() throws {
        let log = try UpstreamLog()
        let upstream = try Peer("upstream.py", ["--name", "drain", "--log", log.url.path])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("drain.test", [upstream.port]), EdgeConfig.virtualService("drain.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], extraArguments: ["--drain-duration", "2"])
        defer { gateway.stop() }
        let port = gateway.port(8080)

        let h2Token = Traffic.token()
        let h2 = try BackgroundProcess("python3", [Harness.peers.appendingPathComponent("h2_idle.py").path, "--port", String(port),
                                                   "--authority", "drain.test", "--path", "/h2/\(h2Token)", "--wait", "15"])
        defer { h2.stop() }
        try #require(log.waitForRequests(containing: h2Token, count: 1, timeout: 10).count == 1, "the HTTP/2 request reached the upstream: \(h2.errors)")

        // About 0.5 s of requests in all, begun before the signal and done well inside the
        // 2 s window (once the listeners close, a client's reconnect would be refused).
        let perConnection = 30
        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "drain.test", path: "/drain/{n}", connections: 4, requests: perConnection,
                                                  pauseMilliseconds: 15, timeout: 30) })
        }
        try #require(log.waitForRequests(containing: "/drain/", count: 8, timeout: 10).count >= 8, "the load is under way")
        let sigterm = Date()
        kill(gateway.background.process.processIdentifier, SIGTERM)

        let unready = try AdminEndpointTests.eventually(timeout: 1) { try AdminEndpointTests.readiness(gateway).status == 503 }
        #expect(unready, "readiness fails at once after SIGTERM")
        let fresh = try Traffic.send(port, host: "drain.test", "/fresh")
        let freshAfter = Date().timeIntervalSince(sigterm)
        #expect(fresh.status == 200, "a new connection \(freshAfter) s into the drain is accepted: \(fresh.summary)")
        #expect(AdminEndpointTests.closes(fresh), "and its answer closes it: \(fresh.summary)")

        #expect(group.wait(timeout: .now() + 30) == .success)
        let responses = try results.get()
        let failed = responses.filter { $0.status != 200 || $0.error != nil }
        #expect(responses.count == 4 * perConnection)
        #expect(failed.isEmpty, "\(failed.count) failed: \(failed.prefix(3).map { "\($0.status) \($0.error ?? $0.body.prefix(100).description)" })")
        // At least four requests were answered before the signal (eight had reached the
        // upstream, at most one in flight per client): those kept their connection.
        #expect(responses.filter { !Self.closes($0) }.count >= 4, "answers before SIGTERM keep the connection")
        for connection in 0..<4 {
            let flags = responses.filter { $0.connection == connection }.sorted { $0.index < $1.index }.map(Self.closes)
            #expect(flags.last == true, "client \(connection)'s last answer came during the drain and closes: \(flags)")
            #expect(flags.drop(while: { !$0 }).allSatisfy { $0 }, "once closing, every later answer closes too: \(flags)")
        }
        #expect(responses.contains { $0.index > 0 && $0.newConnection }, "clients reconnected during the drain and were served")
        // By the upstream's clock: every request that arrived a moment after the signal was
        // answered with Connection: close.
        var arrivals: [Int: Double] = [:]
        for entry in log.requests(containing: "/drain/") {
            guard let target = entry["target"] as? String, let number = Int(target.dropFirst("/drain/".count)),
                  let time = entry["time"] as? Double else { continue }
            arrivals[number] = time
        }
        let during = responses.filter { (arrivals[$0.connection * perConnection + $0.index] ?? 0) > sigterm.timeIntervalSince1970 + 0.25 }
        #expect(!during.isEmpty, "requests arrived during the drain")
        #expect(during.allSatisfy { Self.closes($0) }, "\(during.filter { !Self.closes($0) }.count) of \(during.count) answers during the drain kept the connection")

        let exited = AdminEndpointTests.eventually(timeout: 12) { !gateway.background.process.isRunning }
        let exitAfter = Date().timeIntervalSince(sigterm)
        try #require(exited, "still running 12 s after SIGTERM: \(gateway.background.errors.suffix(2000))")
        #expect(gateway.background.exitStatus == 0)
        #expect(exitAfter >= 1.5 && exitAfter <= 10, "exited \(exitAfter) s after SIGTERM with a 2 s drain duration")

        _ = AdminEndpointTests.eventually(timeout: 5) { !h2.process.isRunning }
        let idle = Traffic.json(h2.output)
        #expect(idle["status"] as? Int == 200, "\(h2.output) \(h2.errors)")
        #expect(idle["goaway"] as? Int == 0, "the HTTP/2 connection got GOAWAY (NO_ERROR): \(h2.output)")
        #expect(idle["ok"] as? Bool == true, "and was closed: \(h2.output)")
    }

    // MARK: Watched files

    /// A file replaced by rename, then one rewritten in place: each is served within seconds,
    /// with no signal sent.
    @Test func anEditedFileIsServedWithoutSIGHUP() throws {
        let base = Self.gatewayYAML(ports: [8080]) + "\n"
        let gateway = try GatewayProcess(yaml: base + Self.answers("watched", host: "watch.test", [("/version", "one")]), gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let file = gateway.directory.appendingPathComponent("config.yaml")
        #expect(try Traffic.send(port, host: "watch.test", "/version").body == "one")
        #expect(try Traffic.send(port, host: "watch.test", "/added").status == 404)

        try Self.replace(file, with: base + Self.answers("watched", host: "watch.test", [("/version", "two"), ("/added", "added")]))
        let added = try AdminEndpointTests.eventually { try Traffic.send(port, host: "watch.test", "/added").body == "added" }
        #expect(added, "the new route answers: \(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(port, host: "watch.test", "/version").body == "two")
        #expect(gateway.background.waitFor(timeout: 2) { $0.contains("configuration reloaded (generation 2)") })

        // Rewritten in place (truncated, then written), as a shell redirect does.
        try (base + Self.answers("watched", host: "watch.test", [("/version", "three")])).write(to: file, atomically: false, encoding: .utf8)
        let rewritten = try AdminEndpointTests.eventually { try Traffic.send(port, host: "watch.test", "/version").body == "three" }
        #expect(rewritten, "\(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(port, host: "watch.test", "/added").status == 404, "the removed route is gone")
        FaultToleranceTests.requireRunning(gateway)
    }

    /// A ConfigMap volume (`file -> ..data/file`, `..data -> ..<timestamp>`) updated by the
    /// `..data` swap is reloaded; the file is loaded once, through its visible name.
    @Test func aConfigMapVolumeSwapIsReloaded() throws {
        let volume = try Harness.temporaryDirectory("configmap")
        defer { try? FileManager.default.removeItem(at: volume) }
        func routes(_ body: String) -> String { Self.answers("configmap-routes", host: "cm.test", [("/version", body)]) }
        try Self.publishConfigMap(volume, file: "routes.yaml", text: routes("one"), version: "..2026_01_01_00_00_00.000000001")
        let gateway = try GatewayProcess(yaml: Self.gatewayYAML(ports: [8080]), gatewayPorts: [8080], extraArguments: ["--config", volume.path])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(try Traffic.send(port, host: "cm.test", "/version").body == "one")

        try Self.publishConfigMap(volume, file: "routes.yaml", text: routes("two"), version: "..2026_01_01_00_01_00.000000002")
        let swapped = try AdminEndpointTests.eventually { try Traffic.send(port, host: "cm.test", "/version").body == "two" }
        #expect(swapped, "the swapped ..data is served: \(gateway.background.errors.suffix(1500))")

        let objects = try AdminEndpointTests.admin(gateway.adminPort, "/config_dump").json["objects"] as? [[String: Any]] ?? []
        let loaded = objects.filter { $0["name"] as? String == "configmap-routes" }
        #expect(loaded.count == 1, "loaded once, not again from the ..data directories: \(loaded.map { $0["source"] ?? "?" })")
        #expect((loaded.first?["source"] as? String)?.hasPrefix(volume.appendingPathComponent("routes.yaml").path + ":") == true,
                "\(loaded.map { $0["source"] ?? "?" })")
        FaultToleranceTests.requireRunning(gateway)
    }

    /// A file that is not YAML, then one with an invalid object: each reload is rejected and
    /// counted (stats port), the previous routes keep answering; a valid edit after them is
    /// applied.
    @Test func aRejectedEditKeepsServingAndIsCounted() throws {
        let base = Self.gatewayYAML(ports: [8080]) + "\n"
        let valid = base + Self.answers("kept", host: "kept.test", [("/kept", "kept")])
        let gateway = try GatewayProcess(yaml: valid, gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let file = gateway.directory.appendingPathComponent("config.yaml")
        let initial = try AdminEndpointTests.scrape(gateway)
        #expect(AdminEndpointTests.sample(initial, Self.rejectedSeries) == 0, "\(initial.prefix(2000))")
        #expect(AdminEndpointTests.sample(initial, Self.succeededSeries) == 0)
        #expect(AdminEndpointTests.sample(initial, "mizzen_config_generation") == 1)

        func rejected(_ count: Int) throws -> Bool {
            try AdminEndpointTests.eventually { try AdminEndpointTests.sample(AdminEndpointTests.scrape(gateway), Self.rejectedSeries) == Double(count) }
        }
        try Self.replace(file, with: "spec: [unclosed\n  - {")
        #expect(try rejected(1), "the broken YAML is counted: \(gateway.background.errors.suffix(1500))")
        #expect(gateway.background.errors.contains("reload rejected, still serving generation 1"), "\(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(port, host: "kept.test", "/kept").body == "kept")

        try Self.replace(file, with: valid + """

        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: broken, namespace: default}
        spec:
          hosts: [broken.test]
          gateways: [edge]
          http:
          - route: [{destination: {host: broken.test, port: {number: 80}}, weight: -5}]
        """)
        #expect(try rejected(2), "the invalid object is counted: \(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(port, host: "kept.test", "/kept").body == "kept")
        let afterRejects = try AdminEndpointTests.scrape(gateway)
        #expect(AdminEndpointTests.sample(afterRejects, "envoy_listener_manager_lds_update_rejected") == 2)
        #expect(AdminEndpointTests.sample(afterRejects, Self.succeededSeries) == 0)
        #expect(AdminEndpointTests.sample(afterRejects, "mizzen_config_generation") == 1)

        try Self.replace(file, with: base + Self.answers("kept", host: "kept.test", [("/kept", "fixed")]))
        let fixed = try AdminEndpointTests.eventually { try Traffic.send(port, host: "kept.test", "/kept").body == "fixed" }
        #expect(fixed, "a valid edit after the rejected ones is applied: \(gateway.background.errors.suffix(1500))")
        let final = try AdminEndpointTests.scrape(gateway)
        #expect(AdminEndpointTests.sample(final, Self.succeededSeries) == 1)
        #expect(AdminEndpointTests.sample(final, Self.rejectedSeries) == 2)
        #expect(AdminEndpointTests.sample(final, "mizzen_config_generation") == 2)
        FaultToleranceTests.requireRunning(gateway)
    }

    /// A Gateway server removed by an edit closes its listener; added back, a listener is bound
    /// again (its port logged and shown by `/listeners`) and serves; the other one serves
    /// throughout.
    @Test func aReloadRemovesAndAddsListeners() throws {
        let routes = Self.answers("ports", host: "\"*\"", [("/port", "answered")])
        let both = Self.gatewayYAML(ports: [8080, 9090]) + "\n" + routes
        let gateway = try GatewayProcess(yaml: both, gatewayPorts: [8080, 9090])
        defer { gateway.stop() }
        let file = gateway.directory.appendingPathComponent("config.yaml")
        let first = gateway.port(8080), second = gateway.port(9090)
        #expect(try Traffic.send(first, host: "ports.test", "/port").body == "answered")
        #expect(try Traffic.send(second, host: "ports.test", "/port").body == "answered")
        #expect(try Self.listenerPorts(gateway) == [first, second])

        try Self.replace(file, with: Self.gatewayYAML(ports: [8080]) + "\n" + routes)
        let closed = try AdminEndpointTests.eventually { try Traffic.send(second, host: "ports.test", "/port").status == 0 }
        #expect(closed, "the removed server's listener is closed: \(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(first, host: "ports.test", "/port").body == "answered")
        #expect(try Self.listenerPorts(gateway) == [first])

        try Self.replace(file, with: both)
        var ports: Set<Int> = []
        let reopened = try AdminEndpointTests.eventually {
            ports = try Self.listenerPorts(gateway)
            return ports.count == 2
        }
        #expect(reopened, "\(ports) \(gateway.background.errors.suffix(1500))")
        let added = try #require(ports.subtracting([first]).first)
        #expect(try Traffic.send(added, host: "ports.test", "/port").body == "answered")
        #expect(gateway.background.waitFor(timeout: 2) { $0.contains("listening on 127.0.0.1:\(added) (gateway port 9090") },
                "the new listener's port is logged: \(gateway.background.errors.suffix(1500))")
        #expect(try Traffic.send(first, host: "ports.test", "/port").body == "answered")
    }

    /// A TLS secret mounted under `--credentials` gets a new key and certificate: new
    /// handshakes present the new certificate (verified against the CA), with no restart.
    @Test func aRotatedCertificateIsServedWithoutRestart() throws {
        let certs = Harness.certificates
        let credentials = try Harness.temporaryDirectory("credentials")
        defer { try? FileManager.default.removeItem(at: credentials) }
        let secret = credentials.appendingPathComponent("rotating-credential")
        try FileManager.default.createDirectory(at: secret, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: certs.appendingPathComponent("bookinfo.crt"), to: secret.appendingPathComponent("tls.crt"))
        try FileManager.default.copyItem(at: certs.appendingPathComponent("bookinfo.key"), to: secret.appendingPathComponent("tls.key"))
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: ["*"]
            tls: {mode: SIMPLE, credentialName: rotating-credential}
        """ + "\n" + Self.answers("secure", host: "\"*\"", [("/secure", "secure")])
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8443], extraArguments: ["--credentials", credentials.path])
        defer { gateway.stop() }
        let port = gateway.port(8443)
        let pid = gateway.background.process.processIdentifier
        let original = try Self.fingerprint(String(contentsOf: secret.appendingPathComponent("tls.crt"), encoding: .utf8))
        let before = try Self.presentedCertificate(port: port)
        #expect(try Self.fingerprint(before.pem) == original, "\(before.output.prefix(800))")

        let rotated = try Self.newServerCertificate(subject: "/O=Mizzen Rotated/CN=bookinfo.example.com", san: "DNS:bookinfo.example.com")
        defer { try? FileManager.default.removeItem(at: rotated.certificate.deletingLastPathComponent()) }
        let expected = try Self.fingerprint(String(contentsOf: rotated.certificate, encoding: .utf8))
        #expect(!expected.isEmpty && expected != original)
        try Self.move(rotated.key, to: secret.appendingPathComponent("tls.key"))
        try Self.move(rotated.certificate, to: secret.appendingPathComponent("tls.crt"))

        var presented = before
        let served = try AdminEndpointTests.eventually(timeout: 10) {
            presented = try Self.presentedCertificate(port: port)
            return try Self.fingerprint(presented.pem) == expected
        }
        #expect(served, "the rotated certificate is presented: \(presented.output.prefix(800)) \(gateway.background.errors.suffix(1500))")
        #expect(presented.output.contains("Mizzen Rotated"), "\(presented.output.prefix(800))")
        #expect(presented.output.contains("Verify return code: 0"), "\(presented.output.prefix(800))")
        #expect(gateway.background.process.isRunning && gateway.background.process.processIdentifier == pid, "no restart")
        let https = try Harness.curl(["--cacert", certs.appendingPathComponent("ca.crt").path, "--resolve", "bookinfo.example.com:\(port):127.0.0.1",
                                      "https://bookinfo.example.com:\(port)/secure"])
        #expect(https.stdout == "secure", "a request over the new certificate: \(https.stderr)")
    }

    /// Fifty rewrites of the watched file, about 150 ms apart, while four keep-alive clients
    /// send requests: none fails, the traffic sees the configuration change, the last write is
    /// the one served and the generation counts the reloads (the watcher may merge a few).
    @Test func fiftyWatchedReloadsUnderLoadLoseNoRequest() throws {
        let upstream = try Peer("upstream.py", ["--name", "steady"])
        defer { upstream.stop() }
        func configuration(_ round: Int) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("steady.test", [upstream.port]), """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: steady, namespace: default}
            spec:
              hosts: [steady.test]
              gateways: [edge]
              http:
              - headers: {response: {set: {x-config-round: "\(round)"}}}
                route: [{destination: {host: steady.test, port: {number: 80}}}]
            """].joined(separator: "\n")
        }
        let gateway = try GatewayProcess(yaml: configuration(0), gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let file = gateway.directory.appendingPathComponent("config.yaml")

        let recorder = LoadRecorder()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            while !recorder.stopped {
                do {
                    recorder.add(try Traffic.load(port, host: "steady.test", path: "/steady/{n}", connections: 4, requests: 100,
                                                  pauseMilliseconds: 10, timeout: 60))
                } catch {
                    recorder.fail(error)
                    return
                }
            }
        }
        let series = #"envoy_cluster_upstream_rq_total{cluster_name="outbound|80||steady.test"}"#
        let flowing = try AdminEndpointTests.eventually(timeout: 10) { try (AdminEndpointTests.sample(AdminEndpointTests.scrape(gateway), series) ?? 0) > 0 }
        #expect(flowing, "the load is under way before the first write")
        for round in 1...50 {
            try Self.replace(file, with: configuration(round))
            Traffic.pause(0.15)
        }
        recorder.stop()
        #expect(group.wait(timeout: .now() + 60) == .success)
        let responses = try recorder.responses()
        let failed = responses.filter { $0.status != 200 || $0.error != nil }
        #expect(responses.count >= 400, "\(responses.count) requests during the reloads")
        #expect(failed.isEmpty, "\(failed.count) of \(responses.count) failed: \(failed.prefix(3).map { "\($0.status) \($0.error ?? $0.body.prefix(100).description)" })")
        let rounds = Set(responses.compactMap { $0.header("x-config-round") })
        #expect(rounds.count >= 10, "the traffic saw the configuration change: \(rounds.count) rounds")

        let last = try AdminEndpointTests.eventually { try Traffic.send(port, host: "steady.test", "/last").header("x-config-round") == "50" }
        #expect(last, "the last write is served: \(gateway.background.errors.suffix(1500))")
        let info = try AdminEndpointTests.admin(gateway.adminPort, "/server_info").json
        let generation = info["config_generation"] as? Int ?? 0
        #expect(generation >= 40 && generation <= 51, "generation \(generation) after 50 writes")
        let metrics = try AdminEndpointTests.scrape(gateway)
        #expect(AdminEndpointTests.sample(metrics, "mizzen_config_generation") == Double(generation))
        #expect(AdminEndpointTests.sample(metrics, Self.succeededSeries) == Double(generation - 1))
        #expect(AdminEndpointTests.sample(metrics, Self.rejectedSeries) == 0)
        FaultToleranceTests.requireRunning(gateway)
    }
}
