import MizzenRouting
import MizzenTelemetry
import NIOHTTP1

/// The request head that goes upstream: Envoy's forwarding rules for the listener's header
/// policy, then the route's rewrites and header edits.
///
/// - Hop-by-hop headers go (RFC 9110 §7.6.1; `Upgrade` stays for a WebSocket handshake, `te:
///   trailers` for gRPC); `Expect` goes (answered at the proxy); Host stays unless rewritten.
/// - Edge (a gateway, clients outside the mesh): `x-envoy-*` from the client are removed (a
///   client must not steer retries or timeouts), the client's address is appended to
///   `x-forwarded-for`, `x-forwarded-proto` says how the request arrived, and an
///   `x-request-id` is made when the request has none.
/// - Mesh (a sidecar, clients in the mesh): `x-envoy-*` and `x-forwarded-for` pass as they are,
///   `x-forwarded-proto` is set only when absent, a missing `x-request-id` is made.
enum UpstreamRequestBuilder {
    struct Result {
        var head: HTTPRequestHead
        /// The authority the request goes with (rewritten or not): its host is the SNI of a TLS
        /// cluster without a configured one.
        var authority: String
        var requestID: String?
    }

    static func build(_ head: HTTPRequestHead, request: ValidatedRequest, connection: DownstreamConnection, policy: RoutePolicy,
                      destination: WeightedCluster, matchIndex: Int, toHTTP2: Bool, trace: TraceContext? = nil,
                      traceHeadersFresh: Bool = false, random: inout some RandomNumberGenerator) -> Result {
        var headers = head.headers
        HeaderRules.removeHopByHop(&headers, keepUpgrade: request.isUpgrade, keepTrailersTE: true)
        if connection.headerPolicy == .edge { HeaderRules.removeInternal(&headers) }
        // The proxy's span becomes the upstream's parent (B3 and W3C both written).
        if let trace {
            if traceHeadersFresh { trace.injectFresh(into: &headers) } else { trace.inject(into: &headers) }
        }
        if head.headers.contains(name: "transfer-encoding") && !toHTTP2 {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        headers.remove(name: "expect")
        let scheme = connection.isTLS ? "https" : "http"
        switch connection.headerPolicy {
        case .edge:
            if let remoteIP = connection.remoteIP {
                if let existing = headers.first(name: "x-forwarded-for") {
                    headers.replaceOrAdd(name: "x-forwarded-for", value: existing + ", " + remoteIP)
                } else {
                    headers.add(name: "x-forwarded-for", value: remoteIP)
                }
            }
            headers.replaceOrAdd(name: "x-forwarded-proto", value: scheme)
        case .mesh:
            if !headers.contains(name: "x-forwarded-proto") { headers.add(name: "x-forwarded-proto", value: scheme) }
        }
        // x-forwarded-client-cert: a sidecar's inbound side appends its mTLS client
        // (APPEND_FORWARD); everywhere else, and without a client certificate, it is removed
        // (SANITIZE, and SANITIZE_SET at a gateway with no client certificate).
        if let peer = connection.meshPeer {
            let element = peer.forwardedClientCertElement
            if let existing = headers.first(name: "x-forwarded-client-cert") {
                headers.replaceOrAdd(name: "x-forwarded-client-cert", value: existing + "," + element)
            } else {
                headers.add(name: "x-forwarded-client-cert", value: element)
            }
        } else {
            headers.remove(name: "x-forwarded-client-cert")
        }
        var requestID = headers.first(name: "x-request-id")
        if requestID == nil {
            let made = HeaderRules.requestID(using: &random)
            headers.add(name: "x-request-id", value: made)
            requestID = made
        }
        var authority = request.attributes.authority
        if let rewritten = policy.authorityRewrite {
            authority = rewritten
            headers.replaceOrAdd(name: "host", value: rewritten)
        } else if !headers.contains(name: "host") {
            headers.add(name: "host", value: authority)
        }
        if !destination.requestHeaders.isEmpty { HeaderRules.apply(destination.requestHeaders, to: &headers) }
        if !policy.requestHeaders.isEmpty { HeaderRules.apply(policy.requestHeaders, to: &headers) }
        var target = request.forwardTarget
        if let path = policy.rewrittenPath(request.attributes.path, matchIndex: matchIndex) {
            target = request.attributes.query.isEmpty ? path : path + "?" + request.attributes.query
        }
        return Result(head: HTTPRequestHead(version: .http1_1, method: head.method, uri: target, headers: headers), authority: authority,
                      requestID: requestID)
    }
}
