#if canImport(Glibc)
import Glibc
#endif
import MizzenRouting
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// An upstream endpoint as the pools key it: address, port, the protocol spoken to it and,
/// for TLS, the cluster and server name (connections made with different TLS settings or SNI
/// never mix, as Envoy keys its pools).
struct UpstreamKey: Hashable {
    var address: String
    var port: Int
    var http2: Bool
    var tls: String?

    init(_ endpoint: ClusterEndpoint, http2: Bool, tls: String? = nil) {
        address = endpoint.address
        port = Int(endpoint.port)
        self.http2 = http2
        self.tls = tls
    }

    /// The endpoint alone, for per-endpoint request counts.
    var endpointOnly: UpstreamKey {
        var key = self
        key.tls = nil
        return key
    }

    /// The pools look keys up several times a request: hash the port, the protocol and an
    /// FNV-1a fold of the address bytes (String's own hashing cost ~1,000 instructions a
    /// lookup). The TLS key only splits pools of the same endpoint, so equality settles it.
    func hash(into hasher: inout Hasher) {
        func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
            var fold: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes { fold = (fold ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            return fold
        }
        let fold = address.utf8.withContiguousStorageIfAvailable(fnv1a) ?? fnv1a(address.utf8)
        hasher.combine(fold ^ UInt64(truncatingIfNeeded: port) ^ (http2 ? 1 << 63 : 0))
    }
}

/// Opening a connection to an upstream endpoint, for the HTTP pools and the TCP proxy alike.
enum UpstreamConnector {
    static func bootstrap(_ eventLoop: any EventLoop, limits: ProxyLimits, settings: UpstreamClusterSettings? = nil) -> ClientBootstrap {
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(settings?.connectTimeout ?? limits.upstreamConnectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let keepalive = settings?.keepalive {
            bootstrap = bootstrap.channelOption(.socketOption(.so_keepalive), value: 1)
            if let time = keepalive.time, time > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPIDLE)), value: SocketOptionValue(time))
            }
            if let interval = keepalive.interval, interval > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPINTVL)), value: SocketOptionValue(interval))
            }
            if let probes = keepalive.probes, probes > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPCNT)), value: SocketOptionValue(probes))
            }
        }
        return bootstrap
    }

    /// Connects; IP literals (Kubernetes endpoints, STATIC ServiceEntries) skip the resolver.
    /// Failure is always `ProxyError.connectFailure` (503 UF).
    static func connect(_ bootstrap: ClientBootstrap, address: String, port: Int) -> EventLoopFuture<any Channel> {
        let future: EventLoopFuture<any Channel>
        if let socketAddress = try? SocketAddress(ipAddress: address, port: port) {
            future = bootstrap.connect(to: socketAddress)
        } else {
            future = bootstrap.connect(host: address, port: port)
        }
        return future.flatMapErrorThrowing { _ in throw ProxyError.connectFailure }
    }

    /// Adds TLS origination at the front of a new upstream channel; the returned future
    /// completes when the handshake and the certificate name check are done.
    static func addTLS(_ tls: UpstreamTLS, serverName: String?, to channel: any Channel) throws -> EventLoopFuture<Void> {
        // SNI must be a DNS name; an IP literal is not sent.
        let sni = serverName.flatMap { (try? SocketAddress(ipAddress: $0, port: 0)) == nil ? $0 : nil }
        let handler = try NIOSSLClientHandler(context: tls.context, serverHostname: sni)
        let done = channel.eventLoop.makePromise(of: Void.self)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(handler, position: .first)
        try sync.addHandler(UpstreamHandshakeCheck(requiredNames: tls.requiredNames(serverName: serverName), done: done), position: .after(handler))
        return done.futureResult
    }
}

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
    /// reused nor closed here.
    func detach() {
        guard !released else { return }
        released = true
        handler.receiver = nil
        handler.onClose = nil
        pools?.finished(key)
    }

    /// Ends the exchange. A connection goes back to the idle list only when the request and
    /// the response both ended cleanly and both sides keep it alive; anything else closes it so
    /// that a half-written request can never be followed by another one.
    func release(reusable: Bool) {
        guard !released else { return }
        released = true
        handler.receiver = nil
        pools?.finished(key)
        if let connection {
            if reusable, channel.isActive, let pools, !connection.exhausted {
                pools.returnIdle(connection)
            } else {
                channel.close(promise: nil)
            }
        } else if !reusable {
            // An HTTP/2 stream: closing the stream channel resets it if it is still open.
            channel.close(promise: nil)
        }
    }
}

// Loop-bound: a lease is created, used and released on its pool's event loop only. It travels in
// EventLoopFutures that complete on that same loop, which is what the checked conformance would
// forbid; callbacks use `assumeIsolated()`.
extension UpstreamLease: @unchecked Sendable {}

/// A pooled HTTP/1.1 upstream connection.
final class UpstreamHTTP1Connection {
    let key: UpstreamKey
    let channel: any Channel
    let handler: UpstreamHandler
    let settings: UpstreamClusterSettings?
    /// While pooled: when it closes unless taken (`.distantFuture`: never).
    var idleDeadline: NIODeadline = .distantFuture
    /// Requests sent on it (`maxRequestsPerConnection`).
    var requests = 0

    init(key: UpstreamKey, channel: any Channel, handler: UpstreamHandler, settings: UpstreamClusterSettings?) {
        self.key = key
        self.channel = channel
        self.handler = handler
        self.settings = settings
    }

    /// It served its share of requests and closes instead of going back to the pool.
    var exhausted: Bool {
        guard let limit = settings?.breakers.maxRequestsPerConnection else { return false }
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
}

// Loop-bound like `UpstreamLease`: only touched on its pool's event loop.
extension UpstreamHTTP2Connection: @unchecked Sendable {}

/// The upstream connections of one event loop, per endpoint: idle HTTP/1.1 connections for
/// reuse and one HTTP/2 connection carrying many streams. Requests on this loop use only these,
/// so bytes never hop threads.
///
/// Circuit breaking follows Envoy's HTTP/1 pool: a request takes an idle connection, or opens
/// one while the cluster is under `maxConnections` (a pool with no connection at all always
/// may, so its requests cannot wait forever), or waits for a connection of this pool while the
/// cluster has fewer than `http1MaxPendingRequests` waiting; otherwise it overflows (503 UO).
final class UpstreamPools {
    let eventLoop: any EventLoop
    let limits: ProxyLimits
    /// HTTP/2 upstream connections flush once per loop wake-up, as downstream ones do.
    let flushBatch: FlushBatch
    private var idle: [UpstreamKey: [UpstreamHTTP1Connection]] = [:]
    private var http2: [UpstreamKey: EventLoopFuture<UpstreamHTTP2Connection>] = [:]
    private var active: [UpstreamKey: Int] = [:]
    /// HTTP/1 connections open or opening per pool.
    private var connectionCount: [UpstreamKey: Int] = [:]
    private var waiters: [UpstreamKey: CircularBuffer<Waiter>] = [:]
    /// One timer closes the pooled connections whose idle time is up (not one scheduled and
    /// cancelled per request); it fires at `sweepAt`, the earliest deadline armed for.
    private var sweepTimer: Scheduled<Void>?
    private var sweepAt: NIODeadline?

    private struct Waiter {
        let promise: EventLoopPromise<UpstreamLease>
        let receiver: any UpstreamResponseReceiver
        let settings: UpstreamClusterSettings?
        let serverName: String?
    }

    init(eventLoop: any EventLoop, limits: ProxyLimits, flushBatch: FlushBatch) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.flushBatch = flushBatch
    }

    /// Requests in flight to an endpoint from this loop (LEAST_REQUEST).
    func activeRequests(_ key: UpstreamKey) -> Int { active[key.endpointOnly, default: 0] }

    func finished(_ key: UpstreamKey) {
        active[key.endpointOnly, default: 1] -= 1
    }

    /// An upstream for one exchange with `receiver`: a pooled or new HTTP/1.1 connection, or a
    /// new stream on the endpoint's HTTP/2 connection. `serverName` is the SNI for TLS clusters.
    func acquire(_ key: UpstreamKey, settings: UpstreamClusterSettings?, serverName: String?, receiver: any UpstreamResponseReceiver) -> EventLoopFuture<UpstreamLease> {
        if settings?.tlsFailed == true { return eventLoop.makeFailedFuture(ProxyError.connectFailure) }
        active[key.endpointOnly, default: 0] += 1
        let future: EventLoopFuture<UpstreamLease>
        if key.http2 {
            future = http2Connection(key, settings: settings, serverName: serverName).assumeIsolated().flatMap { connection in
                self.openStream(on: connection, key: key, receiver: receiver)
            }.nonisolated()
        } else if let connection = takeIdle(key) {
            return eventLoop.makeSucceededFuture(lease(connection, receiver: receiver))
        } else {
            let runtime = settings?.runtime
            let maxConnections = settings?.breakers.maxConnections ?? Int.max
            if let runtime, connectionCount[key, default: 0] > 0, !runtime.connections.tryAcquire(limit: maxConnections) {
                guard runtime.pendingRequests.tryAcquire(limit: settings?.breakers.maxPendingRequests ?? Int.max) else {
                    active[key.endpointOnly, default: 1] -= 1
                    return eventLoop.makeFailedFuture(ProxyError.overflow)
                }
                let promise = eventLoop.makePromise(of: UpstreamLease.self)
                waiters[key, default: []].append(Waiter(promise: promise, receiver: receiver, settings: settings, serverName: serverName))
                future = promise.futureResult
            } else {
                if let runtime, connectionCount[key, default: 0] == 0 {
                    runtime.connections.increment()
                }
                future = newHTTP1(key, settings: settings, serverName: serverName, receiver: receiver)
            }
        }
        return future.assumeIsolated().flatMapErrorThrowing { error in
            self.active[key.endpointOnly, default: 1] -= 1
            throw error
        }.nonisolated()
    }

    /// Opens a connection (its slot in the cluster's connection count is already taken).
    private func newHTTP1(_ key: UpstreamKey, settings: UpstreamClusterSettings?, serverName: String?, receiver: any UpstreamResponseReceiver) -> EventLoopFuture<UpstreamLease> {
        connectionCount[key, default: 0] += 1
        return connectHTTP1(key, settings: settings, serverName: serverName).assumeIsolated().map { connection in
            self.lease(connection, receiver: receiver)
        }.flatMapErrorThrowing { error in
            self.connectionClosed(key, settings: settings)
            throw error
        }.nonisolated()
    }

    private func lease(_ connection: UpstreamHTTP1Connection, receiver: any UpstreamResponseReceiver) -> UpstreamLease {
        connection.requests += 1
        connection.handler.attach(receiver)
        return UpstreamLease(key: connection.key, handler: connection.handler, channel: connection.channel, connection: connection, pools: self)
    }

    private func takeIdle(_ key: UpstreamKey) -> UpstreamHTTP1Connection? {
        // Edited in place: a copy taken out of the dictionary would be copied again on write.
        while let connection = idle[key]?.popLast() {
            if idle[key]?.isEmpty == true { idle[key] = nil }
            connection.idleDeadline = .distantFuture
            if connection.channel.isActive && connection.handler.isActive { return connection }
        }
        return nil
    }

    /// A connection of `key` closed (or failed to open): its slot is free; a waiter, if any,
    /// opens a new one.
    private func connectionClosed(_ key: UpstreamKey, settings: UpstreamClusterSettings?) {
        connectionCount[key, default: 1] -= 1
        if connectionCount[key] == 0 { connectionCount[key] = nil }
        settings?.runtime.connections.decrement()
        guard var queue = waiters[key], !queue.isEmpty else { return }
        let maxConnections = settings?.breakers.maxConnections ?? Int.max
        if let runtime = settings?.runtime, connectionCount[key, default: 0] > 0, !runtime.connections.tryAcquire(limit: maxConnections) {
            return
        }
        if connectionCount[key, default: 0] == 0 { settings?.runtime.connections.increment() }
        let waiter = queue.removeFirst()
        waiters[key] = queue.isEmpty ? nil : queue
        waiter.settings?.runtime.pendingRequests.decrement()
        newHTTP1(key, settings: waiter.settings, serverName: waiter.serverName, receiver: waiter.receiver).cascade(to: waiter.promise)
    }

    func returnIdle(_ connection: UpstreamHTTP1Connection) {
        let key = connection.key
        if var queue = waiters[key], !queue.isEmpty {
            let waiter = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            waiter.settings?.runtime.pendingRequests.decrement()
            waiter.promise.succeed(lease(connection, receiver: waiter.receiver))
            return
        }
        guard idle[key]?.count ?? 0 < limits.maxIdleUpstreamConnections else {
            connection.channel.close(promise: nil)
            return
        }
        let timeout = connection.settings?.idleTimeout ?? limits.upstreamIdleTimeout
        if timeout.nanoseconds > 0 {
            connection.idleDeadline = .now() + timeout
            armSweep(at: connection.idleDeadline)
        }
        idle[key, default: []].append(connection)
    }

    private func remove(_ connection: UpstreamHTTP1Connection) {
        guard idle[connection.key] != nil else { return }
        idle[connection.key]?.removeAll { $0 === connection }
        if idle[connection.key]?.isEmpty == true { idle[connection.key] = nil }
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
        for list in idle.values {
            for connection in list {
                if connection.idleDeadline <= now {
                    expired.append(connection)
                } else if connection.idleDeadline != .distantFuture {
                    next = min(next ?? connection.idleDeadline, connection.idleDeadline)
                }
            }
        }
        for connection in expired {
            remove(connection)
            connection.channel.close(promise: nil)
        }
        if let next { armSweep(at: next) }
    }

    private func connect(_ key: UpstreamKey, settings: UpstreamClusterSettings?, serverName: String?,
                         initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) -> EventLoopFuture<any Channel> {
        let bootstrap = UpstreamConnector.bootstrap(eventLoop, limits: limits, settings: settings).channelInitializer(initializer)
        let connected = UpstreamConnector.connect(bootstrap, address: key.address, port: key.port)
        guard let tls = settings?.tls else { return connected }
        return connected.flatMap { channel in
            do {
                return try UpstreamConnector.addTLS(tls, serverName: serverName, to: channel).map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(ProxyError.connectFailure)
                }
            } catch {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(ProxyError.connectFailure)
            }
        }
    }

    private func connectHTTP1(_ key: UpstreamKey, settings: UpstreamClusterSettings?, serverName: String?) -> EventLoopFuture<UpstreamHTTP1Connection> {
        let future = connect(key, settings: settings, serverName: serverName) { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                let encoder = HTTPRequestEncoder()
                let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop))
                try sync.addHandler(encoder, name: "http-request-encoder")
                try sync.addHandler(decoder, name: "http-response-decoder")
                try sync.addHandler(UpstreamHandler(), name: "upstream")
            }
        }
        return future.assumeIsolated().flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            let connection = UpstreamHTTP1Connection(key: key, channel: channel, handler: handler, settings: settings)
            handler.onClose = { [weak self, unowned connection] in
                self?.remove(connection)
                self?.connectionClosed(key, settings: settings)
            }
            if !channel.isActive {
                // Closed between connect and here: onClose will not run.
                handler.onClose = nil
                throw ProxyError.connectFailure
            }
            return connection
        }.nonisolated()
    }

    private func http2Connection(_ key: UpstreamKey, settings: UpstreamClusterSettings?, serverName: String?) -> EventLoopFuture<UpstreamHTTP2Connection> {
        if let existing = http2[key] { return existing }
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        let runtime = settings?.runtime
        runtime?.connections.increment()
        let batch = NIOLoopBound(flushBatch, eventLoop: eventLoop)
        let connected = connect(key, settings: settings, serverName: serverName) { [connection, stream] channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(FlushCoalescer(batch: batch.value), name: "flush-coalescer")
                _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: connection, streamConfiguration: stream
                ) { stream in stream.close() }
            }
        }
        let future = connected.assumeIsolated().flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
            let multiplexer = try handler.syncMultiplexer()
            let connection = UpstreamHTTP2Connection(channel: channel, multiplexer: multiplexer)
            channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in
                runtime?.connections.decrement()
                guard let self, let current = self.http2[key] else { return }
                // Forget the entry only if it is this connection (a retired one may close
                // after its successor opened).
                current.assumeIsolated().whenSuccess { value in
                    if value === connection { self.http2[key] = nil }
                }
            }
            return connection
        }.nonisolated()
        future.assumeIsolated().whenFailure { [weak self] _ in
            runtime?.connections.decrement()
            self?.http2[key] = nil
        }
        http2[key] = future
        return future.assumeIsolated().map { connection in
            connection.streamsOpened += 1
            if let limit = settings?.breakers.maxRequestsPerConnection, connection.streamsOpened >= limit, !connection.retired {
                connection.retired = true
                self.http2[key] = nil
            }
            return connection
        }.nonisolated()
    }

    private func openStream(on connection: UpstreamHTTP2Connection, key: UpstreamKey, receiver: any UpstreamResponseReceiver) -> EventLoopFuture<UpstreamLease> {
        let promise = eventLoop.makePromise(of: (any Channel).self)
        connection.multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
            }
        }
        connection.openStreams += 1
        let parent = connection.channel
        return promise.futureResult.assumeIsolated().flatMapThrowing { stream in
            stream.closeFuture.assumeIsolated().whenComplete { _ in
                connection.openStreams -= 1
                if connection.retired && connection.openStreams == 0 { parent.close(promise: nil) }
            }
            let handler = try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            handler.attach(receiver)
            return UpstreamLease(key: key, handler: handler, channel: stream, connection: nil, pools: self)
        }.flatMapErrorThrowing { error in
            connection.openStreams -= 1
            if connection.retired && connection.openStreams == 0 { parent.close(promise: nil) }
            throw (error as? ProxyError) ?? ProxyError.connectFailure
        }.nonisolated()
    }
}

@available(*, unavailable)
extension UpstreamPools: Sendable {}
