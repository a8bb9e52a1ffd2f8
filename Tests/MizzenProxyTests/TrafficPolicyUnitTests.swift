import NIOCore
import Synchronization
import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// The pure parts of traffic management: the outlier detector's ejection rules (clock given
/// explicitly), circuit-breaker counters, shadow hosts, gRPC deadlines.
struct TrafficPolicyUnitTests {
    static func settings(consecutive5xx: UInt32? = 2, gateway: UInt32? = nil, interval: String = "1s", base: String = "3s",
                         maxPercent: Int32 = 100, minHealth: Int32? = nil) -> OutlierSettings {
        var policy = OutlierDetection()
        policy.consecutive5xxErrors = consecutive5xx
        policy.consecutiveGatewayErrors = gateway
        policy.interval = IstioDuration(interval)
        policy.baseEjectionTime = IstioDuration(base)
        policy.maxEjectionPercent = maxPercent
        policy.minHealthPercent = minHealth
        return UpstreamCluster.outlier(policy)
    }

    /// A detector over endpoints named a, b, c... (the cluster's size is `count`).
    final class Outliers {
        let detector = OutlierDetector()
        let names: [String]
        let monitors: [EndpointMonitor]

        init(count: Int) {
            names = (0..<count).map { String(UnicodeScalar(UInt8(97 + $0))) }
            monitors = detector.monitors(for: (0..<count).map { ClusterEndpoint(address: "10.0.0.\($0 + 1)", port: 80, labels: [:], weight: 1) })
        }

        func record(_ outcome: OutlierDetector.Outcome, _ name: String, settings: OutlierSettings, now: NIODeadline) {
            detector.record(outcome, monitors[names.firstIndex(of: name)!], endpointCount: names.count, settings: settings, now: now)
        }

        /// The endpoints a pick would skip now.
        func ejected(settings: OutlierSettings, now: NIODeadline) -> Set<String> {
            guard detector.honoursEjections(endpointCount: names.count, settings: settings) else { return [] }
            return Set(names.indices.filter { detector.isEjected(monitors[$0], now: now) }.map { names[$0] })
        }
    }

    @Test func ejectsAfterConsecutive5xxAndReturnsAtTheIntervalAfterTheEjectionTime() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings()
        let start = NIODeadline.now()
        outliers.record(.status(500), "a", settings: settings, now: start)
        #expect(outliers.ejected(settings: settings, now: start).isEmpty)
        outliers.record(.status(500), "a", settings: settings, now: start)
        #expect(outliers.ejected(settings: settings, now: start) == ["a"])
        #expect(outliers.ejected(settings: settings, now: start + .milliseconds(2900)) == ["a"])
        #expect(outliers.ejected(settings: settings, now: start + .milliseconds(4100)).isEmpty)
        #expect(outliers.detector.ejectedCount.load(ordering: .relaxed) == 0, "the ejection that ended gave its slot back")
    }

    @Test func aSuccessResetsTheCount() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings()
        let now = NIODeadline.now()
        for status: UInt in [500, 200, 500, 204, 503] {
            outliers.record(.status(status), "a", settings: settings, now: now)
        }
        #expect(outliers.ejected(settings: settings, now: now).isEmpty)
    }

    @Test func repeatedEjectionsLastLonger() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings(base: "2s")
        var now = NIODeadline.now()
        for _ in 0..<2 { outliers.record(.status(500), "a", settings: settings, now: now) }
        now = now + .milliseconds(3100)
        #expect(outliers.ejected(settings: settings, now: now).isEmpty)
        for _ in 0..<2 { outliers.record(.status(500), "a", settings: settings, now: now) }
        // Second ejection: 2 × 2 s.
        #expect(outliers.ejected(settings: settings, now: now + .milliseconds(3500)) == ["a"])
        #expect(outliers.ejected(settings: settings, now: now + .milliseconds(5100)).isEmpty)
    }

    @Test func maxEjectionPercentCapsButOneIsAlwaysAllowed() {
        let outliers = Outliers(count: 3)
        let settings = Self.settings(maxPercent: 34)
        let now = NIODeadline.now()
        for endpoint in ["a", "b"] {
            for _ in 0..<2 { outliers.record(.status(500), endpoint, settings: settings, now: now) }
        }
        #expect(outliers.ejected(settings: settings, now: now) == ["a"])

        let tight = Outliers(count: 10)
        let none = Self.settings(maxPercent: 0)
        for _ in 0..<2 { tight.record(.status(500), "a", settings: none, now: now) }
        #expect(tight.ejected(settings: none, now: now) == ["a"])
    }

    @Test func gatewayErrorsCountOnly502To504() {
        let settings = Self.settings(consecutive5xx: 0, gateway: 2)
        let now = NIODeadline.now()
        let fives = Outliers(count: 2)
        for _ in 0..<5 { fives.record(.status(500), "a", settings: settings, now: now) }
        #expect(fives.ejected(settings: settings, now: now).isEmpty)
        let gateway = Outliers(count: 2)
        for _ in 0..<2 { gateway.record(.status(502), "a", settings: settings, now: now) }
        #expect(gateway.ejected(settings: settings, now: now) == ["a"])
    }

    @Test func localOriginFailuresCountAs5xxWithoutTheSplit() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings()
        let now = NIODeadline.now()
        for _ in 0..<2 { outliers.record(.localOriginFailure, "a", settings: settings, now: now) }
        #expect(outliers.ejected(settings: settings, now: now) == ["a"])
    }

    @Test func belowMinHealthPercentEjectionsAreIgnored() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings(minHealth: 60)
        let now = NIODeadline.now()
        for _ in 0..<2 { outliers.record(.status(500), "a", settings: settings, now: now) }
        #expect(outliers.detector.isEjected(outliers.monitors[0], now: now), "ejected...")
        // ...but 50 % healthy < 60 %: panic, every endpoint is used.
        #expect(outliers.ejected(settings: settings, now: now).isEmpty)
    }

    /// Envoy lowers an endpoint's ejection multiplier for every interval it has been back, however
    /// recently it last answered well: an endpoint back for five intervals is ejected for the
    /// base time again, not twice it.
    @Test func theMultiplierFallsForEveryIntervalAnEndpointHasBeenBack() {
        let outliers = Outliers(count: 2)
        let settings = Self.settings(base: "2s")
        let start = NIODeadline.now()
        for _ in 0..<2 { outliers.record(.status(500), "a", settings: settings, now: start) }
        #expect(outliers.ejected(settings: settings, now: start + .milliseconds(3100)).isEmpty, "back after the first ejection")
        outliers.record(.status(200), "a", settings: settings, now: start + .milliseconds(8900))
        let again = start + .seconds(9)
        for _ in 0..<2 { outliers.record(.status(500), "a", settings: settings, now: again) }
        #expect(outliers.ejected(settings: settings, now: again) == ["a"])
        // Base time (2 s) to the next 1 s tick: back within 3 s; twice the base would be 4 s.
        #expect(outliers.ejected(settings: settings, now: again + .milliseconds(3100)).isEmpty)
    }

    /// Loops race to eject: the cap still holds and the ejected count stays exact.
    @Test func concurrentEjectionsKeepTheCap() async {
        let outliers = Outliers(count: 10)
        let settings = Self.settings(consecutive5xx: 1, maxPercent: 30)
        let now = NIODeadline.now()
        let detector = outliers.detector
        let monitors = outliers.monitors
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<10 {
                group.addTask {
                    for _ in 0..<100 { detector.record(.status(500), monitors[index], endpointCount: 10, settings: settings, now: now) }
                }
            }
        }
        let ejected = monitors.filter { detector.isEjected($0, now: now) }.count
        #expect(ejected == 3)
        #expect(detector.ejectedCount.load(ordering: .relaxed) == 3)
    }

    /// A publish forgets the monitors of endpoints no longer listed, with their ejections.
    @Test func monitorsOfRemovedEndpointsArePruned() {
        let outliers = Outliers(count: 3)
        let settings = Self.settings(consecutive5xx: 1)
        let now = NIODeadline.now()
        outliers.record(.status(500), "c", settings: settings, now: now)
        #expect(outliers.detector.ejectedCount.load(ordering: .relaxed) == 1)
        let kept = outliers.detector.monitors(for: [ClusterEndpoint(address: "10.0.0.1", port: 80, labels: [:], weight: 1)])
        #expect(kept.first === outliers.monitors[0])
        #expect(outliers.detector.monitoredCount == 1)
        #expect(outliers.detector.ejectedCount.load(ordering: .relaxed) == 0)
    }

    @Test func defaultsFollowIstio() {
        let settings = UpstreamCluster.outlier(OutlierDetection())
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
        let limits = UpstreamCluster.limits(pool)
        #expect(limits.maxConnections == 1)
        #expect(limits.maxPendingRequests == 1)
        #expect(limits.maxRequests == 5)
        #expect(limits.maxRetries == 3)
        #expect(UpstreamCluster.connection(pool, tls: nil, http2: false, serviceHost: "h", port: 80, subset: nil).maxRequestsPerConnection == 2)
        let unlimited = UpstreamCluster.limits(nil)
        #expect(unlimited.maxConnections == Int.max && unlimited.maxPendingRequests == Int.max)
        #expect(UpstreamCluster.connection(nil, tls: nil, http2: false, serviceHost: "h", port: 80, subset: nil).maxRequestsPerConnection == nil)
    }

    @Test(arguments: [
        ("a.example.com", "a.example.com-shadow"),
        ("a.example.com:8080", "a.example.com-shadow:8080"),
        ("127.0.0.1:80", "127.0.0.1-shadow:80"),
        ("[::1]", "[::1]-shadow"),
        ("[::1]:8080", "[::1]-shadow:8080"),
    ])
    func shadowHosts(_ host: String, _ expected: String) {
        #expect(ExchangePlanner.shadowHost(host) == expected)
    }

    @Test(arguments: [
        ("1S", Int64(1_000_000_000)), ("250m", 250_000_000), ("2M", 120_000_000_000), ("1H", 3_600_000_000_000),
        ("100u", 100_000), ("5n", 5),
    ])
    func grpcTimeouts(_ header: String, _ nanoseconds: Int64) {
        #expect(ExchangePlanner.grpcTimeout(header)?.nanoseconds == nanoseconds)
    }

    @Test(arguments: ["", "S", "1x", "123456789S", "-1S"])
    func invalidGRPCTimeouts(_ header: String) {
        #expect(ExchangePlanner.grpcTimeout(header) == nil)
    }

    @Test(arguments: [
        ("*.example.com", "a.example.com", true), ("*.example.com", "a.b.example.com", false), ("upstream.internal", "UPSTREAM.internal", true),
        ("spiffe://cluster.local/ns/default/sa/x", "spiffe://cluster.local/ns/default/sa/x", true), ("a.example.com", "b.example.com", false),
    ])
    func certificateNameMatching(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(UpstreamHandshakeCheck.matches(pattern: pattern, name: name) == expected)
    }
}
