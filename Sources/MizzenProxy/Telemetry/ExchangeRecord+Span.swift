import MizzenRouting
import MizzenTelemetry
import NIOCore
import NIOHTTP1

extension ExchangeRecord {
    /// The proxy's span of this request, with Envoy's HTTP tags and Istio's own
    /// (`istio.canonical_service`, `istio.namespace`, ...). Named as Istio's route decorator
    /// names it, `<service host>:<port>/*`, else by the request's host; a gateway's (and a
    /// sidecar's outbound) span is a CLIENT span.
    func span(_ trace: TraceContext, tracing: ProxyTelemetry.Tracing, kind: SpanKind = .client) -> FinishedSpan {
        let host = request?.headers.first(name: "host") ?? "-"
        let name = cluster.map { "\($0.serviceHost):\($0.port)/*" } ?? host
        var tags = tracing.tags
        tags.append(SpanTag("component", "proxy"))
        if let requestID { tags.append(SpanTag("guid:x-request-id", requestID)) }
        if let request {
            let scheme = connection?.isTLS == true ? "https" : "http"
            tags.append(SpanTag("http.url", "\(scheme)://\(host)\(request.uri)"))
            tags.append(SpanTag("http.method", request.method.rawValue))
            tags.append(SpanTag("user_agent", request.headers.first(name: "user-agent") ?? "-"))
        }
        tags.append(SpanTag("http.protocol", downstreamProtocol == .http2 ? "HTTP/2" : "HTTP/\(downstreamProtocol.major).\(downstreamProtocol.minor)"))
        if let remote = connection?.remoteIP { tags.append(SpanTag("peer.address", remote)) }
        tags.append(SpanTag("request_size", String(requestBodyBytes)))
        tags.append(SpanTag("response_size", String(responseBodyBytes)))
        tags.append(SpanTag("http.status_code", String(responseCode)))
        tags.append(SpanTag("response_flags", responseFlags.description))
        if let cluster {
            tags.append(SpanTag("upstream_cluster", cluster.name))
            tags.append(SpanTag("upstream_cluster.name", cluster.name))
        }
        if let upstreamHost { tags.append(SpanTag("upstream_address", upstreamHost)) }
        if isGRPC, let status = responseTrailers?.first(name: "grpc-status") ?? responseHeaders?.first(name: "grpc-status") {
            tags.append(SpanTag("grpc.status_code", status))
        }
        if responseCode >= 500 || responseCode == 0 { tags.append(SpanTag("error", "true")) }
        let endpoint = upstreamEndpoint.flatMap { index in cluster.flatMap { index < $0.endpoints.count ? $0.endpoints[index] : nil } }
        return FinishedSpan(context: trace, name: name, kind: kind, startMicroseconds: startWallClockNanoseconds / 1000,
                            durationMicroseconds: (duration?.nanoseconds ?? 0) / 1000, localServiceName: tracing.serviceName,
                            localIPv4: connection?.localAddress?.ipAddress, remoteIPv4: endpoint?.address, remotePort: endpoint.map { Int($0.port) },
                            tags: tags)
    }
}
