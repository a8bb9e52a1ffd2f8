import NIOCore
import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// The pure parts of traffic management: the outlier detector's ejection rules (clock given
/// explicitly), circuit-breaker counters, shadow hosts, gRPC deadlines.
struct TrafficPolicyUnitTests {
    static func settings(consecutive5xx: UInt32? = 2, gateway: UInt32? = nil, interval: String = "1s", base: String = "3s",
                         maxPercent: Int32 = 100, minHealth: Int32? = nil) -> OutlierDetector.Settings {
        var policy = OutlierDetection()
        policy.consecutive5xxErrors = consecutive5xx
        policy.consecutiveGatewayErrors = gateway
        policy.interval = IstioDuration(interval)
        policy.baseEjectionTime = IstioDuration(base)
        policy.maxEjectionPercent = maxPercent
        policy.minHealthPercent = minHealth
        return OutlierDetector.Settings(policy)
    }

    @Test func ejectsAfterConsecutive5xxAndReturnsAtTheIntervalAfterTheEjectionTime() {
        let detector = OutlierDetector()
        let settings = Self.settings()
        let start = NIODeadline.now()
        detector.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: start)
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: start).isEmpty)
        detector.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: start)
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: start) == ["a"])
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: start + .milliseconds(2900)) == ["a"])
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: start + .milliseconds(4100)).isEmpty)
    }

    @Test func aSuccessResetsTheCount() {
        let detector = OutlierDetector()
        let settings = Self.settings()
        let now = NIODeadline.now()
        for status: UInt in [500, 200, 500, 204, 503] {
            detector.record(.status(status), endpoint: "a", endpointCount: 2, settings: settings, now: now)
        }
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now).isEmpty)
    }

    @Test func repeatedEjectionsLastLonger() {
        let detector = OutlierDetector()
        let settings = Self.settings(base: "2s")
        var now = NIODeadline.now()
        for _ in 0..<2 { detector.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        now = now + .milliseconds(3100)
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now).isEmpty)
        for _ in 0..<2 { detector.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        // Second ejection: 2 × 2 s.
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now + .milliseconds(3500)) == ["a"])
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now + .milliseconds(5100)).isEmpty)
    }

    @Test func maxEjectionPercentCapsButOneIsAlwaysAllowed() {
        let detector = OutlierDetector()
        let settings = Self.settings(maxPercent: 34)
        let now = NIODeadline.now()
        for endpoint in ["a", "b"] {
            for _ in 0..<2 { detector.record(.status(500), endpoint: endpoint, endpointCount: 3, settings: settings, now: now) }
        }
        #expect(detector.ejected(endpointCount: 3, settings: settings, now: now) == ["a"])

        let tight = OutlierDetector()
        let none = Self.settings(maxPercent: 0)
        for _ in 0..<2 { tight.record(.status(500), endpoint: "a", endpointCount: 10, settings: none, now: now) }
        #expect(tight.ejected(endpointCount: 10, settings: none, now: now) == ["a"])
    }

    @Test func gatewayErrorsCountOnly502To504() {
        let settings = Self.settings(consecutive5xx: 0, gateway: 2)
        let now = NIODeadline.now()
        let fives = OutlierDetector()
        for _ in 0..<5 { fives.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        #expect(fives.ejected(endpointCount: 2, settings: settings, now: now).isEmpty)
        let gateway = OutlierDetector()
        for _ in 0..<2 { gateway.record(.status(502), endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        #expect(gateway.ejected(endpointCount: 2, settings: settings, now: now) == ["a"])
    }

    @Test func localOriginFailuresCountAs5xxWithoutTheSplit() {
        let detector = OutlierDetector()
        let settings = Self.settings()
        let now = NIODeadline.now()
        for _ in 0..<2 { detector.record(.localOriginFailure, endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now) == ["a"])
    }

    @Test func belowMinHealthPercentEjectionsAreIgnored() {
        let detector = OutlierDetector()
        let settings = Self.settings(minHealth: 60)
        let now = NIODeadline.now()
        for _ in 0..<2 { detector.record(.status(500), endpoint: "a", endpointCount: 2, settings: settings, now: now) }
        // 50 % healthy < 60 %: panic, every endpoint is used.
        #expect(detector.ejected(endpointCount: 2, settings: settings, now: now).isEmpty)
    }

    @Test func defaultsFollowIstio() {
        let settings = OutlierDetector.Settings(OutlierDetection())
        #expect(settings.consecutive5xx == 5)
        #expect(settings.consecutiveGateway == 0)
        #expect(settings.interval == 10_000_000_000)
        #expect(settings.baseEjection == 30_000_000_000)
        #expect(settings.maxEjectionPercent == 10)
        #expect(settings.minHealthPercent == 0)
    }

    @Test func resourceCounterStopsAtItsLimit() {
        let counter = ResourceCounter()
        #expect(counter.tryAcquire(limit: 2))
        #expect(counter.tryAcquire(limit: 2))
        #expect(!counter.tryAcquire(limit: 2))
        counter.decrement()
        #expect(counter.tryAcquire(limit: 2))
        #expect(counter.current == 2)
    }

    @Test func circuitBreakerLimitsFromConnectionPool() {
        var pool = ConnectionPoolSettings()
        var tcp = ConnectionPoolSettings.TCPSettings()
        tcp.maxConnections = 1
        var http = ConnectionPoolSettings.HTTPSettings()
        http.http1MaxPendingRequests = 1
        http.http2MaxRequests = 5
        http.maxRequestsPerConnection = 2
        http.maxRetries = 3
        pool.tcp = tcp
        pool.http = http
        let limits = CircuitBreakerLimits(pool)
        #expect(limits.maxConnections == 1)
        #expect(limits.maxPendingRequests == 1)
        #expect(limits.maxRequests == 5)
        #expect(limits.maxRetries == 3)
        #expect(limits.maxRequestsPerConnection == 2)
        let unlimited = CircuitBreakerLimits(nil)
        #expect(unlimited.maxConnections == Int.max && unlimited.maxPendingRequests == Int.max && unlimited.maxRequestsPerConnection == nil)
    }

    @Test(arguments: [
        ("a.example.com", "a.example.com-shadow"),
        ("a.example.com:8080", "a.example.com-shadow:8080"),
        ("127.0.0.1:80", "127.0.0.1-shadow:80"),
        ("[::1]", "[::1]-shadow"),
        ("[::1]:8080", "[::1]-shadow:8080"),
    ])
    func shadowHosts(_ host: String, _ expected: String) {
        #expect(ForwardingHandler.shadowHost(host) == expected)
    }

    @Test(arguments: [
        ("1S", Int64(1_000_000_000)), ("250m", 250_000_000), ("2M", 120_000_000_000), ("1H", 3_600_000_000_000),
        ("100u", 100_000), ("5n", 5),
    ])
    func grpcTimeouts(_ header: String, _ nanoseconds: Int64) {
        #expect(ForwardingHandler.grpcTimeout(header)?.nanoseconds == nanoseconds)
    }

    @Test(arguments: ["", "S", "1x", "123456789S", "-1S"])
    func invalidGRPCTimeouts(_ header: String) {
        #expect(ForwardingHandler.grpcTimeout(header) == nil)
    }

    @Test(arguments: [
        ("*.example.com", "a.example.com", true), ("*.example.com", "a.b.example.com", false), ("upstream.internal", "UPSTREAM.internal", true),
        ("spiffe://cluster.local/ns/default/sa/x", "spiffe://cluster.local/ns/default/sa/x", true), ("a.example.com", "b.example.com", false),
    ])
    func certificateNameMatching(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(UpstreamHandshakeCheck.matches(pattern: pattern, name: name) == expected)
    }
}
