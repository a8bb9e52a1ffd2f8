import MizzenTelemetry
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// The side of an exchange the pools and upstream channels call: the forwarding handler of a
/// downstream request, or a mirror. All live on the same event loop, so calls are plain method
/// calls.
protocol UpstreamClient: AnyObject {
    /// The connection or stream asked for in attempt `attempt` is there (the pool waited for
    /// it: a connection was opening or all were busy).
    func upstreamReady(_ lease: UpstreamLease, attempt: Int)
    /// It could not be had: connect failure (503 UF), overflow (503 UO).
    func upstreamUnavailable(_ error: ProxyError, attempt: Int)
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
/// parts to the current client and holds upstream reads while the downstream is not writable
/// (the GlueHandler pattern of swift-nio-examples' connect-proxy).
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var client: (any UpstreamClient)?
    /// Called when the channel closes or fails, for the pool's bookkeeping.
    var onClose: (() -> Void)?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    private var failed = false
    private(set) var isActive = true
    /// `ip:port` of this connection's own end, for `%UPSTREAM_LOCAL_ADDRESS%`: made on first
    /// use and kept (a pooled connection serves many requests; `inet_ntop` is not free).
    private var cachedLocalAddress: String??

    var localAddressText: String? {
        if let cachedLocalAddress { return cachedLocalAddress }
        var text: String?
        if let address = context?.channel.localAddress, let ip = address.ipAddress, let port = address.port {
            text = ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        cachedLocalAddress = .some(text)
        return text
    }

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
            let client = self.client
            self.client = nil
            client?.upstreamReceived(part)
        } else if let client {
            client.upstreamReceived(part)
        } else {
            // Bytes from an idle connection (no request in flight): nothing can use them.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        fail(.upstreamClosed)
        onClose?()
        onClose = nil
        context.fireChannelInactive()
    }

    /// Envoy's reset reasons: a malformed response is a protocol error (502 UPE); an HTTP/2
    /// RST_STREAM is a remote reset (503 UR; REFUSED_STREAM retryable as such); anything else
    /// ends the connection under the exchange (503 UC, "connection termination"), as an HTTP/1
    /// upstream's reset or close does in Envoy's codec client.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            fail(.upstreamProtocol)
        } else if let closed = error as? NIOHTTP2Errors.StreamClosed {
            fail(closed.errorCode == .refusedStream ? .refusedStream : .upstreamReset)
        } else {
            fail(.upstreamClosed)
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
        guard let client, !failed else { return }
        failed = true
        self.client = nil
        client.upstreamFailed(error)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let client, !client.downstreamIsWritable {
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
    func attach(_ client: any UpstreamClient) {
        self.client = client
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
