import MizzenRouting
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// An upstream endpoint as the pools key it: address, port and the protocol spoken to it.
struct UpstreamKey: Hashable {
    var address: String
    var port: Int
    var http2: Bool

    init(_ endpoint: ClusterEndpoint, http2: Bool) {
        address = endpoint.address
        port = Int(endpoint.port)
        self.http2 = http2
    }
}

/// Opening a connection to an upstream endpoint, for the HTTP pools and the TCP proxy alike.
enum UpstreamConnector {
    static func bootstrap(_ eventLoop: any EventLoop, limits: ProxyLimits) -> ClientBootstrap {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.upstreamConnectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
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
            if reusable, channel.isActive, let pools {
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

@available(*, unavailable)
extension UpstreamLease: Sendable {}

/// A pooled HTTP/1.1 upstream connection.
final class UpstreamHTTP1Connection {
    let key: UpstreamKey
    let channel: any Channel
    let handler: UpstreamHandler
    var idleTimer: Scheduled<Void>?

    init(key: UpstreamKey, channel: any Channel, handler: UpstreamHandler) {
        self.key = key
        self.channel = channel
        self.handler = handler
    }
}

@available(*, unavailable)
extension UpstreamHTTP1Connection: Sendable {}

/// A multiplexed HTTP/2 upstream connection.
final class UpstreamHTTP2Connection {
    let channel: any Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer

    init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        self.channel = channel
        self.multiplexer = multiplexer
    }
}

@available(*, unavailable)
extension UpstreamHTTP2Connection: Sendable {}

/// The upstream connections of one event loop, per endpoint: idle HTTP/1.1 connections for
/// reuse and one HTTP/2 connection carrying many streams. Requests on this loop use only these,
/// so bytes never hop threads.
final class UpstreamPools {
    let eventLoop: any EventLoop
    let limits: ProxyLimits
    private var idle: [UpstreamKey: [UpstreamHTTP1Connection]] = [:]
    private var http2: [UpstreamKey: EventLoopFuture<UpstreamHTTP2Connection>] = [:]
    private var active: [UpstreamKey: Int] = [:]

    init(eventLoop: any EventLoop, limits: ProxyLimits) {
        self.eventLoop = eventLoop
        self.limits = limits
    }

    /// Requests in flight to an endpoint from this loop (LEAST_REQUEST).
    func activeRequests(_ key: UpstreamKey) -> Int { active[key, default: 0] }

    func finished(_ key: UpstreamKey) {
        active[key, default: 1] -= 1
    }

    /// An upstream for one exchange with `receiver`: a pooled or new HTTP/1.1 connection, or a
    /// new stream on the endpoint's HTTP/2 connection.
    func acquire(_ key: UpstreamKey, receiver: any UpstreamResponseReceiver) -> EventLoopFuture<UpstreamLease> {
        active[key, default: 0] += 1
        let future: EventLoopFuture<UpstreamLease>
        if key.http2 {
            future = http2Connection(key).flatMap { connection in
                self.openStream(on: connection, key: key, receiver: receiver)
            }
        } else {
            while var list = idle[key], let connection = list.popLast() {
                idle[key] = list
                connection.idleTimer?.cancel()
                connection.idleTimer = nil
                if connection.channel.isActive && connection.handler.isActive {
                    connection.handler.attach(receiver)
                    return eventLoop.makeSucceededFuture(UpstreamLease(key: key, handler: connection.handler, channel: connection.channel, connection: connection, pools: self))
                }
            }
            future = connectHTTP1(key).map { connection in
                connection.handler.attach(receiver)
                return UpstreamLease(key: key, handler: connection.handler, channel: connection.channel, connection: connection, pools: self)
            }
        }
        return future.flatMapErrorThrowing { error in
            self.active[key, default: 1] -= 1
            throw error
        }
    }

    func returnIdle(_ connection: UpstreamHTTP1Connection) {
        var list = idle[connection.key, default: []]
        guard list.count < limits.maxIdleUpstreamConnections else {
            connection.channel.close(promise: nil)
            return
        }
        let channel = connection.channel
        connection.idleTimer = eventLoop.scheduleTask(in: limits.upstreamIdleTimeout) {
            channel.close(promise: nil)
        }
        list.append(connection)
        idle[connection.key] = list
    }

    private func remove(_ connection: UpstreamHTTP1Connection) {
        guard var list = idle[connection.key] else { return }
        list.removeAll { $0 === connection }
        idle[connection.key] = list.isEmpty ? nil : list
    }

    private func bootstrap() -> ClientBootstrap {
        UpstreamConnector.bootstrap(eventLoop, limits: limits)
    }

    private func connect(_ bootstrap: ClientBootstrap, _ key: UpstreamKey) -> EventLoopFuture<any Channel> {
        UpstreamConnector.connect(bootstrap, address: key.address, port: key.port)
    }

    private func connectHTTP1(_ key: UpstreamKey) -> EventLoopFuture<UpstreamHTTP1Connection> {
        let bootstrap = bootstrap().channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                let encoder = HTTPRequestEncoder()
                let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop))
                try sync.addHandler(encoder, name: "http-request-encoder")
                try sync.addHandler(decoder, name: "http-response-decoder")
                try sync.addHandler(UpstreamHandler(), name: "upstream")
            }
        }
        return connect(bootstrap, key).flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            let connection = UpstreamHTTP1Connection(key: key, channel: channel, handler: handler)
            handler.onClose = { [weak self, unowned connection] in
                connection.idleTimer?.cancel()
                self?.remove(connection)
            }
            return connection
        }
    }

    private func http2Connection(_ key: UpstreamKey) -> EventLoopFuture<UpstreamHTTP2Connection> {
        if let existing = http2[key] { return existing }
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        let bootstrap = bootstrap().channelInitializer { [connection, stream] channel in
            channel.eventLoop.makeCompletedFuture {
                _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: connection, streamConfiguration: stream
                ) { stream in stream.close() }
            }
        }
        let future = connect(bootstrap, key).flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
            let multiplexer = try handler.syncMultiplexer()
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.eventLoop.execute { self?.http2[key] = nil }
            }
            return UpstreamHTTP2Connection(channel: channel, multiplexer: multiplexer)
        }
        future.whenFailure { [weak self] _ in self?.http2[key] = nil }
        http2[key] = future
        return future
    }

    private func openStream(on connection: UpstreamHTTP2Connection, key: UpstreamKey, receiver: any UpstreamResponseReceiver) -> EventLoopFuture<UpstreamLease> {
        let promise = eventLoop.makePromise(of: (any Channel).self)
        connection.multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
            }
        }
        return promise.futureResult.flatMapThrowing { stream in
            let handler = try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            handler.attach(receiver)
            return UpstreamLease(key: key, handler: handler, channel: stream, connection: nil, pools: self)
        }.flatMapErrorThrowing { error in
            throw (error as? ProxyError) ?? ProxyError.connectFailure
        }
    }
}

@available(*, unavailable)
extension UpstreamPools: Sendable {}
