package import MizzenRouting
import NIOCore
import Synchronization

/// A cluster as one published snapshot serves it: the compiled `UpstreamCluster`, its live
/// counters, its balancing plan, its TLS context and the identity its connection pools carry.
///
/// A request captures the `PublishedCluster` it was routed to and uses only it (retries,
/// mirrors, endpoint picks), so a reload never swaps endpoints or settings under it. Built off
/// the event loops by `ProxySnapshot.build`, which keeps what did not change: a cluster whose
/// endpoints and balancing are the same keeps its plan (its Maglev table is not rebuilt), one
/// whose connection settings and TLS files are the same keeps its TLS context and pool
/// identity (its pooled connections stay in use).
package final class PublishedCluster: Sendable {
    package let cluster: UpstreamCluster
    let runtime: ClusterRuntime
    let plan: LoadBalancerPlan
    let tls: UpstreamTLS?
    /// TLS was asked for but could not be set up: connecting fails (503 UF) rather than sending
    /// plain text.
    let tlsProblem: String?
    /// Pools are keyed by it: equal across publishes exactly when the connection settings and
    /// TLS inputs are.
    let poolIdentity: UInt64
    /// One per endpoint, in order, when the cluster has outlier detection; empty otherwise.
    let monitors: [EndpointMonitor]
    /// Istio's auto mTLS context, used towards `meshEndpoints` when `tls` is nil.
    let meshTLS: UpstreamTLS?
    let meshEndpoints: Set<EndpointAddress>

    init(cluster: UpstreamCluster, runtime: ClusterRuntime, plan: LoadBalancerPlan, tls: UpstreamTLS?, tlsProblem: String?, poolIdentity: UInt64,
         monitors: [EndpointMonitor], meshTLS: UpstreamTLS? = nil) {
        self.cluster = cluster
        self.runtime = runtime
        self.plan = plan
        self.tls = tls
        self.tlsProblem = tlsProblem
        self.poolIdentity = poolIdentity
        self.monitors = monitors
        self.meshTLS = meshTLS
        self.meshEndpoints = meshTLS == nil ? [] : Set(cluster.endpoints.filter(\.meshTLS).map(EndpointAddress.init))
    }

    /// The TLS a connection to `endpoint` is made with: the DestinationRule's, else mesh mTLS
    /// to an endpoint with a sidecar, else none.
    func tls(for endpoint: EndpointAddress) -> UpstreamTLS? {
        if let tls { return tls }
        if let meshTLS, meshEndpoints.contains(endpoint) { return meshTLS }
        return nil
    }

    func tls(forEndpoint index: Int) -> UpstreamTLS? {
        if let tls { return tls }
        guard let meshTLS, index < plan.endpoints.count, plan.endpoints[index].meshTLS else { return nil }
        return meshTLS
    }

    var name: String { cluster.name }
    var endpoints: [ClusterEndpoint] { plan.endpoints }
    var speaksHTTP2: Bool { cluster.connection.upstreamProtocol == .http2 }

    /// The pool key of an endpoint for a request whose host is `host` (the SNI of a TLS cluster
    /// without a configured one).
    func poolKey(endpoint index: Int, serverName: String?) -> UpstreamKey {
        let endpoint = plan.endpoints[index]
        return UpstreamKey(pool: poolIdentity, endpoint: EndpointAddress(endpoint), serverName: tls == nil ? nil : serverName)
    }

    /// An ORIGINAL_DST cluster made concrete for one connection: its one endpoint is where the
    /// connection was originally sent (Envoy's original-destination cluster adds a host per new
    /// address). Counters, TLS and pool identity are the cluster's own, so pooled connections to
    /// the same address are reused. Nil: not such a cluster, or no original destination.
    func resolvingOriginalDestination(_ destination: SocketAddress?) -> PublishedCluster? {
        guard let policy = cluster.originalDestination, let destination, let ip = destination.ipAddress, let port = destination.port, port > 0 else { return nil }
        let endpoint = ClusterEndpoint(address: ip, port: policy.port ?? UInt32(port), labels: [:], weight: 1)
        return PublishedCluster(cluster: cluster, runtime: runtime, plan: LoadBalancerPlan(endpoints: [endpoint], spec: cluster.loadBalancer), tls: tls,
                                tlsProblem: tlsProblem, poolIdentity: poolIdentity, monitors: [])
    }

    /// A new identity for pools whose connection settings changed (never 0).
    static func nextPoolIdentity() -> UInt64 {
        identities.wrappingAdd(1, ordering: .relaxed).newValue
    }

    private static let identities = Atomic<UInt64>(0)
}

/// One event loop's ORIGINAL_DST clusters made concrete, by cluster and destination: a
/// sidecar's inbound and passthrough requests reuse them instead of building a cluster and
/// its balancing plan per request. Emptied when a configuration is published (the clusters it
/// keys are then replaced) and when it passes 1,024 destinations.
final class OriginalDestinationClusters {
    private struct Key: Hashable {
        var cluster: ObjectIdentifier
        var destination: EndpointAddress
    }

    /// Each entry keeps its template, so the identifier in its key stays valid while it exists.
    private var resolved: [Key: (template: PublishedCluster, cluster: PublishedCluster)] = [:]

    func cluster(_ template: PublishedCluster, destination: SocketAddress?) -> PublishedCluster? {
        guard template.cluster.originalDestination != nil, let destination, let ip = destination.ipAddress, let port = destination.port else { return nil }
        let key = Key(cluster: ObjectIdentifier(template), destination: EndpointAddress(address: ip, port: UInt32(port)))
        if let entry = resolved[key] { return entry.cluster }
        guard let cluster = template.resolvingOriginalDestination(destination) else { return nil }
        if resolved.count >= 1024 { resolved.removeAll(keepingCapacity: true) }
        resolved[key] = (template, cluster)
        return cluster
    }

    func removeAll() {
        resolved.removeAll()
    }
}

@available(*, unavailable)
extension OriginalDestinationClusters: Sendable {}

/// An endpoint's address and port, as pools and per-endpoint counts key it.
struct EndpointAddress: Hashable {
    var address: String
    var port: UInt32

    init(_ endpoint: ClusterEndpoint) {
        address = endpoint.address
        port = endpoint.port
    }

    init(address: String, port: UInt32) {
        self.address = address
        self.port = port
    }

    /// Pools and counts look keys up several times a request: hash the port and an FNV-1a
    /// fold of the address bytes (String's own hashing cost ~1,000 instructions a lookup).
    func hash(into hasher: inout Hasher) {
        func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
            var fold: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes { fold = (fold ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            return fold
        }
        let fold = address.utf8.withContiguousStorageIfAvailable(fnv1a) ?? fnv1a(address.utf8)
        hasher.combine(fold ^ UInt64(port))
    }
}

/// A pool of connections: one endpoint of one cluster's connection settings (and, for TLS
/// clusters without a configured SNI, one server name), as Envoy keys its pools per cluster
/// and host.
struct UpstreamKey: Hashable {
    var pool: UInt64
    var endpoint: EndpointAddress
    var serverName: String?

    func hash(into hasher: inout Hasher) {
        hasher.combine(endpoint)
        hasher.combine(pool)
        // Only TLS clusters without a configured SNI have one; pools per client host name must
        // not all land in one bucket.
        if let serverName { hasher.combine(serverName) }
    }
}

/// A pool identity the published configuration uses: its cluster and the endpoints it has.
struct LivePool {
    let cluster: PublishedCluster
    var endpoints: Set<EndpointAddress>

    /// Whether a pool to `endpoint` belongs to the published configuration: one of its
    /// endpoints, or any address for an ORIGINAL_DST cluster.
    func contains(_ endpoint: EndpointAddress) -> Bool {
        cluster.cluster.originalDestination != nil || endpoints.contains(endpoint)
    }
}

/// Endpoint indices of a cluster already tried by a request (Envoy's previous-hosts
/// predicate): a bit set for the first 64, a set beyond.
struct EndpointSet: Sendable, Equatable {
    private var low: UInt64 = 0
    private var high: Set<Int> = []

    init() {}

    var isEmpty: Bool { low == 0 && high.isEmpty }

    func contains(_ index: Int) -> Bool {
        index < 64 ? low & (1 << UInt64(index)) != 0 : high.contains(index)
    }

    mutating func insert(_ index: Int) {
        if index < 64 { low |= 1 << UInt64(index) } else { high.insert(index) }
    }
}
