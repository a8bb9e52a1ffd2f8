import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Who receives an upstream response: the forwarding handler of the downstream request. Both
/// live on the same event loop, so calls are plain method calls.
protocol UpstreamResponseReceiver: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    /// The upstream stream ended abnormally (closed, reset, protocol error) before `.end`.
    func upstreamFailed(_ error: ProxyError)
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The upstream read burst is over: flush what was written downstream (one flush per read
    /// burst, not per body chunk).
    func upstreamReadComplete()
    /// Whether the downstream can take more bytes now; when not, upstream reads wait.
    var downstreamIsWritable: Bool { get }
}

/// The last handler of an upstream HTTP/1 connection or HTTP/2 stream channel: passes response
/// parts to the current receiver and holds upstream reads while the downstream is not writable
/// (the GlueHandler pattern of swift-nio-examples' connect-proxy).
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var receiver: (any UpstreamResponseReceiver)?
    /// Called when the channel closes or fails, for the pool's bookkeeping.
    var onClose: (() -> Void)?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    private var failed = false
    private(set) var isActive = true

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isActive = context.channel.isActive
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .end = part {
            let receiver = self.receiver
            self.receiver = nil
            receiver?.upstreamReceived(part)
        } else if let receiver {
            receiver.upstreamReceived(part)
        } else {
            // Bytes from an idle connection (no request in flight): nothing can use them.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        fail(.upstreamClosed)
        onClose?()
        onClose = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            fail(.upstreamProtocol)
        } else if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .refusedStream {
            fail(.refusedStream)
        } else {
            fail(.upstreamReset)
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            fail(.upstreamClosed)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func fail(_ error: ProxyError) {
        guard let receiver, !failed else { return }
        failed = true
        self.receiver = nil
        receiver.upstreamFailed(error)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        receiver?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let receiver, !receiver.downstreamIsWritable {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The downstream drained: resume reading a held upstream.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// Starts an exchange on this channel.
    func attach(_ receiver: any UpstreamResponseReceiver) {
        self.receiver = receiver
        failed = false
    }

    func write(_ part: HTTPClientRequestPart, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(part), promise: promise)
    }

    func flush() {
        context?.flush()
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
