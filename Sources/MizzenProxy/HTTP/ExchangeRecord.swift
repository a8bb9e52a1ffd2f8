package import MizzenRouting
package import NIOCore
package import NIOHTTP1

/// Envoy's response flags: the short codes an access log and the `response_flags` metric label
/// carry for a request the proxy could not complete normally (envoy
/// `source/common/stream_info/utility.h`; ISTIO-OPS §2.4).
package enum ResponseFlag: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// No route matched the request (404).
    case noRoute
    /// The route names a cluster the proxy does not know (503).
    case noClusterFound
    /// No healthy endpoint in the cluster (503).
    case noHealthyUpstream
    /// Connecting to the upstream failed (503).
    case upstreamConnectionFailure
    /// A circuit breaker overflowed (503).
    case upstreamOverflow
    /// The upstream reset the stream (503).
    case upstreamRemoteReset
    /// The upstream connection closed before the response was complete (503).
    case upstreamConnectionTermination
    /// Retries were exhausted.
    case upstreamRetryLimitExceeded
    /// The upstream answered with something that is not HTTP (502).
    case upstreamProtocolError
    /// The upstream did not answer in time (504).
    case upstreamRequestTimeout
    /// The downstream connection (or stream) ended before the response was complete.
    case downstreamConnectionTermination
    /// The downstream sent something that is not valid HTTP.
    case downstreamProtocolError
    /// `fault.abort` answered the request.
    case faultInjected
    /// `fault.delay` held the request.
    case delayInjected
    /// The proxy reset the stream itself.
    case localReset
    /// A local rate limit refused the request (429).
    case rateLimited
    /// The stream idle timeout ended the request (408 or 504).
    case streamIdleTimeout

    /// Envoy's short code.
    package var description: String {
        switch self {
        case .noRoute: "NR"
        case .noClusterFound: "NC"
        case .noHealthyUpstream: "UH"
        case .upstreamConnectionFailure: "UF"
        case .upstreamOverflow: "UO"
        case .upstreamRemoteReset: "UR"
        case .upstreamConnectionTermination: "UC"
        case .upstreamRetryLimitExceeded: "URX"
        case .upstreamProtocolError: "UPE"
        case .upstreamRequestTimeout: "UT"
        case .downstreamConnectionTermination: "DC"
        case .downstreamProtocolError: "DPE"
        case .faultInjected: "FI"
        case .delayInjected: "DI"
        case .localReset: "LR"
        case .rateLimited: "RL"
        case .streamIdleTimeout: "SI"
        }
    }
}

/// The response flags of one request in the order they were set, as Envoy prints them since
/// 1.30 (`URX,UF`: the retry gave up, then the last connect failure was recorded). Inline: up
/// to ten flags packed in one word, no allocation.
package struct ResponseFlags: Sendable, Hashable, CustomStringConvertible {
    /// Six bits a flag, flag code + 1, first set in the lowest bits.
    private var packed: UInt64 = 0
    private var present: UInt32 = 0

    package init() {}

    package init(_ flags: [ResponseFlag]) {
        for flag in flags { insert(flag) }
    }

    package var isEmpty: Bool { present == 0 }

    package func contains(_ flag: ResponseFlag) -> Bool { present & (1 << flag.rawValue) != 0 }

    /// Adds `flag` after those already set (a flag set twice keeps its first place).
    package mutating func insert(_ flag: ResponseFlag) {
        guard !contains(flag) else { return }
        present |= 1 << flag.rawValue
        var shift: UInt64 = 0
        while shift < 60, (packed >> shift) & 0x3F != 0 { shift += 6 }
        if shift < 60 { packed |= UInt64(flag.rawValue + 1) << shift }
    }

    /// In the order set.
    package var ordered: [ResponseFlag] {
        var result: [ResponseFlag] = []
        var rest = packed
        while rest & 0x3F != 0 {
            result.append(ResponseFlag(rawValue: UInt8(rest & 0x3F) - 1)!)
            rest >>= 6
        }
        return result
    }

    /// `UF,URX`-style, or `-` when none is set (Envoy's `%RESPONSE_FLAGS%`).
    package var description: String {
        isEmpty ? "-" : ordered.map(\.description).joined(separator: ",")
    }
}

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
