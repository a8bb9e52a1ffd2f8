import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the exchange core promises, through the binary: Envoy's statuses and response flags for
/// each way a request can fail (read from the exchange log line at debug level), the cluster
/// settings that shape connections (connect timeout, keep-alive probes, the HTTP/2 upstream
/// choice), retry back-off, pending requests that give their slot back, and the timeouts of
/// every connection phase.
@Suite(.serialized)
struct ExchangeCoreTests {
    final class Fixture: @unchecked Sendable {
        let log: UpstreamLog
        let upstream: Peer
        let echo: Peer
        let h2Log: UpstreamLog
        let h2: Peer
        let blackhole: Peer
        let gateway: GatewayProcess

        init() throws {
            log = try UpstreamLog()
            upstream = try Peer("upstream.py", ["--name", "core", "--log", log.url.path])
            echo = try Peer("tcp_echo.py", [])
            h2Log = try UpstreamLog()
            h2 = try Peer("h2_upstream.py", ["--name", "h2-up", "--log", h2Log.url.path])
            blackhole = try Peer("blackhole.py", [])
            // One event loop: pools are per loop, and the pending-request tests need every request
            // on the one pool (a loop whose pool has no connection may always open one).
            gateway = try GatewayProcess(yaml: Self.configuration(upstream: upstream.port, echo: echo.port, h2: h2.port, blackhole: blackhole.port),
                                         gatewayPorts: [8080],
                                         extraArguments: ["--log-level", "debug", "--concurrency", "1"])
        }

        var port: Int { gateway.port(8080) }

        static func configuration(upstream: Int, echo: Int, h2: Int, blackhole: Int) -> String {
            [EdgeConfig.gateway,
             // NC: the destination is no service the registry knows.
             EdgeConfig.virtualService("nc.test").replacingOccurrences(of: "host: nc.test", with: "host: missing.test"),
             // UH: a Kubernetes Service without endpoints.
             """
             ---
             apiVersion: v1
             kind: Service
             metadata: {name: empty, namespace: default}
             spec: {ports: [{port: 80, name: http}]}
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: uh, namespace: default}
             spec:
               hosts: [uh.test]
               gateways: [edge]
               http: [{route: [{destination: {host: empty.default.svc.cluster.local, port: {number: 80}}}]}]
             """,
             EdgeConfig.serviceEntry("core.test", [upstream]), EdgeConfig.virtualService("core.test"),
             // UPE: an "upstream" that echoes the request back instead of answering it.
             EdgeConfig.serviceEntry("upe.test", [echo]), EdgeConfig.virtualService("upe.test"),
             // Keep-alive probes on upstream connections.
             EdgeConfig.serviceEntry("keepalive.test", [upstream]), EdgeConfig.virtualService("keepalive.test"),
             EdgeConfig.destinationRule("keepalive.test", "{connectionPool: {tcp: {tcpKeepalive: {time: 37s, interval: 5s, probes: 3}}}}"),
             // Retries with a back-off base of 300 ms.
             EdgeConfig.serviceEntry("backoff.test", [upstream]),
             """
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: backoff, namespace: default}
             spec:
               hosts: [backoff.test]
               gateways: [edge]
               http:
               - route: [{destination: {host: backoff.test, port: {number: 80}}}]
                 retries: {attempts: 2, retryOn: 5xx, backoff: 300ms}
             """,
             // One connection, one pending request; a route timeout for x-case: timeout.
             EdgeConfig.serviceEntry("pool.test", [upstream]),
             """
             \(EdgeConfig.destinationRule("pool.test", "{connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}"))
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: pool, namespace: default}
             spec:
               hosts: [pool.test]
               gateways: [edge]
               http:
               - match: [{headers: {x-case: {exact: timeout}}}]
                 timeout: 500ms
                 route: [{destination: {host: pool.test, port: {number: 80}}}]
               - route: [{destination: {host: pool.test, port: {number: 80}}}]
             """,
             // connectTimeout against an endpoint that never completes a handshake; no retries.
             EdgeConfig.serviceEntry("blackhole.test", [blackhole]),
             """
             \(EdgeConfig.destinationRule("blackhole.test", "{connectionPool: {tcp: {connectTimeout: 500ms}}}"))
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: blackhole, namespace: default}
             spec:
               hosts: [blackhole.test]
               gateways: [edge]
               http: [{route: [{destination: {host: blackhole.test, port: {number: 80}}}], retries: {attempts: 0}}]
             """,
             // HTTP/2 to the upstream: a Service port whose appProtocol says h2c...
             """
             ---
             apiVersion: v1
             kind: Service
             metadata: {name: h2app, namespace: default}
             spec: {ports: [{port: 80, name: web, appProtocol: kubernetes.io/h2c}]}
             ---
             apiVersion: v1
             kind: Endpoints
             metadata: {name: h2app, namespace: default}
             subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{port: \(h2), name: web}]}]
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: h2app, namespace: default}
             spec:
               hosts: [h2app.test]
               gateways: [edge]
               http: [{route: [{destination: {host: h2app.default.svc.cluster.local, port: {number: 80}}}]}]
             """,
             // ...and a plain HTTP port upgraded by the DestinationRule (h2UpgradePolicy).
             EdgeConfig.serviceEntry("h2upgrade.test", [h2]), EdgeConfig.virtualService("h2upgrade.test"),
             EdgeConfig.destinationRule("h2upgrade.test", "{connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}"),
             // An HTTP/2 upstream by port protocol, for stream resets and refusals.
             """
             ---
             apiVersion: networking.istio.io/v1
             kind: ServiceEntry
             metadata: {name: h2grpc, namespace: default}
             spec:
               hosts: [h2.test]
               resolution: STATIC
               ports: [{number: 80, name: http2, protocol: HTTP2}]
               endpoints: [{address: 127.0.0.1, ports: {http2: \(h2)}}]
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: h2, namespace: default}
             spec:
               hosts: [h2.test]
               gateways: [edge]
               http: [{route: [{destination: {host: h2.test, port: {number: 80}}}]}]
             """,
             // A fault delay that holds request bodies (the HTTP/2 buffering bound).
             EdgeConfig.serviceEntry("held.test", [upstream]),
             """
             ---
             apiVersion: networking.istio.io/v1
             kind: VirtualService
             metadata: {name: held, namespace: default}
             spec:
               hosts: [held.test]
               gateways: [edge]
               http:
               - fault: {delay: {fixedDelay: 4s, percentage: {value: 100}}}
                 route: [{destination: {host: held.test, port: {number: 80}}}]
             """,
            ].joined(separator: "\n") + "\n"
        }
    }

    static let fixture: Result<Fixture, any Error> = Result { try Fixture() }

    static func setUp() throws -> Fixture {
        let f = try fixture.get()
        try #require(f.gateway.background.process.isRunning, "gateway exited: \(f.gateway.background.errors.suffix(2000))")
        return f
    }

    /// The exchange log line (debug level) of the request whose target contains `token`.
    static func exchangeLine(_ gateway: GatewayProcess, containing token: String, timeout: Double = 5) -> String? {
        var found: String?
        _ = gateway.background.waitFor(timeout: timeout) { text in
            found = text.split(separator: "\n").last { $0.contains("exchange: ") && $0.contains(token) }.map(String.init)
            return found != nil
        }
        return found
    }

    /// The status and response flags of an exchange log line (`-> 503 URX,UF details ...`).
    static func statusAndFlags(_ line: String) -> (status: Int, flags: String)? {
        guard let arrow = line.range(of: "-> ") else { return nil }
        let parts = line[arrow.upperBound...].split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[0]) else { return nil }
        return (status, String(parts[1]))
    }

    // MARK: Statuses and flags

    struct FailureCase: CustomStringConvertible, Sendable {
        var name: String
        var host: String
        var path: String
        var status: Int
        var body: String
        var flags: String
        var description: String { name }
    }

    static let failures: [FailureCase] = [
        FailureCase(name: "no route", host: "nowhere.test", path: "/x", status: 404, body: "no route", flags: "NR"),
        FailureCase(name: "no cluster", host: "nc.test", path: "/x", status: 503, body: "cluster not found", flags: "NC"),
        FailureCase(name: "no healthy upstream", host: "uh.test", path: "/x", status: 503, body: "no healthy upstream", flags: "UH"),
        FailureCase(name: "upstream reset before the response", host: "core.test", path: "/reset", status: 503,
                    body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination", flags: "UC"),
        FailureCase(name: "upstream answers with something that is not HTTP", host: "upe.test", path: "/x", status: 502,
                    body: "upstream connect error or disconnect/reset before headers. reset reason: protocol error", flags: "UPE"),
        FailureCase(name: "an HTTP/2 upstream resets the stream", host: "h2.test", path: "/rst", status: 503,
                    body: "upstream connect error or disconnect/reset before headers. reset reason: remote reset", flags: "UR"),
        FailureCase(name: "connect timeout", host: "blackhole.test", path: "/x", status: 503,
                    body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure", flags: "UF"),
    ]

    @Test(arguments: failures)
    func proxyErrorsCarryEnvoysStatusBodyAndFlag(_ testCase: FailureCase) throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let answer = try Traffic.send(f.port, host: testCase.host, "\(testCase.path)?t=\(token)")
        #expect(answer.status == testCase.status, "\(answer.summary)")
        #expect(answer.body == testCase.body, "\(answer.body)")
        let line = try #require(Self.exchangeLine(f.gateway, containing: token), "no exchange logged for \(token)")
        #expect(Self.statusAndFlags(line)?.status == testCase.status, "\(line)")
        #expect(Self.statusAndFlags(line)?.flags == testCase.flags, "\(line)")
        // Exactly one record: a later request's line is out, and still one line for this one.
        let barrier = Traffic.token()
        _ = try Traffic.send(f.port, host: "nowhere.test", "/barrier?t=\(barrier)")
        _ = try #require(Self.exchangeLine(f.gateway, containing: barrier), "no exchange logged for the barrier")
        let lines = f.gateway.background.errors.split(separator: "\n").filter { $0.contains("exchange: ") && $0.contains(token) }
        #expect(lines.count == 1, "one record per request: \(lines)")
    }

    // MARK: Cluster settings

    /// `connectTimeout` bounds the connect to an endpoint that never answers (503 UF after it,
    /// not the 10 s default).
    @Test func connectTimeoutFromTheDestinationRule() throws {
        let f = try Self.setUp()
        let answer = try Traffic.send(f.port, host: "blackhole.test", "/slow")
        #expect(answer.status == 503, "\(answer.summary)")
        #expect(answer.seconds > 0.4 && answer.seconds < 3, "answered after \(answer.seconds) s for a 500 ms connect timeout")
    }

    /// Istio picks HTTP/2 to the upstream from the port's `appProtocol`, its protocol, or the
    /// DestinationRule's `h2UpgradePolicy: UPGRADE`; an HTTP/1.1 client is served either way.
    @Test(arguments: ["h2app.test", "h2upgrade.test", "h2.test"])
    func http2UpstreamsAreChosenAsIstioDoes(_ host: String) throws {
        let f = try Self.setUp()
        let answer = try Traffic.send(f.port, host: host, "/proto/\(Traffic.token())")
        #expect(answer.status == 200, "\(answer.summary)")
        #expect(answer.json["protocol"] as? String == "HTTP/2", "\(answer.body)")
        #expect(answer.json["upstream"] as? String == "h2-up")
    }

    /// An HTTP/2 upstream that refuses a stream has processed nothing: Istio's default retry
    /// policy (refused-stream) sends the request again.
    @Test func aRefusedStreamIsRetried() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let answer = try Traffic.send(f.port, host: "h2.test", "/refuse/\(key)/1")
        #expect(answer.status == 200, "\(answer.summary)")
        #expect(answer.json["attempt"] as? Int == 2)
    }

    /// An HTTP/2 client cannot make the gateway hold more than about its per-connection buffer
    /// (1 MiB) of request bodies plus one connection window, however many streams it opens:
    /// 30 streams each trying to send 1 MiB while a fault delay holds them.
    @Test func http2ConnectionsBufferABoundedAmount() throws {
        let f = try Self.setUp()
        let probe = try Harness.run("python3", [Harness.peers.appendingPathComponent("h2_window_probe.py").path, "--port", String(f.port),
                                                "--authority", "held.test", "--path", "/held", "--streams", "30", "--bytes-per-stream", "1048576",
                                                "--seconds", "2"], timeout: 30)
        let result = Traffic.json(probe.stdout)
        let sent = result["sent"] as? Int ?? -1
        #expect(result["ok"] as? Bool == true, "\(probe.stdout) \(probe.stderr)")
        #expect(sent > 500_000, "the streams could send something: \(sent)")
        #expect(sent < 3 * 1_048_576, "30 held streams sent \(sent) bytes: more than the buffer bound plus a window")
    }

    /// `tcpKeepalive` sets the keep-alive probes on upstream connections: the kernel shows a
    /// keep-alive timer (from 37 s) on them, and none on a cluster without the setting.
    @Test func tcpKeepaliveArmsTheKernelsKeepaliveTimer() throws {
        let f = try Self.setUp()
        let probed = try Traffic.send(f.port, host: "keepalive.test", "/ka/\(Traffic.token())")
        #expect(probed.status == 200)
        let plain = try Traffic.send(f.port, host: "core.test", "/plain/\(Traffic.token())")
        #expect(plain.status == 200)
        // The gateway's pooled connections to the upstream, with their timers.
        let ss = try Harness.run("ss", ["-tno", "state", "established", "( dport = :\(f.upstream.port) )"], timeout: 10)
        let lines = ss.stdout.split(separator: "\n").filter { $0.contains(":\(f.upstream.port)") }
        let keepalive = lines.filter { $0.contains("timer:(keepalive") }
        #expect(keepalive.count >= 1, "no upstream connection with a keep-alive timer: \(ss.stdout)")
        let seconds = keepalive.compactMap { line -> Double? in
            guard let start = line.range(of: "timer:(keepalive,") else { return nil }
            let rest = line[start.upperBound...]
            return Double(rest.prefix { $0.isNumber || $0 == "." })
        }
        #expect(seconds.contains { $0 > 20 && $0 <= 37 }, "keep-alive timers \(seconds) (37 s configured)")
        #expect(lines.count > keepalive.count, "the cluster without tcpKeepalive has no keep-alive timer: \(ss.stdout)")
    }

    /// Envoy's back-off between retries: uniform in [0, (2^n - 1) × base], capped at 10 × base.
    /// With a 300 ms base the gaps before the first and second retry stay within 300 ms and
    /// 900 ms, and are not all near zero (the back-off is applied).
    @Test func retryBackOffStaysWithinEnvoysJitterBounds() throws {
        let f = try Self.setUp()
        var gaps: [Double] = []
        for _ in 0..<5 {
            let key = Traffic.token()
            let answer = try Traffic.send(f.port, host: "backoff.test", "/flaky/\(key)/2/503")
            #expect(answer.status == 200, "\(answer.summary)")
            let times = f.log.waitForRequests(containing: key, count: 3).compactMap { $0["time"] as? Double }.sorted()
            try #require(times.count == 3, "three attempts expected")
            gaps.append(times[1] - times[0])
            gaps.append(times[2] - times[1])
        }
        for (index, gap) in gaps.enumerated() {
            let ceiling = index % 2 == 0 ? 0.3 : 0.9
            #expect(gap <= ceiling + 0.5, "gap \(index): \(gap) s past its \(ceiling) s ceiling")
        }
        #expect(gaps.reduce(0, +) > 0.3, "ten back-offs averaging 300 ms took \(gaps.reduce(0, +)) s in all: not applied")
    }

    // MARK: Pending requests

    /// One connection and one pending slot: a request waits for the busy connection; when its
    /// client leaves, the slot is free at once, so the next request waits too instead of
    /// overflowing (the old pool kept the departed request queued).
    @Test func aWaitingRequestWhoseClientLeftGivesItsSlotBack() throws {
        let f = try Self.setUp()
        let hold = Traffic.token()
        let holder = try Self.background { try Traffic.send(f.port, host: "pool.test", "/delay/2500?hold=\(hold)") }
        // The holder has the connection once the upstream logged its request.
        try #require(f.log.waitForRequests(containing: hold, count: 1).count == 1, "the holder reached the upstream")
        // Waits for the connection, gives up after 0.4 s (curl closes the connection).
        let impatient = try Traffic.send(f.port, host: "pool.test", "/delay/10?impatient", maxTime: 0.4)
        #expect(impatient.status == 0, "the impatient client gave up: \(impatient.summary)")
        Traffic.pause(0.2)
        let next = try Traffic.send(f.port, host: "pool.test", "/delay/10?next=\(Traffic.token())", maxTime: 10)
        #expect(next.status == 200, "the slot of the request that left is free: \(next.summary)")
        #expect(try holder.get().status == 200)
    }

    /// The same when the waiting request's route times out: 504 UT, and its slot is free.
    @Test func aWaitingRequestWhoseRouteTimedOutGivesItsSlotBack() throws {
        let f = try Self.setUp()
        let hold = Traffic.token()
        let holder = try Self.background { try Traffic.send(f.port, host: "pool.test", "/delay/2500?hold=\(hold)") }
        try #require(f.log.waitForRequests(containing: hold, count: 1).count == 1, "the holder reached the upstream")
        let token = Traffic.token()
        let timedOut = try Traffic.send(f.port, host: "pool.test", "/delay/10?waiting=\(token)", headers: ["x-case: timeout"])
        #expect(timedOut.status == 504, "\(timedOut.summary)")
        let line = try #require(Self.exchangeLine(f.gateway, containing: token))
        #expect(Self.statusAndFlags(line)?.flags == "UT", "\(line)")
        let next = try Traffic.send(f.port, host: "pool.test", "/delay/10?next=\(Traffic.token())", maxTime: 10)
        #expect(next.status == 200, "\(next.summary)")
        #expect(try holder.get().status == 200)
    }

    /// Runs `body` on another thread; `get` waits for it.
    static func background(_ body: @escaping @Sendable () throws -> HTTPExchange) throws -> BackgroundResult {
        let result = BackgroundResult()
        DispatchQueue.global().async { result.set(Result { try body() }) }
        return result
    }

    final class BackgroundResult: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<HTTPExchange, any Error>?
        func set(_ value: Result<HTTPExchange, any Error>) { result = value; done.signal() }
        func get() throws -> HTTPExchange {
            _ = done.wait(timeout: .now() + 30)
            guard let result else { throw HarnessError("background request did not finish") }
            return try result.get()
        }
    }

    // MARK: Connection timeouts

    /// A connection that says nothing is closed after `--connection-setup-timeout`; one that
    /// sends a request in time is served as usual. On the TLS port, a stalled handshake too.
    @Test func silentConnectionsAreClosedAfterTheSetupTimeout() throws {
        let certs = Harness.certificates.path
        let upstream = try Peer("upstream.py", ["--name", "setup"])
        defer { upstream.stop() }
        let yaml = EdgeConfig.gateway.replacingOccurrences(of: """
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
        """, with: """
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: ["*"]
            tls: {mode: SIMPLE, serverCertificate: \(certs)/bookinfo.crt, privateKey: \(certs)/bookinfo.key}
        """) + "\n" + EdgeConfig.serviceEntry("setup.test", [upstream.port]) + "\n" + EdgeConfig.virtualService("setup.test")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080, 8443], extraArguments: ["--connection-setup-timeout", "1"])
        defer { gateway.stop() }
        for port in [gateway.port(8080), gateway.port(8443)] {
            let start = Date()
            let answer = RawSocket.exchange(port: port, [], timeout: 6)
            let elapsed = Date().timeIntervalSince(start)
            #expect(answer.isEmpty)
            #expect(elapsed > 0.7 && elapsed < 4, "closed after \(elapsed) s for a 1 s setup timeout (port \(port))")
        }
        // Half a TLS ClientHello, then nothing.
        let start = Date()
        _ = RawSocket.exchange(port: gateway.port(8443), [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01], timeout: 6)
        let stalled = Date().timeIntervalSince(start)
        #expect(stalled > 0.7 && stalled < 4, "a stalled ClientHello is closed after the setup timeout, not at once: \(stalled) s")
        let served = try Traffic.send(gateway.port(8080), host: "setup.test", "/after")
        #expect(served.status == 200)
    }

    /// `--idle-timeout`: an HTTP/1 connection idle that long is closed; an HTTP/2 connection
    /// without streams gets GOAWAY and is closed; so is a silent WebSocket tunnel.
    @Test func idleDownstreamConnectionsAreClosed() throws {
        let upstream = try Peer("upstream.py", ["--name", "idle"])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("idle.test", [upstream.port]),
                    EdgeConfig.virtualService("idle.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080], extraArguments: ["--idle-timeout", "1"])
        defer { gateway.stop() }
        let start = Date()
        let http1 = RawSocket.exchange(port: gateway.port(8080), Array("GET /x HTTP/1.1\r\nHost: idle.test\r\n\r\n".utf8), timeout: 6)
        let elapsed = Date().timeIntervalSince(start)
        #expect(RawSocket.status(http1) == 200)
        #expect(elapsed > 0.7 && elapsed < 4, "HTTP/1 connection closed after \(elapsed) s for a 1 s idle timeout")

        let h2 = try Harness.run("python3", [Harness.peers.appendingPathComponent("h2_idle.py").path, "--port", String(gateway.port(8080)),
                                             "--authority", "idle.test", "--path", "/x", "--wait", "8"], timeout: 15)
        let result = Traffic.json(h2.stdout)
        #expect(result["status"] as? Int == 200, "\(h2.stdout) \(h2.stderr)")
        #expect(result["goaway"] as? Int == 0, "GOAWAY with NO_ERROR before the close: \(h2.stdout)")
        let closedAfter = result["closed_after"] as? Double ?? -1
        #expect(closedAfter > 0.7 && closedAfter < 4, "HTTP/2 connection closed \(closedAfter) s after its last stream (1 s idle timeout)")

        // A WebSocket tunnel: echoes keep it open, silence for the idle timeout closes it.
        let ws = try Harness.run("python3", [Harness.peers.appendingPathComponent("ws_client.py").path, "--port", String(gateway.port(8080)),
                                             "--authority", "idle.test", "--path", "/ws", "--messages", "3", "--wait-close", "8"], timeout: 20)
        let tunnel = Traffic.json(ws.stdout)
        #expect(ws.status == 0, "\(ws.stdout) \(ws.stderr)")
        let tunnelClosedAfter = tunnel["closed_after"] as? Double ?? -1
        #expect(tunnelClosedAfter > 0.7 && tunnelClosedAfter < 4, "WebSocket tunnel closed \(tunnelClosedAfter) s after its last bytes (1 s idle timeout)")
    }

    /// A TCP route's tunnel idle for the cluster's `tcp.idleTimeout` is closed (Envoy's TCP proxy
    /// idle timeout); bytes keep it open.
    @Test func idleTCPTunnelsAreClosed() throws {
        let echo = try Peer("tcp_echo.py", [])
        defer { echo.stop() }
        let yaml = EdgeConfig.tcpEcho(port: echo.port, idleTimeout: "1s")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [9000])
        defer { gateway.stop() }
        let start = Date()
        let echoed = RawSocket.exchange(port: gateway.port(9000), Array("hello\n".utf8), timeout: 6)
        let elapsed = Date().timeIntervalSince(start)
        #expect(String(decoding: echoed, as: UTF8.self).contains("hello"))
        #expect(elapsed > 0.7 && elapsed < 4, "tunnel closed after \(elapsed) s for a 1 s idle timeout")
    }
}
