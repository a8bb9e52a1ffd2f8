import NIOCore
import NIOHTTP1

/// The first handler of a downstream HTTP/1 connection, on raw bytes: enforces the idle timeout
/// and the request-headers timeout (slowloris: the clock starts at a request's first byte),
/// writes the proxy's answers to requests that cannot be parsed (400, 408, 431) straight to the
/// socket, under the HTTP codec, and closes the connection lingeringly.
///
/// Lingering close (nginx's `lingering_close`): closing a socket whose receive buffer still
/// holds bytes makes the kernel send a reset, which can destroy the answer before the client
/// reads it (a client still sending a too-large header section, or a body the proxy will not
/// read). So an answer that closes the connection is flushed, the sending side shut down (FIN),
/// and what the client still sends is read and dropped until it closes or `lingerTimeout`
/// passes. Over TLS the close itself lingers: NIOSSL sends close_notify and reads until the
/// client's, for at most its shutdown timeout (1 s).
final class HTTP1ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Between requests: the idle timer runs.
        case idle
        /// A request's first bytes arrived; its header section must complete in time.
        case readingHead
        /// A request is being served; its own timeouts apply.
        case serving
        /// A tunnel (WebSocket): raw bytes, no HTTP timeouts.
        case tunnel
        /// The last answer is out and the sending side closed: input is read and dropped.
        case lingering
        case closed
    }

    private let headersTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let lingerTimeout: TimeAmount
    private var phase = Phase.idle
    /// When the current phase began: the idle and headers deadlines count from it.
    private var phaseStart = NIODeadline.now()
    /// One timer per connection, never further ahead than the headers timeout: it checks the
    /// phase's deadline when it fires and re-arms, so a request costs no timer scheduling of its
    /// own (scheduling and cancelling two timers per request showed in profiles).
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var context: ChannelHandlerContext?

    /// TLS connections are closed at once instead of half-closed (a TLS half-close would be a
    /// close_notify, after which the client sends nothing anyway).
    private let isTLS: Bool

    init(headersTimeout: TimeAmount, idleTimeout: TimeAmount, lingerTimeout: TimeAmount = .seconds(1), isTLS: Bool) {
        self.headersTimeout = headersTimeout
        self.idleTimeout = idleTimeout
        self.lingerTimeout = lingerTimeout
        self.isTLS = isTLS
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { enterIdle() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        enterIdle()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        phase = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .lingering = phase { return }
        if case .closed = phase { return }
        if case .idle = phase {
            phase = .readingHead
            phaseStart = .now()
            ensureTimer(by: phaseStart + headersTimeout)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .lingering = phase {
            // Reads go on whatever the handlers above would hold: they are gone from the story.
            context.read()
            return
        }
        context.fireChannelReadComplete()
    }

    /// A request head was parsed: its header section arrived in time.
    func requestHeadReceived() {
        switch phase {
        case .readingHead, .idle:
            phase = .serving
        default:
            break
        }
    }

    /// The response to the last request is complete and the connection stays open.
    func requestCompleted() {
        guard case .serving = phase else { return }
        enterIdle()
    }

    /// The connection became a tunnel: no HTTP timeouts from now on.
    func tunnelStarted() {
        cancelTimer()
        phase = .tunnel
    }

    private func enterIdle() {
        phase = .idle
        phaseStart = .now()
        ensureTimer(by: phaseStart + min(idleTimeout, headersTimeout))
    }

    /// Makes sure the timer fires no later than `deadline` (an earlier one is kept).
    private func ensureTimer(by deadline: NIODeadline) {
        guard let context else { return }
        if timer != nil, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.timerFired()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = .distantFuture
    }

    private func timerFired() {
        timer = nil
        timerDeadline = .distantFuture
        let now = NIODeadline.now()
        switch phase {
        case .idle:
            let deadline = phaseStart + idleTimeout
            if now >= deadline {
                context?.close(promise: nil)
            } else {
                ensureTimer(by: min(deadline, now + headersTimeout))
            }
        case .readingHead:
            let deadline = phaseStart + headersTimeout
            if now >= deadline {
                refuse(status: 408, reason: "Request Timeout", body: "request timeout")
            } else {
                ensureTimer(by: deadline)
            }
        case .lingering:
            context?.close(promise: nil)
        case .serving, .tunnel, .closed:
            // A request in flight has its own timeouts; the timer is armed again when it ends.
            break
        }
    }

    /// Answers `error` (its status and body) and closes lingeringly, unless a response has
    /// already begun on the wire.
    func refuse(_ error: ProxyError) {
        let status = Int(error.status)
        refuse(status: status, reason: HTTPResponseStatus(statusCode: status).reasonPhrase, body: error.body)
    }

    /// Answers with `status` and closes (lingeringly), unless a response has already begun on
    /// the wire.
    private func refuse(status: Int, reason: String, body: String) {
        guard let context, phase != .closed, phase != .tunnel, phase != .lingering else { return }
        let text = "HTTP/1.1 \(status) \(reason)\r\ncontent-length: \(body.utf8.count)\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n\(body)"
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.write(wrapOutboundOut(buffer), promise: nil)
        closeLingering()
    }

    /// Closes the connection once everything written so far is on the wire, lingeringly.
    func closeLingering() {
        guard let context, phase != .closed, phase != .lingering else { return }
        cancelTimer()
        phase = .lingering
        let isTLS = self.isTLS
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { [weak self] result in
            guard let self, case .success = result, !isTLS else {
                context.close(promise: nil)
                return
            }
            context.close(mode: .output).assumeIsolated().whenComplete { result in
                guard case .success = result else {
                    context.close(promise: nil)
                    return
                }
                self.ensureTimer(by: .now() + self.lingerTimeout)
                context.read()
            }
        }
    }
}

@available(*, unavailable)
extension HTTP1ConnectionGuard: Sendable {}
