import MizzenRouting
package import MizzenTelemetry
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// The access-log operators answered from an exchange's record, as Envoy answers them from
/// its StreamInfo (values made only when a format asks).
extension ExchangeRecord: AccessLogSource {
    package func value(_ field: AccessLogField) -> AccessLogValue {
        switch field {
        case .startTime(let format):
            return .time(nanoseconds: startWallClockNanoseconds, format: format)
        case .request(let names):
            return requestHeader(names.name) ?? names.alternate.flatMap(requestHeader) ?? .none
        case .response(let names):
            return Self.header(responseHeaders, names.name) ?? names.alternate.flatMap { Self.header(responseHeaders, $0) } ?? .none
        case .trailer(let names):
            return Self.header(responseTrailers, names.name) ?? names.alternate.flatMap { Self.header(responseTrailers, $0) } ?? .none
        case .protocolName:
            return request == nil ? .none : .text(downstreamProtocol == .http2 ? "HTTP/2" : "HTTP/\(downstreamProtocol.major).\(downstreamProtocol.minor)")
        case .upstreamProtocol:
            return upstreamProtocol.map { .text($0.rawValue) } ?? .none
        case .responseCode:
            return .integer(Int64(responseCode))
        case .responseCodeDetails:
            return responseCodeDetails.isEmpty ? .none : .text(responseCodeDetails)
        case .responseFlags:
            return .text(responseFlags.description)
        case .responseFlagsLong:
            return .text(responseFlags.isEmpty ? "-" : responseFlags.ordered.map(\.longName).joined(separator: ","))
        case .connectionTerminationDetails, .upstreamTransportFailureReason, .connectionID, .upstreamConnectionID:
            return .none
        case .bytesReceived:
            return .integer(Int64(requestBodyBytes))
        case .bytesSent:
            return .integer(Int64(responseBodyBytes))
        case .duration:
            return Self.milliseconds(from: startTime, to: endTime)
        case .requestDuration:
            return Self.milliseconds(from: startTime, to: requestEndTime)
        case .responseDuration:
            return Self.milliseconds(from: startTime, to: firstUpstreamByteTime)
        case .responseTransmitDuration:
            return Self.milliseconds(from: firstUpstreamByteTime, to: endTime)
        case .upstreamRequestAttemptCount:
            return .integer(Int64(attempts))
        case .upstreamHost, .upstreamRemoteAddress:
            guard let cluster, let upstreamEndpoint, upstreamEndpoint < cluster.endpoints.count else { return .none }
            return .text(cluster.endpoints[upstreamEndpoint].addressKey)
        case .upstreamCluster, .upstreamClusterRaw:
            return cluster.map { .text($0.name) } ?? .none
        case .upstreamLocalAddress:
            return upstreamLocalAddress.map { .text($0) } ?? .none
        case .routeName:
            return route.flatMap(\.source.name).map { .text($0) } ?? .none
        case .traceID:
            return trace.map { .text($0.traceID.hex) } ?? .none
        case .downstreamLocalAddress:
            return connection?.localAddressLog.map { .text($0) } ?? .none
        case .downstreamRemoteAddress, .downstreamDirectRemoteAddress:
            return connection?.remoteAddressLog.map { .text($0) } ?? .none
        default:
            return Self.connectionValue(field, remoteIP: connection?.remoteIP, remotePort: connection?.remoteAddress?.port,
                                        localIP: connection?.localIP, localPort: connection?.localPort, serverName: connection?.serverName)
        }
    }

    /// A request header as the upstream saw it: the request id the proxy made and the
    /// `x-forwarded-for` it appended included.
    private func requestHeader(_ name: String) -> AccessLogValue? {
        guard let request else { return nil }
        // Pseudo headers by their first byte, the two the proxy sets by length: no string
        // comparison chain per field.
        let utf8 = name.utf8
        if utf8.first == UInt8(ascii: ":") {
            switch name {
            case ":method": return .text(request.method.rawValue)
            case ":path": return .text(request.uri)
            case ":authority": return request.headers.first(name: "host").map { .text($0) }
            case ":scheme": return .text(connection?.isTLS == true ? "https" : "http")
            default: return nil
            }
        }
        if utf8.count == 12, name == "x-request-id" {
            return requestID.map { .text($0) } ?? Self.header(request.headers, name)
        }
        if utf8.count == 15, name == "x-forwarded-for", connection?.headerPolicy == .edge, let remoteIP = connection?.remoteIP {
            return .text(request.headers.first(name: name).map { $0 + ", " + remoteIP } ?? remoteIP)
        }
        return Self.header(request.headers, name)
    }

    static func header(_ headers: HTTPHeaders?, _ name: String) -> AccessLogValue? {
        guard let headers, let value = headers.first(name: name) else { return nil }
        return .text(value)
    }

    static func milliseconds(from start: NIODeadline?, to end: NIODeadline?) -> AccessLogValue {
        guard let start, let end else { return .none }
        return .integer(max(0, (end - start).nanoseconds / 1_000_000))
    }

    /// The downstream connection's operators, shared with TCP connections' lines.
    static func connectionValue(_ field: AccessLogField, remoteIP: String?, remotePort: Int?, localIP: String?, localPort: Int?,
                                serverName: String?) -> AccessLogValue {
        switch field {
        case .downstreamLocalAddress:
            return address(localIP, localPort)
        case .downstreamLocalAddressWithoutPort:
            return localIP.map { .text($0) } ?? .none
        case .downstreamLocalPort:
            return localPort.map { .integer(Int64($0)) } ?? .none
        case .downstreamRemoteAddress, .downstreamDirectRemoteAddress:
            return address(remoteIP, remotePort)
        case .downstreamRemoteAddressWithoutPort, .downstreamDirectRemoteAddressWithoutPort:
            return remoteIP.map { .text($0) } ?? .none
        case .downstreamRemotePort:
            return remotePort.map { .integer(Int64($0)) } ?? .none
        case .requestedServerName:
            return serverName.map { .text($0) } ?? .none
        case .hostname:
            return .text(hostname)
        default:
            return .none
        }
    }

    static func address(_ ip: String?, _ port: Int?) -> AccessLogValue {
        guard let ip else { return .none }
        guard let port else { return .text(ip) }
        return .address(ip: ip, port: port)
    }

    /// `ip:port` (`[ip]:port` for IPv6), as Envoy prints addresses.
    static let hostname: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "-" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// A TCP connection's line: the HTTP operators are absent (`-`), as in Envoy's TCP proxy log.
extension TCPTally: AccessLogSource {
    func value(_ field: AccessLogField) -> AccessLogValue {
        switch field {
        case .startTime(let format):
            return .time(nanoseconds: startWallClockNanoseconds, format: format)
        case .responseCode:
            return .integer(0)
        case .responseFlags:
            return .text(responseFlags.description)
        case .responseFlagsLong:
            return .text(responseFlags.isEmpty ? "-" : responseFlags.ordered.map(\.longName).joined(separator: ","))
        case .bytesReceived:
            return .integer(Int64(receivedBytes))
        case .bytesSent:
            return .integer(Int64(sentBytes))
        case .duration:
            return ExchangeRecord.milliseconds(from: start, to: end)
        case .upstreamHost, .upstreamRemoteAddress:
            guard let endpoint, endpoint < cluster.endpoints.count else { return .none }
            return .address(ip: cluster.endpoints[endpoint].address, port: Int(cluster.endpoints[endpoint].port))
        case .upstreamCluster, .upstreamClusterRaw:
            return .text(cluster.name)
        case .upstreamLocalAddress:
            return upstreamLocalAddress.map { .text($0) } ?? .none
        default:
            return ExchangeRecord.connectionValue(field, remoteIP: remoteIP, remotePort: remoteAddress?.port, localIP: localIP,
                                                  localPort: localAddress?.port, serverName: nil)
        }
    }
}
