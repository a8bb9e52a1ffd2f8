package import MizzenTelemetry
/// Why the proxy answered a request itself, or gave up on it: the status a client sees, the
/// response flag, and a short plain-text body as Envoy writes it.
///
/// One struct wrapping a private code, with static factories (async-http-client's
/// `HTTPClientError`); `description` is bounded and safe for a metric label.
package struct ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which side caused it (pingora's `ErrorSource`).
    package enum Source: Sendable, Hashable {
        case downstream, upstream, `internal`
    }

    private enum Code: Hashable, Sendable {
        case noRoute, noCluster, noHealthyUpstream, connectFailure, overflow, refusedStream, faultAbort(UInt)
        case upstreamReset, upstreamClosed, upstreamProtocol, upstreamTimeout
        case badRequest(String), headersTooLarge, bodyTooLarge, notImplemented(String), versionNotSupported
        /// Envoy's stream idle timeout; `requestEnded`: the whole request had arrived.
        case streamIdleTimeout(requestEnded: Bool)
    }

    private let code: Code

    package static let noRoute = ProxyError(code: .noRoute)
    package static let noCluster = ProxyError(code: .noCluster)
    package static let noHealthyUpstream = ProxyError(code: .noHealthyUpstream)
    package static let connectFailure = ProxyError(code: .connectFailure)
    package static let overflow = ProxyError(code: .overflow)
    package static let upstreamReset = ProxyError(code: .upstreamReset)
    /// An HTTP/2 upstream refused the stream (REFUSED_STREAM): nothing was processed.
    package static let refusedStream = ProxyError(code: .refusedStream)
    /// `fault.abort` with an HTTP status.
    package static func faultAbort(_ status: UInt) -> ProxyError { ProxyError(code: .faultAbort(status)) }
    package static let upstreamClosed = ProxyError(code: .upstreamClosed)
    package static let upstreamProtocol = ProxyError(code: .upstreamProtocol)
    package static let upstreamTimeout = ProxyError(code: .upstreamTimeout)
    package static let headersTooLarge = ProxyError(code: .headersTooLarge)
    package static let bodyTooLarge = ProxyError(code: .bodyTooLarge)
    /// Envoy's stream idle timeout: 408 while the request is still arriving, 504 after.
    package static func streamIdleTimeout(requestEnded: Bool) -> ProxyError { ProxyError(code: .streamIdleTimeout(requestEnded: requestEnded)) }
    package static let versionNotSupported = ProxyError(code: .versionNotSupported)
    /// A malformed request; `reason` is a short fixed phrase (never request bytes).
    package static func badRequest(_ reason: String) -> ProxyError { ProxyError(code: .badRequest(reason)) }
    package static func notImplemented(_ reason: String) -> ProxyError { ProxyError(code: .notImplemented(reason)) }

    package var status: UInt {
        switch code {
        case .noRoute: 404
        case .noCluster, .noHealthyUpstream, .connectFailure, .overflow, .upstreamReset, .upstreamClosed, .refusedStream: 503
        case .faultAbort(let status): status
        case .upstreamProtocol: 502
        case .upstreamTimeout: 504
        case .badRequest: 400
        case .headersTooLarge: 431
        case .bodyTooLarge: 413
        case .streamIdleTimeout(let requestEnded): requestEnded ? 504 : 408
        case .notImplemented: 501
        case .versionNotSupported: 505
        }
    }

    /// The response flag an access log shows for it.
    package var flag: ResponseFlag {
        switch code {
        case .noRoute: .noRoute
        case .noCluster: .noClusterFound
        case .noHealthyUpstream: .noHealthyUpstream
        case .connectFailure: .upstreamConnectionFailure
        case .overflow: .upstreamOverflow
        case .upstreamReset, .refusedStream: .upstreamRemoteReset
        case .faultAbort: .faultInjected
        case .upstreamClosed: .upstreamConnectionTermination
        case .upstreamProtocol: .upstreamProtocolError
        case .upstreamTimeout: .upstreamRequestTimeout
        case .badRequest, .headersTooLarge, .bodyTooLarge, .notImplemented, .versionNotSupported: .downstreamProtocolError
        case .streamIdleTimeout: .streamIdleTimeout
        }
    }

    /// Envoy's `%RESPONSE_CODE_DETAILS%` for it.
    package var details: String {
        switch code {
        case .noRoute: "route_not_found"
        case .noCluster: "cluster_not_found"
        case .noHealthyUpstream: "no_healthy_upstream"
        case .connectFailure: "upstream_reset_before_response_started{remote_connection_failure}"
        case .overflow: "upstream_reset_before_response_started{overflow}"
        case .upstreamReset: "upstream_reset_before_response_started{remote_reset}"
        case .refusedStream: "upstream_reset_before_response_started{remote_refused_stream_reset}"
        case .faultAbort: "fault_filter_abort"
        case .upstreamClosed: "upstream_reset_before_response_started{connection_termination}"
        case .upstreamProtocol: "upstream_reset_before_response_started{protocol_error}"
        case .upstreamTimeout: "response_timeout"
        case .badRequest: "http1.codec_error"
        case .headersTooLarge: "http1.headers_too_large"
        case .bodyTooLarge: "request_payload_too_large"
        case .streamIdleTimeout: "stream_idle_timeout"
        case .notImplemented: "http1.invalid_method"
        case .versionNotSupported: "http1.invalid_http_version"
        }
    }

    package var source: Source {
        switch code {
        case .noRoute, .noCluster, .noHealthyUpstream, .overflow, .faultAbort: .internal
        case .connectFailure, .upstreamReset, .refusedStream, .upstreamClosed, .upstreamProtocol, .upstreamTimeout: .upstream
        case .badRequest, .headersTooLarge, .bodyTooLarge, .notImplemented, .versionNotSupported: .downstream
        case .streamIdleTimeout(let requestEnded): requestEnded ? .upstream : .downstream
        }
    }

    /// The body of the local reply, as Envoy words it.
    package var body: String {
        switch code {
        case .noRoute: "no route"
        case .noCluster: "cluster not found"
        case .noHealthyUpstream: "no healthy upstream"
        case .connectFailure: "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
        case .overflow: "upstream connect error or disconnect/reset before headers. reset reason: overflow"
        case .upstreamReset: "upstream connect error or disconnect/reset before headers. reset reason: remote reset"
        case .refusedStream: "upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset"
        case .faultAbort: "fault filter abort"
        case .upstreamClosed: "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
        case .upstreamProtocol: "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
        case .upstreamTimeout: "upstream request timeout"
        case .badRequest(let reason): "bad request: \(reason)"
        case .headersTooLarge: "request header fields too large"
        case .bodyTooLarge: "payload too large"
        case .streamIdleTimeout: "stream timeout"
        case .notImplemented(let reason): "not implemented: \(reason)"
        case .versionNotSupported: "http version not supported"
        }
    }

    /// The gRPC status a gRPC client gets instead of the HTTP status (Envoy's mapping,
    /// `Grpc::Utility::httpToGrpcStatus`).
    package var grpcStatus: Int {
        switch status {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
    }

    package var description: String { "\(status) \(flag) \(body)" }
}
