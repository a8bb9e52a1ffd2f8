import MizzenRouting
import MizzenTelemetry
import NIOCore
import NIOHTTP1

/// Plans an exchange from its request head, as Envoy's HTTP filter chain does before any I/O:
/// the head's checks (`RequestHeadValidator`), the route decision, then the filters in Istio's
/// order (CORS, fault), then the router's part (the cluster, the upstream head, the hash key,
/// timeouts, retries, mirrors). Pure: every input is a value or the published snapshot, random
/// draws come from the caller's generator.
enum ExchangePlanner {
    static func plan(_ head: HTTPRequestHead, connection: DownstreamConnection, snapshot: ProxySnapshot, limits: ProxyLimits,
                     tracing: ProxyTelemetry.Tracing? = nil, originalDestinations: OriginalDestinationClusters? = nil,
                     random: inout some RandomNumberGenerator) -> ExchangeStart {
        var start = ExchangeStart(disposition: .answer(.error(.noRoute)))
        start.keepAlive = connection.isHTTP2 || head.isKeepAlive
        let request: ValidatedRequest
        switch RequestHeadValidator.validate(head, connection: connection, limits: limits) {
        case .failure(let error):
            // A malformed head: refuse and, on HTTP/1, close (its framing cannot be trusted).
            start.keepAlive = false
            start.disposition = error.source == .downstream && !connection.isHTTP2 ? .refuse(error) : .answer(.error(error))
            return start
        case .success(let value):
            request = value
        }
        start.isGRPC = request.isGRPC
        if let tracing {
            start.traceHeadersFresh = !TraceContext.carriesTraceHeaders(head.headers)
            start.trace = trace(head, connection: connection, tracing: tracing, fresh: start.traceHeadersFresh, random: &random)
        }
        switch request.expectation {
        case .unsupported:
            start.keepAlive = false
            start.disposition = .answer(.empty(status: 417))
            return start
        case .continue:
            start.expectContinue = true
        case .none:
            break
        }

        let decision = snapshot.table.decide(request.attributes, random: random.next())
        start.route = decision.route
        start.virtualHost = decision.virtualHost
        let policy = decision.route?.policy ?? .plain

        // CORS, before the router and before faults (Istio's filter chain order).
        if let cors = policy.cors, let origin = head.headers.first(name: "origin") {
            switch CORSFilter.apply(cors, origin: origin, method: head.method, headers: head.headers) {
            case .answer(let reply):
                start.disposition = .answer(reply)
                return start
            case .continue(let headers):
                start.responseEdits.extra = headers.map { ($0.name, $0.value) }
            }
        }
        start.responseEdits.route = policy.responseHeaders

        switch decision.outcome {
        case .noRoute:
            start.disposition = .answer(.error(.noRoute))
        case .httpsRedirect:
            start.disposition = .answer(.redirect(status: 301, location: "https://\(request.attributes.hostForLookup)\(request.forwardTarget)"))
        case .redirect(let redirect):
            start.disposition = .answer(redirectReply(redirect, request: request, policy: policy, matchIndex: decision.matchIndex ?? 0, connection: connection))
        case .directResponse(let response):
            start.disposition = .answer(.direct(status: response.status, body: response.body))
        case .forward(let destination):
            start.responseEdits.destination = destination.responseHeaders
            forward(destination, head: head, request: request, policy: policy, matchIndex: decision.matchIndex ?? 0, connection: connection,
                    snapshot: snapshot, originalDestinations: originalDestinations, into: &start, random: &random)
        }
        return start
    }

    private static func forward(_ destination: WeightedCluster, head: HTTPRequestHead, request: ValidatedRequest, policy: RoutePolicy, matchIndex: Int,
                                connection: DownstreamConnection, snapshot: ProxySnapshot, originalDestinations: OriginalDestinationClusters?,
                                into start: inout ExchangeStart, random: inout some RandomNumberGenerator) {
        guard var cluster = snapshot.clusters[destination.cluster], cluster.cluster.serviceKnown else {
            start.disposition = .answer(.error(.noCluster))
            return
        }
        if cluster.cluster.originalDestination != nil {
            // PassthroughCluster, inbound clusters: to where the connection was sent.
            let resolved = originalDestinations.map { $0.cluster(cluster, destination: connection.originalDestination) }
                ?? cluster.resolvingOriginalDestination(connection.originalDestination)
            guard let resolved else {
                start.disposition = .answer(.error(.noHealthyUpstream))
                return
            }
            cluster = resolved
        }
        guard !cluster.endpoints.isEmpty else {
            start.disposition = .answer(.error(.noHealthyUpstream))
            return
        }
        // The fault filter runs before the router.
        if let fault = policy.fault {
            let outcome = FaultFilter.apply(fault, random: &random)
            start.delay = outcome.delay
            if let abort = outcome.abort {
                start.disposition = .answer(abort)
                return
            }
        }
        let toHTTP2 = cluster.speaksHTTP2 && !request.isUpgrade
        let upstream = UpstreamRequestBuilder.build(head, request: request, connection: connection, policy: policy, destination: destination,
                                                    matchIndex: matchIndex, toHTTP2: toHTTP2, trace: start.trace,
                                                    traceHeadersFresh: start.traceHeadersFresh, random: &random)
        var hashKey: UInt64?
        if let hashPolicy = cluster.plan.hashPolicy {
            hashKey = hashPolicy.key(header: { request.attributes.joinedHeader($0) },
                                     cookie: HashPolicy.cookieLookup(cookieHeaders: head.headers["cookie"]),
                                     sourceAddress: connection.remoteIP,
                                     query: { request.attributes.queryValue($0) })
            if hashKey == nil, let generated = hashPolicy.generatedCookie(remoteAddress: connection.remoteAddressText, localAddress: connection.localAddressText) {
                // A cookie policy with a ttl and no cookie yet: the proxy makes one (Envoy's
                // generated cookie), hashes on it, and sets it on the response.
                hashKey = generated.hash
                start.responseEdits.setCookie = generated.setCookie
            }
        }
        var routeTimeout = policy.timeout.map { TimeAmount.nanoseconds($0) }
        if request.isGRPC, let header = head.headers.first(name: "grpc-timeout"), let grpcTimeout = grpcTimeout(header) {
            // Istio leaves gRPC's own deadline in force (max_grpc_timeout 0): the shorter wins.
            routeTimeout = routeTimeout.map { min($0, grpcTimeout) } ?? grpcTimeout
        }
        let tls = cluster.tls
        let serverName = tls?.serverName(forHost: hostWithoutPort(upstream.authority))
        start.disposition = .forward(ForwardPlan(
            snapshot: snapshot, cluster: cluster, upstreamHead: upstream.head, serverName: serverName, hashKey: hashKey, retry: policy.retry,
            // Istio drops the previous-hosts predicate for consistent-hash destinations.
            avoidPreviousHosts: policy.retry.avoidPreviousHosts && cluster.plan.hashPolicy == nil,
            routeTimeout: routeTimeout, mirrors: policy.mirrors, isUpgrade: request.isUpgrade, requestID: upstream.requestID))
    }

    /// The proxy's span for this request: a child of the context the request carries (W3C
    /// `traceparent`, B3 single or multi), else a new trace, sampled as the request says or at
    /// the configured percentage. `x-client-trace-id` forces sampling (Envoy); so does
    /// `x-envoy-force-trace`, from mesh clients only (an edge listener removes `x-envoy-*`).
    static func trace(_ head: HTTPRequestHead, connection: DownstreamConnection, tracing: ProxyTelemetry.Tracing, fresh: Bool,
                      random: inout some RandomNumberGenerator) -> TraceContext {
        guard !fresh else {
            // The common case at an edge: no context, no decision, nothing forced.
            return TraceContext.start(incoming: nil, samplingPercent: tracing.samplingPercent, forced: false, random: &random)
        }
        let incoming = TraceContext.extract(from: head.headers)
        let forced = head.headers.contains(name: "x-client-trace-id")
            || (connection.headerPolicy == .mesh && head.headers.contains(name: "x-envoy-force-trace"))
        return TraceContext.start(incoming: incoming, samplingDecision: incoming == nil ? TraceContext.samplingDecision(from: head.headers) : nil,
                                  samplingPercent: tracing.samplingPercent, forced: forced, random: &random)
    }

    /// Istio's `redirect`: each part of the URL replaced when set, the query string kept.
    static func redirectReply(_ redirect: RedirectAction, request: ValidatedRequest, policy: RoutePolicy, matchIndex: Int,
                              connection: DownstreamConnection) -> LocalReply {
        let attributes = request.attributes
        let scheme = redirect.scheme ?? attributes.scheme
        let original = attributes.authority
        var requestPort: Substring?
        if let colon = original.lastIndex(of: ":"), !original.hasSuffix("]") { requestPort = original[original.index(after: colon)...] }
        var host = redirect.authority ?? attributes.hostForLookup
        if host.contains(":") && !host.hasSuffix("]") { requestPort = nil }
        if let port = redirect.port {
            host += ":\(port)"
        } else {
            switch redirect.derivePort {
            case .fromRequestPort:
                // Istio programs the listener's port (the Gateway server port as written).
                host += ":" + String(connection.listenerPort)
            case .fromProtocolDefault:
                break
            case nil:
                if redirect.authority == nil && redirect.scheme == nil, let requestPort { host += ":" + requestPort }
            }
        }
        var path = redirect.uri ?? policy.rewrittenPath(attributes.path, matchIndex: matchIndex) ?? attributes.path
        if !attributes.query.isEmpty, !path.contains("?") { path += "?" + attributes.query }
        return .redirect(status: redirect.status, location: "\(scheme)://\(host)\(path)")
    }

    /// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
    static func grpcTimeout(_ value: String) -> TimeAmount? {
        guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = Int64(value.dropLast()), amount >= 0 else { return nil }
        switch unit {
        case "H": return .hours(amount)
        case "M": return .minutes(amount)
        case "S": return .seconds(amount)
        case "m": return .milliseconds(amount)
        case "u": return .microseconds(amount)
        case "n": return .nanoseconds(amount)
        default: return nil
        }
    }

    static func hostWithoutPort(_ authority: String) -> String {
        let bytes = authority.utf8
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")), bytes.last != UInt8(ascii: "]"),
              bytes[bytes.index(after: colon)...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return authority
        }
        return String(authority[..<colon])
    }

    /// Envoy's shadow host: `-shadow` after the host name, before any port.
    static func shadowHost(_ authority: String) -> String {
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), authority[authority.index(after: colon)...].allSatisfy(\.isNumber) {
            return authority[..<colon] + "-shadow" + authority[colon...]
        }
        return authority + "-shadow"
    }
}
