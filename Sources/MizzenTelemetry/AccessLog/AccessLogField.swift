/// One of Envoy's access-log command operators (`%COMMAND%`, envoy
/// `docs/root/configuration/observability/access_log/usage.rst`): what a format asks a record
/// for. Parsed once at start; a record answers each with an `AccessLogValue`.
package enum AccessLogField: Sendable, Hashable {
    /// `%START_TIME%`, or `%START_TIME(format)%` with strftime specifiers (and `%3f`/`%6f`/`%9f`).
    case startTime(format: String?)
    /// `%REQ(name?alternate)%`: `:method`, `:path`, `:authority`, `:scheme` and headers.
    case requestHeader(String, alternate: String?)
    /// `%RESP(name?alternate)%`.
    case responseHeader(String, alternate: String?)
    /// `%TRAILER(name?alternate)%`.
    case responseTrailer(String, alternate: String?)
    case protocolName
    case upstreamProtocol
    case responseCode
    case responseCodeDetails
    case responseFlags
    case responseFlagsLong
    case connectionTerminationDetails
    case upstreamTransportFailureReason
    case bytesReceived
    case bytesSent
    case duration
    case requestDuration
    case responseDuration
    case responseTransmitDuration
    case upstreamRequestAttemptCount
    case upstreamHost
    case upstreamCluster
    case upstreamClusterRaw
    case upstreamLocalAddress
    case upstreamRemoteAddress
    case downstreamLocalAddress
    case downstreamLocalAddressWithoutPort
    case downstreamLocalPort
    case downstreamRemoteAddress
    case downstreamRemoteAddressWithoutPort
    case downstreamRemotePort
    case downstreamDirectRemoteAddress
    case downstreamDirectRemoteAddressWithoutPort
    case requestedServerName
    case routeName
    case hostname
    case traceID
    case connectionID
    case upstreamConnectionID

    /// The operators without an argument, by name.
    static let plain: [String: AccessLogField] = [
        "PROTOCOL": .protocolName, "UPSTREAM_PROTOCOL": .upstreamProtocol, "RESPONSE_CODE": .responseCode,
        "RESPONSE_CODE_DETAILS": .responseCodeDetails, "RESPONSE_FLAGS": .responseFlags, "RESPONSE_FLAGS_LONG": .responseFlagsLong,
        "CONNECTION_TERMINATION_DETAILS": .connectionTerminationDetails, "UPSTREAM_TRANSPORT_FAILURE_REASON": .upstreamTransportFailureReason,
        "BYTES_RECEIVED": .bytesReceived, "BYTES_SENT": .bytesSent, "DURATION": .duration, "REQUEST_DURATION": .requestDuration,
        "RESPONSE_DURATION": .responseDuration, "RESPONSE_TX_DURATION": .responseTransmitDuration,
        "UPSTREAM_REQUEST_ATTEMPT_COUNT": .upstreamRequestAttemptCount, "UPSTREAM_HOST": .upstreamHost,
        "UPSTREAM_CLUSTER": .upstreamCluster, "UPSTREAM_CLUSTER_RAW": .upstreamClusterRaw,
        "UPSTREAM_LOCAL_ADDRESS": .upstreamLocalAddress, "UPSTREAM_REMOTE_ADDRESS": .upstreamRemoteAddress,
        "DOWNSTREAM_LOCAL_ADDRESS": .downstreamLocalAddress, "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT": .downstreamLocalAddressWithoutPort,
        "DOWNSTREAM_LOCAL_PORT": .downstreamLocalPort, "DOWNSTREAM_REMOTE_ADDRESS": .downstreamRemoteAddress,
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": .downstreamRemoteAddressWithoutPort, "DOWNSTREAM_REMOTE_PORT": .downstreamRemotePort,
        "DOWNSTREAM_DIRECT_REMOTE_ADDRESS": .downstreamDirectRemoteAddress,
        "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": .downstreamDirectRemoteAddressWithoutPort,
        "REQUESTED_SERVER_NAME": .requestedServerName, "ROUTE_NAME": .routeName, "HOSTNAME": .hostname, "TRACE_ID": .traceID,
        "CONNECTION_ID": .connectionID, "UPSTREAM_CONNECTION_ID": .upstreamConnectionID,
    ]
}

/// What a record answers for a field: nothing (`-` in text, `null` in JSON), text, or a number
/// (a JSON number, not a string, as Envoy's typed JSON writes it).
package enum AccessLogValue: Sendable, Equatable {
    case none
    case text(String)
    case integer(Int64)
}

/// A record an access log can be written from.
package protocol AccessLogSource {
    func value(_ field: AccessLogField) -> AccessLogValue
}
