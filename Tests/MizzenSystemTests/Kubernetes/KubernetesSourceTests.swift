import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen gateway --source kubernetes` against the stand-in API server: the first sync, then
/// changes under load with no failed request, the watch broken, expired and the server down,
/// invalid objects among valid ones, Secrets for credentialName, the sync state on the admin
/// port.
@Suite(.serialized)
struct KubernetesSourceTests {
    /// A gateway watching `api`; listeners appear once it has synced.
    final class WatchingGateway: @unchecked Sendable {
        let background: BackgroundProcess
        let directory: URL
        let statusPort: Int
        let adminPort: Int

        init(_ api: StandInAPIServer, clientCertificate: Bool = false, extraArguments: [String] = []) throws {
            directory = try Harness.temporaryDirectory("kube-gateway")
            let kubeconfig = try api.writeKubeconfig(to: directory.appendingPathComponent("kubeconfig").path, clientCertificate: clientCertificate)
            background = try BackgroundProcess(ValidateCommandTests.binary.path,
                                               ["gateway", "--source", "kubernetes", "--kubeconfig", kubeconfig, "--namespace", "istio-system",
                                                "--bind", "127.0.0.1", "--port-map", "8080=0,8443=0", "--concurrency", "2", "--log-level", "info",
                                                "--debounce-after", "50", "--watch-timeout", "20-30"]
                                                   + GatewayProcess.operatorArguments + extraArguments)
            var operators: [String: Int] = [:]
            _ = background.waitFor(timeout: 30) { text in
                operators = GatewayProcess.operatorPorts(text)
                return operators.count == 3
            }
            guard operators.count == 3 else { throw HarnessError("gateway did not start: \(background.errors)") }
            statusPort = operators["status"] ?? 0
            adminPort = operators["admin"] ?? 0
        }

        /// The local port of Gateway port `gatewayPort`, once it is listening.
        func port(_ gatewayPort: Int, timeout: Double = 20) -> Int {
            var found = 0
            _ = background.waitFor(timeout: timeout) { text in
                for line in text.split(separator: "\n") where line.contains("(gateway port \(gatewayPort),") {
                    if let range = line.range(of: "listening on 127.0.0.1:") {
                        found = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                    }
                }
                return found > 0
            }
            return found
        }

        var log: String { background.output + background.errors }

        func ready() -> Int {
            (try? Harness.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(statusPort)/healthz/ready"]))
                .flatMap { Int($0.stdout) } ?? 0
        }

        func configDump() throws -> [String: Any] {
            let output = try Harness.curl(["-s", "http://127.0.0.1:\(adminPort)/config_dump"])
            return (try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any] ?? [:]
        }

        func stop() { background.stop() }

        deinit {
            background.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// A gateway watching a stand-in seeded with the edge Gateway, service `good` (one endpoint:
    /// an upstream that names itself "good") and `objects`; `prepare` runs on the stand-in before
    /// the gateway starts.
    final class GoodService {
        let upstream: Peer
        let api: StandInAPIServer
        let gateway: WatchingGateway
        /// The local port of Gateway port 8080 (0 if it never opened).
        let port: Int

        init(_ objects: [String], prepare: (StandInAPIServer) throws -> Void = { _ in }) throws {
            upstream = try Peer("upstream.py", ["--name", "good"])
            let seed = [KubernetesSourceTests.gateway, KubernetesSourceTests.service("good"),
                        KubernetesSourceTests.slices("good", pods: [("good-a", upstream.port)])] + objects
            do {
                api = try StandInAPIServer.start(seed: [seed.joined(separator: "\n---\n")])
            } catch {
                upstream.stop()
                throw error
            }
            do {
                try prepare(api)
                gateway = try WatchingGateway(api)
            } catch {
                api.stop()
                upstream.stop()
                throw error
            }
            port = gateway.port(8080)
        }

        func stop() {
            gateway.stop()
            api.stop()
            upstream.stop()
        }
    }

    // MARK: Objects

    static let gateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z"}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*/*"]
        """

    /// Gateway `istio-system/tls`: HTTPS on 8443 with the server certificate of `credentialName`.
    static func tlsGateway(credentialName: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: tls, namespace: istio-system}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: ["*/*"]
            tls: {mode: SIMPLE, credentialName: \(credentialName)}
        """
    }

    static func service(_ name: String, namespace: String = "shop") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          clusterIP: 10.96.0.\(abs(name.hashValue) % 200 + 10)
          selector: {app: \(name)}
          ports: [{name: http, port: 80, targetPort: 8080}]
        """
    }

    /// One EndpointSlice per pod of `name` (pod name, local port), each endpoint on 127.0.0.1:
    /// a loopback port stands for a pod, so each slice carries its pod's port; the Pod is found
    /// by the endpoint's targetRef.
    static func slices(_ name: String, pods: [(String, Int)], namespace: String = "shop") -> String {
        pods.map { pod in
            """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(name)-\(pod.0)
              namespace: \(namespace)
              labels: {kubernetes.io/service-name: \(name)}
            addressType: IPv4
            ports: [{name: http, port: \(pod.1), protocol: TCP}]
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true}
              targetRef: {kind: Pod, namespace: \(namespace), name: \(pod.0)}
            """
        }.joined(separator: "\n---\n")
    }

    static func pod(_ name: String, app: String, version: String, address: String, namespace: String = "shop") -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(name), namespace: \(namespace), labels: {app: \(app), version: \(version)}}
        spec:
          serviceAccountName: \(app)
          containers: [{name: app, image: example/app}]
        status: {phase: Running, podIP: \(address), podIPs: [{ip: \(address)}]}
        """
    }

    static func virtualService(_ name: String, host: String, destination: String, subset: String? = nil) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: shop}
        spec:
          hosts: [\(host)]
          gateways: [istio-system/edge]
          http:
          - route:
            - destination: {host: \(destination).shop.svc.cluster.local\(subset.map { ", subset: \($0)" } ?? "")}
        """
    }

    /// Asks `host` until `predicate` holds on the answer (the change is served) or the deadline.
    static func eventually(_ port: Int, host: String, timeout: Double = 10, _ predicate: (Harness.Output) -> Bool) -> Harness.Output? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Harness.Output?
        while Date() < deadline {
            last = try? Harness.curl(["-s", "-i", "-H", "Host: \(host)", "http://127.0.0.1:\(port)/"])
            if let last, predicate(last) { return last }
            usleep(50_000)
        }
        return nil
    }

    static func upstreamName(_ output: Harness.Output) -> String? {
        for line in output.stdout.split(separator: "\r\n") where line.lowercased().hasPrefix("x-upstream:") {
            return line.dropFirst("x-upstream:".count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    // MARK: Tests

    /// Not ready (and no listener) until every kind has been listed; then routes by the synced
    /// objects, subsets by the Pods' labels, and /config_dump shows each object's
    /// resourceVersion and every watch's state.
    @Test func readyAfterFirstSyncThenRoutesBySyncedObjects() throws {
        let v1 = try Peer("upstream.py", ["--name", "reviews-v1"])
        let v2 = try Peer("upstream.py", ["--name", "reviews-v2"])
        defer { v1.stop(); v2.stop() }
        let objects = [Self.gateway, Self.service("reviews"), Self.slices("reviews", pods: [("reviews-v1-a", v1.port), ("reviews-v2-a", v2.port)]),
                       Self.pod("reviews-v1-a", app: "reviews", version: "v1", address: "127.0.0.1"),
                       Self.pod("reviews-v2-a", app: "reviews", version: "v2", address: "127.0.0.2"),
                       """
                       apiVersion: networking.istio.io/v1
                       kind: DestinationRule
                       metadata: {name: reviews, namespace: shop}
                       spec:
                         host: reviews.shop.svc.cluster.local
                         subsets:
                         - {name: v1, labels: {version: v1}}
                         - {name: v2, labels: {version: v2}}
                       """,
                       Self.virtualService("reviews", host: "reviews.example.com", destination: "reviews", subset: "v2")].joined(separator: "\n---\n")
        // VirtualServices cannot be listed at first (as with a ClusterRole not yet bound).
        let api = try StandInAPIServer.start(seed: [objects], extraArguments: ["--deny", "list:virtualservices"])
        defer { api.stop() }
        let gateway = try WatchingGateway(api)
        defer { gateway.stop() }
        #expect(gateway.background.waitFor(timeout: 10) { $0.contains("403 Forbidden") }, "\(gateway.log)")
        #expect(gateway.ready() == 503, "not ready before every kind is listed")
        #expect(!gateway.log.contains("(gateway port 8080"), "no listener before the first sync")
        try api.allow()
        let port = gateway.port(8080)
        #expect(port > 0, "\(gateway.log)")
        #expect(gateway.ready() == 200)
        for _ in 0..<6 {
            let answer = try Harness.curl(["-s", "-i", "-H", "Host: reviews.example.com", "http://127.0.0.1:\(port)/"])
            #expect(Self.upstreamName(answer) == "reviews-v2", "subset v2 selects the pod labelled version=v2: \(answer.stdout.prefix(300))")
        }
        let dump = try gateway.configDump()
        let kubernetes = dump["kubernetes"] as? [String: Any] ?? [:]
        #expect(kubernetes["synced"] as? Bool == true)
        let watches = kubernetes["watches"] as? [[String: Any]] ?? []
        #expect(watches.count == 11, "\(watches)")
        #expect(watches.allSatisfy { $0["synced"] as? Bool == true && !($0["resourceVersion"] as? String ?? "").isEmpty })
        let objectsDumped = dump["objects"] as? [[String: Any]] ?? []
        let vs = objectsDumped.first { $0["kind"] as? String == "VirtualService" && $0["name"] as? String == "reviews" }
        #expect((vs?["resourceVersion"] as? String).map { !$0.isEmpty } == true, "\(vs ?? [:])")
        #expect(vs?["source"] as? String == "kubernetes")
    }

    /// `mizzen sidecar --source kubernetes`: no capture listener and not ready until every kind
    /// is listed (a captured connection is refused rather than passed through on an empty
    /// table); then both capture listeners open and it is ready.
    @Test func sidecarCapturesOnlyAfterTheFirstSync() throws {
        let objects = [Self.service("reviews"), Self.pod("reviews-v1-a", app: "reviews", version: "v1", address: "127.0.0.1")].joined(separator: "\n---\n")
        let api = try StandInAPIServer.start(seed: [objects], extraArguments: ["--deny", "list:services"])
        defer { api.stop() }
        let directory = try Harness.temporaryDirectory("kube-sidecar")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kubeconfig = try api.writeKubeconfig(to: directory.appendingPathComponent("kubeconfig").path)
        let sidecar = try BackgroundProcess(ValidateCommandTests.binary.path,
                                            ["sidecar", "--source", "kubernetes", "--kubeconfig", kubeconfig, "--namespace", "shop",
                                             "--pod-labels", "app=reviews,version=v1", "--outbound-port", "0", "--inbound-port", "0", "--agent-port=-1",
                                             "--ipv6", "off", "--bind", "127.0.0.1", "--log-level", "info", "--debounce-after", "50"]
                                                + GatewayProcess.operatorArguments)
        defer { sidecar.stop() }
        var operators: [String: Int] = [:]
        _ = sidecar.waitFor(timeout: 30) { text in
            operators = GatewayProcess.operatorPorts(text)
            return operators.count == 3 && text.contains("403 Forbidden")
        }
        let status = operators["status"] ?? 0
        func ready() -> String {
            (try? Harness.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(status)/healthz/ready"]))?.stdout ?? ""
        }
        #expect(ready() == "503", "\(sidecar.output + sidecar.errors)")
        #expect(!(sidecar.output + sidecar.errors).contains("virtualOutbound"), "no capture listener before the first sync")
        try api.allow()
        #expect(sidecar.waitFor(timeout: 20) { $0.contains("virtualInbound") && $0.contains("synced from the API server") }, "\(sidecar.output + sidecar.errors)")
        #expect(ready() == "200")
    }

    /// Under steady load: a VirtualService added, changed and deleted, a DestinationRule's
    /// subset moved to other pods, EndpointSlice endpoints added and removed. Every request is
    /// answered 200 and each change is served.
    @Test func changesUnderLoadLoseNoRequest() throws {
        let upstreams = try ["a1", "a2", "b1"].map { try Peer("upstream.py", ["--name", $0]) }
        defer { upstreams.forEach { $0.stop() } }
        let (a1, a2, b1) = (upstreams[0].port, upstreams[1].port, upstreams[2].port)
        let base = [Self.gateway, Self.service("alpha"), Self.service("beta"), Self.slices("alpha", pods: [("a1", a1)]),
                    Self.slices("beta", pods: [("b1", b1)]), Self.pod("a1", app: "alpha", version: "v1", address: "127.0.0.1"),
                    Self.virtualService("steady", host: "steady.example.com", destination: "alpha")].joined(separator: "\n---\n")
        let api = try StandInAPIServer.start(seed: [base])
        defer { api.stop() }
        let gateway = try WatchingGateway(api)
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(port > 0, "\(gateway.log)")

        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "steady.example.com", path: "/r/{n}", connections: 4, requests: 300,
                                                  pauseMilliseconds: 10, timeout: 120) })
        }
        Traffic.pause(0.3)
        // A VirtualService added, then changed, then deleted.
        try api.apply(Self.virtualService("moving", host: "moving.example.com", destination: "alpha"))
        #expect(Self.eventually(port, host: "moving.example.com") { Self.upstreamName($0) == "a1" } != nil, "added VirtualService served")
        try api.apply(Self.virtualService("moving", host: "moving.example.com", destination: "beta"))
        #expect(Self.eventually(port, host: "moving.example.com") { Self.upstreamName($0) == "b1" } != nil, "changed VirtualService served")
        try api.delete(plural: "virtualservices", namespace: "shop", name: "moving")
        #expect(Self.eventually(port, host: "moving.example.com") { $0.stdout.hasPrefix("HTTP/1.1 404") } != nil, "deleted VirtualService gone")
        // The steady host's service gains an endpoint (a second pod), then loses the first.
        try api.apply(Self.slices("alpha", pods: [("a1", a1), ("a2", a2)]) + "\n---\n" + Self.pod("a2", app: "alpha", version: "v2", address: "127.0.0.2"))
        #expect(Self.eventually(port, host: "steady.example.com") { Self.upstreamName($0) == "a2" } != nil, "new endpoint used")
        // A subset: the steady route now pins version v2 (pod a2), by a DestinationRule added
        // before the route names it (Istio's make-before-break order).
        try api.apply("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: alpha, namespace: shop}
            spec:
              host: alpha.shop.svc.cluster.local
              subsets: [{name: pinned, labels: {version: v2}}]
            """)
        Traffic.pause(0.3)
        try api.apply(Self.virtualService("steady", host: "steady.example.com", destination: "alpha", subset: "pinned"))
        // (The pinning itself is checked after the load: only a2 answers then.)
        #expect(Self.eventually(port, host: "steady.example.com") { Self.upstreamName($0) == "a2" } != nil)
        // The first endpoint's slice goes away entirely (its pod is gone).
        try api.delete(plural: "endpointslices", namespace: "shop", name: "alpha-a1")
        #expect(group.wait(timeout: .now() + 120) == .success)
        let responses = try results.get()
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses == [200: 1200], "\(statuses) \(responses.filter { $0.status != 200 }.prefix(3).map { "\($0.status) \($0.error ?? $0.body.prefix(100).description)" })")
        for _ in 0..<5 {
            let answer = try Harness.curl(["-s", "-i", "-H", "Host: steady.example.com", "http://127.0.0.1:\(port)/"])
            #expect(Self.upstreamName(answer) == "a2", "subset pinned: only the version=v2 pod")
        }
        #expect(gateway.background.process.isRunning)
    }

    /// The watch broken mid-stream, an ERROR 410 event, an expired resourceVersion after
    /// compaction, and the API server down for 10 s: serving goes on from the last snapshot
    /// throughout, and every change made meanwhile is served once the watches are back.
    @Test func watchFailuresKeepServingAndCatchUp() throws {
        let upstream = try Peer("upstream.py", ["--name", "one"])
        defer { upstream.stop() }
        let base = [Self.gateway, Self.service("one"), Self.slices("one", pods: [("one-a", upstream.port)]),
                    Self.virtualService("first", host: "first.example.com", destination: "one")].joined(separator: "\n---\n")
        let api = try StandInAPIServer.start(seed: [base], history: 5)
        defer { api.stop() }
        let gateway = try WatchingGateway(api)
        defer { gateway.stop() }
        let port = gateway.port(8080)
        #expect(port > 0, "\(gateway.log)")

        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "first.example.com", path: "/r/{n}", connections: 2, requests: 700,
                                                  pauseMilliseconds: 20, timeout: 150) })
        }
        // 1. Broken mid-stream: the watches resume from their last resourceVersion.
        #expect(try api.breakWatches() > 0)
        try api.apply(Self.virtualService("second", host: "second.example.com", destination: "one"))
        #expect(Self.eventually(port, host: "second.example.com") { Self.upstreamName($0) == "one" } != nil, "change after a broken watch")
        // 2. An ERROR 410 event: the watches list again.
        try api.clearRequests()
        #expect(try api.errorWatches() > 0)
        try api.apply(Self.virtualService("third", host: "third.example.com", destination: "one"))
        #expect(Self.eventually(port, host: "third.example.com") { Self.upstreamName($0) == "one" } != nil, "change after 410")
        let lists = try api.requests().filter { !$0.watch && $0.path.hasSuffix("/virtualservices") }
        #expect(!lists.isEmpty, "virtualservices listed again after the 410")
        // 3. Down for 10 s, with changes made meanwhile (more than the history keeps, so the
        //    resumed watch's version is too old and the server answers 410).
        try api.down(seconds: 10)
        for index in 0..<8 { try api.apply(Self.virtualService("late-\(index)", host: "late\(index).example.com", destination: "one")) }
        try api.delete(plural: "virtualservices", namespace: "shop", name: "second")
        Traffic.pause(3)
        let during = try Harness.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: first.example.com", "http://127.0.0.1:\(port)/"])
        #expect(during.stdout == "200", "serving goes on while the API server is down")
        #expect(gateway.ready() == 200, "still ready on the last snapshot")
        #expect(Self.eventually(port, host: "late7.example.com", timeout: 45) { Self.upstreamName($0) == "one" } != nil, "caught up after the outage: \(gateway.log.suffix(1500))")
        #expect(Self.eventually(port, host: "second.example.com", timeout: 10) { $0.stdout.hasPrefix("HTTP/1.1 404") } != nil, "deletion made while down is seen")
        #expect(group.wait(timeout: .now() + 150) == .success)
        let responses = try results.get()
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses == [200: 1400], "\(statuses)")
        #expect(gateway.log.contains("too old"), "the expired version was noticed: \(gateway.log.suffix(2000))")
    }

    /// An invalid VirtualService among valid ones: logged with its object, field and reason,
    /// left out; the rest is served. Fixing it serves it.
    /// A list whose continue token expires between pages (410 Expired) is listed again from
    /// the start, not cut short: every VirtualService of a three-page list is served.
    @Test func listWhoseContinueTokenExpiresIsListedAgain() throws {
        let routes = (0..<250).map { Self.virtualService("vs-\($0)", host: "h\($0).example.com", destination: "good") }
        let setup = try GoodService(routes) { try $0.expireContinues(count: 1) }
        defer { setup.stop() }
        let (gateway, port) = (setup.gateway, setup.port)
        #expect(port > 0, "\(gateway.log)")
        #expect(gateway.log.contains("continue token expired (410)"), "\(gateway.log)")
        #expect(gateway.log.contains("listed virtualservices.networking.istio.io: 250 objects"), "\(gateway.log)")
        for index in [0, 99, 100, 249] {
            let answer = try Harness.curl(["-s", "-i", "-H", "Host: h\(index).example.com", "http://127.0.0.1:\(port)/"])
            #expect(Self.upstreamName(answer) == "good", "h\(index): \(answer.stdout.prefix(200))")
        }
    }

    /// A warning about the configuration is logged when it appears, not again at every update
    /// from the API server (an EndpointSlice changing every few seconds repeated all of them).
    @Test func warningsAreNotRepeatedAtEveryUpdate() throws {
        let warned = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: warned, namespace: shop}
            spec:
              hosts: [warned.example.com]
              gateways: [istio-system/edge]
              http:
              - route:
                - destination: {host: good.shop.svc.cluster.local}
                retries: {attempts: 2, retryOn: "5xx,retriable-headers"}
            """
        let setup = try GoodService([warned])
        defer { setup.stop() }
        let (api, gateway, port) = (setup.api, setup.gateway, setup.port)
        let warning = "retries.retryOn retriable-headers"
        try Self.expectLoggedOnceAcrossUpdates(warning, setup)
        // Gone and back: logged again.
        try api.apply(warned.replacingOccurrences(of: "5xx,retriable-headers", with: "5xx"))
        try api.apply(Self.virtualService("more-3", host: "more-3.example.com", destination: "good"))
        #expect(Self.eventually(port, host: "more-3.example.com") { Self.upstreamName($0) == "good" } != nil)
        try api.apply(warned)
        #expect(gateway.background.waitFor(timeout: 10) { $0.components(separatedBy: warning).count - 1 == 2 }, "\(gateway.log)")
    }

    /// The snapshot's problems (here an HTTPS server whose credential does not exist) are
    /// errors, logged when they appear: not again at every update of other objects.
    @Test func snapshotErrorsAreNotRepeatedAtEveryUpdate() throws {
        let setup = try GoodService([Self.tlsGateway(credentialName: "no-such-secret")])
        defer { setup.stop() }
        try Self.expectLoggedOnceAcrossUpdates("TLS not set up, server skipped", setup)
    }

    /// `line` is in the gateway's log once the first sync is served, and still once after three
    /// updates of other objects (each served before the next).
    static func expectLoggedOnceAcrossUpdates(_ line: String, _ setup: GoodService) throws {
        let (api, gateway, port) = (setup.api, setup.gateway, setup.port)
        #expect(port > 0, "\(gateway.log)")
        #expect(gateway.background.waitFor(timeout: 10) { $0.contains(line) }, "\(gateway.log)")
        for index in 0..<3 {
            try api.apply(virtualService("more-\(index)", host: "more-\(index).example.com", destination: "good"))
            #expect(eventually(port, host: "more-\(index).example.com") { upstreamName($0) == "good" } != nil)
        }
        #expect(gateway.log.components(separatedBy: line).count - 1 == 1, "logged once: \(gateway.log)")
    }

    @Test func invalidObjectIsLoggedAndLeftOut() throws {
        let invalid = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: broken, namespace: shop}
            spec:
              hosts: [broken.example.com]
              gateways: [istio-system/edge]
              http:
              - route:
                - destination: {host: good.shop.svc.cluster.local}
                  weight: -5
            """
        let setup = try GoodService([Self.virtualService("fine", host: "fine.example.com", destination: "good"), invalid])
        defer { setup.stop() }
        let (api, gateway, port) = (setup.api, setup.gateway, setup.port)
        #expect(port > 0, "\(gateway.log)")
        #expect(gateway.log.contains("VirtualService shop/broken: spec.http[0].route[0].weight"), "\(gateway.log)")
        #expect(gateway.log.contains("1 invalid left out"), "\(gateway.log)")
        let fine = try Harness.curl(["-s", "-i", "-H", "Host: fine.example.com", "http://127.0.0.1:\(port)/"])
        #expect(Self.upstreamName(fine) == "good")
        let broken = try Harness.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: broken.example.com", "http://127.0.0.1:\(port)/"])
        #expect(broken.stdout == "404")
        try api.apply(invalid.replacingOccurrences(of: "weight: -5", with: "weight: 100"))
        #expect(Self.eventually(port, host: "broken.example.com") { Self.upstreamName($0) == "good" } != nil, "the fixed object is served")
    }

    /// credentialName from a Secret in the gateway's namespace, read from the API server: served,
    /// rotated under the same name (new connections get the new certificate), and a Secret in
    /// another namespace is not used. The client authenticates with a certificate here.
    @Test func credentialNameSecretsFromTheAPIServer() throws {
        let certificates = Harness.certificates
        func pemBase64(_ name: String) throws -> String { try Data(contentsOf: certificates.appendingPathComponent(name)).base64EncodedString() }
        func secret(_ name: String, namespace: String, certificate: String, key: String) throws -> String {
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: \(namespace)}
            type: kubernetes.io/tls
            data: {tls.crt: \(try pemBase64(certificate)), tls.key: \(try pemBase64(key))}
            """
        }
        // Two server certificates of Peers/certs.sh: the served one, and its replacement.
        let (first, second) = ("bookinfo", "wildcard")
        let upstream = try Peer("upstream.py", ["--name", "secure"])
        defer { upstream.stop() }
        let objects = [
            Self.tlsGateway(credentialName: "edge-cert"),
            try secret("edge-cert", namespace: "istio-system", certificate: "\(first).crt", key: "\(first).key"),
            try secret("edge-cert", namespace: "shop", certificate: "\(second).crt", key: "\(second).key"),
            Self.service("secure"), Self.slices("secure", pods: [("secure-a", upstream.port)]),
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: secure, namespace: shop}
            spec:
              hosts: ["*"]
              gateways: [istio-system/tls]
              http: [{route: [{destination: {host: secure.shop.svc.cluster.local}}]}]
            """,
        ].joined(separator: "\n---\n")
        let api = try StandInAPIServer.start(seed: [objects], clientCA: true)
        defer { api.stop() }
        let gateway = try WatchingGateway(api, clientCertificate: true)
        defer { gateway.stop() }
        let port = gateway.port(8443)
        #expect(port > 0, "\(gateway.log)")
        func servedCertificate() throws -> String {
            let output = try Harness.run("/bin/bash", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -servername secure.example.com </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"], timeout: 20)
            return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func fingerprint(_ name: String) throws -> String {
            try Harness.run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certificates.appendingPathComponent("\(name).crt").path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try servedCertificate() == fingerprint(first), "the gateway namespace's Secret is served")
        let answer = try Harness.curl(["-s", "-k", "-i", "https://127.0.0.1:\(port)/"])
        #expect(Self.upstreamName(answer) == "secure", "\(answer.stdout.prefix(200)) \(answer.stderr)")
        try api.apply(try secret("edge-cert", namespace: "istio-system", certificate: "\(second).crt", key: "\(second).key"))
        let deadline = Date().addingTimeInterval(10)
        var rotated = false
        while Date() < deadline, !rotated {
            rotated = try servedCertificate() == fingerprint(second)
            if !rotated { usleep(100_000) }
        }
        #expect(rotated, "the rotated Secret is served to new connections")
    }
}
