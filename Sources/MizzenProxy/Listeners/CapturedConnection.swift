import Logging
import MizzenRouting
import NIOCore

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
        let table = loop.snapshot.table
        let inbound = spec.direction == .inbound
        let listenerPort = UInt32(port)
        let address = original.ipAddress
        if let decision = table.decideCapturedConnection(inbound: inbound, port: listenerPort, destinationAddress: address, explicitOnly: true,
                                                         random: loop.random.next()) {
            try proxyTCP(channel: channel, decision: decision, original: original, loop: loop)
            return
        }
        let listener = inbound ? table.inboundListener(port: listenerPort) : table.listener(port: listenerPort)
        guard let listener, listener.httpRoutes != nil else {
            try proxyTCP(channel: channel, inbound: inbound, port: listenerPort, address: address, original: original, loop: loop)
            return
        }
        let context = ConnectionInitializer.Context(spec: spec, listener: listener, originalDestination: original, loop: loop)
        try channel.pipeline.syncOperations.addHandler(CaptureSniffer { [unowned channel] protocolSeen in
            switch protocolSeen {
            case .http1, .http2:
                let connection = context.connection(channel: channel, serverName: nil, tlsServer: nil, isHTTP2: protocolSeen == .http2)
                if protocolSeen == .http2 {
                    try ConnectionInitializer.configureHTTP2(channel: channel, connection: connection, loop: loop)
                } else {
                    try ConnectionInitializer.configureHTTP1(channel: channel, connection: connection, loop: loop)
                }
            case .other:
                try proxyTCP(channel: channel, inbound: inbound, port: listenerPort, address: address, original: original, loop: loop)
            }
        }, name: "capture-sniffer")
    }

    /// TCP by the port's routes, else the passthrough.
    static func proxyTCP(channel: any Channel, inbound: Bool, port: UInt32, address: String?, original: SocketAddress, loop: LoopState) throws {
        let table = loop.snapshot.table
        let decision = table.decideCapturedConnection(inbound: inbound, port: port, destinationAddress: address, explicitOnly: false, random: loop.random.next())
            ?? (inbound ? table.inboundPassthrough : table.outboundPassthrough)
        guard let decision else {
            channel.close(promise: nil)
            return
        }
        try proxyTCP(channel: channel, decision: decision, original: original, loop: loop)
    }

    static func proxyTCP(channel: any Channel, decision: ConnectionDecision, original: SocketAddress, loop: LoopState) throws {
        let sync = channel.pipeline.syncOperations
        try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        let handler = TCPProxyHandler(loop: loop, decision: decision, snapshot: loop.snapshot, originalDestination: original)
        if let sniffer = try? sync.handler(type: CaptureSniffer.self) {
            try sync.addHandler(handler, position: .after(sniffer))
        } else {
            try sync.addHandler(handler)
        }
        SetupTimeout.setupDone(sync)
    }

    /// Whether `address` is this connection's own local address (a client that connected to
    /// the capture port directly, or a redirect that would come back here).
    static func isLocal(_ address: SocketAddress, channel: any Channel) -> Bool {
        guard let local = channel.localAddress else { return true }
        return local.ipAddress == address.ipAddress || address.ipAddress == "127.0.0.1" || address.ipAddress == "::1"
    }
}

/// Istio's protocol sniffing on a captured connection (Envoy's `http_inspector`): the HTTP/2
/// client preface, an HTTP/1 request line (`METHOD SP`, the method an upper-case token), or
/// anything else. Holds what it read and hands it on once it knows.
final class CaptureSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Seen: Equatable {
        case http1
        case http2
        case other
    }

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Longer than any registered HTTP method (`UPDATEREDIRECTREF`, 17).
    private static let maxMethodLength = 24
    private var buffer: ByteBuffer?
    private let configure: (Seen) throws -> Void

    init(configure: @escaping (Seen) throws -> Void) {
        self.configure = configure
    }

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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        guard let seen = Self.classify(buffer!.readableBytesView) else { return }
        do {
            try configure(seen)
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
extension CaptureSniffer: Sendable {}
