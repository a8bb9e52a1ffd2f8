import Logging
import MizzenConfig
import MizzenRouting
import NIOCore
import NIOHTTP1

/// Serves the requests of one downstream HTTP/1 connection (in order) or one HTTP/2 stream:
/// validates, routes, answers locally or forwards to an upstream, streaming bodies both ways
/// with back-pressure.
final class ForwardingHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for a request head.
        case idle
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
    private var context: ChannelHandlerContext?
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

    init(loop: LoopState, connection: DownstreamConnection, guardHandler: HTTP1ConnectionGuard?) {
        self.loop = loop
        self.connection = connection
        self.guardHandler = guardHandler
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    // MARK: Downstream events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            receivedHead(head, context: context)
        case .body(let buffer):
            requestBodyBytes += buffer.readableBytes
            if let limit = loop.limits.maxRequestBodyBytes, requestBodyBytes > limit {
                abandon(with: .bodyTooLarge)
                return
            }
            switch state {
            case .connecting:
                pending.append(.body(.byteBuffer(buffer)))
            case .forwarding(let lease):
                lease.handler.write(.body(.byteBuffer(buffer)))
            default:
                break
            }
        case .end(let trailers):
            requestEnded = true
            switch state {
            case .connecting:
                pending.append(.end(trailers))
            case .forwarding(let lease):
                lease.handler.write(.end(trailers))
                lease.handler.flush()
            case .answered:
                if responseEnded { finishExchange(closeIfDone: true) }
            default:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding(let lease) = state { lease.handler.flush() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasActive: Bool
        switch state {
        case .forwarding(let lease):
            lease.release(reusable: false)
            wasActive = true
        case .connecting, .answered:
            wasActive = true
        default:
            wasActive = false
        }
        if wasActive { loop.activeRequests -= 1 }
        state = .closed
        pending.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // HTTP/1 parse errors: the guard answers on the raw socket and closes.
        if let parserError = error as? HTTPParserError {
            let (status, reason, body) = Self.statusForParserError(parserError)
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
        if context.channel.isWritable, case .forwarding(let lease) = state {
            lease.handler.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        switch state {
        case .connecting:
            pendingRead = true
        case .forwarding(let lease) where !lease.handler.isWritable:
            pendingRead = true
        default:
            context.read()
        }
    }

    private func resumeDownstreamReads() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    // MARK: A request

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard case .idle = state else {
            // A new head while one is in flight cannot happen with the pipelining handler;
            // treat it as a protocol error.
            context.close(promise: nil)
            return
        }
        guardHandler?.requestHeadReceived()
        loop.activeRequests += 1
        armIdleTimer(after: loop.limits.streamIdleTimeout)
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
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        case .none:
            break
        }

        let configuration = loop.configuration
        let decision = configuration.table.decide(request.attributes, random: loop.random.next())
        switch decision.outcome {
        case .noRoute:
            answer(.noRoute)
        case .httpsRedirect:
            let host = request.attributes.hostForLookup
            redirect(status: .movedPermanently, location: "https://\(host)\(request.forwardTarget)")
        case .redirect(let redirect):
            answerRedirect(redirect, request: request)
        case .directResponse(let response):
            answerDirect(response)
        case .forward(let weighted):
            forward(weighted, request: request, head: head, configuration: configuration)
        }
    }

    private func forward(_ weighted: WeightedCluster, request: ValidatedRequest, head: HTTPRequestHead, configuration: PublishedConfiguration) {
        guard let cluster = configuration.table.clusters[weighted.cluster], cluster.serviceKnown else {
            answer(.noCluster)
            return
        }
        guard !cluster.endpoints.isEmpty else {
            answer(.noHealthyUpstream)
            return
        }
        let wantsHTTP2 = Self.speaksHTTP2(cluster) && !request.isUpgrade
        var generatedCookie: HashPolicy.GeneratedCookie?
        let endpoint = loop.pickEndpoint(cluster, http2: wantsHTTP2) { policy in
            if let key = policy.key(header: { request.attributes.joinedHeader($0) },
                                    cookie: HashPolicy.cookieLookup(cookieHeaders: head.headers["cookie"]),
                                    sourceAddress: connection.remoteIP,
                                    query: { request.attributes.queryValue($0) }) {
                return key
            }
            // A cookie policy with a ttl and no cookie yet: the proxy makes one (Envoy's
            // generated cookie), hashes on it, and sets it on the response.
            generatedCookie = policy.generatedCookie(remoteAddress: connection.remoteAddressText, localAddress: connection.localAddressText)
            return generatedCookie?.hash
        }
        guard let endpoint else {
            answer(.noHealthyUpstream)
            return
        }
        setCookie = generatedCookie?.setCookie
        let key = UpstreamKey(endpoint, http2: wantsHTTP2)

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
        if !headers.contains(name: "host") {
            headers.add(name: "host", value: request.attributes.authority)
        }
        let pools = loop.upstreams
        let upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: request.forwardTarget, headers: headers)
        pending.append(.head(upstreamHead))
        state = .connecting

        pools.acquire(key, receiver: self).assumeIsolated().whenComplete { [weak self] result in
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
            pending.removeAll()
            answer((error as? ProxyError) ?? .connectFailure)
            resumeDownstreamReads()
        case .success(let lease):
            state = .forwarding(lease)
            while let part = pending.popFirst() {
                lease.handler.write(part)
            }
            lease.handler.flush()
            if lease.handler.isWritable { resumeDownstreamReads() }
        }
    }

    static func speaksHTTP2(_ cluster: Cluster) -> Bool {
        if let name = cluster.protocolName?.lowercased(), name.hasPrefix("http2") || name.hasPrefix("grpc") || name == "h2c" || name == "kubernetes.io/h2c" {
            return true
        }
        return cluster.policy.connectionPool?.http?.h2UpgradePolicy == .upgrade
    }

    // MARK: Upstream events

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? false }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeDownstreamReads() }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context, case .forwarding(let lease) = state else { return }
        lastActivity = .now()
        switch part {
        case .head(var head):
            if head.status == .switchingProtocols, validated?.isUpgrade == true, lease.isHTTP1 {
                // Pass the 101 on now; the codecs come out once the decoder has finished with
                // this response (its `.end` follows).
                tunnelHead = head
                return
            }
            if head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) || head.version.minor == 0 {
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
            responseStarted = true
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: connection.isHTTP2 ? .http2 : version, status: head.status, headers: head.headers))), promise: nil)
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if let head = tunnelHead {
                tunnelHead = nil
                startTunnel(head: head, lease: lease, context: context)
                return
            }
            // Reuse the upstream only if the request went out whole and neither side said close.
            lease.release(reusable: requestEnded && !upstreamWantsClose)
            writeFinal(.end(trailers))
        }
    }

    func upstreamFailed(_ error: ProxyError) {
        guard case .forwarding(let lease) = state else { return }
        lease.release(reusable: false)
        if responseStarted {
            // Part of the response is already out: the client must see the failure as a
            // truncated response (HTTP/1) or a reset stream (HTTP/2).
            state = .closed
            loop.activeRequests -= 1
            context?.close(promise: nil)
        } else {
            answer(error)
        }
        resumeDownstreamReads()
    }

    private func armIdleTimer(after delay: TimeAmount) {
        guard let context else { return }
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            self?.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        switch state {
        case .connecting, .forwarding, .answered:
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
        context?.close(promise: nil)
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
        respond(status: HTTPResponseStatus(statusCode: Int(error.status)), headers: headers, body: error.body)
    }

    /// gRPC clients read `grpc-status`, not the HTTP status (Envoy answers 200 with the mapped
    /// gRPC code in trailers-only form).
    private func answerGRPC(_ error: ProxyError) {
        guard let context else { return }
        responseStarted = true
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/grpc")
        var trailers = HTTPHeaders()
        trailers.add(name: "grpc-status", value: String(error.grpcStatus))
        trailers.add(name: "grpc-message", value: error.body)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: responseVersion, status: .ok, headers: headers))), promise: nil)
        writeFinal(.end(trailers))
    }

    private var responseVersion: HTTPVersion {
        connection.isHTTP2 ? .http2 : (requestHead?.version ?? .http1_1)
    }

    private func respond(status: HTTPResponseStatus, headers: HTTPHeaders, body: String) {
        guard let context else { return }
        responseStarted = true
        var headers = headers
        if !keepAlive && !connection.isHTTP2 { headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: responseVersion, status: status, headers: headers))), promise: nil)
        if !body.isEmpty && requestHead?.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
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
    private func answerRedirect(_ redirect: HTTPRedirect, request: ValidatedRequest) {
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
                host += ":" + (requestPort.map(String.init) ?? String(connection.listenerPort))
            case .fromProtocolDefault:
                break
            case nil:
                if redirect.authority == nil && redirect.scheme == nil, let requestPort { host += ":" + requestPort }
            }
        }
        var path = redirect.uri ?? attributes.path
        if !attributes.query.isEmpty, !path.contains("?") { path += "?" + attributes.query }
        let code = redirect.redirectCode.map { Int($0) } ?? 301
        self.redirect(status: HTTPResponseStatus(statusCode: code), location: "\(scheme)://\(host)\(path)")
    }

    private func answerDirect(_ response: HTTPDirectResponse) {
        var bodyText = ""
        if let body = response.body {
            if let string = body.string {
                bodyText = string
            } else if let bytes = body.bytes, let decoded = Base64.decode(bytes) {
                bodyText = String(decoding: decoded, as: UTF8.self)
            }
        }
        var headers = HTTPHeaders()
        if !bodyText.isEmpty { headers.add(name: "content-type", value: "text/plain") }
        headers.add(name: "content-length", value: String(bodyText.utf8.count))
        respond(status: HTTPResponseStatus(statusCode: Int(response.status ?? 200)), headers: headers, body: bodyText)
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
                context?.close(promise: nil)
            }
        } else {
            context?.close(promise: nil)
        }
    }

    /// Writes the response's last part. When the request has ended too, the exchange is over
    /// *before* the write: the pipelining handler hands the next queued request on from inside
    /// that write, and it must find this handler idle.
    private func writeFinal(_ end: HTTPServerResponsePart) {
        guard let context else { return }
        responseEnded = true
        let complete = requestEnded
        if complete {
            finishExchange()
        } else {
            state = .answered
        }
        let closeAfter = complete && !keepAlive && !connection.isHTTP2
        if closeAfter {
            context.writeAndFlush(wrapOutboundOut(end)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(end), promise: nil)
        }
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
        idleTimer?.cancel()
        idleTimer = nil
        pending.removeAll()
        if connection.isHTTP2 { return }
        if keepAlive {
            guardHandler?.requestCompleted()
        } else if closeIfDone {
            context?.close(promise: nil)
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
        var headers = head.headers
        headers.remove(name: "transfer-encoding")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        let downstream = context.channel
        let upstream = lease.channel
        lease.detach()
        do {
            let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
            let upstreamPipeline = upstream.pipeline.syncOperations
            _ = upstreamPipeline.removeHandler(name: "upstream")
            try upstreamPipeline.addHandler(upstreamGlue)
            _ = upstreamPipeline.removeHandler(name: "http-request-encoder")
            _ = upstreamPipeline.removeHandler(name: "http-response-decoder")
            let downstreamPipeline = downstream.pipeline.syncOperations
            try downstreamPipeline.addHandler(downstreamGlue)
            _ = downstreamPipeline.removeHandler(name: "http-pipelining")
            _ = downstreamPipeline.removeHandler(name: "http-response-encoder")
            _ = downstreamPipeline.removeHandler(context: context)
            _ = downstreamPipeline.removeHandler(name: "http-request-decoder")
        } catch {
            downstream.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ForwardingHandler: Sendable {}
