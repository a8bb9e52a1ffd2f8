/// One of Envoy's access-log command operators (`%COMMAND%`, envoy
/// `docs/root/configuration/observability/access_log/usage.rst`): what a format asks a record
/// for. Parsed once at start; a record answers each with an `AccessLogValue`.
package enum AccessLogField: Sendable, Hashable {
    /// `%START_TIME%`, or `%START_TIME(format)%` with strftime specifiers (and `%3f`/`%6f`/`%9f`).
    case startTime(format: String?)
    /// `%REQ(name?alternate)%`: `:method`, `:path`, `:authority`, `:scheme` and headers.
    case request(HeaderNames)
    /// `%RESP(name?alternate)%`.
    case response(HeaderNames)
    /// `%TRAILER(name?alternate)%`.
    case trailer(HeaderNames)

    package static func requestHeader(_ name: String, alternate: String?) -> AccessLogField { .request(HeaderNames(name, alternate)) }
    package static func responseHeader(_ name: String, alternate: String?) -> AccessLogField { .response(HeaderNames(name, alternate)) }
    package static func responseTrailer(_ name: String, alternate: String?) -> AccessLogField { .trailer(HeaderNames(name, alternate)) }
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

/// The header an operator names and its fallback (lowercased), as one reference: a line walks
/// every field, and a field carrying two strings cost two reference counts each time.
package final class HeaderNames: Sendable, Hashable {
    package let name: String
    package let alternate: String?

    package init(_ name: String, _ alternate: String?) {
        self.name = name
        self.alternate = alternate
    }

    package static func == (a: HeaderNames, b: HeaderNames) -> Bool { a.name == b.name && a.alternate == b.alternate }
    package func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(alternate)
    }
}

/// What a record answers for a field: nothing (`-` in text, `null` in JSON), text, or a number
/// (a JSON number, not a string, as Envoy's typed JSON writes it).
package enum AccessLogValue: Sendable, Equatable {
    case none
    case text(String)
    case integer(Int64)
    /// `ip:port` (`[ip]:port` for IPv6), written without making the string.
    case address(ip: String, port: Int)
    /// A wall-clock time (ns since the epoch) in a strftime format, nil: Envoy's default.
    case time(nanoseconds: Int64, format: String?)
}

/// Writes values into a line's bytes.
package enum AccessLogRender {
    package static func text(_ value: AccessLogValue, maxLength: Int?, timeCache: inout UTCTime.SecondCache, to out: inout LogBytes) {
        switch value {
        case .none:
            out.append(UInt8(ascii: "-"))
        case .text(let text):
            if let maxLength, text.utf8.count > maxLength {
                out.append(Array(text.utf8.prefix(maxLength)))
            } else {
                out.append(text)
            }
        case .integer(let number):
            appendDecimal(number, to: &out)
        case .address(let ip, let port):
            let bracketed = ip.utf8.contains(UInt8(ascii: ":"))
            if bracketed { out.append(UInt8(ascii: "[")) }
            out.append(ip)
            if bracketed { out.append(UInt8(ascii: "]")) }
            out.append(UInt8(ascii: ":"))
            appendDecimal(Int64(port), to: &out)
        case .time(let nanoseconds, let format):
            if let format {
                out.append(UTCTime.format(nanoseconds, format))
            } else {
                timeCache.appendISO8601Milliseconds(nanoseconds, to: &out)
            }
        }
    }

    package static func json(_ value: AccessLogValue, maxLength: Int?, timeCache: inout UTCTime.SecondCache, to out: inout LogBytes) {
        switch value {
        case .none:
            out.append(Self.null)
        case .integer(let number):
            appendDecimal(number, to: &out)
        case .text(let text):
            var quoted: [UInt8] = []
            JSONWriter.appendString(maxLength.map { String(text.prefix($0)) } ?? text, to: &quoted)
            out.append(quoted)
        case .address, .time:
            // Digits, dots, colons, brackets, letters: nothing to escape.
            out.append(UInt8(ascii: "\""))
            Self.text(value, maxLength: maxLength, timeCache: &timeCache, to: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    static let null: [UInt8] = Array("null".utf8)

    package static func appendDecimal(_ number: Int64, to out: inout LogBytes) {
        var magnitude = number.magnitude
        if number < 0 { out.append(UInt8(ascii: "-")) }
        if magnitude < 10 {
            out.append(UInt8(ascii: "0") + UInt8(magnitude))
            return
        }
        // Twenty digits at most, written backwards into a small tuple-free scratch.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            while magnitude > 0 {
                scratch[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            out.append(UnsafeBufferPointer(start: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + 24 - count, count: count))
        }
    }
}

/// A record an access log can be written from.
package protocol AccessLogSource {
    func value(_ field: AccessLogField) -> AccessLogValue
}
