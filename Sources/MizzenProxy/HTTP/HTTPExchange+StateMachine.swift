import MizzenTelemetry
import MizzenRouting
import NIOCore
import NIOHTTP1

/// One request through the proxy, as a state machine: events in (request parts, an upstream
/// had or not, response parts, failures, timers, the client gone), actions out (write, forward,
/// acquire, release, schedule, finish). It does no I/O and owns no channel: `ForwardingHandler`
/// (an HTTP/1 connection or an HTTP/2 stream) turns channel events into events and carries out
/// the actions. Every path ends in exactly one `.finish`, after which the machine ignores
/// everything; its `record` then says what happened (Envoy's StreamInfo).
///
/// The phases follow Envoy's router: a fault delay, then attempts at an upstream (acquiring a
/// connection, forwarding), retries with a jittered back-off between them, the route and
/// per-try timeouts; the response streams back; a local answer replaces it when the proxy gives
/// up before the response started.
struct HTTPExchange {
    /// Limits of the proxy that the machine applies.
    struct Limits {
        var maxRetryBufferBytes: Int
        var maxRequestBodyBytes: Int?
        var streamIdleTimeout: TimeAmount
    }

    enum Event {
        case requestBody(ByteBuffer)
        case requestEnd(HTTPHeaders?)
        /// A connection or stream for `attempt` to endpoint `endpoint` (an HTTP/1 connection or
        /// not).
        case upstreamConnected(attempt: Int, endpoint: Int, http1: Bool)
        /// No connection for `attempt`: no endpoint to pick (`endpoint` nil), overflow, connect
        /// failure.
        case upstreamUnavailable(attempt: Int, endpoint: Int?, ProxyError)
        case responseHead(HTTPResponseHead)
        case responseBody(ByteBuffer)
        case responseEnd(HTTPHeaders?)
        /// The upstream connection or stream failed before the response ended.
        case upstreamFailed(ProxyError)
        case timerFired(ExchangeTimer)
        /// The client's connection (HTTP/1) or stream (HTTP/2) is gone.
        case downstreamClosed
        /// HTTP/1: the rest of the request could not be parsed; nothing on the connection can be
        /// trusted now.
        case requestMalformed(ProxyError)
    }

    enum Action {
        /// `100 Continue`.
        case respondContinue
        /// HTTP/1: answer `error` on the raw connection and close (a head that cannot be trusted).
        case refuse(ProxyError)
        case respond(HTTPResponseHead)
        case respondBody(ByteBuffer)
        case respondEnd(HTTPHeaders?)
        /// The response cannot complete: HTTP/1 closes the connection, HTTP/2 resets the stream.
        case resetDownstream
        /// Pick an endpoint (not one of `avoiding`, if any other is left) and get a connection.
        case acquire(attempt: Int, avoiding: EndpointSet)
        /// Stop waiting for the connection asked for.
        case cancelAcquire
        case sendRequest(UpstreamRequest)
        case forwardBody(ByteBuffer)
        case forwardEnd(HTTPHeaders?)
        /// End the attempt's hold on its upstream; `reusable`: the connection may serve another.
        case release(reusable: Bool)
        case schedule(ExchangeTimer, TimeAmount)
        case cancelTimer(ExchangeTimer)
        /// Tell the cluster's outlier detector how an attempt at an endpoint went.
        case recordOutlier(endpoint: Int, OutlierDetector.Outcome)
        /// Copy the request to the route's mirrors.
        case startMirrors
        /// The upstream accepted a WebSocket upgrade: pass this 101 on and join the connections.
        case startTunnel(HTTPResponseHead)
        /// The exchange is over (`record` is final; `closeConnection` says whether an HTTP/1
        /// connection must close now).
        case finish
    }

    enum Phase {
        /// Not started, or the fault delay is running.
        case delaying
        /// Waiting for a connection for this attempt.
        case acquiring(Int)
        /// No upstream held: an attempt failed and the next one waits for its back-off, or the
        /// proxy is about to answer itself.
        case betweenAttempts
        /// The attempt's request goes to its upstream; its response may be coming back.
        case forwarding
        /// The response is complete (or the proxy answered); the rest of the request body is
        /// read and dropped.
        case answered
        case done
    }

    private(set) var phase = Phase.delaying
    private(set) var record: ExchangeRecord
    /// HTTP/1: close the connection after this exchange.
    private(set) var closeConnection = false
    /// The cluster's retry budget (`maxRetries`) is held and must be given back.
    private(set) var holdsRetrySlot = false

    private let limits: Limits
    private let isHTTP2: Bool
    private var responseEdits = ResponseEdits()
    private var isGRPC = false
    private var plan: ForwardPlan?
    /// What to do when the fault delay ends: answer, or route.
    private var delayedAnswer: LocalReply?
    private var requestHasEnded = false
    private var trailers: HTTPHeaders?
    private var responseStarted = false
    /// The upstream said `Connection: close` or is HTTP/1.0: its connection is not reused.
    private var upstreamWantsClose = false
    /// The attempt's connection is an HTTP/1 connection (a 101 can become a tunnel).
    private var upstreamIsHTTP1 = false
    /// The upstream's 101, held until its `.end` (the codecs come out after it).
    private var tunnelHead: HTTPResponseHead?
    /// Body chunks kept: all of them while the request may be retried (up to
    /// `maxRetryBufferBytes`), else those not sent yet.
    private var body: [ByteBuffer] = []
    private var bodyBytesKept = 0
    private var replayable = false
    private var retriesLeft = 0
    private var attempt = 0
    private var currentEndpoint: Int?
    private var tried = EndpointSet()
    private var routerStarted = false
    private var routeTimerArmed = false
    private var lastActivity: NIODeadline

    init(limits: Limits, isHTTP2: Bool, now: NIODeadline, wallClockNanoseconds: Int64) {
        self.limits = limits
        self.isHTTP2 = isHTTP2
        lastActivity = now
        record = ExchangeRecord(startTime: now, startWallClockNanoseconds: wallClockNanoseconds)
    }

    // MARK: Queries

    /// Whether the request body should not be read now: there is no upstream to take it (a
    /// fault delay, a connection being made, a back-off). Forwarding, the shell also holds
    /// reads while the upstream is not writable.
    var holdsDownstreamReads: Bool {
        switch phase {
        case .delaying, .acquiring, .betweenAttempts: return true
        case .forwarding, .answered, .done: return false
        }
    }

    var isFinished: Bool {
        if case .done = phase { return true }
        return false
    }

    var isForwarding: Bool {
        if case .forwarding = phase { return true }
        return false
    }

    /// The plan being carried out (nil for a local answer).
    var forwardPlan: ForwardPlan? { plan }

    /// Whether the whole request has arrived.
    var requestEnded: Bool { requestHasEnded }

    /// The request body received and kept so far, and its end when it came (for mirrors started
    /// after a fault delay).
    var bufferedRequest: (body: ArraySlice<ByteBuffer>, end: HTTPHeaders??) {
        (body[...], requestHasEnded ? .some(trailers) : nil)
    }

    // MARK: Start

    /// The request head arrived and was planned.
    mutating func start(_ start: consuming ExchangeStart, head: HTTPRequestHead, connection: DownstreamConnection?, now: NIODeadline) -> ExchangeActions {
        var actions = ExchangeActions()
        responseEdits = start.responseEdits
        isGRPC = start.isGRPC
        record.isGRPC = isGRPC
        record.trace = start.trace
        lastActivity = now
        record.request = head
        record.connection = connection
        record.downstreamProtocol = isHTTP2 ? .http2 : head.version
        record.route = start.route
        record.virtualHost = start.virtualHost
        closeConnection = !isHTTP2 && !start.keepAlive
        if start.expectContinue { actions.append(.respondContinue) }
        if case .refuse = start.disposition {} else { actions.append(.schedule(.idle, limits.streamIdleTimeout)) }
        switch start.disposition {
        case .refuse(let error):
            closeConnection = true
            record.refused(error, now: now)
            phase = .done
            actions.append(.refuse(error))
            actions.append(.finish)
            return actions
        case .answer(let reply):
            if let delay = start.delay {
                delayedAnswer = reply
                record.responseFlags.insert(.delayInjected)
                actions.append(.schedule(.faultDelay, delay))
                return actions
            }
            answer(reply, now: now, into: &actions)
        case .forward(let plan):
            self.plan = plan
            record.cluster = plan.cluster.cluster
            record.requestID = plan.requestID
            record.upstreamProtocol = plan.cluster.cluster.connection.upstreamProtocol
            retriesLeft = plan.retry.retries
            replayable = retriesLeft > 0
            if let delay = start.delay {
                record.responseFlags.insert(.delayInjected)
                actions.append(.schedule(.faultDelay, delay))
                return actions
            }
            startRouter(now: now, into: &actions)
        }
        return actions
    }

    /// The router's part: mirrors, the route timeout, the first attempt.
    private mutating func startRouter(now: NIODeadline, into actions: inout ExchangeActions) {
        guard let plan else { return }
        routerStarted = true
        if !plan.mirrors.isEmpty { actions.append(.startMirrors) }
        armRouteTimerIfReady(into: &actions)
        startAttempt(into: &actions)
    }

    private mutating func startAttempt(into actions: inout ExchangeActions) {
        guard let plan else { return }
        attempt += 1
        record.attempts = attempt
        phase = .acquiring(attempt)
        actions.append(.acquire(attempt: attempt, avoiding: plan.avoidPreviousHosts ? tried : EndpointSet()))
    }

    /// The route timeout runs from the end of the request (Envoy), once the router started.
    private mutating func armRouteTimerIfReady(into actions: inout ExchangeActions) {
        guard routerStarted, requestHasEnded, !routeTimerArmed, let timeout = plan?.routeTimeout else { return }
        routeTimerArmed = true
        actions.append(.schedule(.route, timeout))
    }

    // MARK: Events

    mutating func handle(_ event: Event, now: NIODeadline) -> ExchangeActions {
        var actions = ExchangeActions()
        if case .done = phase { return actions }
        switch event {
        case .requestBody(let buffer):
            lastActivity = now
            receivedBody(buffer, now: now, into: &actions)
        case .requestEnd(let trailers):
            lastActivity = now
            receivedEnd(trailers, now: now, into: &actions)
        case .upstreamConnected(let attempt, let endpoint, let http1):
            connected(attempt: attempt, endpoint: endpoint, http1: http1, now: now, into: &actions)
        case .upstreamUnavailable(let attempt, let endpoint, let error):
            unavailable(attempt: attempt, endpoint: endpoint, error, now: now, into: &actions)
        case .responseHead(let head):
            lastActivity = now
            receivedResponseHead(head, now: now, into: &actions)
        case .responseBody(let buffer):
            lastActivity = now
            guard isForwarding, responseStarted, tunnelHead == nil else { break }
            record.responseBodyBytes += buffer.readableBytes
            if isGRPC { record.responseMessages.consume(buffer) }
            actions.append(.respondBody(buffer))
        case .responseEnd(let trailers):
            lastActivity = now
            receivedResponseEnd(trailers, now: now, into: &actions)
        case .upstreamFailed(let error):
            upstreamFailed(error, now: now, into: &actions)
        case .timerFired(let timer):
            timerFired(timer, now: now, into: &actions)
        case .downstreamClosed:
            downstreamClosed(now: now, into: &actions)
        case .requestMalformed(let error):
            requestMalformed(error, now: now, into: &actions)
        }
        return actions
    }

    private mutating func receivedBody(_ buffer: ByteBuffer, now: NIODeadline, into actions: inout ExchangeActions) {
        record.requestBodyBytes += buffer.readableBytes
        if isGRPC { record.requestMessages.consume(buffer) }
        if let limit = limits.maxRequestBodyBytes, record.requestBodyBytes > limit {
            closeConnection = true
            if case .answered = phase {
                // The answer went out whole; the rest of the request is not read to its end.
                finish(now: now, into: &actions)
            } else {
                giveUp(.bodyTooLarge, now: now, into: &actions)
            }
            return
        }
        switch phase {
        case .delaying, .acquiring, .betweenAttempts:
            keep(buffer)
        case .forwarding:
            if replayable {
                keep(buffer)
                sentInThisAttempt()
            }
            actions.append(.forwardBody(buffer))
        case .answered, .done:
            break
        }
    }

    /// Everything in `body` has gone to the current attempt: kept for a replay while the
    /// request is replayable, dropped otherwise (sent now and never again; the actions hold
    /// the chunks until they are written).
    private mutating func sentInThisAttempt() {
        if !replayable { dropBody() }
    }

    private mutating func dropBody() {
        body = []
        bodyBytesKept = 0
    }

    /// Keeps a chunk for the attempt to come or a retry; past the retry buffer the request is
    /// no longer retryable. Chunks are kept only while nothing of the body has been sent, or
    /// while all of it may be replayed, so everything kept is still needed.
    private mutating func keep(_ buffer: ByteBuffer) {
        bodyBytesKept += buffer.readableBytes
        body.append(buffer)
        if replayable, bodyBytesKept > limits.maxRetryBufferBytes { replayable = false }
    }

    private mutating func receivedEnd(_ trailers: HTTPHeaders?, now: NIODeadline, into actions: inout ExchangeActions) {
        requestHasEnded = true
        self.trailers = trailers
        record.requestEndTime = now
        switch phase {
        case .delaying, .acquiring, .betweenAttempts:
            armRouteTimerIfReady(into: &actions)
        case .forwarding:
            actions.append(.forwardEnd(trailers))
            armRouteTimerIfReady(into: &actions)
        case .answered:
            finish(now: now, into: &actions)
        case .done:
            break
        }
    }

    /// The shell read the upstream connection's local address (only when a format asks).
    mutating func noteUpstreamLocalAddress(_ address: String?) {
        record.upstreamLocalAddress = address
    }

    private mutating func connected(attempt: Int, endpoint: Int, http1: Bool, now: NIODeadline, into actions: inout ExchangeActions) {
        guard case .acquiring(let current) = phase, current == attempt, let plan else {
            actions.append(.release(reusable: false))
            return
        }
        phase = .forwarding
        currentEndpoint = endpoint
        tried.insert(endpoint)
        upstreamIsHTTP1 = http1
        record.upstreamEndpoint = endpoint
        record.upstreamRequestStartTime = now
        var request = UpstreamRequest(head: plan.upstreamHead, body: body[...], end: nil)
        if requestHasEnded { request.end = .some(trailers) }
        sentInThisAttempt()
        actions.append(.sendRequest(request))
        if let perTry = plan.retry.perTryTimeout { actions.append(.schedule(.perTry, .nanoseconds(perTry))) }
    }

    private mutating func unavailable(attempt: Int, endpoint: Int?, _ error: ProxyError, now: NIODeadline, into actions: inout ExchangeActions) {
        guard case .acquiring(let current) = phase, current == attempt else { return }
        phase = .betweenAttempts
        if let endpoint {
            tried.insert(endpoint)
            currentEndpoint = endpoint
            record.upstreamEndpoint = endpoint
        }
        if error == .connectFailure {
            recordOutlier(.localOriginFailure, into: &actions)
            if retry(.connectFailure, now: now, into: &actions) { return }
        }
        // Overflow and no healthy upstream are never retried (Envoy).
        giveUp(error, now: now, into: &actions)
    }

    /// Tells the outlier detector how the attempt at the current endpoint went (when the
    /// cluster has outlier detection).
    private func recordOutlier(_ outcome: OutlierDetector.Outcome, into actions: inout ExchangeActions) {
        guard let endpoint = currentEndpoint, plan?.cluster.cluster.outlierDetection != nil else { return }
        actions.append(.recordOutlier(endpoint: endpoint, outcome))
    }

    /// Lets go of the upstream the exchange waits for or holds.
    private func dropUpstream(into actions: inout ExchangeActions) {
        switch phase {
        case .acquiring: actions.append(.cancelAcquire)
        case .forwarding: actions.append(.release(reusable: false))
        case .delaying, .betweenAttempts, .answered, .done: break
        }
    }

    private mutating func receivedResponseHead(_ head: HTTPResponseHead, now: NIODeadline, into actions: inout ExchangeActions) {
        guard isForwarding, let plan else { return }
        if head.status == .switchingProtocols, plan.isUpgrade, upstreamIsHTTP1 {
            // Passed on at its `.end`, when the upstream's codec has finished with it.
            tunnelHead = head
            return
        }
        let status = UInt(head.status.code)
        if head.status != .switchingProtocols {
            recordOutlier(.status(status), into: &actions)
            // grpc-status means something only in a gRPC exchange (and looking it up costs a scan).
            if !responseStarted, plan.retry.retries(status: status, grpcStatus: isGRPC ? head.headers.first(name: "grpc-status").flatMap { Int($0) } : nil),
               retry(nil, now: now, into: &actions) {
                return
            }
        }
        if plan.retry.perTryTimeout != nil { actions.append(.cancelTimer(.perTry)) }
        // The response goes out: nothing will be replayed now.
        replayable = false
        dropBody()
        record.firstUpstreamByteTime = now
        var head = head
        if head.version.minor == 0 || HeaderRules.lists(head.headers, name: "connection", element: "close") {
            upstreamWantsClose = true
        }
        HeaderRules.removeHopByHop(&head.headers, keepUpgrade: false, keepTrailersTE: false)
        let version = record.downstreamProtocol
        if !isHTTP2 && version.minor == 0 && version.major == 1 {
            // An HTTP/1.0 client: no chunked encoding; without a length the end of the body
            // is the end of the connection.
            if !head.headers.contains(name: "content-length") { closeConnection = true }
        }
        if closeConnection && !isHTTP2 { head.headers.replaceOrAdd(name: "connection", value: "close") }
        // Envoy's router header: milliseconds from the request going upstream to this head.
        if let sent = record.upstreamRequestStartTime {
            head.headers.replaceOrAdd(name: "x-envoy-upstream-service-time", value: String((now - sent).nanoseconds / 1_000_000))
        }
        responseEdits.apply(to: &head.headers)
        head.version = isHTTP2 ? .http2 : version
        responseStarted = true
        record.responseCode = status
        record.responseCodeDetails = "via_upstream"
        record.responseHeaders = head.headers
        actions.append(.respond(head))
    }

    private mutating func receivedResponseEnd(_ trailers: HTTPHeaders?, now: NIODeadline, into actions: inout ExchangeActions) {
        guard isForwarding else { return }
        if let head = tunnelHead {
            tunnelHead = nil
            // The tunnel is no longer a request: it leaves the exchange's timers and counts.
            responseStarted = true
            record.responseCode = 101
            record.responseCodeDetails = "via_upstream"
            record.firstUpstreamByteTime = now
            actions.append(.startTunnel(head))
            finish(now: now, into: &actions)
            return
        }
        guard responseStarted else { return }
        record.responseTrailers = trailers
        actions.append(.respondEnd(trailers))
        // Reuse the upstream only if the request went out whole and neither side said close.
        actions.append(.release(reusable: requestHasEnded && !upstreamWantsClose))
        responseComplete(now: now, into: &actions)
    }

    /// The response went out whole: the exchange ends now, or when the request does (the rest
    /// of its body is read and dropped).
    private mutating func responseComplete(now: NIODeadline, into actions: inout ExchangeActions) {
        if requestHasEnded || closeConnection {
            // An answer that closes the connection does not wait for the rest of the request:
            // HTTP/1 closes (lingeringly), HTTP/2 resets the stream.
            finish(now: now, into: &actions)
        } else {
            phase = .answered
            dropBody()
        }
    }

    private mutating func upstreamFailed(_ error: ProxyError, now: NIODeadline, into actions: inout ExchangeActions) {
        guard isForwarding else { return }
        actions.append(.release(reusable: false))
        if !responseStarted {
            recordOutlier(.localOriginFailure, into: &actions)
            let failure: UpstreamFailureKind = error == .refusedStream ? .refusedStream : .reset
            if retry(failure, now: now, into: &actions) { return }
            answer(.error(error), now: now, into: &actions)
            return
        }
        // Part of the response is out: the client sees a truncated response (HTTP/1) or a
        // reset stream (HTTP/2).
        record.responseFlags.insert(error.flag)
        record.responseCodeDetails = "upstream_reset_after_response_started"
        closeConnection = true
        actions.append(.resetDownstream)
        finish(now: now, into: &actions)
    }

    // MARK: Retries

    /// Retries after `failure` (nil: a retriable response status) when the policy covers it,
    /// tries are left, the body can be replayed and the cluster's retry budget (`maxRetries`)
    /// allows; returns false otherwise (and marks URX when the policy would have retried).
    private mutating func retry(_ failure: UpstreamFailureKind?, now: NIODeadline, into actions: inout ExchangeActions) -> Bool {
        guard let plan, !responseStarted else { return false }
        if let failure, !plan.retry.retries(failure: failure) { return false }
        guard retriesLeft > 0 else {
            if plan.retry.retries > 0 { record.responseFlags.insert(.upstreamRetryLimitExceeded) }
            return false
        }
        guard replayable else { return false }
        if !holdsRetrySlot {
            let limit = plan.cluster.cluster.limits.maxRetries
            if limit != Int.max {
                guard plan.cluster.runtime.activeRetries.tryAcquire(limit: limit) else { return false }
                holdsRetrySlot = true
            }
        }
        retriesLeft -= 1
        if isForwarding { actions.append(.release(reusable: false)) }
        if plan.retry.perTryTimeout != nil { actions.append(.cancelTimer(.perTry)) }
        phase = .betweenAttempts
        // Envoy's jittered back-off: uniform in [0, (2^n - 1) × base], capped at 10 × base.
        let base = plan.retry.backoffBase
        let ceiling = min(base * ((Int64(1) << min(attempt, 20)) - 1), base * 10)
        actions.append(.schedule(.backoff, .nanoseconds(ceiling > 0 ? jitter(ceiling) : 0)))
        return true
    }

    /// A value in [0, ceiling]; the random source is the shell's, passed with `jitterSource`.
    private mutating func jitter(_ ceiling: Int64) -> Int64 {
        jitterSource = jitterSource &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int64(truncatingIfNeeded: (jitterSource >> 1) % UInt64(ceiling + 1))
    }

    /// Seeds the back-off jitter (the shell sets it from its loop's generator).
    var jitterSource: UInt64 = 0x9E37_79B9_7F4A_7C15

    // MARK: Timers

    private mutating func timerFired(_ timer: ExchangeTimer, now: NIODeadline, into actions: inout ExchangeActions) {
        switch timer {
        case .faultDelay:
            guard case .delaying = phase else { return }
            if let reply = delayedAnswer {
                delayedAnswer = nil
                answer(reply, now: now, into: &actions)
            } else {
                startRouter(now: now, into: &actions)
            }
        case .backoff:
            guard case .betweenAttempts = phase else { return }
            startAttempt(into: &actions)
        case .perTry:
            guard isForwarding, !responseStarted else { return }
            actions.append(.release(reusable: false))
            recordOutlier(.localOriginFailure, into: &actions)
            phase = .betweenAttempts
            if retry(.perTryTimeout, now: now, into: &actions) { return }
            if !requestHasEnded { closeConnection = true }
            answer(.error(.upstreamTimeout), now: now, into: &actions)
        case .route:
            switch phase {
            case .acquiring, .betweenAttempts: break
            case .forwarding: if !responseStarted { recordOutlier(.localOriginFailure, into: &actions) }
            case .delaying, .answered, .done: return
            }
            // Part of the response out: the client sees a truncated response or a reset stream.
            giveUp(.upstreamTimeout, now: now, into: &actions)
        case .idle:
            let idle = now - lastActivity
            if idle < limits.streamIdleTimeout {
                actions.append(.schedule(.idle, limits.streamIdleTimeout - idle))
                return
            }
            // Envoy's stream idle timeout: 408 before the request is whole, 504 after, a reset
            // once the response started; the connection closes.
            closeConnection = true
            giveUp(.streamIdleTimeout(requestEnded: requestHasEnded), now: now, into: &actions)
        }
    }

    private mutating func downstreamClosed(now: NIODeadline, into actions: inout ExchangeActions) {
        dropUpstream(into: &actions)
        // The response did not reach the client whole (Envoy's DC); the status is the one sent,
        // 0 when none was.
        record.responseFlags.insert(.downstreamConnectionTermination)
        if !responseStarted { record.responseCode = 0 }
        if record.responseCodeDetails.isEmpty || record.responseCodeDetails == "via_upstream" {
            record.responseCodeDetails = "downstream_remote_disconnect"
        }
        closeConnection = true
        finish(now: now, into: &actions)
    }

    private mutating func requestMalformed(_ error: ProxyError, now: NIODeadline, into actions: inout ExchangeActions) {
        dropUpstream(into: &actions)
        closeConnection = true
        record.responseFlags.insert(error.flag)
        record.responseCodeDetails = error.details
        if responseStarted {
            actions.append(.resetDownstream)
        } else {
            responseStarted = true
            record.responseCode = error.status
            actions.append(.refuse(error))
        }
        finish(now: now, into: &actions)
    }

    // MARK: Answers and the end

    /// Gives up on the upstream with `error` (a flag, and a local answer unless the response
    /// already started, in which case the client's stream is reset).
    private mutating func giveUp(_ error: ProxyError, now: NIODeadline, into actions: inout ExchangeActions) {
        dropUpstream(into: &actions)
        record.responseFlags.insert(error.flag)
        if responseStarted {
            record.responseCodeDetails = error.details
            closeConnection = true
            actions.append(.resetDownstream)
            finish(now: now, into: &actions)
            return
        }
        answer(.error(error), now: now, into: &actions)
    }

    /// Answers locally (the response must not have started): the whole answer goes out, then
    /// the exchange ends now or when the request does.
    private mutating func answer(_ reply: LocalReply, now: NIODeadline, into actions: inout ExchangeActions) {
        guard !responseStarted else { return }
        cancelTimers(into: &actions)
        if case .error(let error) = reply {
            record.responseFlags.insert(error.flag)
            record.responseCodeDetails = error.details
            if error.source == .downstream { closeConnection = true }
        } else if case .grpcStatus = reply {
            record.responseFlags.insert(.faultInjected)
            record.responseCodeDetails = "fault_filter_abort"
        } else if record.responseCodeDetails.isEmpty {
            record.responseCodeDetails = reply.isRedirect ? "redirect" : "direct_response"
        }
        let (head, buffer, trailers) = reply.rendered(version: record.downstreamProtocol, isGRPC: isGRPC, isHEAD: record.request?.method == .HEAD,
                                                      close: closeConnection, edits: responseEdits)
        responseStarted = true
        record.responseCode = UInt(head.status.code)
        record.responseHeaders = head.headers
        record.responseTrailers = trailers
        actions.append(.respond(head))
        if let buffer {
            record.responseBodyBytes += buffer.readableBytes
            if isGRPC { record.responseMessages.consume(buffer) }
            actions.append(.respondBody(buffer))
        }
        actions.append(.respondEnd(trailers))
        dropBody()
        responseComplete(now: now, into: &actions)
    }

    /// The attempt's and the route's timers, when armed (the shell cancels the rest at the finish).
    private mutating func cancelTimers(into actions: inout ExchangeActions) {
        if plan?.retry.perTryTimeout != nil { actions.append(.cancelTimer(.perTry)) }
        if routeTimerArmed { actions.append(.cancelTimer(.route)) }
    }

    private mutating func finish(now: NIODeadline, into actions: inout ExchangeActions) {
        phase = .done
        record.endTime = now
        if !requestHasEnded && !isHTTP2 {
            // The rest of an HTTP/1 request body would be read as the next request.
            closeConnection = true
        }
        dropBody()
        actions.append(.finish)
    }
}

extension LocalReply {
    var isRedirect: Bool {
        if case .redirect = self { return true }
        return false
    }
}

/// The actions of one event, in order, without allocating: an event causes at most a handful.
/// Taken out one by one with `popFirst`, which moves each action out (no copy, no retain);
/// stored properties rather than a tuple, so copies and destruction need no runtime metadata.
struct ExchangeActions {
    private var a0: HTTPExchange.Action?
    private var a1: HTTPExchange.Action?
    private var a2: HTTPExchange.Action?
    private var a3: HTTPExchange.Action?
    private var a4: HTTPExchange.Action?
    private var a5: HTTPExchange.Action?
    private var a6: HTTPExchange.Action?
    private var a7: HTTPExchange.Action?
    private(set) var count = 0
    private var cursor = 0

    static let capacity = 8

    init() {}

    mutating func append(_ action: consuming HTTPExchange.Action) {
        precondition(count < Self.capacity, "an exchange event caused more than \(Self.capacity) actions")
        switch count {
        case 0: a0 = action
        case 1: a1 = action
        case 2: a2 = action
        case 3: a3 = action
        case 4: a4 = action
        case 5: a5 = action
        case 6: a6 = action
        default: a7 = action
        }
        count += 1
    }

    /// The next action, moved out.
    mutating func popFirst() -> HTTPExchange.Action? {
        guard cursor < count else { return nil }
        defer { cursor += 1 }
        switch cursor {
        case 0: return a0.take()
        case 1: return a1.take()
        case 2: return a2.take()
        case 3: return a3.take()
        case 4: return a4.take()
        case 5: return a5.take()
        case 6: return a6.take()
        default: return a7.take()
        }
    }

    /// All of them, in order (tests).
    consuming func all() -> [HTTPExchange.Action] {
        var list: [HTTPExchange.Action] = []
        while let action = popFirst() { list.append(action) }
        return list
    }
}
