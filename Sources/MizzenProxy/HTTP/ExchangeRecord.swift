package import MizzenRouting
package import MizzenTelemetry
package import NIOCore
package import NIOHTTP1

/// Everything about one finished request that telemetry needs (Envoy's StreamInfo): made by
/// the exchange's state machine, handed out exactly once, when the exchange finishes, whatever
/// happened. Metrics, access log, spans and the admin counters all read it; none of them is
/// called from inside the request path's decisions.
package struct ExchangeRecord: Sendable {
    /// When the request head arrived (monotonic) and the wall clock then (ns since the epoch),
    /// for the access log's `%START_TIME%`.
    package var startTime: NIODeadline
    package var startWallClockNanoseconds: Int64
    /// When the last request byte arrived.
    package var requestEndTime: NIODeadline?
    /// When the last attempt's request went to its upstream (the start of
    /// `x-envoy-upstream-service-time`).
    package var upstreamRequestStartTime: NIODeadline?
    /// When the upstream's response head arrived (`%RESPONSE_DURATION%` counts to it).
    package var firstUpstreamByteTime: NIODeadline?
    /// When the exchange finished (`%DURATION%`).
    package var endTime: NIODeadline?
    /// The request as the client sent it (method, target, headers).
    package var request: HTTPRequestHead?
    /// HTTP/1.0, HTTP/1.1 or HTTP/2.
    package var downstreamProtocol: HTTPVersion = .http1_1
    /// The `x-request-id` the request went upstream with.
    package var requestID: String?
    /// The route taken and its virtual host (nil: none matched).
    package var route: Route?
    package var virtualHost: VirtualHost?
    /// The cluster chosen (the request's own snapshot of it).
    package var cluster: UpstreamCluster?
    /// The endpoint of the last attempt, by its index in `cluster`'s endpoints.
    package var upstreamEndpoint: Int?
    package var upstreamProtocol: UpstreamProtocol?
    /// Tries at an upstream (1 + retries), 0 when none was made.
    package var attempts = 0
    /// Request and response body bytes (Envoy's `%BYTES_RECEIVED%` and `%BYTES_SENT%`).
    package var requestBodyBytes = 0
    package var responseBodyBytes = 0
    /// The response head's and trailers' headers as sent downstream (`%RESP(...)%`,
    /// `%TRAILER(...)%`, `grpc-status`); nil when none was sent.
    package var responseHeaders: HTTPHeaders?
    package var responseTrailers: HTTPHeaders?
    /// `ip:port` of the upstream connection's own end (`%UPSTREAM_LOCAL_ADDRESS%`).
    package var upstreamLocalAddress: String?
    /// The trace this request belongs to, when tracing is on.
    package var trace: TraceContext?
    /// A gRPC request (`content-type: application/grpc...`), and its messages each way.
    package var isGRPC = false
    var requestMessages = GRPCMessageCounter()
    var responseMessages = GRPCMessageCounter()
    /// The status sent downstream; 0 when none was (the client went away first).
    package var responseCode: UInt = 0
    /// Why the response is what it is (Envoy's `%RESPONSE_CODE_DETAILS%`).
    package var responseCodeDetails: String = ""
    package var responseFlags = ResponseFlags()
    /// Facts of the downstream connection: addresses, TLS server name, the listener.
    package var connection: DownstreamConnection?

    package init(startTime: NIODeadline, startWallClockNanoseconds: Int64) {
        self.startTime = startTime
        self.startWallClockNanoseconds = startWallClockNanoseconds
    }

    /// The endpoint of the last attempt, as `ip:port` (made when asked for: most records are
    /// counted, not printed).
    package var upstreamHost: String? {
        guard let cluster, let upstreamEndpoint, upstreamEndpoint < cluster.endpoints.count else { return nil }
        return cluster.endpoints[upstreamEndpoint].addressKey
    }

    /// Total time, from the head to the finish.
    package var duration: TimeAmount? { endTime.map { $0 - startTime } }

    /// The request was refused before it could be served (a head or framing that cannot be
    /// trusted): answered with `error`, over at `now`.
    mutating func refused(_ error: ProxyError, now: NIODeadline) {
        responseCode = error.status
        responseCodeDetails = error.details
        responseFlags.insert(error.flag)
        endTime = now
    }
}
