package import Logging
package import MizzenRouting
import NIOCore
package import NIOPosix
import NIOSSL

/// What every event loop serves from: a compiled route table, the TLS contexts of its servers
/// and its clusters as published (`PublishedCluster`). Built off the loops, published whole,
/// immutable: a request holds the snapshot it started with until it ends.
package final class ProxySnapshot: Sendable {
    package let table: RouteTable
    package let serverTLS: ServerTLSContexts
    package let clusters: [String: PublishedCluster]
    package let generation: Int
    /// Problems met building it (TLS that could not be set up), for the log.
    package let problems: [String]
    /// The pools in use: pool identity to its cluster and endpoints.
    let livePools: [UInt64: LivePool]
    /// A sidecar's inbound mutual TLS (its workload certificate); nil without one.
    package let meshServer: MeshServerTLS?
    /// This proxy's SPIFFE identity, from its workload certificate (`--workload-certs`).
    package let localPrincipal: String?

    private init(table: RouteTable, serverTLS: ServerTLSContexts, clusters: [String: PublishedCluster], generation: Int, problems: [String],
                 meshServer: MeshServerTLS? = nil, localPrincipal: String? = nil, previous: ProxySnapshot? = nil) {
        self.meshServer = meshServer
        self.localPrincipal = localPrincipal
        self.table = table
        self.serverTLS = serverTLS
        self.clusters = clusters
        self.generation = generation
        self.problems = problems
        var live: [UInt64: LivePool] = [:]
        live.reserveCapacity(clusters.count)
        for cluster in clusters.values {
            if let kept = previous?.livePools[cluster.poolIdentity], kept.cluster === cluster {
                live[cluster.poolIdentity] = kept
            } else {
                live[cluster.poolIdentity] = LivePool(cluster: cluster, endpoints: Set(cluster.endpoints.map(EndpointAddress.init)))
            }
        }
        livePools = live
    }

    /// Builds the snapshot of `table`, reading TLS files. What `previous` already had and did
    /// not change is kept: balancing plans (Maglev tables and rings are not rebuilt), client TLS
    /// contexts and the pool identities of clusters whose connection settings and TLS files are
    /// the same (their pooled connections stay in use). `runtimes` keeps the counters of the
    /// clusters still configured and forgets the others.
    package static func build(table: RouteTable, generation: Int, previous: ProxySnapshot? = nil, runtimes: ClusterRuntimes = ClusterRuntimes(),
                              credentialsDirectory: String? = nil, secrets: TLSCredentials? = nil, workloadCertificates: String? = nil,
                              trustDomain: String = "cluster.local") -> ProxySnapshot {
        var credentials = secrets ?? TLSCredentials()
        credentials.directory = credentials.directory ?? credentialsDirectory
        let serverTLS = ServerTLSContexts.build(for: table, credentials: credentials, previous: previous?.serverTLS)
        var problems = serverTLS.problems
        let workload = workloadCertificates.map(UpstreamTLS.WorkloadCertificates.init)
        let runtimeByName = runtimes.retain(table.clusters.keys)
        var clusters: [String: PublishedCluster] = [:]
        clusters.reserveCapacity(table.clusters.count)
        var plainMeshClusters = 0
        for (name, cluster) in table.clusters {
            let old = previous?.clusters[name]
            let runtime = runtimeByName[name] ?? ClusterRuntime()
            // The same compiled cluster (a compile that reused it) with no TLS to set up: the
            // published one as it is.
            if let old, old.cluster === cluster, old.runtime === runtime, cluster.connection.tls == nil,
               cluster.connection.meshTLS == nil || !cluster.endpoints.contains(where: \.meshTLS) {
                clusters[name] = old
                continue
            }
            let plan = old.flatMap { $0.plan.serves(cluster.endpoints, spec: cluster.loadBalancer) ? $0.plan : nil }
                ?? LoadBalancerPlan(endpoints: cluster.endpoints, spec: cluster.loadBalancer)
            var tls: UpstreamTLS?
            var tlsProblem: String?
            if let settings = cluster.connection.tls {
                do {
                    tls = try UpstreamTLS.make(settings, credentials: credentials, workloadCertificates: workload, previous: old?.tls)
                } catch {
                    let description = "\(error)"
                    tlsProblem = description
                    problems.append("\(cluster.policySource ?? "DestinationRule") trafficPolicy.tls for cluster \(name): \(description); requests to it fail (503 UF)")
                }
            }
            // Istio's auto mTLS towards the endpoints with a sidecar; without the workload's
            // certificate they get plain text (said once per publish, below).
            var meshTLS: UpstreamTLS?
            if tls == nil, let settings = cluster.connection.meshTLS, cluster.endpoints.contains(where: \.meshTLS) {
                if let workload {
                    do {
                        meshTLS = try UpstreamTLS.make(settings, credentials: TLSCredentials(), workloadCertificates: workload, previous: old?.meshTLS)
                    } catch {
                        problems.append("auto mTLS for cluster \(name): \(error); its endpoints get plain text")
                    }
                } else {
                    plainMeshClusters += 1
                }
            }
            let sameConnections = old.map { $0.cluster.connection == cluster.connection && $0.tls === tls && $0.tlsProblem == tlsProblem && $0.meshTLS === meshTLS } ?? false
            let identity = sameConnections ? old!.poolIdentity : PublishedCluster.nextPoolIdentity()
            let monitors = cluster.outlierDetection == nil ? [] : runtime.outliers.monitors(for: cluster.endpoints)
            clusters[name] = PublishedCluster(cluster: cluster, runtime: runtime, plan: plan, tls: tls, tlsProblem: tlsProblem, poolIdentity: identity,
                                              monitors: monitors, meshTLS: meshTLS)
        }
        if plainMeshClusters > 0 {
            problems.append("auto mTLS: \(plainMeshClusters) cluster\(plainMeshClusters == 1 ? "" : "s") reach workloads with a sidecar, but no --workload-certs: plain text to them")
        }
        var meshServer: MeshServerTLS?
        if !table.proxy.isGateway, let workload {
            do {
                meshServer = try MeshServerTLS.make(workload, trustDomain: trustDomain, previous: previous?.meshServer)
            } catch {
                problems.append("inbound mutual TLS not set up (\(error)): STRICT ports refuse connections, PERMISSIVE ones take plain text only")
            }
        }
        var localPrincipal = meshServer?.localPrincipal
        if localPrincipal == nil, let workload, let bytes = FileBytes.read("\(workload.directory)/cert-chain.pem"),
           let leaf = try? NIOSSLCertificate.fromPEMBytes(bytes).first {
            localPrincipal = MeshIdentity.uriSAN(leaf)
        }
        return ProxySnapshot(table: table, serverTLS: serverTLS, clusters: clusters, generation: generation, problems: problems, meshServer: meshServer,
                             localPrincipal: localPrincipal, previous: previous)
    }
}

/// The state one event loop owns: the snapshot it serves, its upstream connection pools, its
/// load balancers. Only ever touched on that loop, so nothing in it is locked.
package final class LoopState {
    package private(set) var snapshot: ProxySnapshot
    let limits: ProxyLimits
    let logger: Logger
    let upstreams: UpstreamPools
    /// This loop's balancer of each plan in use, by plan identity (the balancer holds its plan,
    /// so the identity cannot be reused while the entry exists).
    private var balancers: [ObjectIdentifier: LoadBalancer] = [:]
    /// Routing's weighted choice, fault and mirror percentages, request ids, back-off jitter:
    /// a per-loop SplitMix64 seeded from the system generator once, not a `getrandom` call
    /// each time (three per request showed in the syscall profile).
    var random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    /// Requests in flight on this loop, for graceful drain.
    var activeRequests = 0
    /// Mirror copies still talking to their upstream (they outlive the primary exchange).
    var mirrorsInFlight: [ObjectIdentifier: MirrorExchange] = [:]
    /// Multiplexed connections flush once per loop wake-up (`FlushCoalescer`).
    let flushBatch: FlushBatch
    /// Also called with the record of every exchange that finishes on this loop (tests observe
    /// records here).
    var exchangeFinished: ((ExchangeRecord) -> Void)?
    /// This loop's metrics, access-log batch and span hand-off; nil: no telemetry.
    let telemetry: LoopTelemetry?
    /// Requests are told to close their connections (HTTP/1 `Connection: close`, HTTP/2
    /// GOAWAY) as they finish: the proxy is draining.
    private(set) var draining = false
    /// ORIGINAL_DST clusters resolved per destination (a sidecar's inbound and passthrough).
    let originalDestinations = OriginalDestinationClusters()
    /// Downstream HTTP/2 connections open on this loop (GOAWAY goes to each when draining).
    var http2Connections: [ObjectIdentifier: HTTP2ServerConnectionHandler] = [:]

    init(eventLoop: any EventLoop, snapshot: ProxySnapshot, limits: ProxyLimits, logger: Logger, telemetry: ProxyTelemetry? = nil) {
        self.snapshot = snapshot
        self.limits = limits
        self.logger = logger
        self.telemetry = telemetry.map { LoopTelemetry(shared: $0, eventLoop: eventLoop) }
        let flushBatch = FlushBatch(eventLoop: eventLoop)
        self.flushBatch = flushBatch
        self.upstreams = UpstreamPools(eventLoop: eventLoop, limits: limits, flushBatch: flushBatch, live: snapshot.livePools)
        self.telemetry?.publish(snapshot)
    }

    /// A new snapshot: pools of changed or vanished clusters and endpoints drain; balancers of
    /// plans no longer published are dropped (a request still holding an old plan gets a
    /// balancer of its own for it).
    func publish(_ snapshot: ProxySnapshot) {
        self.snapshot = snapshot
        var livePlans: Set<ObjectIdentifier> = []
        for cluster in snapshot.clusters.values { livePlans.insert(ObjectIdentifier(cluster.plan)) }
        balancers = balancers.filter { livePlans.contains($0.key) }
        originalDestinations.removeAll()
        upstreams.publish(live: snapshot.livePools)
        telemetry?.publish(snapshot)
    }

    /// Starts or ends draining: HTTP/2 connections get GOAWAY now, HTTP/1 responses
    /// `Connection: close` from now on.
    func setDraining(_ draining: Bool) {
        self.draining = draining
        if draining {
            for connection in Array(http2Connections.values) { connection.drain() }
        }
    }

    /// This loop's balancer over `plan` (its own rotation and random state over the shared plan).
    func balancer(for plan: LoadBalancerPlan) -> LoadBalancer {
        if let balancer = balancers[ObjectIdentifier(plan)], balancer.plan === plan { return balancer }
        let balancer = LoadBalancer(plan: plan, seed: random.next())
        balancers[ObjectIdentifier(plan)] = balancer
        return balancer
    }

    /// An endpoint index of `cluster` by its load balancer. `hashKey` is the request's
    /// consistent-hash key (nil: none, a random pick). Least-request counts this loop's
    /// requests in flight to each endpoint.
    ///
    /// Endpoints the outlier detector ejected are skipped, unless the cluster is below its panic
    /// threshold; so are those in `avoiding` (a retry goes to endpoints not tried yet, Envoy's
    /// previous-hosts predicate), unless every available one was tried.
    func pickEndpoint(_ cluster: PublishedCluster, avoiding: EndpointSet = EndpointSet(), hashKey: UInt64?) -> Int? {
        // An ORIGINAL_DST cluster resolved for a connection has its one endpoint.
        if cluster.cluster.originalDestination != nil { return cluster.plan.endpoints.isEmpty ? nil : 0 }
        let balancer = balancer(for: cluster.plan)
        let plan = cluster.plan
        let pools = upstreams
        let activeRequests: (Int) -> Int = { index in
            pools.activeRequests(EndpointAddress(plan.endpoints[index]))
        }
        var ejected: ((Int) -> Bool)?
        if let settings = cluster.cluster.outlierDetection, cluster.monitors.count == plan.endpoints.count,
           cluster.runtime.outliers.honoursEjections(endpointCount: plan.endpoints.count, settings: settings) {
            let detector = cluster.runtime.outliers
            let monitors = cluster.monitors
            let now = NIODeadline.now()
            ejected = { index in detector.isEjected(monitors[index], now: now) }
        }
        if !avoiding.isEmpty {
            let fresh = balancer.pick(hashKey: hashKey, isAvailable: { index in !avoiding.contains(index) && !(ejected?(index) ?? false) },
                                      activeRequests: activeRequests)
            if let fresh { return fresh }
        }
        if let ejected {
            return balancer.pick(hashKey: hashKey, isAvailable: { !ejected($0) }, activeRequests: activeRequests)
        }
        return balancer.pick(hashKey: hashKey, isAvailable: { _ in true }, activeRequests: activeRequests)
    }
}

@available(*, unavailable)
extension LoopState: Sendable {}

/// The data plane: the event loops, the state each owns, and the snapshot they serve.
package final class ProxyEngine: Sendable {
    package let group: MultiThreadedEventLoopGroup
    package let limits: ProxyLimits
    package let logger: Logger
    let states: [ObjectIdentifier: NIOLoopBound<LoopState>]

    package let telemetry: ProxyTelemetry?

    package init(threads: Int, limits: ProxyLimits, initial: ProxySnapshot, logger: Logger, telemetry: ProxyTelemetry? = nil) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.group = group
        self.limits = limits
        self.logger = logger
        self.telemetry = telemetry
        var states: [ObjectIdentifier: NIOLoopBound<LoopState>] = [:]
        for loop in group.makeIterator() {
            // Each loop's state is created on its own thread so that NIOLoopBound's check holds.
            let bound = try! loop.submit {
                NIOLoopBound(LoopState(eventLoop: loop, snapshot: initial, limits: limits, logger: logger, telemetry: telemetry), eventLoop: loop)
            }.wait()
            states[ObjectIdentifier(loop)] = bound
        }
        self.states = states
    }

    /// The state of the loop the caller runs on.
    func state(for eventLoop: any EventLoop) -> LoopState {
        states[ObjectIdentifier(eventLoop)]!.value
    }

    /// Hands a new snapshot to every loop; requests in flight finish on the one they started
    /// with (they hold their own references to its routes and clusters).
    package func publish(_ snapshot: ProxySnapshot) {
        for (_, bound) in states {
            bound.eventLoop.execute { bound.value.publish(snapshot) }
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
