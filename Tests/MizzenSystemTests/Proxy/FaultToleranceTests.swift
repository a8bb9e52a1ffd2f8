import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Failures found from outside, each reproduced against the built binary: a gateway that dies,
/// a request that is lost or answered wrongly when an upstream goes away, a reload lands in
/// the middle of requests, or a client sends more than the proxy will read. Each test runs its
/// own gateway, so a crash shows as that test's failure.
@Suite(.serialized)
struct FaultToleranceTests {
    static func requireRunning(_ gateway: GatewayProcess, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(gateway.background.process.isRunning, "the gateway died: \(gateway.background.errors.suffix(3000))", sourceLocation: sourceLocation)
    }

    /// Rewrites the gateway's configuration and sends SIGHUP; returns once the reload is logged.
    static func reload(_ gateway: GatewayProcess, _ yaml: String, generation: Int) throws {
        try yaml.write(to: gateway.directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        kill(gateway.background.process.processIdentifier, SIGHUP)
        let logged = gateway.background.waitFor(timeout: 10) { $0.contains("configuration reloaded (generation \(generation))") }
        try #require(logged, "no reload logged: \(gateway.background.errors.suffix(2000))")
    }

    /// Upstream TLS with `maxRequestsPerConnection: 1`: every request closes its TLS connection
    /// after the response (close_notify completes after the exchange let go of it); the gateway
    /// once died after the first such request. The upstream also says `Connection: close`.
    @Test func tlsUpstreamWithOneRequestPerConnectionServesEveryRequest() throws {
        let certs = Harness.certificates.path
        let log = try UpstreamLog()
        let upstream = try Peer("upstream.py", ["--name", "tls-once", "--tls-cert", "\(certs)/upstream.crt", "--tls-key", "\(certs)/upstream.key",
                                                "--log", log.url.path])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("once.test", [upstream.port]), """
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: once, namespace: default}
        spec:
          host: once.test
          trafficPolicy:
            tls: {mode: SIMPLE, caCertificates: \(certs)/ca.crt, sni: upstream.internal}
            connectionPool: {http: {maxRequestsPerConnection: 1}}
        """, EdgeConfig.virtualService("once.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        defer { gateway.stop() }
        let plain = try Traffic.load(gateway.port(8080), host: "once.test", path: "/once/{n}", connections: 4, requests: 25)
        let closing = try Traffic.load(gateway.port(8080), host: "once.test", path: "/close", connections: 4, requests: 10)
        let statuses = Dictionary(grouping: plain + closing, by: \.status).mapValues(\.count)
        #expect(statuses == [200: 140], "\(statuses) \((plain + closing).compactMap(\.error).prefix(3))")
        Self.requireRunning(gateway)
    }

    /// A SIGHUP that changes a cluster's endpoints while requests wait in a fault delay: each
    /// request keeps the cluster it was routed with (its endpoint list and balancer), so none is
    /// lost and the gateway does not die picking from the new list with the old one's indices.
    @Test func reloadChangingEndpointsDuringAFaultDelayKeepsEveryRequest() throws {
        let first = try Peer("upstream.py", ["--name", "first"])
        let others = try (0..<3).map { try Peer("upstream.py", ["--name", "other-\($0)"]) }
        defer { ([first] + others).forEach { $0.stop() } }
        let delayed = """
          - fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
            route: [{destination: {host: delay.test, port: {number: 80}}}]
        """
        func configuration(_ ports: [Int], weight: Int) -> String {
            [EdgeConfig.gateway, EdgeConfig.serviceEntry("delay.test", ports), """
            \(EdgeConfig.destinationRule("delay.test", "{loadBalancer: {simple: ROUND_ROBIN}}"))
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: delay-test, namespace: default}
            spec:
              hosts: [delay.test]
              gateways: [edge]
              http:
            \(delayed)
            # weight \(weight)
            """].joined(separator: "\n")
        }
        let gateway = try GatewayProcess(yaml: configuration([first.port], weight: 1), gatewayPorts: [8080], extraArguments: ["--no-watch"])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "delay.test", path: "/delayed/{n}", connections: 8, requests: 2) })
        }
        Traffic.pause(0.3)
        // Three endpoints more while the first requests are held by the delay (they pick after
        // it, from the one endpoint they were routed with), then, while the second requests
        // (routed with four) are held, down to one endpoint.
        try Self.reload(gateway, configuration([first.port] + others.map(\.port), weight: 2), generation: 2)
        Traffic.pause(1.0)
        try Self.reload(gateway, configuration([others[0].port], weight: 3), generation: 3)
        #expect(group.wait(timeout: .now() + 30) == .success)
        let responses = try results.get()
        let statuses = Dictionary(grouping: responses, by: \.status).mapValues(\.count)
        #expect(statuses == [200: 16], "\(statuses) \(responses.compactMap(\.error).prefix(3))")
        #expect(Set(responses.compactMap(\.upstream)).count > 1, "the reloads reached requests held in the delay: \(responses.compactMap(\.upstream))")
        Self.requireRunning(gateway)
    }

    /// Two endpoints and six keep-alive clients; one endpoint is killed. Connecting to it then
    /// fails, and Istio's default retry policy (connect-failure, other hosts preferred) sends
    /// the request to the endpoint still up: after the kill, only requests that were on the
    /// dead endpoint's connections at that moment may fail.
    @Test func killingAnEndpointSendsRequestsToTheOneLeft() throws {
        let survivor = try Peer("upstream.py", ["--name", "survivor"])
        let victim = try Peer("upstream.py", ["--name", "victim"])
        defer { survivor.stop(); victim.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("two.test", [survivor.port, victim.port]), EdgeConfig.virtualService("two.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        defer { gateway.stop() }
        let port = gateway.port(8080)
        let results = LockedResults()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            results.set(Result { try Traffic.load(port, host: "two.test", path: "/two/{n}", connections: 6, requests: 150, pauseMilliseconds: 10) })
        }
        Traffic.pause(0.5)
        victim.stop()
        #expect(group.wait(timeout: .now() + 60) == .success)
        let responses = try results.get()
        let failed = responses.filter { $0.status != 200 }
        #expect(failed.count <= 6, "\(failed.count) of \(responses.count) failed: \(failed.prefix(5).map { "\($0.status) \($0.body.prefix(120))" })")
        // Every request after the kill: the dead endpoint's connections fail to connect, the
        // retry goes to the other endpoint.
        let after = try Traffic.load(port, host: "two.test", path: "/after/{n}", connections: 6, requests: 50)
        let servers = Dictionary(grouping: after, by: { $0.status == 200 ? ($0.upstream ?? "?") : "status \($0.status)" }).mapValues(\.count)
        #expect(servers == ["survivor": 300], "\(servers) \(after.filter { $0.status != 200 }.prefix(3).map(\.body))")
        Self.requireRunning(gateway)
    }

    /// A header section over the limit while the client is still sending: the client can send
    /// the rest and then read the 431, because the gateway stops writing, reads and drops what
    /// still comes for a while, and only then closes. Closing at once made the client's next
    /// write fail with a reset (and a socket closed with unread bytes sends a reset that can
    /// destroy the answer before the client reads it).
    @Test func anOversizedHeaderSectionGets431WhileTheClientIsStillSending() throws {
        let upstream = try Peer("upstream.py", ["--name", "big"])
        defer { upstream.stop() }
        let yaml = [EdgeConfig.gateway, EdgeConfig.serviceEntry("big.test", [upstream.port]), EdgeConfig.virtualService("big.test")].joined(separator: "\n")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        defer { gateway.stop() }
        // 240 KiB of headers in 30 writes over about 0.3 s: far past the 60 KiB limit.
        let chunks = [Array("GET / HTTP/1.1\r\nHost: big.test\r\n".utf8)]
            + (0..<30).map { Array("x-filler-\($0): \(String(repeating: "a", count: 8000))\r\n".utf8) }
        for attempt in 0..<3 {
            let (sendError, answer) = RawSocket.slowExchange(port: gateway.port(8080), chunks, pause: 0.01)
            #expect(sendError == nil, "attempt \(attempt): the client's write failed (\(sendError ?? "")) before it could read the answer")
            #expect(RawSocket.status(answer) == 431, "attempt \(attempt): \(String(decoding: answer.prefix(200), as: UTF8.self))")
        }
        Self.requireRunning(gateway)
    }
}

extension RawSocket {
    /// Sends `chunks` with `pause` seconds between them, then reads until the peer closes.
    /// Returns the first send error (nil when everything went out) and what was read.
    static func slowExchange(port: Int, _ chunks: [[UInt8]], pause: Double, timeout: Double = 5) -> (String?, [UInt8]) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return ("socket", []) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return ("connect", []) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sendError: String?
        outer: for chunk in chunks {
            var sent = 0
            while sent < chunk.count {
                let written = chunk[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written <= 0 {
                    sendError = String(cString: strerror(errno))
                    break outer
                }
                sent += written
            }
            usleep(UInt32(pause * 1_000_000))
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return (sendError, response)
    }
}

/// A result handed from a background thread to the test.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<[LoadResponse], any Error> = .success([])
    func set(_ value: Result<[LoadResponse], any Error>) { lock.lock(); result = value; lock.unlock() }
    func get() throws -> [LoadResponse] { lock.lock(); defer { lock.unlock() }; return try result.get() }
}
