import Logging
import MizzenRouting
import NIOCore
import NIOSSL
import NIOTLS

/// A connection a sidecar's capture listener accepted (iptables sent it there), set up once its
/// original destination is known, as Envoy's `virtualOutbound` and `virtualInbound` listeners
/// pick a filter chain:
/// 1. a TCP route naming the destination address (a TCP service's VIP) takes it at once;
/// 2. a port with HTTP routes reads the first bytes: an HTTP/1 request line or the HTTP/2
///    preface goes through the HTTP exchange (routed by Host outbound, to the pod port
///    inbound); anything else is TCP;
/// 3. TCP goes by the port's TCP routes, else to the passthrough cluster (the original
///    destination; `BlackHoleCluster` with REGISTRY_ONLY).
/// A connection sent to the capture port itself is closed (Istio's `virtualOutbound-blackhole`):
/// passing it through would loop.
enum CapturedConnection {
    static func initialize(channel: any Channel, spec: ListenerSpec, original: SocketAddress, loop: LoopState) throws {
        guard let port = original.port, port > 0, port != spec.port || !isLocal(original, channel: channel) else {
            loop.logger.debug("listener \(spec.name): connection to the capture port itself closed")
            channel.close(promise: nil)
            return
        }
        let listenerPort = UInt32(port)
        guard spec.direction == .inbound else {
            let table = loop.snapshot.table
            if table.routesTLSBySNI(port: listenerPort) {
                // TLS services with `tls` routes: the ClientHello's SNI picks the route (Envoy's
                // filter-chain match on server names), everything else goes on as usual.
                try channel.pipeline.syncOperations.addHandler(PeekingHandler(classify: OutboundTLS.classify) { [unowned channel] seen in
                    if case .serverName(let name?) = seen,
                       let decision = loop.snapshot.table.decideCapturedTLS(port: listenerPort, serverName: name, destinationAddress: original.ipAddress,
                                                                             random: loop.random.next()) {
                        try proxyTCP(channel: channel, decision: decision, original: original, loop: loop)
                        return
                    }
                    try plain(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, meshPeer: nil)
                }, name: "sni-detector")
                return
            }
            try plain(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, meshPeer: nil)
            return
        }
        // Inbound: the pod's PeerAuthentication for this port decides whether mutual TLS is
        // required (STRICT), taken when offered (PERMISSIVE) or not looked for (DISABLE).
        let mode = loop.snapshot.table.inboundPeerAuthentication?.mode(forPort: listenerPort) ?? .permissive
        let mesh = loop.snapshot.meshServer
        switch mode {
        case .strict:
            guard let mesh else {
                loop.logger.debug("listener \(spec.name): port \(port) is STRICT and there is no workload certificate: connection closed")
                channel.close(promise: nil)
                return
            }
            try terminateMeshTLS(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, mesh: mesh)
        case .permissive:
            guard let mesh else {
                try plain(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, meshPeer: nil)
                return
            }
            try channel.pipeline.syncOperations.addHandler(PeekingHandler(classify: InboundTransport.classify) { [unowned channel] transport in
                if transport == .meshTLS {
                    try terminateMeshTLS(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, mesh: mesh)
                } else {
                    try plain(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, meshPeer: nil)
                }
            }, name: "transport-detector")
        case .disable:
            try plain(channel: channel, spec: spec, original: original, port: listenerPort, loop: loop, meshPeer: nil)
        }
    }

    /// Mutual TLS with the mesh's certificates; then HTTP by the negotiated ALPN, or what the
    /// decrypted bytes carry.
    static func terminateMeshTLS(channel: any Channel, spec: ListenerSpec, original: SocketAddress, port: UInt32, loop: LoopState, mesh: MeshServerTLS) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: mesh.context), name: "mesh-tls")
        try sync.addHandler(MeshHandshake(mesh: mesh) { [unowned channel] negotiated, peer in
            let table = loop.snapshot.table
            if negotiated == "h2" || negotiated == "http/1.1", let listener = table.inboundListener(port: port), listener.httpRoutes != nil {
                let context = ConnectionInitializer.Context(spec: spec, listener: listener, originalDestination: original, loop: loop)
                let connection = context.connection(channel: channel, serverName: nil, tlsServer: nil, isHTTP2: negotiated == "h2", meshPeer: peer)
                if negotiated == "h2" {
                    try ConnectionInitializer.configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try ConnectionInitializer.configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
                return
            }
            try plain(channel: channel, spec: spec, original: original, port: port, loop: loop, meshPeer: peer)
        }, name: "mesh-handshake")
    }

    /// The connection's bytes as they are (plain text, or already decrypted): TCP by a route
    /// naming the address, HTTP when the port has routes and the bytes are HTTP, else TCP.
    static func plain(channel: any Channel, spec: ListenerSpec, original: SocketAddress, port listenerPort: UInt32, loop: LoopState, meshPeer: MeshPeer?) throws {
        let table = loop.snapshot.table
        let inbound = spec.direction == .inbound
        let address = original.ipAddress
        if let decision = table.decideCapturedConnection(inbound: inbound, port: listenerPort, destinationAddress: address, explicitOnly: true,
                                                         random: loop.random.next()) {
            try proxyTCP(channel: channel, decision: decision, original: original, loop: loop, inbound: inbound, meshPeer: meshPeer)
            return
        }
        let listener = inbound ? table.inboundListener(port: listenerPort) : table.listener(port: listenerPort)
        guard let listener, listener.httpRoutes != nil else {
            try proxyTCP(channel: channel, inbound: inbound, port: listenerPort, address: address, original: original, loop: loop, meshPeer: meshPeer)
            return
        }
        let context = ConnectionInitializer.Context(spec: spec, listener: listener, originalDestination: original, loop: loop)
        try channel.pipeline.syncOperations.addHandler(PeekingHandler(classify: CaptureSniffer.classify) { [unowned channel] protocolSeen in
            switch protocolSeen {
            case .http1, .http2:
                let connection = context.connection(channel: channel, serverName: nil, tlsServer: nil, isHTTP2: protocolSeen == .http2, meshPeer: meshPeer)
                if protocolSeen == .http2 {
                    try ConnectionInitializer.configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try ConnectionInitializer.configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
            case .other:
                try proxyTCP(channel: channel, inbound: inbound, port: listenerPort, address: address, original: original, loop: loop, meshPeer: meshPeer)
            }
        }, name: "capture-sniffer")
    }

    /// TCP by the port's routes, else the passthrough.
    static func proxyTCP(channel: any Channel, inbound: Bool, port: UInt32, address: String?, original: SocketAddress, loop: LoopState,
                         meshPeer: MeshPeer? = nil) throws {
        let table = loop.snapshot.table
        let decision = table.decideCapturedConnection(inbound: inbound, port: port, destinationAddress: address, explicitOnly: false, random: loop.random.next())
            ?? (inbound ? table.inboundPassthrough : table.outboundPassthrough)
        guard let decision else {
            channel.close(promise: nil)
            return
        }
        try proxyTCP(channel: channel, decision: decision, original: original, loop: loop, inbound: inbound, meshPeer: meshPeer)
    }

    static func proxyTCP(channel: any Channel, decision: ConnectionDecision, original: SocketAddress, loop: LoopState, inbound: Bool = false,
                         meshPeer: MeshPeer? = nil) throws {
        let sync = channel.pipeline.syncOperations
        try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        try sync.addHandler(TCPProxyHandler(loop: loop, decision: decision, snapshot: loop.snapshot, originalDestination: original, inbound: inbound,
                                            meshPeer: meshPeer))
        SetupTimeout.setupDone(sync)
    }

    /// Whether `address` is this connection's own local address (a client that connected to
    /// the capture port directly, or a redirect that would come back here).
    static func isLocal(_ address: SocketAddress, channel: any Channel) -> Bool {
        guard let local = channel.localAddress else { return true }
        return local.ipAddress == address.ipAddress || address.ipAddress == "127.0.0.1" || address.ipAddress == "::1"
    }
}

/// Reads a connection's first bytes until `classify` can tell what they are, sets the
/// pipeline up for that, then hands on what it read and steps aside.
final class PeekingHandler<Kind>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var buffer: ByteBuffer?
    private let classify: (ByteBufferView) -> Kind?
    private let configure: (Kind) throws -> Void

    init(classify: @escaping (ByteBufferView) -> Kind?, configure: @escaping (Kind) throws -> Void) {
        self.classify = classify
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let kind = classify(buffer!.readableBytesView) else {
            // A bound on what is held while undecided: 64 KiB is past any request line or
            // ClientHello that could still be told apart.
            if buffer!.readableBytes > 65536 { context.close(promise: nil) }
            return
        }
        do {
            try configure(kind)
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

    func channelInactive(context: ChannelHandlerContext) {
        buffer = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension PeekingHandler: Sendable {}

/// After the mesh TLS handshake: the client's certificate must name an identity of the trust
/// domain (`spiffe://TRUST_DOMAIN/...`); then the pipeline is set up for the negotiated ALPN.
final class MeshHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let mesh: MeshServerTLS
    private let configure: (String?, MeshPeer) throws -> Void

    init(mesh: MeshServerTLS, configure: @escaping (String?, MeshPeer) throws -> Void) {
        self.mesh = mesh
        self.configure = configure
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
        guard let certificate, let principal = MeshIdentity.uriSAN(certificate), principal.hasPrefix(mesh.trustDomainPrefix) else {
            context.close(promise: nil)
            return
        }
        let hash = (try? certificate.toDERBytes()).map(SHA256.hex) ?? ""
        let peer = MeshPeer(principal: principal, localPrincipal: mesh.localPrincipal, certificateHash: hash)
        do {
            try configure(negotiated, peer)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed handshake (no client certificate, an untrusted one, plain text on STRICT).
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension MeshHandshake: Sendable {}

/// Istio's protocol sniffing on a captured connection (Envoy's `http_inspector`): the HTTP/2
/// client preface, an HTTP/1 request line (`METHOD SP`, the method an upper-case token), or
/// anything else.
enum CaptureSniffer {
    enum Seen: Equatable {
        case http1
        case http2
        case other
    }

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Longer than any registered HTTP method (`UPDATEREDIRECTREF`, 17).
    private static let maxMethodLength = 24

    /// What the bytes so far say; nil: not enough of them yet.
    static func classify(_ bytes: ByteBufferView) -> Seen? {
        let count = min(bytes.count, preface.count)
        if bytes.prefix(count).elementsEqual(preface.prefix(count)) {
            return count == preface.count ? .http2 : nil
        }
        var length = 0
        for byte in bytes {
            if byte == UInt8(ascii: " ") { return length > 0 ? .http1 : .other }
            let isToken = (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            guard isToken else { return .other }
            length += 1
            if length > maxMethodLength { return .other }
        }
        return nil
    }
}
