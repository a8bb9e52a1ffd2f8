#if canImport(Glibc)
import Glibc
#endif
import Logging
import MizzenRouting
import NIOCore
import NIOHTTP1

/// The shell of the exchanges of one downstream HTTP/1 connection (in order) or one HTTP/2
/// stream: it plans each request (`ExchangePlanner`), feeds an `HTTPExchange` the channel's
/// events and carries out its actions: writes both ways, connections from the pools, timers,
/// mirrors, the WebSocket hand-off, the HTTP/1 pipelining queue. It decides nothing about a
/// request itself.
///
/// On HTTP/1 it is the last handler of the connection's pipeline. On HTTP/2 it is not in a
/// pipeline: the connection's `HTTP2ServerConnectionHandler` creates one per stream and drives
/// it (`receive`, `downstreamReadComplete`, `downstreamClosed`...), and responses go out through
/// the stream (`HTTP2ServerStream`), as in Envoy, where a connection's codec calls its active
/// streams directly.
///
/// Events caused while actions are carried out (a write that closes the stream, a connection
/// handed over at once, a failure on flush) wait until the actions of the event before are all
/// done, so the machine sees events one at a time and in order.
final class ForwardingHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamClient {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let loop: LoopState
    private let connection: DownstreamConnection
    /// HTTP/1 only: the raw-bytes guard that answers unparsable requests, runs the timers and
    /// closes lingeringly.
    private let guardHandler: HTTP1ConnectionGuard?
    /// Where responses go: the HTTP/1 pipeline (set in `handlerAdded`) or the HTTP/2 stream.
    private var downstream: Downstream?
    private var eventLoop: (any EventLoop)?

    /// The exchange in flight; nil between requests.
    private var exchange: HTTPExchange?
    /// Counts exchanges, so a late event of one never reaches the next.
    private var serial = 0
    private var lease: UpstreamLease?
    private var waiter: PoolWaiter?
    /// The endpoint `waiter` waits for a connection to.
    private var waitingEndpoint = 0
    private var timers = Timers()
    private var mirrors: [MirrorExchange] = []
    /// The cluster's `http2MaxRequests` slot is held (given back at the finish).
    private var holdsRequestSlot = false
    private var tunnel = false
    private var closed = false
    /// HTTP/1: requests pipelined behind the one in flight.
    private var queue: HTTP1RequestQueue?
    private var pendingRead = false
    private var performing = false
    private var deferred = DeferredEvents()
    /// An HTTP/1 exchange finished with the connection kept: the next queued request may start.
    private var readyForNext = false
    private var startingQueued = false

    init(loop: LoopState, connection: DownstreamConnection, guardHandler: HTTP1ConnectionGuard?) {
        self.loop = loop
        self.connection = connection
        self.guardHandler = guardHandler
        if !connection.isHTTP2 { queue = HTTP1RequestQueue() }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        downstream = .http1(context)
        eventLoop = context.eventLoop
    }

    /// The context holds this handler and this handler the context: the reference must go when
    /// the pipeline is torn down, or the connection leaks.
    func handlerRemoved(context: ChannelHandlerContext) {
        timers.cancelAll()
        downstream = nil
    }

    /// HTTP/2: the stream this handler serves (it holds the handler; `downstreamClosed` ends both).
    func attach(_ stream: HTTP2ServerStream, eventLoop: any EventLoop) {
        downstream = .http2(stream)
        self.eventLoop = eventLoop
    }

    // MARK: The downstream

    private func write(_ part: HTTPServerResponsePart) {
        switch downstream {
        case .http1(let context): context.write(wrapOutboundOut(part), promise: nil)
        case .http2(let stream): stream.write(part)
        case nil: break
        }
    }

    private func flushDownstream() {
        switch downstream {
        case .http1(let context): context.flush()
        case .http2(let stream): stream.flush()
        case nil: break
        }
    }

    /// HTTP/1: closes the connection. HTTP/2: resets the stream (CANCEL) if it is still open.
    private func resetDownstream() {
        switch downstream {
        case .http1(let context): context.close(promise: nil)
        case .http2(let stream): stream.reset()
        case nil: break
        }
    }

    /// Whether the downstream should not be read now: HTTP/1 holds socket reads, HTTP/2 holds
    /// the stream's flow-control window (the client stops sending once it is used up).
    private var readsPaused: Bool {
        if queue?.isFull == true { return true }
        // Optional chaining reads the exchange in place (a binding would copy it).
        if exchange?.holdsDownstreamReads == true { return true }
        if exchange?.isForwarding == true, let lease { return !lease.handler.isWritable }
        return false
    }

    /// HTTP/2: the stream consumed request body bytes; true when their flow-control credit must
    /// wait (`resumeDownstreamReads` gives it back).
    func holdsDownstreamReads() -> Bool {
        guard readsPaused else { return false }
        pendingRead = true
        return true
    }

    private func resumeDownstreamReadsIfDue() {
        guard pendingRead, !readsPaused else { return }
        switch downstream {
        case .http1(let context):
            pendingRead = false
            context.read()
        case .http2(let stream):
            pendingRead = false
            stream.resumeReading()
        case nil:
            break
        }
    }

    // MARK: HTTP/2 stream events

    /// A request part of the stream (head, body, end), as the connection decoded it.
    func receive(_ part: HTTPServerRequestPart) {
        handle(part)
    }

    /// The connection's read burst is over.
    func downstreamReadComplete() {
        lease?.handler.flush()
        for mirror in mirrors { mirror.flush() }
    }

    /// The stream is closed: both ends done (`normally`), reset by either side, or the
    /// connection is gone. Closed normally, the client's END_STREAM came: its request ended,
    /// even if the exchange has not been told yet (a head-only request answered at once closes
    /// the stream between the head and its end).
    func downstreamClosed(normally: Bool) {
        if normally, exchange?.requestEnded == false { deliver(.requestEnd(nil)) }
        closedDownstream()
        downstream = nil
    }

    func downstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { lease?.handler.resumeReading() }
    }

    // MARK: Downstream events (HTTP/1)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if queue != nil, !queue!.isEmpty || (part.isHead && exchange != nil) {
            queue!.enqueue(part)
            return
        }
        handle(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closedDownstream()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        downstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // HTTP/1 parse errors: the guard answers on the raw socket and closes.
        guard let parserError = error as? HTTPParserError, guardHandler != nil else {
            context.close(promise: nil)
            return
        }
        // The input ended in the middle of a request: the close that follows ends its exchange
        // (DC), as a client going away does.
        if parserError == .invalidEOFState || !context.channel.isActive { return }
        let refusal = Self.refusal(for: parserError)
        if exchange?.requestEnded == false {
            // The request in flight is cut short: answered now if nothing went out, else closed.
            deliver(.requestMalformed(refusal))
            return
        }
        if exchange != nil || !(queue?.isEmpty ?? true) {
            // The error belongs to a request pipelined behind others: those are answered first,
            // then the refusal (a request cut short by the error is dropped).
            queue?.refuseAfterQueued(refusal)
            return
        }
        refuseUnparsed(refusal)
    }

    /// Answers a request the parser refused before its head was whole: there is no exchange,
    /// but there is a record (Envoy logs a 400 or 431 with DPE for a codec error).
    private func refuseUnparsed(_ error: ProxyError) {
        guardHandler?.refuse(error)
        let now = NIODeadline.now()
        var record = ExchangeRecord(startTime: now, startWallClockNanoseconds: Self.wallClockNanoseconds())
        record.connection = connection
        record.refused(error, now: now)
        if loop.logger.logLevel <= .debug { log(record) }
        loop.exchangeFinished?(record)
        loop.telemetry?.exchangeFinished(record)
    }

    /// What a request the HTTP/1 parser gave up on is answered with.
    static func refusal(for error: HTTPParserError) -> ProxyError {
        error == .headerOverflow ? .headersTooLarge : .badRequest("malformed request")
    }

    private func closedDownstream() {
        guard !closed else { return }
        closed = true
        queue?.removeAll()
        deliver(.downstreamClosed)
        timers.cancelAll()
        mirrors.removeAll()
    }

    // MARK: Requests

    private func handle(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            startExchange(head)
        case .body(let buffer):
            for mirror in mirrors { mirror.send(.body(.byteBuffer(buffer))) }
            deliver(.requestBody(buffer))
        case .end(let trailers):
            for mirror in mirrors {
                mirror.send(.end(trailers))
                mirror.flush()
            }
            deliver(.requestEnd(trailers))
        }
    }

    private func startExchange(_ head: HTTPRequestHead) {
        guard exchange == nil, !closed else {
            // A new head while one is in flight cannot happen (pipelined requests wait in the
            // queue; an HTTP/2 stream carries one request); treat it as a protocol error.
            resetDownstream()
            return
        }
        guardHandler?.requestHeadReceived()
        loop.activeRequests += 1
        serial += 1
        let now = NIODeadline.now()
        var machine = HTTPExchange(limits: HTTPExchange.Limits(maxRetryBufferBytes: loop.limits.maxRetryBufferBytes,
                                                                maxRequestBodyBytes: loop.limits.maxRequestBodyBytes,
                                                                streamIdleTimeout: loop.limits.streamIdleTimeout),
                                   isHTTP2: connection.isHTTP2, now: now, wallClockNanoseconds: Self.wallClockNanoseconds())
        machine.jitterSource = loop.random.next()
        var start = ExchangePlanner.plan(head, connection: connection, snapshot: loop.snapshot, limits: loop.limits, tracing: loop.telemetry?.shared.tracing,
                                           originalDestinations: loop.originalDestinations, random: &loop.random)
        // Draining (SIGTERM, `/healthcheck/fail`): HTTP/1 answers close their connection.
        if loop.draining && !connection.isHTTP2 { start.keepAlive = false }
        if case .forward(let plan) = start.disposition {
            let limit = plan.cluster.cluster.limits.maxRequests
            if limit != Int.max {
                // Envoy's max_requests (`http2MaxRequests`): requests in flight to the cluster.
                // The shared counter is touched only when a limit is set.
                if plan.cluster.runtime.activeRequests.tryAcquire(limit: limit) {
                    holdsRequestSlot = true
                } else {
                    start.disposition = .answer(.error(.overflow))
                    start.delay = nil
                }
            }
        }
        exchange = machine
        let actions = exchange!.start(start, head: head, connection: connection, now: now)
        perform(actions)
    }

    /// Hands an event to the exchange in flight (after the actions being carried out, if any).
    private func deliver(_ event: HTTPExchange.Event) {
        if performing {
            deferred.append(serial: serial, event)
            return
        }
        guard exchange != nil else { return }
        let actions = exchange!.handle(event, now: .now())
        perform(actions)
    }

    private func perform(_ actions: consuming ExchangeActions) {
        performing = true
        while let action = actions.popFirst() { carryOut(action) }
        while let (eventSerial, event) = deferred.popFirst() {
            guard eventSerial == serial, exchange != nil else { continue }
            var more = exchange!.handle(event, now: .now())
            while let action = more.popFirst() { carryOut(action) }
        }
        performing = false
        if readyForNext {
            readyForNext = false
            startQueued()
        }
        resumeDownstreamReadsIfDue()
    }

    private func carryOut(_ action: consuming HTTPExchange.Action) {
        switch consume action {
        case .respondContinue:
            write(.head(HTTPResponseHead(version: connection.isHTTP2 ? .http2 : .http1_1, status: .continue)))
            flushDownstream()
        case .refuse(let error):
            guardHandler?.refuse(error)
        case .respond(let head):
            write(.head(head))
        case .respondBody(let buffer):
            write(.body(.byteBuffer(buffer)))
        case .respondEnd(let trailers):
            // Writing a stream's last frame can close the stream at once (NIOHTTP2 reports the
            // closure while the frame is written, which detaches the stream from this handler;
            // the event waits until this batch is done): flush where it was written.
            let target = downstream
            write(.end(trailers))
            switch target {
            case .http1(let context): context.flush()
            case .http2(let stream): stream.flush()
            case nil: break
            }
        case .resetDownstream:
            resetDownstream()
        case .acquire(let attempt, let avoiding):
            acquire(attempt: attempt, avoiding: avoiding)
        case .cancelAcquire:
            waiter?.cancel()
            waiter = nil
        case .sendRequest(let request):
            guard let lease else { return }
            if loop.telemetry?.wantsUpstreamLocalAddress == true {
                exchange?.noteUpstreamLocalAddress(lease.handler.localAddressText)
            }
            lease.handler.write(.head(request.head))
            for buffer in request.body { lease.handler.write(.body(.byteBuffer(buffer))) }
            if let end = request.end { lease.handler.write(.end(end)) }
            lease.handler.flush()
        case .forwardBody(let buffer):
            lease?.handler.write(.body(.byteBuffer(buffer)))
        case .forwardEnd(let trailers):
            lease?.handler.write(.end(trailers))
            lease?.handler.flush()
        case .release(let reusable):
            lease?.release(reusable: reusable)
            lease = nil
        case .schedule(let timer, let delay):
            schedule(timer, after: delay)
        case .cancelTimer(let timer):
            timers.cancel(timer)
        case .recordOutlier(let endpoint, let outcome):
            guard let plan = exchange?.forwardPlan, let settings = plan.cluster.cluster.outlierDetection,
                  endpoint < plan.cluster.monitors.count else { return }
            plan.cluster.runtime.outliers.record(outcome, plan.cluster.monitors[endpoint], endpointCount: plan.cluster.endpoints.count, settings: settings)
        case .startMirrors:
            startMirrors()
        case .startTunnel(let head):
            startTunnel(head)
        case .finish:
            finishExchange()
        }
    }

    // MARK: Upstream

    private func acquire(attempt: Int, avoiding: EndpointSet) {
        guard let plan = exchange?.forwardPlan else { return }
        guard let endpoint = loop.pickEndpoint(plan.cluster, avoiding: avoiding, hashKey: plan.hashKey) else {
            deliver(.upstreamUnavailable(attempt: attempt, endpoint: nil, .noHealthyUpstream))
            return
        }
        switch loop.upstreams.acquire(plan.cluster, endpoint: endpoint, serverName: plan.serverName, for: self, attempt: attempt) {
        case .ready(let lease):
            self.lease = lease
            deliver(.upstreamConnected(attempt: attempt, endpoint: endpoint, http1: lease.isHTTP1))
        case .waiting(let waiter):
            self.waiter = waiter
            waitingEndpoint = endpoint
        case .failed(let error):
            deliver(.upstreamUnavailable(attempt: attempt, endpoint: endpoint, error))
        }
    }

    func upstreamReady(_ lease: UpstreamLease, attempt: Int) {
        waiter = nil
        guard exchange != nil, !closed else {
            lease.release(reusable: false)
            return
        }
        self.lease?.release(reusable: false)
        self.lease = lease
        deliver(.upstreamConnected(attempt: attempt, endpoint: waitingEndpoint, http1: lease.isHTTP1))
    }

    func upstreamUnavailable(_ error: ProxyError, attempt: Int) {
        waiter = nil
        deliver(.upstreamUnavailable(attempt: attempt, endpoint: waitingEndpoint, error))
    }

    var downstreamIsWritable: Bool {
        switch downstream {
        case .http1(let context): return context.channel.isWritable
        case .http2(let stream): return stream.isWritable
        case nil: return false
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeDownstreamReadsIfDue() }
    }

    func upstreamReadComplete() {
        flushDownstream()
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let head): deliver(.responseHead(head))
        case .body(let buffer): deliver(.responseBody(buffer))
        case .end(let trailers): deliver(.responseEnd(trailers))
        }
    }

    func upstreamFailed(_ error: ProxyError) {
        deliver(.upstreamFailed(error))
    }

    // MARK: Timers

    /// The exchange's timers. The idle timer stays armed across the requests of an HTTP/1
    /// connection (the exchange checks its last activity when it fires and asks again for the
    /// rest), so a request does not schedule one of its own.
    private struct Timers {
        var faultDelay: Scheduled<Void>?
        var backoff: Scheduled<Void>?
        var perTry: Scheduled<Void>?
        var route: Scheduled<Void>?
        var idle: Scheduled<Void>?
        var idleDeadline = NIODeadline.distantFuture

        mutating func cancel(_ timer: ExchangeTimer) {
            // Most are not armed: test before touching (clearing an optional costs a destroy).
            switch timer {
            case .faultDelay: if let scheduled = faultDelay { scheduled.cancel(); faultDelay = nil }
            case .backoff: if let scheduled = backoff { scheduled.cancel(); backoff = nil }
            case .perTry: if let scheduled = perTry { scheduled.cancel(); perTry = nil }
            case .route: if let scheduled = route { scheduled.cancel(); route = nil }
            case .idle:
                if let scheduled = idle {
                    scheduled.cancel()
                    idle = nil
                    idleDeadline = .distantFuture
                }
            }
        }

        /// The exchange's own timers (the idle timer is the connection's).
        mutating func cancelExchange() {
            cancel(.faultDelay)
            cancel(.backoff)
            cancel(.perTry)
            cancel(.route)
        }

        mutating func cancelAll() {
            cancelExchange()
            cancel(.idle)
        }
    }

    private func schedule(_ timer: ExchangeTimer, after delay: TimeAmount) {
        guard let eventLoop else { return }
        let deadline = NIODeadline.now() + delay
        if timer == .idle, timers.idle != nil, timers.idleDeadline <= deadline { return }
        timers.cancel(timer)
        let exchangeSerial = serial
        let scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.timerFired(timer, serial: exchangeSerial)
        }
        switch timer {
        case .faultDelay: timers.faultDelay = scheduled
        case .backoff: timers.backoff = scheduled
        case .perTry: timers.perTry = scheduled
        case .route: timers.route = scheduled
        case .idle:
            timers.idle = scheduled
            timers.idleDeadline = deadline
        }
    }

    private func timerFired(_ timer: ExchangeTimer, serial exchangeSerial: Int) {
        switch timer {
        case .faultDelay: timers.faultDelay = nil
        case .backoff: timers.backoff = nil
        case .perTry: timers.perTry = nil
        case .route: timers.route = nil
        case .idle:
            timers.idle = nil
            timers.idleDeadline = .distantFuture
        }
        // The idle timer serves every exchange of the connection; the others only their own.
        guard timer == .idle || exchangeSerial == serial else { return }
        deliver(.timerFired(timer))
    }

    // MARK: Mirrors

    private func startMirrors() {
        guard let eventLoop, let plan = exchange?.forwardPlan else { return }
        let host = plan.upstreamHead.headers.first(name: "host") ?? ""
        let shadow = ExchangePlanner.shadowHost(host)
        for policy in plan.mirrors where FaultFilter.chance(policy.fraction, using: &loop.random) {
            guard let cluster = plan.snapshot.clusters[policy.cluster], cluster.cluster.serviceKnown, !cluster.endpoints.isEmpty else { continue }
            var head = plan.upstreamHead
            head.headers.replaceOrAdd(name: "host", value: shadow)
            let mirror = MirrorExchange(loop: loop, head: head)
            // The body so far (a fault delay held the request) goes along.
            guard let (body, end) = exchange?.bufferedRequest else { break }
            for buffer in body { mirror.send(.body(.byteBuffer(buffer))) }
            if let end { mirror.send(.end(end)) }
            let serverName = cluster.tls?.serverName(forHost: ExchangePlanner.hostWithoutPort(shadow))
            mirror.start(cluster: cluster, serverName: serverName, eventLoop: eventLoop, timeout: plan.routeTimeout ?? loop.limits.streamIdleTimeout)
            mirrors.append(mirror)
        }
    }

    // MARK: The end of an exchange

    private func finishExchange() {
        // Moved out: the record and the rest are read from the local, not copied.
        guard let exchange = self.exchange.take() else { return }
        let record = exchange.record
        loop.activeRequests -= 1
        if holdsRequestSlot, let plan = exchange.forwardPlan {
            plan.cluster.runtime.activeRequests.decrement()
        }
        holdsRequestSlot = false
        if exchange.holdsRetrySlot, let plan = exchange.forwardPlan {
            plan.cluster.runtime.activeRetries.decrement()
        }
        waiter?.cancel()
        waiter = nil
        lease?.release(reusable: false)
        lease = nil
        timers.cancelExchange()
        mirrors.removeAll(keepingCapacity: true)
        let close = exchange.closeConnection
        if loop.logger.logLevel <= .debug { log(record) }
        loop.exchangeFinished?(record)
        loop.telemetry?.exchangeFinished(record)
        if tunnel { return }
        switch downstream {
        case .http1:
            if close {
                queue?.removeAll()
                guardHandler?.closeLingering()
            } else {
                guardHandler?.requestCompleted()
                readyForNext = true
            }
        case .http2(let stream):
            // Answered whole before the client finished sending: RST_STREAM NO_ERROR asks it to
            // stop (RFC 9113 §8.1); the response stands. (A stream already reset stays so.)
            if close { stream.stopRequest() }
        case nil:
            break
        }
    }

    /// Serves the next pipelined request, if one is queued; a refusal queued behind the
    /// requests served is answered once they are. Requests that finish at once (a 404) are
    /// served in this loop, not by recursion.
    private func startQueued() {
        guard !closed, !startingQueued, queue != nil else { return }
        startingQueued = true
        defer { startingQueued = false }
        while exchange == nil, !closed, queue?.startsWithHead == true, let head = queue?.popFirst() {
            handle(head)
            // The rest of that request (its body and end) goes to it as well.
            while exchange != nil, queue?.isEmpty == false, queue?.startsWithHead == false, let part = queue?.popFirst() {
                handle(part)
            }
        }
        if exchange == nil, !closed, let refusal = queue?.takeRefusal() {
            refuseUnparsed(refusal)
        }
        resumeDownstreamReadsIfDue()
    }

    private func log(_ record: ExchangeRecord) {
        let request = record.request.map { "\($0.method.rawValue) \($0.uri.prefix(200))" } ?? "-"
        let duration = record.duration.map { "\($0.nanoseconds / 1_000_000)ms" } ?? "-"
        loop.logger.debug("exchange: \(request) -> \(record.responseCode) \(record.responseFlags) \(record.responseCodeDetails) cluster \(record.cluster?.name ?? "-") host \(record.upstreamHost ?? "-") attempts \(record.attempts) \(duration)")
    }

    static func wallClockNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    // MARK: WebSocket

    /// The upstream accepted the upgrade: pass the 101 on, then turn both connections into a
    /// byte tunnel (the HTTP codecs come out; bytes they had buffered are forwarded).
    private func startTunnel(_ head: HTTPResponseHead) {
        guard case .http1(let context) = downstream, let lease else { return }
        tunnel = true
        self.lease = nil
        guardHandler?.tunnelStarted()
        timers.cancelAll()
        WebSocketTunnel.start(head: head, lease: lease, context: context, idleTimeout: loop.limits.idleTimeout) { part in
            self.wrapOutboundOut(part)
        }
    }
}

@available(*, unavailable)
extension ForwardingHandler: Sendable {}

/// Events raised while a batch of actions is carried out, in order. Most batches raise none or
/// one (a connection handed over at once, the stream closing as the response ends): the first
/// is held inline, so an HTTP/2 stream's handler, new for each request, allocates nothing.
private struct DeferredEvents {
    private var first: (serial: Int, event: HTTPExchange.Event)?
    private var rest: [(serial: Int, event: HTTPExchange.Event)] = []
    private var restStart = 0

    mutating func append(serial: Int, _ event: HTTPExchange.Event) {
        if first == nil, restStart == rest.count {
            first = (serial, event)
        } else {
            rest.append((serial, event))
        }
    }

    mutating func popFirst() -> (serial: Int, event: HTTPExchange.Event)? {
        if let event = first.take() { return event }
        guard restStart < rest.count else { return nil }
        defer {
            restStart += 1
            if restStart == rest.count {
                rest.removeAll(keepingCapacity: true)
                restStart = 0
            }
        }
        return rest[restStart]
    }
}

extension HTTPServerRequestPart {
    var isHead: Bool {
        if case .head = self { return true }
        return false
    }
}
