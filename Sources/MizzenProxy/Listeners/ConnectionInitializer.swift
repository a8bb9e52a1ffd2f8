import MizzenConfig
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
/// or plain TCP.
enum ConnectionInitializer {
    static func initialize(channel: any Channel, listenerPort: UInt32, engine: ProxyEngine) throws {
        let loop = engine.state(for: channel.eventLoop)
        let table = loop.configuration.table
        guard let listener = table.listener(port: listenerPort) else {
            channel.close(promise: nil)
            return
        }
        let sync = channel.pipeline.syncOperations
        let kinds = Set(listener.servers.map(\.kind))
        if kinds.contains(.https) || kinds.contains(.tlsPassthrough) || kinds.contains(.tlsTerminated) {
            let sniHandler = ByteToMessageHandler(SNIHandler { [unowned channel] result in
                let name: String?
                if case .hostname(let hostname) = result { name = hostname.lowercased() } else { name = nil }
                do {
                    try afterSNI(channel: channel, listener: listener, serverName: name, loop: loop)
                } catch {
                    channel.close(promise: nil)
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            })
            try sync.addHandler(sniHandler, name: "sni")
        } else if kinds.contains(.tcp) {
            guard let decision = table.decideConnection(port: listenerPort, serverName: nil,
                                                        destinationAddress: channel.localAddress?.ipAddress, random: loop.random.next()) else {
                channel.close(promise: nil)
                return
            }
            try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try sync.addHandler(TCPProxyHandler(loop: loop, decision: decision))
        } else {
            try sync.addHandler(ProtocolSniffer { [unowned channel] isHTTP2 in
                let connection = DownstreamConnection(listenerPort: listenerPort, remoteAddress: channel.remoteAddress, localAddress: channel.localAddress,
                                                      serverName: nil, tlsServer: nil, isHTTP2: isHTTP2)
                if isHTTP2 {
                    try configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
            }, name: "protocol-sniffer")
        }
    }

    /// The server name is known: pass through, or terminate TLS with the server's context.
    static func afterSNI(channel: any Channel, listener: Listener, serverName: String?, loop: LoopState) throws {
        let configuration = loop.configuration
        let sync = channel.pipeline.syncOperations
        if let name = serverName,
           let decision = configuration.table.decideConnection(port: listener.port, serverName: name, destinationAddress: channel.localAddress?.ipAddress,
                                                               random: loop.random.next()),
           decision.server.kind == .tlsPassthrough {
            try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try sync.addHandler(TCPProxyHandler(loop: loop, decision: decision), position: .after(try sync.handler(type: ByteToMessageHandler<SNIHandler>.self)))
            return
        }
        guard let server = listener.terminatingServer(serverName: serverName, includingTCP: true)
                ?? (serverName == nil ? listener.servers.first { $0.kind == .https || $0.kind == .tlsTerminated } : nil),
              let tls = configuration.tls.tls(for: server) else {
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
            try sync.addHandler(TLSTerminatedTCPStarter(loop: loop, listenerPort: listener.port, serverName: serverName))
            return
        }
        let connectionFor: (Bool) -> DownstreamConnection = { [unowned channel] isHTTP2 in
            DownstreamConnection(listenerPort: listener.port, remoteAddress: channel.remoteAddress, localAddress: channel.localAddress, serverName: serverName, tlsServer: server, isHTTP2: isHTTP2)
        }
        let alpn = NIOTypedApplicationProtocolNegotiationHandler<Void> { [unowned channel] result in
            do {
                if case .negotiated("h2") = result {
                    try configureHTTP2(channel: channel, connection: connectionFor(true), loop: loop)
                } else {
                    try configureHTTP1(channel: channel, connection: connectionFor(false), loop: loop)
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
        let guardHandler = HTTP1ConnectionGuard(headersTimeout: limits.requestHeadersTimeout, idleTimeout: limits.idleTimeout)
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
    }
}

/// Plain-text ports carry HTTP/1.1 and HTTP/2 with prior knowledge: the client preface
/// (`PRI * HTTP/2.0...`) tells them apart (STACK-NOTES: NIO has no h2c helper).
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private var buffer: ByteBuffer?
    private let configure: (Bool) throws -> Void

    init(configure: @escaping (Bool) throws -> Void) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        let bytes = buffer!.readableBytesView
        let count = min(bytes.count, Self.preface.count)
        let isPrefix = bytes.prefix(count).elementsEqual(Self.preface.prefix(count))
        if isPrefix && count < Self.preface.count { return }
        do {
            try configure(isPrefix)
        } catch {
            context.close(promise: nil)
            return
        }
        let held = buffer!
        buffer = nil
        context.fireChannelRead(wrapInboundOut(held))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension ProtocolSniffer: Sendable {}

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

/// TLS-terminated TCP (Gateway `TLS` server in SIMPLE/MUTUAL mode with `tcp` routes): once the
/// handshake is done, proxy the decrypted bytes like a TCP server.
final class TLSTerminatedTCPStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let loop: LoopState
    private let listenerPort: UInt32
    private let serverName: String?

    init(loop: LoopState, listenerPort: UInt32, serverName: String?) {
        self.loop = loop
        self.listenerPort = listenerPort
        self.serverName = serverName
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let decision = loop.configuration.table.decideConnection(port: listenerPort, serverName: serverName,
                                                                       destinationAddress: context.channel.localAddress?.ipAddress,
                                                                       random: loop.random.next()) else {
            context.close(promise: nil)
            return
        }
        do {
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try context.pipeline.syncOperations.addHandler(TCPProxyHandler(loop: loop, decision: decision), position: .after(self))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension TLSTerminatedTCPStarter: Sendable {}
