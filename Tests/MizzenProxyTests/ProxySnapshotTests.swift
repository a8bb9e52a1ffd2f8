import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// What a publish keeps and what it replaces, and how a loop picks endpoints of the cluster a
/// request captured.
struct ProxySnapshotTests {
    /// A gateway config with one service on `ports`, its DestinationRule's trafficPolicy
    /// `policy` (YAML flow map), compiled into a snapshot built after `previous`.
    static func snapshot(ports: [Int] = [8001, 8002], policy: String? = nil, previous: ProxySnapshot? = nil,
                         runtimes: ClusterRuntimes = ClusterRuntimes(), withService: Bool = true) -> ProxySnapshot {
        var yaml = ProxyFixtures.gateway
        if withService {
            yaml += "\n" + ProxyFixtures.serviceEntry(ports.map { "127.0.0.1:\($0)" }) + "\n" + ProxyFixtures.virtualService()
            if let policy { yaml += "\n" + ProxyFixtures.destinationRule(policy) }
        }
        return ProxyFixtures.snapshot(yaml, previous: previous, runtimes: runtimes)
    }

    static let name = "outbound|80||svc.test"

    @Test func anUnchangedClusterKeepsItsPlanPoolsAndCounters() throws {
        let runtimes = ClusterRuntimes()
        let first = Self.snapshot(policy: "{loadBalancer: {consistentHash: {maglev: {tableSize: 65537}, httpHeaderName: x}}}", runtimes: runtimes)
        let second = Self.snapshot(policy: "{loadBalancer: {consistentHash: {maglev: {tableSize: 65537}, httpHeaderName: x}}}", previous: first, runtimes: runtimes)
        let a = try #require(first.clusters[Self.name]), b = try #require(second.clusters[Self.name])
        #expect(a.plan === b.plan, "the Maglev table is not rebuilt")
        #expect(a.poolIdentity == b.poolIdentity, "pooled connections stay in use")
        #expect(a.runtime === b.runtime, "circuit-breaker counts and ejections carry over")
    }

    @Test func newEndpointsMakeANewPlanAndDrainOnlyTheRemovedEndpointsPools() throws {
        let first = Self.snapshot(ports: [8001, 8002])
        let second = Self.snapshot(ports: [8001, 8003], previous: first)
        let a = try #require(first.clusters[Self.name]), b = try #require(second.clusters[Self.name])
        #expect(a.plan !== b.plan)
        #expect(a.poolIdentity == b.poolIdentity, "the connection settings did not change")
        #expect(second.livePools[b.poolIdentity]?.endpoints == [EndpointAddress(address: "127.0.0.1", port: 8001), EndpointAddress(address: "127.0.0.1", port: 8003)])
    }

    @Test(arguments: [
        "{connectionPool: {tcp: {connectTimeout: 3s}}}", "{connectionPool: {http: {maxRequestsPerConnection: 2}}}",
        "{connectionPool: {tcp: {tcpKeepalive: {time: 10s}}}}", "{connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}",
        "{connectionPool: {http: {idleTimeout: 5s}}}",
    ])
    func changedConnectionSettingsMakeANewPoolIdentity(_ policy: String) throws {
        let first = Self.snapshot()
        let second = Self.snapshot(policy: policy, previous: first)
        #expect(try #require(first.clusters[Self.name]).poolIdentity != (try #require(second.clusters[Self.name])).poolIdentity)
    }

    @Test(arguments: ["{loadBalancer: {simple: RANDOM}}", "{connectionPool: {tcp: {maxConnections: 3}}}", "{outlierDetection: {consecutive5xxErrors: 2}}"])
    func settingsOutsideTheConnectionKeepThePools(_ policy: String) throws {
        let first = Self.snapshot()
        let second = Self.snapshot(policy: policy, previous: first)
        #expect(try #require(first.clusters[Self.name]).poolIdentity == (try #require(second.clusters[Self.name])).poolIdentity)
    }

    @Test func aRemovedClusterIsForgotten() throws {
        let runtimes = ClusterRuntimes()
        let first = Self.snapshot(runtimes: runtimes)
        #expect(runtimes.count == 1)
        let second = Self.snapshot(previous: first, runtimes: runtimes, withService: false)
        #expect(second.clusters.isEmpty)
        #expect(runtimes.count == 0)
        #expect(second.livePools.isEmpty)
    }

    // MARK: Picks

    static func loop(_ snapshot: ProxySnapshot) -> LoopState {
        LoopState(eventLoop: EmbeddedEventLoop(), snapshot: snapshot, limits: ProxyLimits(), logger: Logger(label: "test"))
    }

    /// A retry goes to an endpoint not tried yet, every time, whatever the balancer would pick
    /// (least request favours the endpoint that failed fast); with every endpoint tried, it
    /// still picks one.
    @Test(arguments: [nil, "{loadBalancer: {simple: ROUND_ROBIN}}", "{loadBalancer: {simple: RANDOM}}"] as [String?])
    func retriesAvoidTriedEndpointsWhileAnyIsLeft(_ policy: String?) throws {
        let snapshot = Self.snapshot(ports: [8001, 8002, 8003], policy: policy)
        let cluster = try #require(snapshot.clusters[Self.name])
        let loop = Self.loop(snapshot)
        var tried = EndpointSet()
        tried.insert(0)
        tried.insert(2)
        for _ in 0..<500 { #expect(loop.pickEndpoint(cluster, avoiding: tried, hashKey: nil) == 1) }
        tried.insert(1)
        #expect(loop.pickEndpoint(cluster, avoiding: tried, hashKey: nil) != nil)
    }

    @Test func ejectedEndpointsAreNotPicked() throws {
        let snapshot = Self.snapshot(policy: "{outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 50}}")
        let cluster = try #require(snapshot.clusters[Self.name])
        let settings = try #require(cluster.cluster.outlierDetection)
        cluster.runtime.outliers.record(.status(503), cluster.monitors[0], endpointCount: 2, settings: settings)
        let loop = Self.loop(snapshot)
        for _ in 0..<200 { #expect(loop.pickEndpoint(cluster, hashKey: nil) == 1) }
    }

    /// A request keeps the cluster it was routed with: after a publish that grows the cluster,
    /// its picks still come from its own (smaller) endpoint list.
    @Test func picksUseTheRequestsOwnCluster() throws {
        let old = Self.snapshot(ports: [8001])
        let new = Self.snapshot(ports: [8001, 8002, 8003, 8004], previous: old)
        let loop = Self.loop(old)
        let captured = try #require(old.clusters[Self.name])
        loop.publish(new)
        for _ in 0..<200 { #expect(loop.pickEndpoint(captured, hashKey: nil) == 0) }
    }
}
