import MizzenRouting
import NIOCore
import Logging
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS

/// Builds the pipeline of an accepted downstream connection from what its listener serves:
/// plain HTTP (HTTP/1.1 or HTTP/2 with prior knowledge, told apart by the first bytes), TLS
/// (SNI read first, then passthrough, or termination with that server's own context and ALPN),
/// or plain TCP. Until the connection knows what it carries, a `SetupTimeout` runs: a client
/// that sends nothing, or stalls in the TLS handshake, is closed after
/// `ProxyLimits.connectionSetupTimeout` (Envoy's listener-filter timeout and Istio's transport
/// socket connect timeout, both 15 s at a gateway).
enum ConnectionInitializer {
    static func initialize(channel: any Channel, spec: ListenerSpec, engine: ProxyEngine) throws {
        let loop = engine.state(for: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(SetupTimeout(timeout: loop.limits.connectionSetupTimeout), name: SetupTimeout.name)
        switch spec.destination {
        case .listenerPort(let port):
            try initialize(channel: channel, spec: spec, listenerPort: port, originalDestination: nil, loop: loop)
        case .originalDestination:
            // Read before anything else can happen on the connection; the pipeline is built
            // when the answer comes (on this loop, at once in practice).
            OriginalDestination.of(channel).assumeIsolated().whenSuccess { found in
                // TPROXY does not translate the address: the destination is the local end.
                let original = found ?? (spec.transparent ? channel.localAddress : nil)
                guard let original else {
                    loop.logger.debug("listener \(spec.name): connection without an original destination")
                    channel.close(promise: nil)
                    return
                }
                do {
                    try CapturedConnection.initialize(channel: channel, spec: spec, original: original, loop: loop)
                } catch {
                    channel.close(promise: nil)
                }
            }
        }
    }

    static func initialize(channel: any Channel, spec: ListenerSpec, listenerPort: UInt32, originalDestination: SocketAddress?, loop: LoopState) throws {
        let table = loop.snapshot.table
        guard let listener = table.listener(port: listenerPort) else {
            channel.close(promise: nil)
            return
        }
        let sync = channel.pipeline.syncOperations
        let kinds = Set(listener.servers.map(\.kind))
        let context = Context(spec: spec, listener: listener, originalDestination: originalDestination, loop: loop)
        if kinds.contains(.https) || kinds.contains(.tlsPassthrough) || kinds.contains(.tlsTerminated) {
            let sniHandler = ByteToMessageHandler(SNIHandler { [unowned channel] result in
                let name: String?
                if case .hostname(let hostname) = result { name = hostname.lowercased() } else { name = nil }
                do {
                    try afterSNI(channel: channel, context: context, serverName: name)
                } catch {
                    channel.close(promise: nil)
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            })
            try sync.addHandler(sniHandler, name: "sni")
        } else if kinds.contains(.tcp) {
            let destination = (originalDestination ?? channel.localAddress)?.ipAddress
            guard let decision = table.decideConnection(port: listenerPort, serverName: nil, destinationAddress: destination, random: loop.random.next()) else {
                channel.close(promise: nil)
                return
            }
            try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try sync.addHandler(TCPProxyHandler(loop: loop, decision: decision, snapshot: loop.snapshot))
            SetupTimeout.setupDone(sync)
        } else {
            try sync.addHandler(PeekingHandler(classify: ProtocolSniffer.isHTTP2) { [unowned channel] isHTTP2 in
                let connection = context.connection(channel: channel, serverName: nil, tlsServer: nil, isHTTP2: isHTTP2)
                if isHTTP2 {
                    try configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
            }, name: "protocol-sniffer")
        }
    }

    /// What the later steps of a connection's setup need.
    struct Context {
        var spec: ListenerSpec
        var listener: Listener
        var originalDestination: SocketAddress?
        var loop: LoopState

        func connection(channel: any Channel, serverName: String?, tlsServer: ServerEntry?, isHTTP2: Bool, meshPeer: MeshPeer? = nil) -> DownstreamConnection {
            DownstreamConnection(listener: spec, listenerPort: listener.port, remoteAddress: channel.remoteAddress, localAddress: channel.localAddress,
                                 originalDestination: originalDestination, serverName: serverName, tlsServer: tlsServer, isHTTP2: isHTTP2,
                                 meshPeer: meshPeer)
        }
    }

    /// The server name is known: pass through, or terminate TLS with the server's context.
    static func afterSNI(channel: any Channel, context: Context, serverName: String?) throws {
        let loop = context.loop
        let listener = context.listener
        let snapshot = loop.snapshot
        let sync = channel.pipeline.syncOperations
        let destination = (context.originalDestination ?? channel.localAddress)?.ipAddress
        if let name = serverName,
           let decision = snapshot.table.decideConnection(port: listener.port, serverName: name, destinationAddress: destination, random: loop.random.next()),
           decision.server.kind == .tlsPassthrough {
            try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try sync.addHandler(TCPProxyHandler(loop: loop, decision: decision, snapshot: snapshot),
                                position: .after(try sync.handler(type: ByteToMessageHandler<SNIHandler>.self)))
            SetupTimeout.setupDone(sync)
            return
        }
        guard let server = listener.terminatingServer(serverName: serverName, includingTCP: true)
                ?? (serverName == nil ? listener.servers.first { $0.kind == .https || $0.kind == .tlsTerminated } : nil),
              let tls = snapshot.serverTLS.tls(for: server) else {
            loop.logger.debug("tls: no server for SNI \(serverName ?? "(none)") on port \(listener.port)")
            channel.close(promise: nil)
            return
        }
        let sniHandler = try sync.handler(type: ByteToMessageHandler<SNIHandler>.self)
        let sslHandler = NIOSSLServerHandler(context: tls.context)
        try sync.addHandler(sslHandler, name: "tls", position: .after(sniHandler))
        if !tls.requiredSubjectAltNames.isEmpty {
            try sync.addHandler(ClientCertificateCheck(allowed: tls.requiredSubjectAltNames), position: .after(sslHandler))
        }
        if server.kind == .tlsTerminated {
            try sync.addHandler(TLSTerminatedTCPStarter(loop: loop, listenerPort: listener.port, serverName: serverName, destination: destination))
            return
        }
        let alpn = NIOTypedApplicationProtocolNegotiationHandler<Void> { [unowned channel] result in
            do {
                let isHTTP2: Bool
                if case .negotiated("h2") = result { isHTTP2 = true } else { isHTTP2 = false }
                let connection = context.connection(channel: channel, serverName: serverName, tlsServer: server, isHTTP2: isHTTP2)
                if isHTTP2 {
                    try configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
            } catch {
                channel.close(promise: nil)
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        try sync.addHandler(alpn)
    }

    static func configureHTTP1(channel: any Channel, connection: DownstreamConnection, loop: LoopState) throws {
        let limits = loop.limits
        let sync = channel.pipeline.syncOperations
        let guardHandler = HTTP1ConnectionGuard(headersTimeout: limits.requestHeadersTimeout, idleTimeout: limits.idleTimeout, lingerTimeout: limits.lingerTimeout,
                                                 isTLS: connection.isTLS)
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxRequestHeadersBytes
        decoderLimits.maxHeaderFieldSize = limits.maxRequestHeadersBytes
        decoderLimits.maxHeaderFieldCount = limits.maxRequestHeadersCount
        try sync.addHandler(guardHandler, name: "connection-guard")
        try sync.addHandler(HTTPResponseEncoder(), name: "http-response-encoder")
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop,
                                                                    limitConfiguration: decoderLimits)),
                            name: "http-request-decoder")
        try sync.addHandler(ForwardingHandler(loop: loop, connection: connection, guardHandler: guardHandler), name: "forwarding")
        SetupTimeout.setupDone(sync)
    }

    static func configureHTTP2(channel: any Channel, connection: DownstreamConnection, loop: LoopState) throws {
        let limits = loop.limits
        let windowSize = 1 << 20
        var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
        connectionConfiguration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.http2MaxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.http2MaxHeaderListSize),
            HTTP2Setting(parameter: .maxFrameSize, value: limits.http2MaxFrameSize),
            HTTP2Setting(parameter: .initialWindowSize, value: windowSize),
        ]
        var streamConfiguration = NIOHTTP2Handler.StreamConfiguration()
        streamConfiguration.streamResetFrameRateLimit.maximumCount = limits.http2MaxResetsPerWindow
        // No stream multiplexer: HTTP2ServerConnectionHandler serves the streams itself.
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(FlushCoalescer(batch: loop.flushBatch), name: "flush-coalescer")
        try sync.addHandler(NIOHTTP2Handler(mode: .server, connectionConfiguration: connectionConfiguration, streamConfiguration: streamConfiguration),
                            name: "http2")
        try sync.addHandler(HTTP2ServerConnectionHandler(loop: loop, connection: connection, windowSize: windowSize), name: "http2-streams")
        SetupTimeout.setupDone(sync)
    }
}

/// Closes a connection that does not finish its setup in time: no first bytes to tell its
/// protocol by, no TLS ClientHello, or a handshake that stalls. Removed once the connection's
/// pipeline is built; the HTTP and TCP handlers run their own timeouts from then on.
final class SetupTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    static let name = "setup-timeout"

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard timeout.nanoseconds > 0 else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard self?.timer != nil else { return }
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// The connection is set up: the timer goes.
    static func setupDone(_ sync: ChannelPipeline.SynchronousOperations) {
        if let handler = try? sync.handler(type: SetupTimeout.self) {
            sync.removeHandler(handler, promise: nil)
        }
    }
}

@available(*, unavailable)
extension SetupTimeout: Sendable {}

/// Plain-text ports carry HTTP/1.1 and HTTP/2 with prior knowledge: the client preface
/// (`PRI * HTTP/2.0...`) tells them apart (STACK-NOTES: NIO has no h2c helper). True: HTTP/2.
enum ProtocolSniffer {
    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Nil while the bytes so far are a prefix of the preface.
    static func isHTTP2(_ bytes: ByteBufferView) -> Bool? {
        let count = min(bytes.count, preface.count)
        let isPrefix = bytes.prefix(count).elementsEqual(preface.prefix(count))
        if isPrefix && count < preface.count { return nil }
        return isPrefix
    }
}

/// MUTUAL TLS with `subjectAltNames`: after the handshake, the client certificate must carry
/// one of the names (DNS or URI SAN); otherwise the connection is closed.
final class ClientCertificateCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let allowed: [String]

    init(allowed: [String]) {
        self.allowed = allowed
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
            if let certificate {
                var names: [String] = []
                for name in certificate._subjectAlternativeNames() {
                    switch name.nameType {
                    case .dnsName, .uri, .email:
                        names.append(String(decoding: name.contents, as: UTF8.self))
                    default:
                        continue
                    }
                }
                if !names.contains(where: allowed.contains) {
                    context.close(promise: nil)
                    return
                }
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension ClientCertificateCheck: Sendable {}

/// TLS-terminated TCP (Gateway `TLS` server in SIMPLE/MUTUAL mode with `tcp` routes): proxy the
/// decrypted bytes like a TCP server.
final class TLSTerminatedTCPStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let loop: LoopState
    private let listenerPort: UInt32
    private let serverName: String?
    private let destination: String?

    init(loop: LoopState, listenerPort: UInt32, serverName: String?, destination: String?) {
        self.loop = loop
        self.listenerPort = listenerPort
        self.serverName = serverName
        self.destination = destination
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let snapshot = loop.snapshot
        guard let decision = snapshot.table.decideConnection(port: listenerPort, serverName: serverName, destinationAddress: destination,
                                                             random: loop.random.next()) else {
            context.close(promise: nil)
            return
        }
        do {
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            // The upstream connects while the handshake completes; the setup timeout runs until
            // it has.
            try context.pipeline.syncOperations.addHandler(TCPProxyHandler(loop: loop, decision: decision, snapshot: snapshot), position: .after(self))
        } catch {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            SetupTimeout.setupDone(context.pipeline.syncOperations)
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension TLSTerminatedTCPStarter: Sendable {}
