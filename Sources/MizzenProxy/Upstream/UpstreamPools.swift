import MizzenRouting
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// One exchange's hold on an upstream: an HTTP/1 connection taken from the pool or an HTTP/2
/// stream. `release` gives it back (or closes it when it cannot be reused).
final class UpstreamLease {
    let key: UpstreamKey
    let handler: UpstreamHandler
    let channel: any Channel
    private let connection: UpstreamHTTP1Connection?
    private weak var pools: UpstreamPools?
    private var released = false

    init(key: UpstreamKey, handler: UpstreamHandler, channel: any Channel, connection: UpstreamHTTP1Connection?, pools: UpstreamPools) {
        self.key = key
        self.handler = handler
        self.channel = channel
        self.connection = connection
        self.pools = pools
    }

    var isHTTP1: Bool { connection != nil }

    /// The connection leaves the pool for good (it became a WebSocket tunnel); it is neither
    /// reused nor closed here, and no longer counts against the cluster's connections.
    func detach() {
        guard !released else { return }
        released = true
        handler.client = nil
        pools?.finished(key.endpoint)
        if let connection { pools?.detach(connection) }
    }

    /// Ends the exchange. A connection goes back to the pool only when the request and the
    /// response both ended cleanly, both sides keep it alive and its pool is not draining;
    /// anything else closes it, so that a half-written request can never be followed by another.
    func release(reusable: Bool) {
        guard !released else { return }
        released = true
        handler.client = nil
        pools?.finished(key.endpoint)
        if let connection {
            if reusable, channel.isActive, let pools {
                pools.returnConnection(connection)
            } else {
                channel.close(promise: nil)
            }
        } else if !reusable {
            // An HTTP/2 stream: closing the stream channel resets it if it is still open.
            channel.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension UpstreamLease: Sendable {}

/// A pooled HTTP/1.1 upstream connection.
final class UpstreamHTTP1Connection {
    let pool: ConnectionPool
    let channel: any Channel
    let handler: UpstreamHandler
    /// The runtime its slot in the cluster's connection count was taken from (the pool's
    /// cluster may be replaced by a publish; the count goes back where it was taken).
    let runtime: ClusterRuntime
    /// While idle: when it closes unless taken (`.distantFuture`: never).
    var idleDeadline: NIODeadline = .distantFuture
    /// Requests sent on it (`maxRequestsPerConnection`).
    var requests = 0

    init(pool: ConnectionPool, channel: any Channel, handler: UpstreamHandler, runtime: ClusterRuntime) {
        self.pool = pool
        self.channel = channel
        self.handler = handler
        self.runtime = runtime
    }

    /// It served its share of requests and closes instead of going back to the pool.
    var exhausted: Bool {
        guard let limit = pool.cluster.cluster.connection.maxRequestsPerConnection else { return false }
        return requests >= limit
    }
}

@available(*, unavailable)
extension UpstreamHTTP1Connection: Sendable {}

/// A multiplexed HTTP/2 upstream connection.
final class UpstreamHTTP2Connection {
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    /// Streams opened on it and still open (`maxRequestsPerConnection` retires it; it closes
    /// once its last stream ends).
    var streamsOpened = 0
    var openStreams = 0
    var retired = false

    init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.channel = channel
        self.multiplexer = multiplexer
    }

    func retire() {
        retired = true
        if openStreams == 0 { channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension UpstreamHTTP2Connection: Sendable {}

/// A request waiting for a connection of a pool (Envoy's pending stream): a connection is
/// opening for it, or every connection is busy. It holds a slot of the cluster's
/// `http1MaxPendingRequests` until it is served, fails, or is cancelled (the client left, the
/// route timed out), which gives the slot back at once.
final class PoolWaiter {
    private(set) weak var client: (any UpstreamClient)?
    let attempt: Int
    fileprivate let pool: ConnectionPool
    /// Still wants a connection or stream (false once served, failed or cancelled).
    fileprivate var waiting = true
    /// In the pool's queue and counted there.
    fileprivate var inQueue: Bool
    /// Holds one of the cluster's `http1MaxPendingRequests` (only when it has that limit);
    /// given back when it leaves the queue, or is cancelled.
    fileprivate var holdsPendingSlot: Bool
    /// The runtime the slot was taken from.
    fileprivate let slotRuntime: ClusterRuntime

    fileprivate init(client: any UpstreamClient, attempt: Int, pool: ConnectionPool, inQueue: Bool = true, holdsPendingSlot: Bool) {
        self.client = client
        self.attempt = attempt
        self.pool = pool
        self.inQueue = inQueue
        self.holdsPendingSlot = holdsPendingSlot
        slotRuntime = pool.cluster.runtime
    }

    /// Stops waiting; the connection it caused to open (if any) goes to the next waiter or the
    /// idle list.
    func cancel() {
        guard waiting else { return }
        waiting = false
        pool.pools?.cancelled(self)
    }
}

@available(*, unavailable)
extension PoolWaiter: Sendable {}

/// The connections of one pool (see `UpstreamKey`) on one event loop.
final class ConnectionPool {
    let key: UpstreamKey
    /// The cluster as last published: its connection settings, TLS and runtime (equal for
    /// every cluster with this pool identity) and its limits (which a publish may change
    /// without changing the identity).
    fileprivate(set) var cluster: PublishedCluster
    fileprivate weak var pools: UpstreamPools?
    fileprivate var idle: [UpstreamHTTP1Connection] = []
    /// HTTP/1 connections open or opening, and of those the opening ones.
    fileprivate var open = 0
    fileprivate var connecting = 0
    /// Requests waiting, in order; cancelled ones stay until they reach the front (taking one
    /// out of the middle would cost a scan), so `waitingCount` is the live count.
    fileprivate var waiters = CircularBuffer<PoolWaiter>(initialCapacity: 2)
    fileprivate var waitingCount = 0
    fileprivate var http2: HTTP2State = .none
    /// No longer in the published configuration: idle connections are closed, busy ones close
    /// when their exchange ends, nothing new is pooled.
    fileprivate(set) var draining = false

    fileprivate enum HTTP2State {
        case none
        case connecting
        case ready(UpstreamHTTP2Connection)
    }

    fileprivate init(key: UpstreamKey, cluster: PublishedCluster, pools: UpstreamPools) {
        self.key = key
        self.cluster = cluster
        self.pools = pools
    }

    fileprivate var isEmpty: Bool {
        guard open == 0, waitingCount == 0 else { return false }
        if case .none = http2 { return true }
        return false
    }
}

@available(*, unavailable)
extension ConnectionPool: Sendable {}

/// The upstream connections of one event loop: per pool (cluster connection settings and
/// endpoint), idle HTTP/1.1 connections for reuse and one HTTP/2 connection carrying many
/// streams. Requests on this loop use only these, so bytes never hop threads.
///
/// Circuit breaking follows Envoy's pools: a request takes an idle connection, or waits as a
/// pending request (one of the cluster's `http1MaxPendingRequests`, and at most
/// `ProxyLimits.maxPendingRequestsPerPool` per pool, or it overflows: 503 UO) while
/// connections open, up to the cluster's `maxConnections` (a pool with no connection at all may
/// always open one, so its requests cannot wait forever). A connection that fails to connect
/// fails every request waiting in its pool (Envoy's `purgePendingStreams`), each of which may
/// then retry elsewhere.
final class UpstreamPools {
    let eventLoop: any EventLoop
    let limits: ProxyLimits
    /// HTTP/2 upstream connections flush once per loop wake-up, as downstream ones do.
    let flushBatch: FlushBatch
    private var pools: [UpstreamKey: ConnectionPool] = [:]
    /// Requests in flight (or waiting) per endpoint from this loop, for LEAST_REQUEST.
    private var active: [EndpointAddress: Int] = [:]
    /// The pools the published configuration uses: identity to its cluster and endpoints.
    private var live: [UInt64: LivePool]
    /// One timer closes the pooled connections whose idle time is up (not one scheduled and
    /// cancelled per request); it fires at `sweepAt`, the earliest deadline armed for.
    private var sweepTimer: Scheduled<Void>?
    private var sweepAt: NIODeadline?

    init(eventLoop: any EventLoop, limits: ProxyLimits, flushBatch: FlushBatch, live: [UInt64: LivePool]) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.flushBatch = flushBatch
        self.live = live
    }

    /// Requests in flight to an endpoint from this loop (LEAST_REQUEST).
    func activeRequests(_ endpoint: EndpointAddress) -> Int { active[endpoint, default: 0] }

    func finished(_ endpoint: EndpointAddress) {
        guard let count = active[endpoint] else { return }
        if count <= 1 { active[endpoint] = nil } else { active[endpoint] = count - 1 }
    }

    private func started(_ endpoint: EndpointAddress) {
        active[endpoint, default: 0] += 1
    }

    // MARK: Publishing

    /// A new configuration: pools it no longer uses (cluster gone, connection settings or TLS
    /// changed, endpoint removed) drain, as Envoy drains the pools of a replaced cluster or a
    /// removed host; the others keep their connections and take the cluster as published now
    /// (its limits). A draining pool whose endpoint is back (a flapping endpoint) is in use
    /// again.
    func publish(live: [UInt64: LivePool]) {
        self.live = live
        for (key, pool) in pools {
            if let cluster = liveCluster(key) {
                pool.cluster = cluster
                pool.draining = false
            } else if !pool.draining {
                drain(pool)
            }
        }
    }

    private func liveCluster(_ key: UpstreamKey) -> PublishedCluster? {
        guard let pool = live[key.pool], pool.contains(key.endpoint) else { return nil }
        return pool.cluster
    }

    private func drain(_ pool: ConnectionPool) {
        pool.draining = true
        let idle = pool.idle
        pool.idle = []
        for connection in idle { connection.channel.close(promise: nil) }
        if case .ready(let connection) = pool.http2 {
            pool.http2 = .none
            connection.retire()
        }
        pruneIfDone(pool)
    }

    /// A pool with no connection and no waiter goes (a live one is made again when needed:
    /// pools keyed by a client's server name must not pile up).
    private func pruneIfDone(_ pool: ConnectionPool) {
        if pool.isEmpty, pools[pool.key] === pool { pools[pool.key] = nil }
    }

    private func pool(for key: UpstreamKey, cluster: PublishedCluster) -> ConnectionPool {
        if let pool = pools[key] { return pool }
        let pool = ConnectionPool(key: key, cluster: liveCluster(key) ?? cluster, pools: self)
        // A request of an older configuration (a retry after a reload) may still ask for a
        // pool the current one no longer has: it is served, then the pool goes away.
        if liveCluster(key) == nil { pool.draining = true }
        pools[key] = pool
        return pool
    }

    // MARK: Acquiring

    /// What `acquire` came to.
    enum Acquisition {
        /// An idle connection, leased now.
        case ready(UpstreamLease)
        /// Wait for `upstreamReady` or `upstreamUnavailable`; cancel when no longer wanted.
        case waiting(PoolWaiter)
        case failed(ProxyError)
    }

    /// A connection (or an HTTP/2 stream) to endpoint `endpoint` of `cluster` for one attempt
    /// of `client`. `serverName` is the SNI for a TLS cluster without a configured one.
    func acquire(_ cluster: PublishedCluster, endpoint: Int, serverName: String?, for client: any UpstreamClient, attempt: Int) -> Acquisition {
        if cluster.tlsProblem != nil { return .failed(.connectFailure) }
        let key = cluster.poolKey(endpoint: endpoint, serverName: serverName)
        let pool = pool(for: key, cluster: cluster)
        if cluster.speaksHTTP2 { return acquireStream(pool, client: client, attempt: attempt) }
        if let connection = takeIdle(pool) {
            started(key.endpoint)
            return .ready(lease(connection, client: client))
        }
        guard let waiter = enqueue(pool, client: client, attempt: attempt) else { return .failed(.overflow) }
        openConnectionsIfNeeded(pool)
        return .waiting(waiter)
    }

    /// A pending request, within the cluster's and the pool's bounds. The cluster's shared
    /// count is touched only when it has a limit (`http1MaxPendingRequests`).
    private func enqueue(_ pool: ConnectionPool, client: any UpstreamClient, attempt: Int) -> PoolWaiter? {
        let cluster = pool.cluster
        guard pool.waitingCount < limits.maxPendingRequestsPerPool else { return nil }
        let limit = cluster.cluster.limits.maxPendingRequests
        if limit != Int.max {
            guard cluster.runtime.pendingRequests.tryAcquire(limit: limit) else { return nil }
        }
        let waiter = PoolWaiter(client: client, attempt: attempt, pool: pool, holdsPendingSlot: limit != Int.max)
        pool.waiters.append(waiter)
        pool.waitingCount += 1
        started(pool.key.endpoint)
        return waiter
    }

    private func lease(_ connection: UpstreamHTTP1Connection, client: any UpstreamClient) -> UpstreamLease {
        connection.requests += 1
        connection.handler.attach(client)
        return UpstreamLease(key: connection.pool.key, handler: connection.handler, channel: connection.channel, connection: connection, pools: self)
    }

    private func takeIdle(_ pool: ConnectionPool) -> UpstreamHTTP1Connection? {
        while let connection = pool.idle.popLast() {
            connection.idleDeadline = .distantFuture
            if connection.channel.isActive && connection.handler.isActive { return connection }
        }
        return nil
    }

    /// A waiter gave up: its pending slot is free at once (the waiter itself leaves the queue
    /// when it reaches the front).
    fileprivate func cancelled(_ waiter: PoolWaiter) {
        let pool = waiter.pool
        if waiter.inQueue {
            waiter.inQueue = false
            pool.waitingCount -= 1
        }
        giveBackPendingSlot(waiter)
        finished(pool.key.endpoint)
        if pool.waitingCount == 0 { pool.waiters.removeAll(keepingCapacity: true) }
        pruneIfDone(pool)
    }

    private func giveBackPendingSlot(_ waiter: PoolWaiter) {
        guard waiter.holdsPendingSlot else { return }
        waiter.holdsPendingSlot = false
        waiter.slotRuntime.pendingRequests.decrement()
    }

    /// The first waiter still waiting, taken off the queue with its pending slot given back.
    private func nextWaiter(_ pool: ConnectionPool) -> PoolWaiter? {
        while let waiter = pool.waiters.popFirst() {
            guard waiter.inQueue else { continue }
            waiter.inQueue = false
            pool.waitingCount -= 1
            giveBackPendingSlot(waiter)
            if waiter.client == nil {
                waiter.waiting = false
                finished(pool.key.endpoint)
                continue
            }
            return waiter
        }
        return nil
    }

    /// Fails every waiter of `pool` (its connection could not be made).
    private func failWaiters(_ pool: ConnectionPool, _ error: ProxyError) {
        while let waiter = nextWaiter(pool) {
            waiter.waiting = false
            finished(pool.key.endpoint)
            waiter.client?.upstreamUnavailable(error, attempt: waiter.attempt)
        }
    }

    // MARK: HTTP/1 connections

    /// Opens connections while waiters outnumber the connections opening for them, up to the
    /// cluster's `maxConnections` (a pool without any connection may always open one).
    private func openConnectionsIfNeeded(_ pool: ConnectionPool) {
        while pool.connecting < pool.waitingCount {
            let runtime = pool.cluster.runtime
            if !runtime.connections.tryAcquire(limit: pool.cluster.cluster.limits.maxConnections) {
                guard pool.open == 0 else { return }
                runtime.connections.increment()
            }
            pool.open += 1
            pool.connecting += 1
            connectHTTP1(pool, runtime: runtime)
        }
    }

    private func connectHTTP1(_ pool: ConnectionPool, runtime: ClusterRuntime) {
        let cluster = pool.cluster
        let bootstrap = UpstreamConnector.bootstrap(eventLoop, limits: limits, settings: cluster.cluster.connection,
                                                    sourceAddress: cluster.cluster.originalDestination?.sourceAddress,
                                                    destination: pool.key.endpoint.address).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                let encoder = HTTPRequestEncoder()
                let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop))
                try sync.addHandler(encoder, name: "http-request-encoder")
                try sync.addHandler(decoder, name: "http-response-decoder")
                try sync.addHandler(UpstreamHandler(), name: "upstream")
            }
        }
        let endpoint = pool.key.endpoint
        let tls = cluster.tls(for: endpoint)
        let connected = UpstreamConnector.connect(bootstrap, address: endpoint.address, port: Int(endpoint.port), tls: tls,
                                                  serverName: pool.key.serverName ?? tls?.serverName)
        connected.assumeIsolated().whenComplete { result in
            pool.connecting -= 1
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self), channel.isActive else {
                    channel.close(promise: nil)
                    self.connectFailed(pool, runtime: runtime)
                    return
                }
                let connection = UpstreamHTTP1Connection(pool: pool, channel: channel, handler: handler, runtime: runtime)
                // Strong: the connection must outlive a TLS close that completes after its last
                // exchange let it go (close_notify); the cycle ends when the closure is cleared.
                handler.onClose = { [weak self, connection] in self?.connectionClosed(connection) }
                self.returnConnection(connection)
            case .failure:
                self.connectFailed(pool, runtime: runtime)
            }
        }
    }

    private func connectFailed(_ pool: ConnectionPool, runtime: ClusterRuntime) {
        pool.open -= 1
        runtime.connections.decrement()
        failWaiters(pool, .connectFailure)
        pruneIfDone(pool)
    }

    /// An open connection of `pool` closed: its slot is free, so a waiter held back by
    /// `maxConnections` may get a connection of its own.
    private func connectionClosed(_ connection: UpstreamHTTP1Connection) {
        let pool = connection.pool
        if let index = pool.idle.firstIndex(where: { $0 === connection }) { pool.idle.remove(at: index) }
        pool.open -= 1
        connection.runtime.connections.decrement()
        openConnectionsIfNeeded(pool)
        pruneIfDone(pool)
    }

    /// A connection of an exchange that ended cleanly, or a new one: to the first waiter, else
    /// the idle list; closed instead when it is used up or its pool is draining (a waiter of a
    /// draining pool still gets it: its request is from before the reload).
    func returnConnection(_ connection: UpstreamHTTP1Connection) {
        let pool = connection.pool
        if connection.exhausted {
            connection.channel.close(promise: nil)
            return
        }
        if let waiter = nextWaiter(pool), let client = waiter.client {
            waiter.waiting = false
            client.upstreamReady(lease(connection, client: client), attempt: waiter.attempt)
            return
        }
        guard !pool.draining, pool.idle.count < limits.maxIdleUpstreamConnections else {
            connection.channel.close(promise: nil)
            return
        }
        let timeout = pool.cluster.cluster.connection.idleTimeout.map { TimeAmount.nanoseconds($0) } ?? limits.upstreamIdleTimeout
        if timeout.nanoseconds > 0 {
            connection.idleDeadline = .now() + timeout
            armSweep(at: connection.idleDeadline)
        }
        pool.idle.append(connection)
    }

    /// A connection became a tunnel: it leaves its pool and the cluster's connection count.
    fileprivate func detach(_ connection: UpstreamHTTP1Connection) {
        connection.handler.onClose = nil
        let pool = connection.pool
        pool.open -= 1
        connection.runtime.connections.decrement()
        openConnectionsIfNeeded(pool)
        pruneIfDone(pool)
    }

    /// Makes sure the sweep runs by `deadline`. Deadlines mostly come in increasing order
    /// (one idle timeout for the cluster), so the timer is rarely rescheduled.
    private func armSweep(at deadline: NIODeadline) {
        if let sweepAt, sweepAt <= deadline { return }
        sweepTimer?.cancel()
        sweepAt = deadline
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweepTimer = eventLoop.scheduleTask(deadline: deadline) { bound.value.sweepIdle() }
    }

    /// Closes the pooled connections past their idle deadline and re-arms for the next one.
    private func sweepIdle() {
        sweepTimer = nil
        sweepAt = nil
        let now = NIODeadline.now()
        var expired: [UpstreamHTTP1Connection] = []
        var next: NIODeadline?
        for pool in pools.values {
            for connection in pool.idle {
                if connection.idleDeadline <= now {
                    expired.append(connection)
                } else if connection.idleDeadline != .distantFuture {
                    next = min(next ?? connection.idleDeadline, connection.idleDeadline)
                }
            }
        }
        for connection in expired {
            let pool = connection.pool
            if let index = pool.idle.firstIndex(where: { $0 === connection }) { pool.idle.remove(at: index) }
            connection.channel.close(promise: nil)
        }
        if let next { armSweep(at: next) }
    }

    // MARK: HTTP/2 connections

    private func acquireStream(_ pool: ConnectionPool, client: any UpstreamClient, attempt: Int) -> Acquisition {
        switch pool.http2 {
        case .ready(let connection) where !connection.retired && connection.channel.isActive:
            started(pool.key.endpoint)
            let waiter = PoolWaiter(client: client, attempt: attempt, pool: pool, inQueue: false, holdsPendingSlot: false)
            openStream(on: connection, pool: pool, for: waiter)
            return .waiting(waiter)
        case .connecting:
            guard let waiter = enqueue(pool, client: client, attempt: attempt) else { return .failed(.overflow) }
            return .waiting(waiter)
        case .ready, .none:
            guard let waiter = enqueue(pool, client: client, attempt: attempt) else { return .failed(.overflow) }
            connectHTTP2(pool)
            return .waiting(waiter)
        }
    }

    private func connectHTTP2(_ pool: ConnectionPool) {
        pool.http2 = .connecting
        var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
        connectionConfiguration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        var streamConfiguration = NIOHTTP2Handler.StreamConfiguration()
        streamConfiguration.targetWindowSize = 1 << 20
        let runtime = pool.cluster.runtime
        runtime.connections.increment()
        let batch = NIOLoopBound(flushBatch, eventLoop: eventLoop)
        let bootstrap = UpstreamConnector.bootstrap(eventLoop, limits: limits, settings: pool.cluster.cluster.connection,
                                                    sourceAddress: pool.cluster.cluster.originalDestination?.sourceAddress,
                                                    destination: pool.key.endpoint.address)
            .channelInitializer { [connectionConfiguration, streamConfiguration] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FlushCoalescer(batch: batch.value), name: "flush-coalescer")
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connectionConfiguration, streamConfiguration: streamConfiguration
                    ) { stream in stream.close() }
                }
            }
        let endpoint = pool.key.endpoint
        let tls = pool.cluster.tls(for: endpoint)
        let connected = UpstreamConnector.connect(bootstrap, address: endpoint.address, port: Int(endpoint.port), tls: tls,
                                                  serverName: pool.key.serverName ?? tls?.serverName)
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self),
                      let multiplexer = try? handler.syncMultiplexer(), channel.isActive else {
                    channel.close(promise: nil)
                    runtime.connections.decrement()
                    pool.http2 = .none
                    self.failWaiters(pool, .connectFailure)
                    self.pruneIfDone(pool)
                    return
                }
                let connection = UpstreamHTTP2Connection(channel: channel, multiplexer: multiplexer)
                channel.closeFuture.assumeIsolated().whenComplete { _ in
                    runtime.connections.decrement()
                    if case .ready(let current) = pool.http2, current === connection { pool.http2 = .none }
                    self.pruneIfDone(pool)
                }
                pool.http2 = .ready(connection)
                // Within `maxRequestsPerConnection`: once the connection retires, the waiters
                // left get a new one.
                while !connection.retired, let waiter = self.nextWaiter(pool) { self.openStream(on: connection, pool: pool, for: waiter) }
                if pool.draining {
                    pool.http2 = .none
                    connection.retire()
                } else if pool.waitingCount > 0, case .none = pool.http2 {
                    self.connectHTTP2(pool)
                }
            case .failure:
                runtime.connections.decrement()
                pool.http2 = .none
                self.failWaiters(pool, .connectFailure)
                self.pruneIfDone(pool)
            }
        }
    }

    private func openStream(on connection: UpstreamHTTP2Connection, pool: ConnectionPool, for waiter: PoolWaiter) {
        connection.streamsOpened += 1
        if let limit = pool.cluster.cluster.connection.maxRequestsPerConnection, connection.streamsOpened >= limit, !connection.retired {
            // The next request opens a new connection; this one closes after its last stream.
            connection.retired = true
            if case .ready(let current) = pool.http2, current === connection { pool.http2 = .none }
        }
        connection.openStreams += 1
        let promise = eventLoop.makePromise(of: (any Channel).self)
        connection.multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
            }
        }
        let key = pool.key
        promise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let stream):
                stream.closeFuture.assumeIsolated().whenComplete { _ in
                    connection.openStreams -= 1
                    if connection.retired && connection.openStreams == 0 { connection.channel.close(promise: nil) }
                }
                guard waiter.waiting, let client = waiter.client,
                      let handler = try? stream.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                    if waiter.waiting {
                        waiter.waiting = false
                        self.finished(key.endpoint)
                    }
                    stream.close(promise: nil)
                    return
                }
                waiter.waiting = false
                handler.attach(client)
                client.upstreamReady(UpstreamLease(key: key, handler: handler, channel: stream, connection: nil, pools: self), attempt: waiter.attempt)
            case .failure:
                connection.openStreams -= 1
                if connection.retired && connection.openStreams == 0 { connection.channel.close(promise: nil) }
                guard waiter.waiting else { return }
                waiter.waiting = false
                self.finished(key.endpoint)
                waiter.client?.upstreamUnavailable(.connectFailure, attempt: waiter.attempt)
            }
        }
    }
}

@available(*, unavailable)
extension UpstreamPools: Sendable {}

extension UpstreamPools {
    /// This loop's pools, per cluster name and endpoint (`ip:port`): connections open or
    /// opening, requests waiting for one, requests in flight to the endpoint (counted per
    /// endpoint address: a subset sharing an endpoint shows the same requests). For a scrape
    /// or `/clusters`, not the request path.
    func statistics() -> [String: PoolStatistics] {
        var result: [String: PoolStatistics] = [:]
        for (key, pool) in pools {
            let name = pool.cluster.cluster.name
            let endpoint = key.endpoint.address.contains(":") ? "[\(key.endpoint.address)]:\(key.endpoint.port)" : "\(key.endpoint.address):\(key.endpoint.port)"
            var connections = pool.open
            if case .ready = pool.http2 { connections += 1 } else if case .connecting = pool.http2 { connections += 1 }
            result[name, default: PoolStatistics()].add(endpoint: endpoint, connections: connections, pending: pool.waitingCount,
                                                        active: active[key.endpoint, default: 0])
        }
        return result
    }
}

/// One cluster's pools on one loop (summed over loops for a scrape).
package struct PoolStatistics: Sendable {
    package var connections = 0
    package var pending = 0
    package var endpoints: [String: (connections: Int, active: Int)] = [:]

    mutating func add(endpoint: String, connections: Int, pending: Int, active: Int) {
        self.connections += connections
        self.pending += pending
        let previous = endpoints[endpoint] ?? (0, 0)
        // `active` is per endpoint address already: taken once, not per pool.
        endpoints[endpoint] = (previous.connections + connections, max(previous.active, active))
    }

    package mutating func merge(_ other: PoolStatistics) {
        connections += other.connections
        pending += other.pending
        for (endpoint, value) in other.endpoints {
            let previous = endpoints[endpoint] ?? (0, 0)
            endpoints[endpoint] = (previous.connections + value.connections, previous.active + value.active)
        }
    }

    package var activeRequests: Int { endpoints.values.reduce(0) { $0 + $1.active } }
}
