import NIOCore

/// The first handler of a downstream HTTP/1 connection, on raw bytes: enforces the idle timeout
/// and the request-headers timeout (slowloris: the clock starts at a request's first byte), and
/// writes the proxy's answers to requests that cannot be parsed (400, 408, 431) straight to the
/// socket, under the HTTP codec, then closes: after a framing error nothing that follows on the
/// connection can be trusted.
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
        case closed
    }

    private let headersTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var phase = Phase.idle
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(headersTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headersTimeout = headersTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armIdle() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdle()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        phase = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = phase {
            phase = .readingHead
            timer?.cancel()
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: headersTimeout) { [weak self] in
                self?.refuse(status: 408, reason: "Request Timeout", body: "request timeout")
            }
        }
        context.fireChannelRead(data)
    }

    /// A request head was parsed: its header section arrived in time.
    func requestHeadReceived() {
        guard case .readingHead = phase else {
            if case .idle = phase { timer?.cancel(); phase = .serving }
            return
        }
        timer?.cancel()
        timer = nil
        phase = .serving
    }

    /// The response to the last request is complete and the connection stays open.
    func requestCompleted() {
        guard case .serving = phase else { return }
        phase = .idle
        armIdle()
    }

    /// The connection became a tunnel: no HTTP timeouts from now on.
    func tunnelStarted() {
        timer?.cancel()
        timer = nil
        phase = .tunnel
    }

    private func armIdle() {
        guard let context else { return }
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [weak self] in
            guard let self, case .idle = self.phase else { return }
            self.context?.close(promise: nil)
        }
    }

    /// Answers with `status` and closes, unless a response has already begun on the wire.
    func refuse(status: Int, reason: String, body: String) {
        guard let context, phase != .closed, phase != .tunnel else { return }
        timer?.cancel()
        phase = .closed
        let text = "HTTP/1.1 \(status) \(reason)\r\ncontent-length: \(body.utf8.count)\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n\(body)"
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension HTTP1ConnectionGuard: Sendable {}
