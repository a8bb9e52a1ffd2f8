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

extension ResponseFlag {
    /// Envoy's long name (`%RESPONSE_FLAGS_LONG%`).
    package var longName: String {
        switch self {
        case .noRoute: "NoRouteFound"
        case .noClusterFound: "NoClusterFound"
        case .noHealthyUpstream: "NoHealthyUpstream"
        case .upstreamConnectionFailure: "UpstreamConnectionFailure"
        case .upstreamOverflow: "UpstreamOverflow"
        case .upstreamRemoteReset: "UpstreamRemoteReset"
        case .upstreamConnectionTermination: "UpstreamConnectionTermination"
        case .upstreamRetryLimitExceeded: "UpstreamRetryLimitExceeded"
        case .upstreamProtocolError: "UpstreamProtocolError"
        case .upstreamRequestTimeout: "UpstreamRequestTimeout"
        case .downstreamConnectionTermination: "DownstreamConnectionTermination"
        case .downstreamProtocolError: "DownstreamProtocolError"
        case .faultInjected: "FaultInjected"
        case .delayInjected: "DelayInjected"
        case .localReset: "LocalReset"
        case .rateLimited: "RateLimited"
        case .streamIdleTimeout: "StreamIdleTimeout"
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
