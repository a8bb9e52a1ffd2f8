package import MizzenConfig
package import MizzenRouting

/// `mizzen routes`: compile the configuration for one proxy; print the table, or explain where
/// one request goes and why.
package struct RoutesMode: Sendable {
    package enum Selection: Sendable {
        /// The proxy a Gateway object (`namespace/name`) selects: its namespace and selector labels.
        case gatewayObject(namespace: String, name: String)
        case proxy(ProxyIdentity)
    }

    package struct Request: Sendable {
        package var method: String
        package var url: String
        package var headers: [(name: String, value: String)]
        package var port: UInt32?
        package var serverName: String?

        package init(method: String, url: String, headers: [(name: String, value: String)], port: UInt32?, serverName: String?) {
            self.method = method
            self.url = url
            self.headers = headers
            self.port = port
            self.serverName = serverName
        }
    }

    package var paths: [String]
    package var loader: ConfigLoader
    package var selection: Selection
    package var request: Request?
    package var json: Bool
    /// Seed of the weighted choice, so an explanation can be repeated.
    package var random: UInt64

    package init(paths: [String], loader: ConfigLoader, selection: Selection, request: Request?, json: Bool, random: UInt64) {
        self.paths = paths
        self.loader = loader
        self.selection = selection
        self.request = request
        self.json = json
        self.random = random
    }

    package func run() -> (output: String, status: ValidateMode.ExitStatus) {
        let result = loader.load(paths: paths)
        var output = ""
        for diagnostic in result.ioErrors + result.diagnostics where diagnostic.severity == .error {
            output += diagnostic.description + "\n"
        }
        if !result.ioErrors.isEmpty { return (output, .usage) }
        if result.errorCount > 0 {
            output += "invalid objects are left out of the table (mizzen validate shows every problem)\n"
        }
        let proxy: ProxyIdentity
        switch selection {
        case .proxy(let identity):
            proxy = identity
        case .gatewayObject(let namespace, let name):
            guard let gateway = result.snapshot.gateways.first(where: { $0.namespace == namespace && $0.name == name }) else {
                return (output + "no Gateway \(namespace)/\(name) was loaded\n", .usage)
            }
            proxy = .gateway(namespace: namespace, labels: gateway.spec.selector ?? [:])
        }
        let table = RouteTable.compile(result.snapshot, for: proxy)
        guard let request else {
            output += json ? RouteTableReport.json(table) : RouteTableReport.text(table)
            return (output, .valid)
        }
        guard let attributes = Self.attributes(request) else {
            return (output + "cannot read the request URL \"\(request.url)\"; write it as 'GET https://host[:port]/path?query'\n", .usage)
        }
        let (decision, reasons) = table.explain(attributes, random: random)
        if json {
            output += RouteTableReport.json(decision: decision, reasons: reasons, request: attributes)
        } else {
            output += "request: \(attributes.method) \(attributes.scheme)://\(attributes.authority)\(attributes.path)\(attributes.query.isEmpty ? "" : "?" + attributes.query) on port \(attributes.port)"
            for header in attributes.headers { output += "\n  \(header.name): \(header.value)" }
            output += "\nproxy: \(proxy)\n"
            for reason in reasons { output += reason + "\n" }
        }
        return (output, .valid)
    }

    /// `https://host:8443/path?q` → method, scheme, authority, path, query and port (the URL's,
    /// else --port, else 80/443 by scheme).
    static func attributes(_ request: Request) -> RequestAttributes? {
        var rest = Substring(request.url)
        guard let schemeEnd = rest.firstRange(of: "://") else { return nil }
        let scheme = rest[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        rest = rest[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        guard !authority.isEmpty else { return nil }
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        var port = request.port
        if port == nil, !authority.hasSuffix("]"), let colon = authority.lastIndex(of: ":"), let number = UInt32(authority[authority.index(after: colon)...]) {
            port = number
        }
        let hostOnly = authority.split(separator: ":").first.map(String.init) ?? authority
        let headers = request.headers
        let serverName = request.serverName ?? (scheme == "https" ? hostOnly : nil)
        return RequestAttributes(method: request.method, scheme: scheme, authority: authority, target: target, headers: headers,
                                 port: port ?? (scheme == "https" ? 443 : 80), serverName: serverName)
    }
}

/// Renders a route table as a readable tree or JSON.
package enum RouteTableReport {
    package static func text(_ table: RouteTable) -> String {
        var lines = ["proxy: \(table.proxy)"]
        if table.listeners.isEmpty { lines.append("listeners: none (no Gateway selects this proxy, or no service ports)") }
        let sidecar = !table.proxy.isGateway
        for (inbound, listener) in table.listeners.map({ (false, $0) }) + table.inboundListeners.map({ (true, $0) }) {
            lines.append(sidecar ? "\(inbound ? "inbound" : "outbound") listener \(listener.port)" : "listener \(listener.port)")
            for server in listener.servers where server.gateway == nil && server.kind == .tlsPassthrough {
                for route in server.tlsRoutes {
                    lines.append("  tls route \(route.source): sni \(route.sniHosts.joined(separator: ", ")) -> \(destinations(route.destinations))")
                }
            }
            for server in listener.servers where server.gateway == nil && server.kind == .tcp {
                let sniffed = server.protocolName == RouteTable.sniffedProtocol ? " (when not HTTP)" : ""
                for route in server.tcpRoutes {
                    let addresses = route.destinationSubnets.isEmpty ? "any address" : route.destinationSubnets.joined(separator: ", ")
                    lines.append("  tcp route\(sniffed) \(route.source): \(addresses) -> \(destinations(route.destinations))")
                }
            }
            for server in listener.servers where server.gateway != nil {
                var line = "  server \(server.label): \(server.kind.rawValue) \(server.protocolName), hosts \(server.hosts.joined(separator: ", "))"
                if let mode = server.tls?.mode, server.kind != .http { line += ", tls \(mode.rawValue)" }
                if server.tls?.httpsRedirect == true { line += ", redirects to https" }
                lines.append(line)
                if let routes = server.httpRoutes { lines.append(contentsOf: configuration(routes, indent: "    ")) }
                for route in server.tlsRoutes {
                    lines.append("    tls route \(route.source): sni \(route.sniHosts.joined(separator: ", ")) -> \(destinations(route.destinations))")
                }
                for route in server.tcpRoutes {
                    lines.append("    tcp route \(route.source) -> \(destinations(route.destinations))")
                }
            }
            if let routes = listener.httpRoutes { lines.append(contentsOf: configuration(routes, indent: "  ")) }
        }
        if let passthrough = table.outboundPassthrough {
            lines.append("outbound connections no listener or route takes -> \(passthrough.destination.cluster)")
        }
        lines.append("clusters")
        for name in table.clusters.keys.sorted() {
            let cluster = table.clusters[name]!
            var line = "  \(name)"
            if !cluster.subsetLabels.isEmpty { line += " [\(cluster.subsetLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))]" }
            if let original = cluster.originalDestination {
                line += ": the original destination\(original.sourceAddress.map { ", from \($0)" } ?? "")"
            } else {
                line += cluster.serviceKnown ? ": endpoints \(cluster.endpoints.isEmpty ? "none" : cluster.endpoints.map { "\($0.address):\($0.port)" }.joined(separator: ", "))" : ": unknown service (503)"
            }
            if let source = cluster.policySource { line += "; policy from \(source)" }
            if let balancer = cluster.loadBalancer.configuredName { line += "; \(balancer)" }
            lines.append(line)
        }
        for problem in table.problems { lines.append("warning: \(problem)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func configuration(_ configuration: HTTPRouteConfiguration, indent: String) -> [String] {
        var lines = ["\(indent)route configuration \(configuration.name)"]
        for host in configuration.virtualHosts {
            lines.append("\(indent)  virtual host \(host.name): domains \(host.domains.joined(separator: ", "))\(host.requireTLS ? " (https only)" : "")")
            for (index, route) in host.routes.enumerated() {
                let conditions = route.matches.isEmpty ? "every request" : route.matches.map { match in
                    match.conditions.isEmpty ? "every request" : match.conditions.map(\.description).joined(separator: " and ")
                }.joined(separator: " | ")
                lines.append("\(indent)    route \(index) \(route.source): \(conditions) -> \(action(route.action))")
            }
        }
        return lines
    }

    static func action(_ action: Route.Action) -> String {
        switch action {
        case .forward(let weighted): return destinations(weighted)
        case .redirect(let redirect): return "redirect \(redirect.status)"
        case .directResponse(let response): return "respond \(response.status)"
        }
    }

    static func destinations(_ weighted: [WeightedCluster]) -> String {
        weighted.map { weighted.count > 1 ? "\($0.cluster) (\($0.weight))" : $0.cluster }.joined(separator: ", ")
    }

    package static func json(_ table: RouteTable) -> String {
        var listeners: [[String: Any]] = []
        for (inbound, listener) in table.listeners.map({ (false, $0) }) + table.inboundListeners.map({ (true, $0) }) {
            var servers: [[String: Any]] = []
            for server in listener.servers where server.gateway == nil && server.kind == .tcp {
                servers.append(["kind": "tcp", "tcpRoutes": server.tcpRoutes.map {
                    ["source": $0.source.description, "destinationSubnets": $0.destinationSubnets, "destinations": $0.destinations.map(weightedJSON)] as [String: Any]
                }])
            }
            for server in listener.servers where server.gateway != nil {
                var entry: [String: Any] = ["server": server.label, "kind": server.kind.rawValue, "protocol": server.protocolName, "hosts": server.hosts]
                if let routes = server.httpRoutes { entry["routeConfiguration"] = configurationJSON(routes) }
                if !server.tlsRoutes.isEmpty { entry["tlsRoutes"] = server.tlsRoutes.map { ["source": $0.source.description, "sniHosts": $0.sniHosts, "destinations": $0.destinations.map(weightedJSON)] as [String: Any] } }
                if !server.tcpRoutes.isEmpty { entry["tcpRoutes"] = server.tcpRoutes.map { ["source": $0.source.description, "destinations": $0.destinations.map(weightedJSON)] as [String: Any] } }
                servers.append(entry)
            }
            var entry: [String: Any] = ["port": Int(listener.port), "servers": servers]
            if !table.proxy.isGateway { entry["direction"] = inbound ? "inbound" : "outbound" }
            if let routes = listener.httpRoutes { entry["routeConfiguration"] = configurationJSON(routes) }
            listeners.append(entry)
        }
        let clusters = table.clusters.keys.sorted().map { name -> [String: Any] in
            let cluster = table.clusters[name]!
            var entry: [String: Any] = [
                "name": name, "host": cluster.serviceHost, "port": Int(cluster.port), "serviceKnown": cluster.serviceKnown,
                "endpoints": cluster.endpoints.map { ["address": $0.address, "port": Int($0.port), "labels": $0.labels, "weight": Int($0.weight)] as [String: Any] },
            ]
            if let subset = cluster.subset { entry["subset"] = subset; entry["subsetLabels"] = cluster.subsetLabels }
            if let source = cluster.policySource { entry["destinationRule"] = source }
            if let original = cluster.originalDestination {
                var description: [String: Any] = [:]
                if let source = original.sourceAddress { description["sourceAddress"] = source }
                entry["originalDestination"] = description
            }
            return entry
        }
        return serialize(["proxy": table.proxy.description, "listeners": listeners, "clusters": clusters, "problems": table.problems])
    }

    static func configurationJSON(_ configuration: HTTPRouteConfiguration) -> [String: Any] {
        ["name": configuration.name, "virtualHosts": configuration.virtualHosts.map { host in
            ["name": host.name, "domains": host.domains, "requireTLS": host.requireTLS, "routes": host.routes.map { route in
                var entry: [String: Any] = ["source": route.source.description, "matches": route.matches.map { $0.conditions.map(\.description) }]
                switch route.action {
                case .forward(let weighted): entry["destinations"] = weighted.map(weightedJSON)
                case .redirect(let redirect): entry["redirect"] = Int(redirect.status)
                case .directResponse(let response): entry["directResponse"] = Int(response.status)
                }
                return entry
            }] as [String: Any]
        }]
    }

    static func weightedJSON(_ weighted: WeightedCluster) -> [String: Any] {
        ["cluster": weighted.cluster, "weight": Int(weighted.weight)]
    }

    package static func json(decision: RouteDecision, reasons: [String], request: RequestAttributes) -> String {
        var object: [String: Any] = ["reasons": reasons, "port": Int(request.port)]
        switch decision.outcome {
        case .forward(let weighted): object["outcome"] = "forward"; object["cluster"] = weighted.cluster
        case .redirect(let redirect): object["outcome"] = "redirect"; object["status"] = Int(redirect.status)
        case .directResponse(let response): object["outcome"] = "directResponse"; object["status"] = Int(response.status)
        case .httpsRedirect: object["outcome"] = "httpsRedirect"; object["status"] = 301
        case .noRoute: object["outcome"] = "noRoute"; object["status"] = 404
        }
        if let host = decision.virtualHost { object["virtualHost"] = host.name }
        if let route = decision.route { object["route"] = route.source.description }
        if let server = decision.server, server.gateway != nil { object["server"] = server.label }
        return serialize(object)
    }

    static func serialize(_ object: [String: Any]) -> String {
        JSONText.serialize(object, escapingSlashes: false) + "\n"
    }
}
