import MizzenTelemetry
import MizzenRouting
import NIOCore
import NIOHTTP1

/// What the filters and the router made of a request head, before any I/O: refuse it, answer
/// it locally, or forward it (either possibly after a fault delay). `ExchangePlanner` makes it;
/// `HTTPExchange` carries it out.
struct ExchangeStart {
    enum Disposition {
        /// The head cannot be trusted: answer and close the connection (HTTP/1 writes the answer
        /// under the codec, on the raw socket).
        case refuse(ProxyError)
        case answer(LocalReply)
        case forward(ForwardPlan)
    }

    var disposition: Disposition
    /// The proxy's span of this request, when tracing is on.
    var trace: TraceContext?
    /// The request carries none of the tracing headers (they are appended, not replaced).
    var traceHeadersFresh = false
    /// `fault.delay`: hold the request this long before answering or routing it (DI).
    var delay: TimeAmount?
    var route: Route?
    var virtualHost: VirtualHost?
    /// Response header edits of the route and destination, CORS headers, a generated cookie.
    var responseEdits = ResponseEdits()
    /// HTTP/1: the connection may carry another request after this one.
    var keepAlive = true
    /// `Expect: 100-continue`: answered at the proxy (Envoy), before anything else.
    var expectContinue = false
    /// gRPC requests get proxy errors as `grpc-status` (trailers-only, HTTP 200).
    var isGRPC = false
}

/// Everything needed to forward one request, fixed when its head arrives: the snapshot and
/// cluster it was routed with (retries and mirrors use these, never the live table), the
/// upstream head, and the route's policies. A class: the exchange and its shell share it, and a
/// reference is cheaper to pass around per request than these fields.
final class ForwardPlan {
    let snapshot: ProxySnapshot
    let cluster: PublishedCluster
    let upstreamHead: HTTPRequestHead
    /// The SNI for a TLS cluster without a configured one: the request's host.
    let serverName: String?
    /// The consistent-hash key of the request, when the cluster hashes.
    let hashKey: UInt64?
    let retry: RetryPolicy
    /// Retries prefer endpoints not tried yet (Istio leaves this off for consistent-hash clusters).
    let avoidPreviousHosts: Bool
    /// From the end of the request; the shorter of the route's and gRPC's own deadline.
    let routeTimeout: TimeAmount?
    let mirrors: [MirrorPolicy]
    /// A WebSocket upgrade: a 101 turns the connection into a tunnel.
    let isUpgrade: Bool
    /// The `x-request-id` sent upstream.
    let requestID: String?

    init(snapshot: ProxySnapshot, cluster: PublishedCluster, upstreamHead: HTTPRequestHead, serverName: String?, hashKey: UInt64?, retry: RetryPolicy,
         avoidPreviousHosts: Bool, routeTimeout: TimeAmount?, mirrors: [MirrorPolicy], isUpgrade: Bool, requestID: String?) {
        self.snapshot = snapshot
        self.cluster = cluster
        self.upstreamHead = upstreamHead
        self.serverName = serverName
        self.hashKey = hashKey
        self.retry = retry
        self.avoidPreviousHosts = avoidPreviousHosts
        self.routeTimeout = routeTimeout
        self.mirrors = mirrors
        self.isUpgrade = isUpgrade
        self.requestID = requestID
    }
}

@available(*, unavailable)
extension ForwardPlan: Sendable {}

/// Headers added to or edited on every response of a request, local answers included: CORS
/// headers first, then the destination's edits, then the route's (which win), and a cookie a
/// consistent-hash policy generated.
struct ResponseEdits {
    var extra: [(name: String, value: String)] = []
    var setCookie: String?
    var destination = HeaderMutation.none
    var route = HeaderMutation.none

    func apply(to headers: inout HTTPHeaders) {
        for (name, value) in extra { headers.replaceOrAdd(name: name, value: value) }
        if !destination.isEmpty { HeaderRules.apply(destination, to: &headers) }
        if !route.isEmpty { HeaderRules.apply(route, to: &headers) }
        if let setCookie { headers.add(name: "set-cookie", value: setCookie) }
    }
}

/// An answer the proxy makes itself.
enum LocalReply: Equatable {
    /// A proxy error (404 NR, 503 UH...), plain text as Envoy words it; gRPC as `grpc-status`.
    case error(ProxyError)
    case redirect(status: UInt, location: String)
    case direct(status: UInt, body: [UInt8])
    /// An allowed CORS preflight.
    case preflight(HTTPHeaders)
    /// A bodiless answer (an ignored preflight, 417).
    case empty(status: UInt)
    /// `fault.abort` with a gRPC status.
    case grpcStatus(code: Int, message: String)

    var status: UInt {
        switch self {
        case .error(let error): error.status
        case .redirect(let status, _), .direct(let status, _), .empty(let status): status
        case .preflight: 200
        case .grpcStatus: 200
        }
    }

    /// The head, body and trailers of the answer to a request of `version` (`isGRPC`: errors
    /// as `grpc-status` trailers), with the request's response edits applied.
    func rendered(version: HTTPVersion, isGRPC: Bool, isHEAD: Bool, close: Bool, edits: ResponseEdits) -> (HTTPResponseHead, ByteBuffer?, HTTPHeaders?) {
        var headers = HTTPHeaders()
        var body: [UInt8] = []
        var trailers: HTTPHeaders?
        var status = self.status
        switch self {
        case .error(let error) where isGRPC:
            // gRPC clients read `grpc-status`, not the HTTP status (Envoy answers 200 with the
            // mapped gRPC code in trailers-only form).
            status = 200
            headers.add(name: "content-type", value: "application/grpc")
            trailers = ["grpc-status": String(error.grpcStatus), "grpc-message": error.body]
        case .grpcStatus(let code, let message):
            headers.add(name: "content-type", value: "application/grpc")
            trailers = ["grpc-status": String(code), "grpc-message": message]
        case .error(let error):
            body = Array(error.body.utf8)
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "content-length", value: String(body.count))
            // Envoy marks circuit-breaker answers so clients can tell overload from failure.
            if error == .overflow { headers.add(name: "x-envoy-overloaded", value: "true") }
        case .redirect(_, let location):
            headers.add(name: "location", value: location)
            headers.add(name: "content-length", value: "0")
        case .direct(_, let bytes):
            body = bytes
            if !body.isEmpty { headers.add(name: "content-type", value: "text/plain") }
            headers.add(name: "content-length", value: String(body.count))
        case .preflight(let preflight):
            headers = preflight
            headers.add(name: "content-length", value: "0")
        case .empty:
            headers.add(name: "content-length", value: "0")
        }
        edits.apply(to: &headers)
        if close && version != .http2 { headers.replaceOrAdd(name: "connection", value: "close") }
        var buffer: ByteBuffer?
        if !body.isEmpty && !isHEAD && trailers == nil {
            buffer = ByteBufferAllocator().buffer(bytes: body)
        }
        return (HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: Int(status)), headers: headers), buffer, trailers)
    }
}

/// What to send upstream when a connection for an attempt is had: the head, the body received
/// so far (all of it, for a retry) and the end when it came.
struct UpstreamRequest {
    var head: HTTPRequestHead
    var body: ArraySlice<ByteBuffer>
    /// Nil: the request continues; otherwise its end, with trailers or none.
    var end: HTTPHeaders??
}

/// The timers an exchange runs.
enum ExchangeTimer: Hashable, CaseIterable {
    /// `fault.delay`.
    case faultDelay
    /// Between two attempts.
    case backoff
    /// `retries.perTryTimeout`, per attempt.
    case perTry
    /// The route's timeout, from the end of the request.
    case route
    /// No activity either way for the stream idle timeout.
    case idle
}
