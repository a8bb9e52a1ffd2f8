import Logging
import MizzenConfig
import MizzenRouting
import NIOCore
import NIOHTTP1

/// Serves the requests of one downstream HTTP/1 connection (in order) or one HTTP/2 stream:
/// validates, routes, answers locally or forwards to an upstream, streaming bodies both ways
/// with back-pressure.
///
/// On HTTP/1 it is the last handler of the connection's pipeline. On HTTP/2 it is not in a
/// pipeline: the connection's `HTTP2ServerConnectionHandler` creates one per stream and drives
/// it (`receive`, `downstreamReadComplete`, `downstreamClosed`...), and responses go out through
/// the stream (`HTTP2ServerStream`), as in Envoy, where a connection's codec calls its active
/// streams directly.
final class ForwardingHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for a request head.
        case idle
        /// A fault delay holds the request before it is routed on; body parts wait in `pending`.
        case delaying
        /// Between two attempts (retry back-off); body parts wait in `pending`.
        case backingOff
        /// Routing done, waiting for an upstream; body parts wait in `pending`.
        case connecting
        /// Exchanging with the upstream.
        case forwarding(UpstreamLease)
        /// The proxy answered itself; the rest of the request body is read and dropped.
        case answered
        /// The connection became a WebSocket tunnel; this handler is on its way out.
        case tunnel
        case closed
    }

    private let loop: LoopState
    private let connection: DownstreamConnection
    /// HTTP/1 only: the raw-bytes guard that answers unparsable requests and runs the timers.
    private let guardHandler: HTTP1ConnectionGuard?
    /// Where responses go: the HTTP/1 pipeline (set in `handlerAdded`) or the HTTP/2 stream.
    private var downstream: Downstream?
    private var eventLoop: (any EventLoop)?
    private var state = State.idle

    // The request in flight.
    private var requestHead: HTTPRequestHead?
    private var validated: ValidatedRequest?
    private var requestEnded = false
    private var responseStarted = false
    private var responseEnded = false
    private var keepAlive = true
    private var pending = CircularBuffer<HTTPClientRequestPart>()
    private var pendingRead = false
    private var requestBodyBytes = 0
    private var upstreamWantsClose = false
    /// Stream idle timeout (Envoy `stream_idle_timeout`): a request with no activity either way
    /// for that long is ended (408 before its body has arrived, 504 after).
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    /// A `Set-Cookie` for the response: the cookie a consistent-hash policy generated.
    private var setCookie: String?
    /// The upstream's 101 to a WebSocket upgrade, until its `.end` arrives.
    private var tunnelHead: HTTPResponseHead?
    /// HTTP/1 requests pipelined behind the one in flight, and their size.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var queuedBytes = 0
    private var pipelineFull = false
    private var draining = false
    /// A parse error met behind pipelined requests: answered once they are.
    private var deferredRefusal: (Int, String, String)?

    // The route's policy for the request in flight (see `RoutePolicy`).
    private var policy = RoutePolicy.plain
    private var weighted: WeightedCluster?
    private var cluster: Cluster?
    private var clusterSettings: UpstreamClusterSettings?
    private var upstreamHead: HTTPRequestHead?
    private var wantsHTTP2 = false
    /// The authority the request goes upstream with: its host is the SNI for a TLS cluster
    /// without a configured one.
    private var upstreamAuthority: String?
    private var hashKey: UInt64?
    /// Headers added to every response of the request: CORS, before the route's own edits.
    private var extraResponseHeaders: [(String, String)] = []
    /// Retry state: tries left, the body kept for replay while it fits, endpoints tried.
    private var retriesLeft = 0
    private var replay = CircularBuffer<HTTPClientRequestPart>()
    private var replayBytes = 0
    private var replayable = false
    private var attempt = 0
    private var tried: [ClusterEndpoint] = []
    private var currentEndpoint: ClusterEndpoint?
    private var retryCounted = false
    private var activeCounted = false
    /// The router has started (after any fault delay): the route timeout may run.
    private var routerStarted = false
    private var routeTimeout: TimeAmount?
    private var routeTimer: Scheduled<Void>?
    private var perTryTimer: Scheduled<Void>?
    private var stepTimer: Scheduled<Void>?
    private var mirrors: [MirrorExchange] = []

    init(loop: LoopState, connection: DownstreamConnection, guardHandler: HTTP1ConnectionGuard?) {
        self.loop = loop
        self.connection = connection
        self.guardHandler = guardHandler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        downstream = .http1(context)
        eventLoop = context.eventLoop
    }

    /// The context holds this handler and this handler the context: the reference must go when
    /// the pipeline is torn down, or the connection leaks.
    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        cancelTimers()
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

    private func writeAndFlush(_ part: HTTPServerResponsePart) {
        // Writing a stream's last frame can close the stream at once (NIOHTTP2 reports the
        // closure while the frame is written), which detaches it from this handler: flush
        // where it was written.
        switch downstream {
        case .http1(let context):
            context.writeAndFlush(wrapOutboundOut(part), promise: nil)
        case .http2(let stream):
            stream.write(part)
            stream.flush()
        case nil:
            break
        }
    }

    /// HTTP/1: closes the connection. HTTP/2: resets the stream (CANCEL) if it is still open.
    private func closeDownstream() {
        switch downstream {
        case .http1(let context): context.close(promise: nil)
        case .http2(let stream): stream.reset()
        case nil: break
        }
    }

    private var allocator: ByteBufferAllocator {
        switch downstream {
        case .http1(let context): return context.channel.allocator
        case .http2(let stream): return stream.allocator
        case nil: return ByteBufferAllocator()
        }
    }

    /// Whether the downstream should not be read now: HTTP/1 holds socket reads, HTTP/2 holds
    /// the stream's flow-control window (the client stops sending once it is used up).
    private var readsPaused: Bool {
        if pipelineFull { return true }
        switch state {
        case .connecting, .delaying, .backingOff:
            return true
        case .forwarding(let lease):
            return !lease.handler.isWritable
        default:
            return false
        }
    }

    /// HTTP/2: the stream consumed request body bytes; true when their flow-control credit must
    /// wait (`resumeDownstreamReads` gives it back).
    func holdsDownstreamReads() -> Bool {
        guard readsPaused else { return false }
        pendingRead = true
        return true
    }

    // MARK: HTTP/2 stream events

    /// A request part of the stream (head, body, end), as the connection decoded it.
    func receive(_ part: HTTPServerRequestPart) {
        handle(part)
    }

    /// The connection's read burst is over.
    func downstreamReadComplete() {
        if case .forwarding(let lease) = state { lease.handler.flush() }
        for mirror in mirrors { mirror.flush() }
    }

    /// The stream is closed (both ends done, reset by either side, or the connection is gone).
    func downstreamClosed() {
        endDownstream()
        downstream = nil
    }

    func downstreamWritabilityChanged(isWritable: Bool) {
        if isWritable, case .forwarding(let lease) = state {
            lease.handler.resumeReading()
        }
    }

    // MARK: Downstream events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !connection.isHTTP2, !queued.isEmpty || (part.isHead && !isIdle) {
            // HTTP/1 pipelining: a request that arrives while one is being served waits here
            // (reads continue up to a bound, unlike NIO's pipelining handler, which stopped and
            // restarted reading around every request: two epoll_ctl calls per request).
            enqueue(part)
            return
        }
        handle(part)
    }

    private var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    private func enqueue(_ part: HTTPServerRequestPart) {
        if case .closed = state { return }
        switch part {
        case .head(let head): queuedBytes += 256 + head.uri.utf8.count
        case .body(let buffer): queuedBytes += buffer.readableBytes
        case .end: queuedBytes += 16
        }
        queued.append(part)
        if queuedBytes > Self.maxQueuedBytes || queued.count > Self.maxQueuedParts { pipelineFull = true }
    }

    /// Serves queued pipelined requests in order once the one before them is complete.
    private func drainQueued() {
        guard !draining, downstream != nil, !queued.isEmpty || deferredRefusal != nil else { return }
        draining = true
        defer { draining = false }
        while let part = queued.first {
            if part.isHead && !isIdle { break }
            if case .closed = state { break }
            queued.removeFirst()
            switch part {
            case .head(let head): queuedBytes -= 256 + head.uri.utf8.count
            case .body(let buffer): queuedBytes -= buffer.readableBytes
            case .end: queuedBytes -= 16
            }
            handle(part)
        }
        if queued.isEmpty, isIdle, let (status, reason, body) = deferredRefusal {
            deferredRefusal = nil
            keepAlive = false
            guardHandler?.refuse(status: status, reason: reason, body: body)
            return
        }
        if deferredRefusal == nil, pipelineFull, queuedBytes <= Self.maxQueuedBytes / 2, queued.count <= Self.maxQueuedParts / 2 {
            pipelineFull = false
            resumeDownstreamReads()
        }
    }

    static let maxQueuedBytes = 64 * 1024
    static let maxQueuedParts = 256

    private func handle(_ part: HTTPServerRequestPart) {
        lastActivity = .now()
        switch part {
        case .head(let head):
            receivedHead(head)
        case .body(let buffer):
            requestBodyBytes += buffer.readableBytes
            if let limit = loop.limits.maxRequestBodyBytes, requestBodyBytes > limit {
                abandon(with: .bodyTooLarge)
                return
            }
            let part = HTTPClientRequestPart.body(.byteBuffer(buffer))
            copyForReplayAndMirrors(part, bytes: buffer.readableBytes)
            switch state {
            case .connecting, .delaying, .backingOff:
                pending.append(part)
            case .forwarding(let lease):
                lease.handler.write(part)
            default:
                break
            }
        case .end(let trailers):
            requestEnded = true
            let part = HTTPClientRequestPart.end(trailers)
            copyForReplayAndMirrors(part, bytes: 0)
            for mirror in mirrors { mirror.flush() }
            switch state {
            case .connecting, .delaying, .backingOff:
                pending.append(part)
                startRouteTimerIfReady()
            case .forwarding(let lease):
                lease.handler.write(part)
                lease.handler.flush()
                startRouteTimerIfReady()
            case .answered:
                if responseEnded {
                    finishExchange(closeIfDone: true)
                    drainQueued()
                }
            default:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        downstreamReadComplete()
        context.fireChannelReadComplete()
    }

    /// Keeps a request part for a retry while the body fits the replay buffer, and copies it
    /// to the mirrors.
    private func copyForReplayAndMirrors(_ part: HTTPClientRequestPart, bytes: Int) {
        for mirror in mirrors { mirror.send(part) }
        guard replayable else { return }
        replayBytes += bytes
        if replayBytes > loop.limits.maxRetryBufferBytes {
            // Too big to replay: the request streams on and will not be retried.
            replayable = false
            replay.removeAll()
        } else {
            replay.append(part)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endDownstream()
        context.fireChannelInactive()
    }

    /// The downstream is gone: the exchange in flight ends (its upstream is not reused).
    private func endDownstream() {
        let wasActive: Bool
        switch state {
        case .forwarding(let lease):
            lease.release(reusable: false)
            wasActive = true
        case .connecting, .answered, .delaying, .backingOff:
            wasActive = true
        default:
            wasActive = false
        }
        if wasActive {
            loop.activeRequests -= 1
            endClusterAccounting()
        }
        state = .closed
        pending.removeAll()
        cancelTimers()
        idleTimer?.cancel()
        idleTimer = nil
        mirrors.removeAll()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // HTTP/1 parse errors: the guard answers on the raw socket and closes.
        if let parserError = error as? HTTPParserError {
            let (status, reason, body) = Self.statusForParserError(parserError)
            if !connection.isHTTP2, guardHandler != nil, !isIdle && requestEnded || !queued.isEmpty {
                // The error belongs to a request pipelined behind complete ones: those are
                // answered first, then the refusal (a request cut short by the error is dropped).
                if let lastHead = queued.lastIndex(where: { $0.isHead }), !queued[queued.index(before: queued.endIndex)].isEnd {
                    while queued.endIndex > lastHead { _ = queued.removeLast() }
                }
                deferredRefusal = (status, reason, body)
                pipelineFull = true
                if isIdle { drainQueued() }
                return
            }
            if case .forwarding(let lease) = state { lease.release(reusable: false) }
            if !responseStarted, let guardHandler {
                guardHandler.refuse(status: status, reason: reason, body: body)
            } else {
                context.close(promise: nil)
            }
            return
        }
        context.close(promise: nil)
    }

    static func statusForParserError(_ error: HTTPParserError) -> (Int, String, String) {
        switch error {
        case .headerOverflow:
            return (431, "Request Header Fields Too Large", "request header fields too large")
        default:
            return (400, "Bad Request", "bad request")
        }
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

    private func resumeDownstreamReads() {
        guard pendingRead else { return }
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

    // MARK: A request

    private func receivedHead(_ head: HTTPRequestHead) {
        guard case .idle = state else {
            // A new head while one is in flight cannot happen (pipelined requests wait in
            // `queued`; an HTTP/2 stream carries one request); treat it as a protocol error.
            closeDownstream()
            return
        }
        guardHandler?.requestHeadReceived()
        loop.activeRequests += 1
        // The stream idle timer stays armed across the requests of a connection (it checks
        // `lastActivity` when it fires), so a request does not schedule one of its own.
        if idleTimer == nil { armIdleTimer(after: loop.limits.streamIdleTimeout) }
        requestHead = head
        requestEnded = false
        responseStarted = false
        responseEnded = false
        requestBodyBytes = 0
        upstreamWantsClose = false
        keepAlive = connection.isHTTP2 || head.isKeepAlive

        let request: ValidatedRequest
        switch RequestHeadValidator.validate(head, connection: connection, limits: loop.limits) {
        case .failure(let error):
            loop.logger.debug("refused \(head.method.rawValue) \(head.uri.prefix(200)): \(error)")
            // A malformed head: refuse and, on HTTP/1, close (its framing cannot be trusted).
            keepAlive = false
            if let guardHandler, error.source == .downstream {
                state = .answered
                guardHandler.refuse(status: Int(error.status), reason: Self.reasonPhrase(error.status), body: error.body)
                return
            }
            answer(error)
            return
        case .success(let value):
            request = value
        }
        validated = request
        switch request.expectation {
        case .unsupported:
            keepAlive = false
            respond(status: .expectationFailed, headers: ["content-length": "0"], body: "")
            return
        case .continue:
            // Envoy answers 100 itself and does not pass `Expect` on.
            writeAndFlush(.head(HTTPResponseHead(version: head.version, status: .continue)))
        case .none:
            break
        }

        let configuration = loop.configuration
        let decision = configuration.table.decide(request.attributes, random: loop.random.next())
        if let route = decision.route {
            policy = route.policy
            if let cors = policy.cors, let origin = head.headers.first(name: "origin") {
                if handleCORS(cors, origin: origin, head: head) { return }
            }
        }
        switch decision.outcome {
        case .noRoute:
            answer(.noRoute)
        case .httpsRedirect:
            let host = request.attributes.hostForLookup
            redirect(status: .movedPermanently, location: "https://\(host)\(request.forwardTarget)")
        case .redirect(let redirect):
            answerRedirect(redirect, request: request, matchIndex: decision.matchIndex ?? 0)
        case .directResponse(let response):
            answerDirect(response)
        case .forward(let weighted):
            forward(weighted, request: request, head: head, configuration: configuration, matchIndex: decision.matchIndex ?? 0)
        }
    }

    /// Envoy's CORS filter for a route with a `corsPolicy` and a request with `Origin`: a
    /// preflight from an allowed origin is answered here; other requests from an allowed origin
    /// get the CORS response headers. Returns true when the request was answered.
    private func handleCORS(_ cors: CORSPolicy, origin: String, head: HTTPRequestHead) -> Bool {
        let allowed = cors.allows(origin: origin)
        let isPreflight = head.method == .OPTIONS && head.headers.contains(name: "access-control-request-method")
        if isPreflight {
            if allowed {
                var headers = HTTPHeaders()
                headers.add(name: "access-control-allow-origin", value: origin)
                if let methods = cors.allowMethods { headers.add(name: "access-control-allow-methods", value: methods) }
                if let allowHeaders = cors.allowHeaders { headers.add(name: "access-control-allow-headers", value: allowHeaders) }
                if let maxAge = cors.maxAge { headers.add(name: "access-control-max-age", value: maxAge) }
                if cors.allowCredentials { headers.add(name: "access-control-allow-credentials", value: "true") }
                headers.add(name: "content-length", value: "0")
                respond(status: .ok, headers: headers, body: "")
                return true
            }
            if !cors.forwardUnmatchedPreflights {
                respond(status: .ok, headers: ["content-length": "0"], body: "")
                return true
            }
            return false
        }
        if allowed {
            extraResponseHeaders.append(("access-control-allow-origin", origin))
            if cors.allowCredentials { extraResponseHeaders.append(("access-control-allow-credentials", "true")) }
            if let expose = cors.exposeHeaders { extraResponseHeaders.append(("access-control-expose-headers", expose)) }
        }
        return false
    }

    /// Route header edits on a response: the destination's, then the route's (which win),
    /// after any CORS headers.
    private func editResponseHeaders(_ headers: inout HTTPHeaders) {
        for (name, value) in extraResponseHeaders { headers.replaceOrAdd(name: name, value: value) }
        if let weighted, !weighted.responseHeaders.isEmpty { HeaderRules.apply(weighted.responseHeaders, to: &headers) }
        if !policy.responseHeaders.isEmpty { HeaderRules.apply(policy.responseHeaders, to: &headers) }
    }

    private func forward(_ weighted: WeightedCluster, request: ValidatedRequest, head: HTTPRequestHead, configuration: PublishedConfiguration, matchIndex: Int) {
        self.weighted = weighted
        guard let cluster = configuration.table.clusters[weighted.cluster], cluster.serviceKnown else {
            answer(.noCluster)
            return
        }
        guard !cluster.endpoints.isEmpty else {
            answer(.noHealthyUpstream)
            return
        }
        self.cluster = cluster
        let settings = configuration.upstreamSettings[cluster.name]
        clusterSettings = settings
        wantsHTTP2 = Self.speaksHTTP2(cluster) && !request.isUpgrade

        // Fault injection comes first (Envoy's fault filter runs before the router).
        var delay: Int64?
        if let fault = policy.fault {
            if let abort = fault.abort, Self.chance(abort.fraction, using: &loop.random) {
                if let (nanoseconds, fraction) = fault.delay, Self.chance(fraction, using: &loop.random) {
                    holdThenAbort(abort.status, after: nanoseconds)
                } else {
                    answerFaultAbort(abort.status)
                }
                return
            }
            if let (nanoseconds, fraction) = fault.delay, Self.chance(fraction, using: &loop.random) { delay = nanoseconds }
        }

        if let settings, settings.breakers.maxRequests != Int.max {
            // Envoy's max_requests (`http2MaxRequests`): requests in flight to the cluster. The
            // shared counter is touched only when a limit is set (a cross-core atomic per request
            // otherwise buys nothing).
            guard settings.runtime.activeRequests.tryAcquire(limit: settings.breakers.maxRequests) else {
                answer(.overflow)
                return
            }
            activeCounted = true
        }

        var generatedCookie: HashPolicy.GeneratedCookie?
        // Only consistent-hash clusters need their balancer here (for its hash policy); the
        // pick looks the balancer up itself.
        if cluster.policy.loadBalancer?.consistentHash != nil, let hashPolicy = loop.balancer(for: cluster).hashPolicy {
            hashKey = hashPolicy.key(header: { request.attributes.joinedHeader($0) },
                                     cookie: HashPolicy.cookieLookup(cookieHeaders: head.headers["cookie"]),
                                     sourceAddress: connection.remoteIP,
                                     query: { request.attributes.queryValue($0) })
            if hashKey == nil {
                // A cookie policy with a ttl and no cookie yet: the proxy makes one (Envoy's
                // generated cookie), hashes on it, and sets it on the response.
                generatedCookie = hashPolicy.generatedCookie(remoteAddress: connection.remoteAddressText, localAddress: connection.localAddressText)
                hashKey = generatedCookie?.hash
            }
        }
        setCookie = generatedCookie?.setCookie

        var headers = head.headers
        HeaderRules.removeHopByHop(&headers, keepUpgrade: request.isUpgrade, keepTrailersTE: true)
        HeaderRules.removeInternal(&headers)
        if head.headers.contains(name: "transfer-encoding") && !wantsHTTP2 {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        headers.remove(name: "expect")
        if let remoteIP = connection.remoteIP {
            if let existing = headers.first(name: "x-forwarded-for") {
                headers.replaceOrAdd(name: "x-forwarded-for", value: existing + ", " + remoteIP)
            } else {
                headers.add(name: "x-forwarded-for", value: remoteIP)
            }
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: connection.isTLS ? "https" : "http")
        if !headers.contains(name: "x-request-id") {
            headers.add(name: "x-request-id", value: HeaderRules.requestID(using: &loop.random))
        }
        var authority = request.attributes.authority
        if let rewritten = policy.authorityRewrite {
            authority = rewritten
            headers.replaceOrAdd(name: "host", value: rewritten)
        } else if !headers.contains(name: "host") {
            headers.add(name: "host", value: authority)
        }
        if !weighted.requestHeaders.isEmpty { HeaderRules.apply(weighted.requestHeaders, to: &headers) }
        if !policy.requestHeaders.isEmpty { HeaderRules.apply(policy.requestHeaders, to: &headers) }
        var target = request.forwardTarget
        if let path = policy.rewrittenPath(request.attributes.path, matchIndex: matchIndex) {
            target = request.attributes.query.isEmpty ? path : path + "?" + request.attributes.query
        }
        upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: target, headers: headers)
        upstreamAuthority = authority

        retriesLeft = policy.retry.retries
        replayable = retriesLeft > 0
        routeTimeout = policy.timeout.map { .nanoseconds($0) }
        if request.isGRPC, let header = head.headers.first(name: "grpc-timeout"), let grpcTimeout = Self.grpcTimeout(header) {
            // Istio leaves gRPC's own deadline in force (max_grpc_timeout 0): the shorter wins.
            routeTimeout = routeTimeout.map { min($0, grpcTimeout) } ?? grpcTimeout
        }

        if let delay {
            state = .delaying
            scheduleStep(after: .nanoseconds(delay)) { handler in handler.startRouter() }
        } else {
            startRouter()
        }
    }

    /// The router's part: mirrors, the route timeout, the first attempt.
    private func startRouter() {
        routerStarted = true
        if let head = upstreamHead, !policy.mirrors.isEmpty { startMirrors(head: head) }
        startRouteTimerIfReady()
        startAttempt()
    }

    private func startMirrors(head: HTTPRequestHead) {
        guard let eventLoop else { return }
        let table = loop.configuration.table
        for mirrorPolicy in policy.mirrors where Self.chance(mirrorPolicy.fraction, using: &loop.random) {
            guard let cluster = table.clusters[mirrorPolicy.cluster], cluster.serviceKnown, !cluster.endpoints.isEmpty else { continue }
            var shadowHead = head
            let host = head.headers.first(name: "host") ?? ""
            shadowHead.headers.replaceOrAdd(name: "host", value: Self.shadowHost(host))
            let mirror = MirrorExchange(loop: loop, head: shadowHead)
            // The body so far (when a fault delay held the request) goes along.
            for part in pending { mirror.send(part) }
            if requestEnded, !pending.contains(where: { if case .end = $0 { return true } else { return false } }) {
                mirror.send(.end(nil))
            }
            let settings = loop.configuration.upstreamSettings[cluster.name]
            let serverName = settings?.tls?.serverName(forHost: Self.hostWithoutPort(Self.shadowHost(host)))
            mirror.start(cluster: cluster, settings: settings, http2: Self.speaksHTTP2(cluster), serverName: serverName,
                         eventLoop: eventLoop, timeout: routeTimeout ?? loop.limits.streamIdleTimeout)
            mirrors.append(mirror)
        }
    }

    /// Envoy's shadow host: `-shadow` after the host name, before any port.
    static func shadowHost(_ authority: String) -> String {
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), authority[authority.index(after: colon)...].allSatisfy(\.isNumber) {
            return authority[..<colon] + "-shadow" + authority[colon...]
        }
        return authority + "-shadow"
    }

    static func hostWithoutPort(_ authority: String) -> String {
        let bytes = authority.utf8
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")), bytes.last != UInt8(ascii: "]"),
              bytes[bytes.index(after: colon)...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return authority
        }
        return String(authority[..<colon])
    }

    /// One try at an endpoint: pick (avoiding those already tried, when the policy says so),
    /// then take a connection or stream from the pool.
    private func startAttempt() {
        guard let cluster, upstreamHead != nil else { return }
        let avoiding = policy.retry.avoidPreviousHosts ? tried : []
        let hashKey = self.hashKey
        guard let endpoint = loop.pickEndpoint(cluster, settings: clusterSettings, http2: wantsHTTP2, avoiding: avoiding, hashKey: { _ in hashKey }) else {
            answer(.noHealthyUpstream)
            return
        }
        tried.append(endpoint)
        currentEndpoint = endpoint
        attempt += 1
        let tls = clusterSettings?.tls
        let serverName = tls?.serverName(forHost: Self.hostWithoutPort(upstreamAuthority ?? ""))
        let key = UpstreamKey(endpoint, http2: wantsHTTP2, tls: tls.map { _ in "\(cluster.name)|\(serverName ?? "")" })
        state = .connecting
        loop.upstreams.acquire(key, settings: clusterSettings, serverName: serverName, receiver: self).assumeIsolated().whenComplete { [weak self] result in
            guard let self else {
                if case .success(let lease) = result { lease.release(reusable: false) }
                return
            }
            self.upstreamAcquired(result)
        }
    }

    private func upstreamAcquired(_ result: Result<UpstreamLease, any Error>) {
        guard case .connecting = state else {
            if case .success(let lease) = result { lease.release(reusable: false) }
            return
        }
        switch result {
        case .failure(let error):
            let proxyError = (error as? ProxyError) ?? .connectFailure
            if proxyError == .overflow {
                pending.removeAll()
                answer(proxyError)
                resumeDownstreamReads()
                return
            }
            recordOutcome(.localOriginFailure)
            if retryIfAllowed(failure: .connectFailure) { return }
            pending.removeAll()
            answer(proxyError)
            resumeDownstreamReads()
        case .success(let lease):
            state = .forwarding(lease)
            if let upstreamHead { lease.handler.write(.head(upstreamHead)) }
            while let part = pending.popFirst() {
                lease.handler.write(part)
            }
            lease.handler.flush()
            if let perTry = policy.retry.perTryTimeout, let eventLoop {
                perTryTimer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(perTry)) { [weak self] in
                    self?.perTryTimedOut()
                }
            }
            if lease.handler.isWritable { resumeDownstreamReads() }
        }
    }

    // MARK: Retries and timeouts

    /// Retries when the policy covers `failure`, tries are left, the body can be replayed and
    /// the cluster's retry budget (`maxRetries`) allows; returns false otherwise.
    private func retryIfAllowed(failure: UpstreamFailureKind) -> Bool {
        guard policy.retry.retries(failure: failure) else { return false }
        return scheduleRetry()
    }

    private func scheduleRetry() -> Bool {
        guard !responseStarted, retriesLeft > 0, replayable else { return false }
        if !retryCounted, let settings = clusterSettings, settings.breakers.maxRetries != Int.max {
            guard settings.runtime.activeRetries.tryAcquire(limit: settings.breakers.maxRetries) else { return false }
            retryCounted = true
        }
        retriesLeft -= 1
        perTryTimer?.cancel()
        perTryTimer = nil
        if case .forwarding(let lease) = state { lease.release(reusable: false) }
        // Every part so far goes again; parts arriving meanwhile join both lists.
        pending = replay
        state = .backingOff
        // Envoy's jittered back-off: uniform in [0, (2^n - 1) × base], capped at 10 × base.
        let base = policy.retry.backoffBase
        let ceiling = min(base * ((Int64(1) << min(attempt, 20)) - 1), base * 10)
        let wait = ceiling > 0 ? Int64.random(in: 0...ceiling, using: &loop.random) : 0
        scheduleStep(after: .nanoseconds(wait)) { handler in handler.startAttempt() }
        return true
    }

    private func perTryTimedOut() {
        perTryTimer = nil
        guard case .forwarding(let lease) = state, !responseStarted else { return }
        lease.release(reusable: false)
        recordOutcome(.localOriginFailure)
        if retryIfAllowed(failure: .perTryTimeout) { return }
        keepAlive = keepAlive && requestEnded
        answer(.upstreamTimeout)
    }

    /// The route timeout runs from the end of the request (Envoy), once the router started.
    private func startRouteTimerIfReady() {
        guard routerStarted, requestEnded, routeTimer == nil, let routeTimeout, let eventLoop else { return }
        routeTimer = eventLoop.assumeIsolated().scheduleTask(in: routeTimeout) { [weak self] in
            self?.routeTimedOut()
        }
    }

    private func routeTimedOut() {
        routeTimer = nil
        switch state {
        case .connecting, .forwarding, .backingOff:
            break
        default:
            return
        }
        loop.logger.debug("route timeout")
        if case .forwarding(let lease) = state { lease.release(reusable: false) }
        stepTimer?.cancel()
        perTryTimer?.cancel()
        if responseStarted {
            // Part of the response is out: the client sees a truncated response or a reset stream.
            state = .closed
            loop.activeRequests -= 1
            endClusterAccounting()
            closeDownstream()
        } else {
            if case .forwarding = state { recordOutcome(.localOriginFailure) }
            pending.removeAll()
            answer(.upstreamTimeout)
            resumeDownstreamReads()
        }
    }

    private func scheduleStep(after delay: TimeAmount, _ body: @escaping (ForwardingHandler) -> Void) {
        guard let eventLoop else { return }
        stepTimer?.cancel()
        stepTimer = eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.stepTimer = nil
            body(self)
        }
    }

    private func cancelTimers() {
        routeTimer?.cancel()
        routeTimer = nil
        perTryTimer?.cancel()
        perTryTimer = nil
        stepTimer?.cancel()
        stepTimer = nil
    }

    /// The cluster's in-flight request and retry counters, given back once per exchange.
    private func endClusterAccounting() {
        guard let settings = clusterSettings else { return }
        if activeCounted {
            settings.runtime.activeRequests.decrement()
            activeCounted = false
        }
        if retryCounted {
            settings.runtime.activeRetries.decrement()
            retryCounted = false
        }
    }

    /// Tells the outlier detector how the current attempt went.
    private func recordOutcome(_ outcome: OutlierDetector.Outcome) {
        guard let settings = clusterSettings, let outlier = settings.outlier, let endpoint = currentEndpoint, let cluster else { return }
        settings.runtime.outliers.record(outcome, endpoint: OutlierDetector.key(endpoint.address, endpoint.port),
                                         endpointCount: cluster.endpoints.count, settings: outlier)
    }

    /// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
    static func grpcTimeout(_ value: String) -> TimeAmount? {
        guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = Int64(value.dropLast()), amount >= 0 else { return nil }
        switch unit {
        case "H": return .hours(amount)
        case "M": return .minutes(amount)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }

    static func chance(_ fraction: Double, using random: inout some RandomNumberGenerator) -> Bool {
        if fraction >= 1 { return true }
        if fraction <= 0 { return false }
        return Double.random(in: 0..<1, using: &random) < fraction
    }

    // MARK: Faults

    private func answerFaultAbort(_ status: FaultPolicy.Abort) {
        switch status {
        case .http(let code):
            answer(.faultAbort(code))
        case .grpc(let code):
            answerGRPC(status: code, message: "fault filter abort")
        }
    }

    /// A delay and an abort both chosen: Envoy delays first, then aborts.
    private func holdThenAbort(_ status: FaultPolicy.Abort, after nanoseconds: Int64) {
        state = .delaying
        scheduleStep(after: .nanoseconds(nanoseconds)) { handler in
            guard case .delaying = handler.state else { return }
            handler.pending.removeAll()
            handler.answerFaultAbort(status)
            handler.resumeDownstreamReads()
        }
    }

    static func speaksHTTP2(_ cluster: Cluster) -> Bool {
        if let name = cluster.protocolName?.lowercased(), name.hasPrefix("http2") || name.hasPrefix("grpc") || name == "h2c" || name == "kubernetes.io/h2c" {
            return true
        }
        return cluster.policy.connectionPool?.http?.h2UpgradePolicy == .upgrade
    }

    // MARK: Upstream events

    var downstreamIsWritable: Bool {
        switch downstream {
        case .http1(let context): return context.channel.isWritable
        case .http2(let stream): return stream.isWritable
        case nil: return false
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeDownstreamReads() }
    }

    func upstreamReadComplete() {
        flushDownstream()
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard downstream != nil, case .forwarding(let lease) = state else { return }
        lastActivity = .now()
        switch part {
        case .head(var head):
            if head.status == .switchingProtocols, validated?.isUpgrade == true, lease.isHTTP1 {
                // Pass the 101 on now; the codecs come out once the decoder has finished with
                // this response (its `.end` follows).
                tunnelHead = head
                return
            }
            if head.status != .switchingProtocols {
                let status = UInt(head.status.code)
                recordOutcome(.status(status))
                if retriesLeft > 0, !responseStarted,
                   policy.retry.retries(status: status, grpcStatus: head.headers.first(name: "grpc-status").flatMap { Int($0) }),
                   scheduleRetry() {
                    return
                }
            }
            perTryTimer?.cancel()
            perTryTimer = nil
            // The response goes out: nothing will be replayed now.
            replayable = false
            replay.removeAll()
            if head.version.minor == 0 || HeaderRules.lists(head.headers, name: "connection", element: "close") {
                upstreamWantsClose = true
            }
            HeaderRules.removeHopByHop(&head.headers, keepUpgrade: false, keepTrailersTE: false)
            let version = requestHead?.version ?? .http1_1
            if !connection.isHTTP2 && version.minor == 0 {
                // An HTTP/1.0 client: no chunked encoding; without a length the end of the body
                // is the end of the connection.
                if !head.headers.contains(name: "content-length") { keepAlive = false }
            }
            if !keepAlive && !connection.isHTTP2 { head.headers.replaceOrAdd(name: "connection", value: "close") }
            if let setCookie { head.headers.add(name: "set-cookie", value: setCookie) }
            editResponseHeaders(&head.headers)
            responseStarted = true
            write(.head(HTTPResponseHead(version: connection.isHTTP2 ? .http2 : version, status: head.status, headers: head.headers)))
        case .body(let buffer):
            write(.body(.byteBuffer(buffer)))
        case .end(let trailers):
            if let head = tunnelHead {
                tunnelHead = nil
                if case .http1(let context) = downstream { startTunnel(head: head, lease: lease, context: context) }
                return
            }
            // Reuse the upstream only if the request went out whole and neither side said close.
            lease.release(reusable: requestEnded && !upstreamWantsClose)
            cancelTimers()
            writeFinal(.end(trailers))
        }
    }

    func upstreamFailed(_ error: ProxyError) {
        guard case .forwarding(let lease) = state else { return }
        lease.release(reusable: false)
        if !responseStarted {
            recordOutcome(.localOriginFailure)
            let failure: UpstreamFailureKind = error == .refusedStream ? .refusedStream : .reset
            if retryIfAllowed(failure: failure) { return }
        }
        if responseStarted {
            // Part of the response is already out: the client must see the failure as a
            // truncated response (HTTP/1) or a reset stream (HTTP/2).
            state = .closed
            loop.activeRequests -= 1
            endClusterAccounting()
            cancelTimers()
            closeDownstream()
        } else {
            answer(error)
        }
        resumeDownstreamReads()
    }

    private func armIdleTimer(after delay: TimeAmount) {
        guard let eventLoop else { return }
        idleTimer?.cancel()
        idleTimer = eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            self?.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        idleTimer = nil
        switch state {
        case .connecting, .forwarding, .answered, .delaying, .backingOff:
            break
        default:
            return
        }
        let timeout = loop.limits.streamIdleTimeout
        let idle = NIODeadline.now() - lastActivity
        if idle < timeout {
            armIdleTimer(after: timeout - idle)
            return
        }
        loop.logger.debug("stream idle timeout")
        if case .forwarding(let lease) = state { lease.release(reusable: false) }
        keepAlive = false
        if !responseStarted {
            if requestEnded {
                answer(.upstreamTimeout)
            } else if let guardHandler {
                state = .answered
                guardHandler.refuse(status: 408, reason: "Request Timeout", body: "stream timeout")
            } else {
                answer(.requestTimeout)
            }
        }
        if case .answered = state, requestEnded { return }
        closeDownstream()
    }

    // MARK: Local answers

    private func answer(_ error: ProxyError) {
        if validated?.isGRPC == true {
            answerGRPC(error)
            return
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        headers.add(name: "content-length", value: String(error.body.utf8.count))
        // Envoy marks circuit-breaker answers so clients can tell overload from failure.
        if error == .overflow { headers.add(name: "x-envoy-overloaded", value: "true") }
        respond(status: HTTPResponseStatus(statusCode: Int(error.status)), headers: headers, body: error.body)
    }

    /// gRPC clients read `grpc-status`, not the HTTP status (Envoy answers 200 with the mapped
    /// gRPC code in trailers-only form).
    private func answerGRPC(_ error: ProxyError) {
        answerGRPC(status: error.grpcStatus, message: error.body)
    }

    private func answerGRPC(status: Int, message: String) {
        guard downstream != nil else { return }
        if case .forwarding(let lease) = state { lease.release(reusable: false) }
        cancelTimers()
        responseStarted = true
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/grpc")
        editResponseHeaders(&headers)
        var trailers = HTTPHeaders()
        trailers.add(name: "grpc-status", value: String(status))
        trailers.add(name: "grpc-message", value: message)
        write(.head(HTTPResponseHead(version: responseVersion, status: .ok, headers: headers)))
        writeFinal(.end(trailers))
    }

    private var responseVersion: HTTPVersion {
        connection.isHTTP2 ? .http2 : (requestHead?.version ?? .http1_1)
    }

    private func respond(status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        respond(status: status, headers: headers, body: Array(body.utf8))
    }

    private func respond(status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        guard downstream != nil else { return }
        cancelTimers()
        responseStarted = true
        var headers = headers
        editResponseHeaders(&headers)
        if !keepAlive && !connection.isHTTP2 { headers.replaceOrAdd(name: "connection", value: "close") }
        write(.head(HTTPResponseHead(version: responseVersion, status: status, headers: headers)))
        if !body.isEmpty && requestHead?.method != .HEAD {
            var buffer = allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            write(.body(.byteBuffer(buffer)))
        }
        writeFinal(.end(nil))
    }

    private func redirect(status: HTTPResponseStatus, location: String) {
        var headers = HTTPHeaders()
        headers.add(name: "location", value: location)
        headers.add(name: "content-length", value: "0")
        respond(status: status, headers: headers, body: "")
    }

    /// Istio's `redirect`: each part of the URL replaced when set, the query string kept.
    private func answerRedirect(_ redirect: HTTPRedirect, request: ValidatedRequest, matchIndex: Int) {
        let attributes = request.attributes
        let scheme = redirect.scheme ?? attributes.scheme
        let original = attributes.authority
        var requestPort: Substring?
        if let colon = original.lastIndex(of: ":"), !original.hasSuffix("]") { requestPort = original[original.index(after: colon)...] }
        var host = redirect.authority ?? attributes.hostForLookup
        if host.contains(":") && !host.hasSuffix("]") { requestPort = nil }
        if let port = redirect.port {
            host += ":\(port)"
        } else {
            switch redirect.derivePort {
            case .fromRequestPort:
                // Istio programs the listener's port (the Gateway server port as written).
                host += ":" + String(connection.listenerPort)
            case .fromProtocolDefault:
                break
            case nil:
                if redirect.authority == nil && redirect.scheme == nil, let requestPort { host += ":" + requestPort }
            }
        }
        var path = redirect.uri ?? policy.rewrittenPath(attributes.path, matchIndex: matchIndex) ?? attributes.path
        if !attributes.query.isEmpty, !path.contains("?") { path += "?" + attributes.query }
        let code = redirect.redirectCode.map { Int($0) } ?? 301
        self.redirect(status: HTTPResponseStatus(statusCode: code), location: "\(scheme)://\(host)\(path)")
    }

    private func answerDirect(_ response: HTTPDirectResponse) {
        var body: [UInt8] = []
        if let body_ = response.body {
            if let string = body_.string {
                body = Array(string.utf8)
            } else if let bytes = body_.bytes, let decoded = Base64.decode(bytes) {
                body = decoded
            }
        }
        var headers = HTTPHeaders()
        if !body.isEmpty { headers.add(name: "content-type", value: "text/plain") }
        headers.add(name: "content-length", value: String(body.count))
        respond(status: HTTPResponseStatus(statusCode: Int(response.status ?? 200)), headers: headers, body: body)
    }

    /// A response was refused mid-body (413): answer if nothing went out yet, then close.
    private func abandon(with error: ProxyError) {
        if case .forwarding(let lease) = state { lease.release(reusable: false) }
        keepAlive = false
        if !responseStarted {
            if let guardHandler {
                state = .answered
                guardHandler.refuse(status: Int(error.status), reason: Self.reasonPhrase(error.status), body: error.body)
            } else {
                answer(error)
                closeDownstream()
            }
        } else {
            closeDownstream()
        }
    }

    /// Writes the response's last part. When the request has ended too, the exchange is over
    /// before the write, and a pipelined request queued behind it is served right after.
    private func writeFinal(_ end: HTTPServerResponsePart) {
        guard downstream != nil else { return }
        responseEnded = true
        let complete = requestEnded
        if complete {
            finishExchange()
        } else {
            state = .answered
        }
        let closeAfter = complete && !keepAlive && !connection.isHTTP2
        if closeAfter, case .http1(let context) = downstream {
            queued.removeAll()
            context.writeAndFlush(wrapOutboundOut(end)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if complete && (!queued.isEmpty || deferredRefusal != nil) {
            // The next pipelined request is served once this response is written: write
            // without flushing, so its answer can share the flush.
            write(end)
            drainQueued()
            flushDownstream()
        } else {
            writeAndFlush(end)
        }
        // Answered before the request body ended (a timeout, an upstream failure while reads
        // were held): the rest of the body is read and dropped, so reads resume.
        if !complete { resumeDownstreamReads() }
    }

    /// Request and response both complete: ready for the next request (or, when the request
    /// ends after its response, close if the connection is not kept alive).
    private func finishExchange(closeIfDone: Bool = false) {
        loop.activeRequests -= 1
        state = .idle
        requestHead = nil
        validated = nil
        responseStarted = false
        responseEnded = false
        requestEnded = false
        setCookie = nil
        pending.removeAll(keepingCapacity: true)
        endClusterAccounting()
        cancelTimers()
        policy = .plain
        weighted = nil
        cluster = nil
        clusterSettings = nil
        upstreamHead = nil
        upstreamAuthority = nil
        hashKey = nil
        extraResponseHeaders.removeAll(keepingCapacity: true)
        retriesLeft = 0
        replay.removeAll(keepingCapacity: true)
        replayBytes = 0
        replayable = false
        attempt = 0
        tried.removeAll(keepingCapacity: true)
        currentEndpoint = nil
        routerStarted = false
        routeTimeout = nil
        mirrors.removeAll()
        if connection.isHTTP2 { return }
        if keepAlive {
            guardHandler?.requestCompleted()
        } else if closeIfDone {
            closeDownstream()
        }
    }

    static func reasonPhrase(_ status: UInt) -> String {
        HTTPResponseStatus(statusCode: Int(status)).reasonPhrase
    }

    // MARK: WebSocket

    /// The upstream accepted the upgrade: pass the 101 on, then turn both connections into a
    /// byte tunnel (the HTTP codecs come out; bytes they had buffered are forwarded).
    private func startTunnel(head: HTTPResponseHead, lease: UpstreamLease, context: ChannelHandlerContext) {
        state = .tunnel
        responseStarted = true
        guardHandler?.tunnelStarted()
        loop.activeRequests -= 1
        // The tunnel is no longer a request: it leaves the cluster's request count and timers.
        cancelTimers()
        endClusterAccounting()
        mirrors.removeAll()
        var headers = head.headers
        headers.remove(name: "transfer-encoding")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        let downstreamChannel = context.channel
        let upstream = lease.channel
        lease.detach()
        do {
            let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
            let upstreamPipeline = upstream.pipeline.syncOperations
            _ = upstreamPipeline.removeHandler(name: "upstream")
            try upstreamPipeline.addHandler(upstreamGlue)
            _ = upstreamPipeline.removeHandler(name: "http-request-encoder")
            _ = upstreamPipeline.removeHandler(name: "http-response-decoder")
            let downstreamPipeline = downstreamChannel.pipeline.syncOperations
            try downstreamPipeline.addHandler(downstreamGlue)
            _ = downstreamPipeline.removeHandler(name: "http-response-encoder")
            _ = downstreamPipeline.removeHandler(context: context)
            _ = downstreamPipeline.removeHandler(name: "http-request-decoder")
        } catch {
            downstreamChannel.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ForwardingHandler: Sendable {}

extension HTTPServerRequestPart {
    var isHead: Bool {
        if case .head = self { return true }
        return false
    }

    var isEnd: Bool {
        if case .end = self { return true }
        return false
    }
}
