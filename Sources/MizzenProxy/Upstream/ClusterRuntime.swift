import Logging
import MizzenConfig
package import MizzenRouting
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Envoy's circuit-breaker thresholds for a cluster, from the DestinationRule's
/// `connectionPool` (Istio's defaults: everything unlimited).
struct CircuitBreakerLimits: Sendable {
    var maxConnections = Int.max
    var maxPendingRequests = Int.max
    var maxRequests = Int.max
    var maxRetries = Int.max
    /// Requests per upstream connection before it is closed; nil: unlimited.
    var maxRequestsPerConnection: Int?

    init(_ pool: ConnectionPoolSettings?) {
        guard let pool else { return }
        if let value = pool.tcp?.maxConnections, value > 0 { maxConnections = Int(value) }
        if let value = pool.http?.http1MaxPendingRequests, value > 0 { maxPendingRequests = Int(value) }
        if let value = pool.http?.http2MaxRequests, value > 0 { maxRequests = Int(value) }
        if let value = pool.http?.maxRetries, value > 0 { maxRetries = Int(value) }
        if let value = pool.http?.maxRequestsPerConnection, value > 0 { maxRequestsPerConnection = Int(value) }
    }
}

/// Socket keep-alive probes towards upstreams (`tcp.tcpKeepalive`).
struct TCPKeepalive: Sendable {
    var time: Int?
    var interval: Int?
    var probes: Int?
}

/// What the data plane needs to talk to one cluster, built per published table off the loops:
/// breaker thresholds, timeouts, TLS, and the cluster's runtime counters (shared by every loop
/// and kept across tables).
final class UpstreamClusterSettings: Sendable {
    let breakers: CircuitBreakerLimits
    let connectTimeout: TimeAmount?
    /// Idle upstream connections are closed after this; nil: the proxy-wide default.
    let idleTimeout: TimeAmount?
    let keepalive: TCPKeepalive?
    let maxConcurrentStreams: Int?
    let tls: UpstreamTLS?
    /// TLS was asked for but could not be set up: connecting fails (503 UF) rather than sending
    /// plain text.
    let tlsFailed: Bool
    let runtime: ClusterRuntime
    let outlier: OutlierDetector.Settings?

    init(cluster: Cluster, http2: Bool, runtime: ClusterRuntime, tls: UpstreamTLS?, tlsFailed: Bool = false) {
        self.tlsFailed = tlsFailed
        let pool = cluster.policy.connectionPool
        breakers = CircuitBreakerLimits(pool)
        connectTimeout = pool?.tcp?.connectTimeout.flatMap { $0.nanoseconds > 0 ? .nanoseconds($0.nanoseconds) : nil }
        let idle = pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout
        idleTimeout = idle.map { .nanoseconds($0.nanoseconds) }
        if let alive = pool?.tcp?.tcpKeepalive {
            keepalive = TCPKeepalive(time: alive.time.map { Int($0.nanoseconds / 1_000_000_000) },
                                     interval: alive.interval.map { Int($0.nanoseconds / 1_000_000_000) },
                                     probes: alive.probes.map(Int.init))
        } else {
            keepalive = nil
        }
        maxConcurrentStreams = pool?.http?.maxConcurrentStreams.flatMap { $0 > 0 ? Int($0) : nil }
        self.tls = tls
        self.runtime = runtime
        outlier = cluster.policy.outlierDetection.map(OutlierDetector.Settings.init)
    }
}

/// A cluster's live counters, shared by all event loops (Envoy's circuit breakers are per
/// cluster, not per worker): connections open, requests waiting for a connection, requests in
/// flight, retries in flight; and its outlier detector.
final class ClusterRuntime: Sendable {
    let connections = ResourceCounter()
    let pendingRequests = ResourceCounter()
    let activeRequests = ResourceCounter()
    let activeRetries = ResourceCounter()
    let outliers = OutlierDetector()
}

/// A count of a cluster resource in use, taken only below a limit (an Envoy circuit breaker).
final class ResourceCounter: Sendable {
    private let value = Synchronization.Atomic<Int>(0)

    var current: Int { value.load(ordering: .relaxed) }

    func increment() {
        value.wrappingAdd(1, ordering: .relaxed)
    }

    func decrement() {
        value.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Takes one unit if fewer than `limit` are in use.
    func tryAcquire(limit: Int) -> Bool {
        if limit == Int.max {
            increment()
            return true
        }
        var current = value.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = value.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
}

/// The runtimes of every cluster by name, kept across configuration reloads so that counters
/// and ejections survive a SIGHUP.
package final class ClusterRuntimes: Sendable {
    private let runtimes = NIOLockedValueBox<[String: ClusterRuntime]>([:])

    package init() {}

    func runtime(for cluster: String) -> ClusterRuntime {
        runtimes.withLockedValue { map in
            if let existing = map[cluster] { return existing }
            let runtime = ClusterRuntime()
            map[cluster] = runtime
            return runtime
        }
    }
}

/// Upstream settings of every cluster of a table, with the problems met building them.
package struct UpstreamSettings: Sendable {
    private(set) var byCluster: [String: UpstreamClusterSettings] = [:]
    package private(set) var problems: [String] = []

    package init() {}

    subscript(cluster: String) -> UpstreamClusterSettings? { byCluster[cluster] }

    /// `credentialsDirectory` and `workloadCertificates` resolve DestinationRule TLS files.
    package static func build(for table: RouteTable, runtimes: ClusterRuntimes, credentialsDirectory: String?,
                              workloadCertificates: String?) -> UpstreamSettings {
        var result = UpstreamSettings()
        for (name, cluster) in table.clusters {
            let http2 = ForwardingHandler.speaksHTTP2(cluster)
            var tls: UpstreamTLS?
            if let settings = cluster.policy.tls {
                do {
                    tls = try UpstreamTLS.make(settings, cluster: cluster, http2: http2, credentialsDirectory: credentialsDirectory,
                                               workloadCertificates: workloadCertificates.map(UpstreamTLS.WorkloadCertificates.init))
                } catch {
                    let rule = cluster.policy.destinationRule.map { "DestinationRule \($0)" } ?? "DestinationRule"
                    result.problems.append("\(rule) trafficPolicy.tls for cluster \(name): \(error); requests to it fail (503 UF)")
                    result.byCluster[name] = UpstreamClusterSettings(cluster: cluster, http2: http2, runtime: runtimes.runtime(for: name), tls: nil, tlsFailed: true)
                    continue
                }
            }
            result.byCluster[name] = UpstreamClusterSettings(cluster: cluster, http2: http2, runtime: runtimes.runtime(for: name), tls: tls)
        }
        return result
    }
}
