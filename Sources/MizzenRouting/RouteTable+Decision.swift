package import MizzenConfig

/// What routing decided for one request.
package struct RouteDecision: Sendable {
    package enum Outcome: Sendable {
        /// Forward to a cluster (chosen by weight among the route's destinations).
        case forward(WeightedCluster)
        case redirect(RedirectAction)
        case directResponse(DirectResponseAction)
        /// The server has `tls.httpsRedirect`: 301 to the https URL.
        case httpsRedirect
        /// No listener on the port, no virtual host for the host, or no route matched: 404 (NR).
        case noRoute
    }

    package var outcome: Outcome
    package var listenerPort: UInt32
    package var server: ServerEntry?
    package var virtualHost: VirtualHost?
    /// Position of the route taken in the virtual host's route list.
    package var routeIndex: Int?
    package var route: Route?
    package var matchIndex: Int?

    package var cluster: String? {
        if case .forward(let weighted) = outcome { return weighted.cluster }
        return nil
    }
}

extension RouteTable {
    /// Decides where a request goes. `random` picks among weighted destinations (uniform over
    /// the sum of weights); pass a fresh random number per request.
    package func decide(_ request: RequestAttributes, random: UInt64) -> RouteDecision {
        var trace: [String]?
        return evaluate(request, random: random, trace: &trace)
    }

    /// The decision and, line by line, why: which server and virtual host matched, every route
    /// tried in order with the first condition that failed, the route taken and its destinations.
    package func explain(_ request: RequestAttributes, random: UInt64) -> (decision: RouteDecision, reasons: [String]) {
        var trace: [String]? = []
        let decision = evaluate(request, random: random, trace: &trace)
        return (decision, trace ?? [])
    }

    private func evaluate(_ request: RequestAttributes, random: UInt64, trace: inout [String]?) -> RouteDecision {
        var decision = RouteDecision(outcome: .noRoute, listenerPort: request.port)
        guard let listener = request.inbound ? inboundListener(port: request.port) : listener(port: request.port) else {
            trace?.append("listener: none on port \(request.port) (listening on \(listeners.map { String($0.port) }.joined(separator: ", ")))")
            trace?.append("result: 404 no route (NR)")
            return decision
        }
        let host = request.hostForLookup
        var configuration = listener.httpRoutes
        if let server = tlsServer(listener, request: request, host: host) {
            decision.server = server
            configuration = server.httpRoutes
            trace?.append("listener: port \(listener.port), server \(server.label) (\(server.kind.rawValue), hosts \(server.hosts.joined(separator: ", ")))")
        } else {
            decision.server = listener.servers.first { $0.kind == .http }
            if let server = decision.server, server.gateway == nil {
                trace?.append("listener: port \(listener.port) (sidecar outbound: a virtual host per service)")
            } else if let server = decision.server {
                let others = listener.servers.filter { $0.kind == .http }.count - 1
                trace?.append("listener: port \(listener.port), server \(server.label) (http, hosts \(server.hosts.joined(separator: ", ")))\(others > 0 ? " and \(others) more sharing its routes" : "")")
            }
        }
        guard let configuration else {
            trace?.append("routes: none for this server (it carries \(decision.server?.kind.rawValue ?? "no") traffic, not HTTP)")
            trace?.append("result: 404 no route (NR)")
            return decision
        }
        guard let virtualHost = configuration.virtualHost(for: host) else {
            let known = configuration.virtualHosts.flatMap(\.domains)
            trace?.append("virtual host: none for \"\(host)\" in \(configuration.name) (domains: \(known.isEmpty ? "none" : known.prefix(20).joined(separator: ", ")))")
            trace?.append("result: 404 no route (NR)")
            return decision
        }
        decision.virtualHost = virtualHost
        trace?.append("virtual host: \(virtualHost.name) (domains \(virtualHost.domains.prefix(8).joined(separator: ", ")))")
        if virtualHost.requireTLS, request.scheme == "http" {
            decision.outcome = .httpsRedirect
            trace?.append("result: 301 to https (the server sets tls.httpsRedirect)")
            return decision
        }
        for (index, route) in virtualHost.routes.enumerated() {
            guard let matchIndex = route.matchIndex(request) else {
                if trace != nil {
                    let reasons = route.matches.enumerated().map { offset, match in
                        "match[\(offset)]\(match.name.map { " \"\($0)\"" } ?? ""): \(match.failure(request) ?? "matches")"
                    }
                    trace?.append("route \(index) \(route.source): no — \(reasons.joined(separator: "; "))")
                }
                continue
            }
            decision.routeIndex = index
            decision.route = route
            decision.matchIndex = matchIndex
            trace?.append("route \(index) \(route.source): yes — \(route.matches.isEmpty ? "no conditions (every request)" : "match[\(matchIndex)] holds: \(route.matches[matchIndex].conditions.map(\.description).joined(separator: " and "))")")
            if trace != nil, let features = Self.features(route.config) { trace?.append("route actions: \(features)") }
            switch route.action {
            case .redirect(let redirect):
                decision.outcome = .redirect(redirect)
                trace?.append("result: redirect \(redirect.status)")
            case .directResponse(let response):
                decision.outcome = .directResponse(response)
                trace?.append("result: direct response \(response.status)")
            case .forward(let destinations):
                guard let chosen = Self.pick(destinations, random: random) else {
                    trace?.append("result: 503 no destination with a non-zero weight")
                    return decision
                }
                decision.outcome = .forward(chosen)
                if trace != nil {
                    let total = destinations.reduce(0) { $0 + UInt64($1.weight) }
                    for destination in destinations {
                        let share = total == 0 ? 0 : Double(destination.weight) * 100 / Double(total)
                        trace?.append("destination: \(destination.cluster) weight \(destination.weight) (\(Self.percent(share)))\(destination.cluster == chosen.cluster ? " <- chosen" : "")")
                    }
                    if let cluster = clusters[chosen.cluster] {
                        if !cluster.serviceKnown {
                            trace?.append("cluster: \(cluster.name): no such service port in the registry (requests fail with 503)")
                        } else {
                            let subset = cluster.subset.map { " subset \($0) \(cluster.subsetLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))" } ?? ""
                            trace?.append("cluster: \(cluster.name)\(subset); endpoints: \(cluster.endpoints.isEmpty ? "none" : cluster.endpoints.map { "\($0.address):\($0.port)" }.joined(separator: ", "))")
                        }
                        if let source = cluster.policySource { trace?.append("traffic policy: from \(source)") }
                    }
                }
            }
            return decision
        }
        trace?.append("result: 404 no route (NR): no route of \(virtualHost.name) matches")
        return decision
    }

    /// For TLS-terminating listeners: the server whose host names cover the SNI (or Host).
    private func tlsServer(_ listener: Listener, request: RequestAttributes, host: String) -> ServerEntry? {
        guard listener.terminatesTLS else { return nil }
        return listener.terminatingServer(serverName: (request.serverName ?? host).lowercased(), includingTCP: false)
    }

    /// What a route does besides choosing a destination, in words, for explanations.
    static func features(_ route: HTTPRoute) -> String? {
        var parts: [String] = []
        if let delay = route.fault?.delay, let fixed = delay.fixedDelay {
            parts.append("fault delay \(fixed) for \(percent(delay.percentage?.value ?? 0)) of requests")
        }
        if let abort = route.fault?.abort {
            let status = abort.httpStatus.map { "HTTP \($0)" } ?? abort.grpcStatus.map { "gRPC \($0)" } ?? "nothing"
            parts.append("fault abort \(status) for \(percent(abort.percentage?.value ?? 0)) of requests")
        }
        if let timeout = route.timeout { parts.append("timeout \(timeout)") }
        if let retries = route.retries { parts.append("retries \(retries.attempts ?? 0)\(retries.retryOn.map { " on \($0)" } ?? "")") }
        if let rewrite = route.rewrite {
            if let uri = rewrite.uri { parts.append("rewrite uri to \(uri)") }
            if let authority = rewrite.authority { parts.append("rewrite authority to \(authority)") }
            if rewrite.uriRegexRewrite != nil { parts.append("regex rewrite of the uri") }
        }
        if route.headers != nil { parts.append("header edits") }
        if route.corsPolicy != nil { parts.append("CORS policy") }
        if let mirror = route.mirror?.host { parts.append("mirror to \(mirror)") }
        for mirror in route.mirrors ?? [] { if let host = mirror.destination?.host { parts.append("mirror to \(host)") } }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Weighted choice: destination i gets weight_i / sum of weights.
    package static func pick(_ destinations: [WeightedCluster], random: UInt64) -> WeightedCluster? {
        let total = destinations.reduce(UInt64(0)) { $0 + UInt64($1.weight) }
        guard total > 0 else { return nil }
        var point = random % total
        for destination in destinations {
            if point < UInt64(destination.weight) { return destination }
            point -= UInt64(destination.weight)
        }
        return destinations.last
    }

    static func percent(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
    }
}
