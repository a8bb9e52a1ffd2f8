import NIOCore

/// Holds a multiplexed connection's flushes until the event loop has handled every I/O event
/// of its current wake-up, then flushes once: responses of several HTTP/2 streams that complete
/// in one wake-up (each from its own upstream connection) leave in one `writev` (and, over
/// TLS, in fewer records) instead of one write each. Envoy does the same: a connection's
/// writes are buffered and written when the dispatcher gets to the connection's write event.
///
/// Sits right under `NIOHTTP2Handler` (above TLS). NIO runs tasks submitted with `execute`
/// after the I/O events of one `epoll_wait` are processed, so the delay is bounded by one
/// loop iteration. A close flushes first, so nothing written before it (GOAWAY, RST_STREAM)
/// is dropped.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let batch: FlushBatch
    private var context: ChannelHandlerContext?
    fileprivate var flushPending = false

    init(batch: FlushBatch) {
        self.batch = batch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        self.context = nil
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        batch.add(self)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow()
        context.close(mode: mode, promise: promise)
    }

    fileprivate func flushNow() {
        guard flushPending else { return }
        flushPending = false
        context?.flush()
    }
}

/// The connections of one event loop waiting for their end-of-wake-up flush: one task per
/// loop iteration, however many connections wrote.
final class FlushBatch {
    private let eventLoop: any EventLoop
    private var waiting: [FlushCoalescer] = []
    private var scheduled = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    fileprivate func add(_ coalescer: FlushCoalescer) {
        waiting.append(coalescer)
        guard !scheduled else { return }
        scheduled = true
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { bound.value.run() }
    }

    private func run() {
        scheduled = false
        // A flush can make another connection write (rarely: a response relayed within the
        // loop); it joins the next batch.
        var batch = waiting
        waiting = []
        for coalescer in batch { coalescer.flushNow() }
        batch.removeAll(keepingCapacity: true)
        if waiting.isEmpty { waiting = batch }
    }
}

@available(*, unavailable)
extension FlushCoalescer: Sendable {}

@available(*, unavailable)
extension FlushBatch: Sendable {}
