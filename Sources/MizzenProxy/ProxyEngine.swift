package import Logging
package import MizzenRouting
import NIOCore
package import NIOPosix

/// What every event loop serves from: a compiled route table and the TLS contexts of its
/// servers. Built off the loops, published whole.
package struct PublishedConfiguration: Sendable {
    package var table: RouteTable
    package var tls: ServerTLSContexts
    package var generation: Int
    /// Each cluster's load-balancing plan (endpoints, weights, hash ring or Maglev table), built
    /// here, off the event loops, once for all of them: a Maglev table takes milliseconds, which
    /// a request must not wait for on a loop.
    let balancerPlans: [String: LoadBalancerPlan]
    /// Per cluster: circuit breakers, timeouts, upstream TLS, shared counters.
    package let upstreamSettings: UpstreamSettings

    package init(table: RouteTable, tls: ServerTLSContexts, generation: Int, upstreamSettings: UpstreamSettings? = nil) {
        self.table = table
        self.tls = tls
        self.generation = generation
        self.upstreamSettings = upstreamSettings ?? UpstreamSettings.build(for: table, runtimes: ClusterRuntimes(), credentialsDirectory: nil, workloadCertificates: nil)
        self.balancerPlans = table.clusters.mapValues { LoadBalancerPlan(endpoints: $0.endpoints, settings: $0.policy.loadBalancer) }
    }
}

/// The state one event loop owns: the configuration it serves, its upstream connection pools,
/// its load balancers. Only ever touched on that loop, so nothing in it is locked.
package final class LoopState {
    package private(set) var configuration: PublishedConfiguration
    let limits: ProxyLimits
    let logger: Logger
    let upstreams: UpstreamPools
    private var balancers: [String: LoadBalancer] = [:]
    private var balancerGeneration: Int
    /// Routing's weighted choice, fault and mirror percentages, request ids, back-off jitter:
    /// a per-loop SplitMix64 seeded from the system generator once, not a `getrandom` call
    /// each time (three per request showed in the syscall profile).
    var random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    /// Requests in flight on this loop, for graceful drain.
    var activeRequests = 0
    /// Mirror copies still talking to their upstream (they outlive the primary exchange).
    var mirrorsInFlight: [ObjectIdentifier: MirrorExchange] = [:]
    /// Multiplexed connections flushing once per loop wake-up (`FlushCoalescer`).
    let flushBatch: FlushBatch

    init(eventLoop: any EventLoop, configuration: PublishedConfiguration, limits: ProxyLimits, logger: Logger) {
        self.configuration = configuration
        self.limits = limits
        self.logger = logger
        let flushBatch = FlushBatch(eventLoop: eventLoop)
        self.flushBatch = flushBatch
        self.upstreams = UpstreamPools(eventLoop: eventLoop, limits: limits, flushBatch: flushBatch)
        self.balancerGeneration = configuration.generation
    }

    func publish(_ configuration: PublishedConfiguration) {
        self.configuration = configuration
    }

    /// This loop's balancer of a cluster of the current table (its own rotation and random
    /// state over the shared plan); replaced when a new table arrives.
    func balancer(for cluster: Cluster) -> LoadBalancer {
        if balancerGeneration != configuration.generation {
            balancers.removeAll(keepingCapacity: true)
            balancerGeneration = configuration.generation
        }
        if let balancer = balancers[cluster.name] { return balancer }
        let plan = configuration.balancerPlans[cluster.name] ?? LoadBalancerPlan(endpoints: cluster.endpoints, settings: cluster.policy.loadBalancer)
        let balancer = LoadBalancer(plan: plan, seed: random.next())
        balancers[cluster.name] = balancer
        return balancer
    }

    /// An endpoint of `cluster` by its load balancer; `hashKey` gives the consistent-hash key
    /// for the cluster's hash policy (nil: none, a random pick). Least-request counts this
    /// loop's requests in flight to each endpoint.
    ///
    /// Endpoints the outlier detector ejected are skipped; so are those in `avoiding` (a retry
    /// prefers endpoints not tried yet, Envoy's previous-hosts predicate, up to five picks).
    func pickEndpoint(_ cluster: Cluster, settings: UpstreamClusterSettings?, http2: Bool, avoiding: [ClusterEndpoint] = [],
                      hashKey: (HashPolicy) -> UInt64?) -> ClusterEndpoint? {
        let balancer = balancer(for: cluster)
        let key = balancer.hashPolicy.flatMap(hashKey)
        let pools = upstreams
        var ejected: Set<String> = []
        if let settings, let outlier = settings.outlier {
            ejected = settings.runtime.outliers.ejected(endpointCount: cluster.endpoints.count, settings: outlier)
        }
        let endpoints = cluster.endpoints
        let isAvailable: (Int) -> Bool = ejected.isEmpty ? { _ in true } : { index in
            !ejected.contains(OutlierDetector.key(endpoints[index].address, endpoints[index].port))
        }
        var pick: ClusterEndpoint?
        for _ in 0..<(avoiding.isEmpty ? 1 : 5) {
            let index = balancer.pick(hashKey: key, isAvailable: isAvailable, activeRequests: { index in
                pools.activeRequests(UpstreamKey(endpoints[index], http2: http2))
            })
            guard let index else { return pick }
            pick = endpoints[index]
            if !avoiding.contains(endpoints[index]) { break }
        }
        return pick
    }
}

@available(*, unavailable)
extension LoopState: Sendable {}

/// The data plane: the event loops, the state each owns, and the configuration they serve.
package final class ProxyEngine: Sendable {
    package let group: MultiThreadedEventLoopGroup
    package let limits: ProxyLimits
    package let logger: Logger
    private let states: [ObjectIdentifier: NIOLoopBound<LoopState>]

    package init(threads: Int, limits: ProxyLimits, initial: PublishedConfiguration, logger: Logger) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.group = group
        self.limits = limits
        self.logger = logger
        var states: [ObjectIdentifier: NIOLoopBound<LoopState>] = [:]
        for loop in group.makeIterator() {
            // Each loop's state is created on its own thread so that NIOLoopBound's check holds.
            let bound = try! loop.submit {
                NIOLoopBound(LoopState(eventLoop: loop, configuration: initial, limits: limits, logger: logger), eventLoop: loop)
            }.wait()
            states[ObjectIdentifier(loop)] = bound
        }
        self.states = states
    }

    /// The state of the loop the caller runs on.
    func state(for eventLoop: any EventLoop) -> LoopState {
        states[ObjectIdentifier(eventLoop)]!.value
    }

    /// Hands a new configuration to every loop; requests in flight finish on the one they
    /// started with (they hold their own references to its routes and clusters).
    package func publish(_ configuration: PublishedConfiguration) {
        for (_, bound) in states {
            bound.eventLoop.execute { bound.value.publish(configuration) }
        }
    }

    /// Requests in flight over all loops.
    package func activeRequests() async -> Int {
        var total = 0
        for (_, bound) in states {
            total += (try? await bound.eventLoop.submit { bound.value.activeRequests }.get()) ?? 0
        }
        return total
    }

    package func shutdown() async {
        try? await group.shutdownGracefully()
    }
}
