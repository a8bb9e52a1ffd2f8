import NIOCore

/// Joins two channels on one event loop into a byte pipe: what one reads, the other writes,
/// and a side reads only while its partner is writable (swift-nio-examples' connect-proxy
/// `GlueHandler` pattern). Half-closes are passed on. With an idle timeout, both close when no
/// byte has gone either way for that long (Envoy's TCP proxy `idle_timeout`, 1 h by default).
final class GlueHandler: ChannelDuplexHandler {
    /// Raw sockets (the HTTP codecs are gone before a tunnel is glued) carry byte buffers.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Shared by the pair (nil: no idle timeout).
    private let idle: TunnelIdleTimer?
    /// The connection's telemetry (nil: not counted); `isDownstream` says which side this is.
    private let tally: TCPTally?
    private let isDownstream: Bool

    private init(idle: TunnelIdleTimer?, tally: TCPTally?, isDownstream: Bool) {
        self.idle = idle
        self.tally = tally
        self.isDownstream = isDownstream
    }

    /// The downstream side's handler first.
    static func matchedPair(idleTimeout: TimeAmount? = nil, tally: TCPTally? = nil) -> (GlueHandler, GlueHandler) {
        let idle = idleTimeout.flatMap { $0.nanoseconds > 0 ? TunnelIdleTimer(timeout: $0) : nil }
        let first = GlueHandler(idle: idle, tally: tally, isDownstream: true)
        let second = GlueHandler(idle: idle, tally: tally, isDownstream: false)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idle?.attach(context)
        // The partner may have held a read while this side was not there to take the bytes.
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
        idle?.stop()
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idle?.touch()
        if let tally { tally.passed(unwrapInboundIn(data).readableBytes, fromDownstream: isDownstream) }
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tally?.close()
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}

/// The idle timeout of a tunnel: one timer for both sides, re-armed lazily (a read only notes
/// the time; the timer, when it fires, checks it), closing both channels once nothing moved for
/// the timeout.
final class TunnelIdleTimer {
    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var contexts: [ChannelHandlerContext] = []
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func attach(_ context: ChannelHandlerContext) {
        contexts.append(context)
        if timer == nil { arm(after: timeout, on: context.eventLoop) }
    }

    func touch() {
        lastActivity = .now()
    }

    func stop() {
        timer?.cancel()
        timer = nil
        contexts.removeAll()
    }

    private func arm(after delay: TimeAmount, on eventLoop: any EventLoop) {
        timer = eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in self?.fired(on: eventLoop) }
    }

    private func fired(on eventLoop: any EventLoop) {
        timer = nil
        let idle = NIODeadline.now() - lastActivity
        if idle < timeout {
            arm(after: timeout - idle, on: eventLoop)
            return
        }
        let all = contexts
        contexts.removeAll()
        for context in all { context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension TunnelIdleTimer: Sendable {}
