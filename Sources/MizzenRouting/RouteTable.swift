package import MizzenConfig

/// The compiled, immutable routing state of one proxy: listeners by port, their servers, route
/// configurations (virtual hosts and ordered routes with compiled matchers), and clusters with
/// their subsets, endpoints and traffic policy. Built by `RouteTable.compile`; never mutated, so
/// it can be shared by every event loop and swapped whole.
package final class RouteTable: Sendable {
    package let proxy: ProxyIdentity
    package let listeners: [Listener]
    /// A sidecar's inbound side, by the pod port a captured connection was sent to (the
    /// listeners above are its outbound side, by the destination's port). Empty for a gateway.
    package let inboundListeners: [Listener]
    /// A sidecar's decision for outbound connections no listener or route claims: to
    /// `PassthroughCluster` (ALLOW_ANY) or `BlackHoleCluster` (REGISTRY_ONLY). Nil at a gateway.
    package let outboundPassthrough: ConnectionDecision?
    /// A sidecar's decision for inbound connections to a port no service declares:
    /// `InboundPassthroughCluster`. Nil at a gateway.
    package let inboundPassthrough: ConnectionDecision?
    /// A sidecar's PeerAuthentication: how its inbound ports take mutual TLS. Nil at a gateway.
    package let inboundPeerAuthentication: EffectivePeerAuthentication?
    package let clusters: [String: UpstreamCluster]
    /// Problems met while compiling (skipped servers, unknown delegates...): warnings, as
    /// `istioctl analyze` would print.
    package let problems: [String]
    let listenerIndex: [UInt32: Int]
    let inboundIndex: [UInt32: Int]

    init(proxy: ProxyIdentity, listeners: [Listener], inboundListeners: [Listener] = [], unmatchedOutboundCluster: String? = nil,
         inboundPeerAuthentication: EffectivePeerAuthentication? = nil, clusters: [String: UpstreamCluster], problems: [String]) {
        self.proxy = proxy
        self.inboundPeerAuthentication = inboundPeerAuthentication
        self.outboundPassthrough = unmatchedOutboundCluster.map { Self.passthroughDecision(cluster: $0) }
        self.inboundPassthrough = unmatchedOutboundCluster == nil ? nil : Self.passthroughDecision(cluster: Self.inboundPassthroughCluster)
        self.listeners = listeners.sorted { $0.port < $1.port }
        self.inboundListeners = inboundListeners.sorted { $0.port < $1.port }
        var inbound: [UInt32: Int] = [:]
        for (position, listener) in self.inboundListeners.enumerated() { inbound[listener.port] = position }
        self.inboundIndex = inbound
        self.clusters = clusters
        self.problems = problems
        var index: [UInt32: Int] = [:]
        for (position, listener) in self.listeners.enumerated() { index[listener.port] = position }
        self.listenerIndex = index
    }

    package func listener(port: UInt32) -> Listener? {
        listenerIndex[port].map { listeners[$0] }
    }

    package func inboundListener(port: UInt32) -> Listener? {
        inboundIndex[port].map { inboundListeners[$0] }
    }

    /// Istio's clusters for traffic no service claims, at a sidecar: the outbound
    /// `PassthroughCluster` (to the original destination) and `BlackHoleCluster` (nowhere,
    /// `outboundTrafficPolicy: REGISTRY_ONLY`), the inbound `InboundPassthroughCluster`.
    package static let passthroughCluster = "PassthroughCluster"
    package static let blackHoleCluster = "BlackHoleCluster"
    package static let inboundPassthroughCluster = "InboundPassthroughCluster"
    /// The protocol name of a sidecar listener's TCP routes for services of undeclared
    /// protocol: they take a connection only once sniffing found it is not HTTP.
    package static let sniffedProtocol = "AUTO"
}

/// A port the proxy listens on and the servers that share it.
package final class Listener: Sendable {
    package let port: UInt32
    package let servers: [ServerEntry]
    /// Routes of the plain-HTTP servers on this port, which Istio merges into one table.
    package let httpRoutes: HTTPRouteConfiguration?
    /// Whether a server terminates TLS here, so requests pick their server by SNI.
    let terminatesTLS: Bool

    init(port: UInt32, servers: [ServerEntry], httpRoutes: HTTPRouteConfiguration?) {
        self.port = port
        self.servers = servers
        self.httpRoutes = httpRoutes
        self.terminatesTLS = servers.contains { $0.kind == .https }
    }
}

/// One Gateway server (or, for a sidecar, one service port) on a listener.
package final class ServerEntry: Sendable {
    package enum Kind: String, Sendable {
        /// Plain HTTP (and HTTP2/gRPC cleartext): routed by `http` routes.
        case http
        /// TLS terminated, then `http` routes.
        case https
        /// TLS passed through untouched, routed by SNI with `tls` routes.
        case tlsPassthrough = "tls-passthrough"
        /// TLS terminated, then `tcp` routes.
        case tlsTerminated = "tls-terminated"
        /// Plain TCP: `tcp` routes.
        case tcp
    }

    package let gateway: ObjectReference?
    package let index: Int
    package let name: String?
    package let kind: Kind
    package let protocolName: String
    /// Server hosts as written (`ns/host` forms kept).
    package let hosts: [String]
    /// The DNS names of `hosts`, for SNI selection.
    package let serverNames: [String]
    package let bind: String?
    package let tls: ServerTLSSettings?
    /// `tls` compiled for a server that terminates TLS (`https`, `tls-terminated`).
    package let terminatingTLS: ServerTLSSpec?
    /// For `https`: this server's own route configuration.
    package let httpRoutes: HTTPRouteConfiguration?
    package let tcpRoutes: [L4Route]
    package let tlsRoutes: [L4Route]

    init(gateway: ObjectReference?, index: Int, name: String?, kind: Kind, protocolName: String, hosts: [String], serverNames: [String],
         bind: String?, tls: ServerTLSSettings?, httpRoutes: HTTPRouteConfiguration?, tcpRoutes: [L4Route], tlsRoutes: [L4Route]) {
        self.gateway = gateway
        self.index = index
        self.name = name
        self.kind = kind
        self.protocolName = protocolName
        self.hosts = hosts
        self.serverNames = serverNames
        self.bind = bind
        self.tls = tls
        if let tls, kind == .https || kind == .tlsTerminated {
            terminatingTLS = ServerTLSSpec(tls, alpn: kind == .https ? ["h2", "http/1.1"] : [])
        } else {
            terminatingTLS = nil
        }
        self.httpRoutes = httpRoutes
        self.tcpRoutes = tcpRoutes
        self.tlsRoutes = tlsRoutes
    }

    /// The same server carrying its routes.
    func with(httpRoutes: HTTPRouteConfiguration? = nil, tcpRoutes: [L4Route] = [], tlsRoutes: [L4Route] = []) -> ServerEntry {
        ServerEntry(gateway: gateway, index: index, name: name, kind: kind, protocolName: protocolName, hosts: hosts, serverNames: serverNames,
                    bind: bind, tls: tls, httpRoutes: httpRoutes, tcpRoutes: tcpRoutes, tlsRoutes: tlsRoutes)
    }

    package var label: String {
        if let gateway { return "\(gateway.namespace)/\(gateway.name) servers[\(index)]" }
        return "servers[\(index)]"
    }
}

/// Virtual hosts by domain: an exact-name hash first, then wildcard suffixes (longest first),
/// then `*`. Envoy's domain search order, which Istio relies on.
///
/// Route configurations, virtual hosts and routes are final classes: a decision hands them out
/// by reference (copying the structs cost a fifth of a Bookinfo decision in memmove and retains).
package final class HTTPRouteConfiguration: Sendable {
    package let name: String
    package let virtualHosts: [VirtualHost]
    let exact: [String: Int]
    /// `(".example.com", index)` for `*.example.com`, longest suffix first.
    let suffixes: [(suffix: String, index: Int)]
    let catchAll: Int?

    /// The same configuration with other virtual hosts for the same domains, in the same order:
    /// the domain index is this one's.
    func replacingVirtualHosts(_ hosts: [VirtualHost]) -> HTTPRouteConfiguration {
        HTTPRouteConfiguration(name: name, virtualHosts: hosts, exact: exact, suffixes: suffixes, catchAll: catchAll)
    }

    private init(name: String, virtualHosts: [VirtualHost], exact: [String: Int], suffixes: [(suffix: String, index: Int)], catchAll: Int?) {
        self.name = name
        self.virtualHosts = virtualHosts
        self.exact = exact
        self.suffixes = suffixes
        self.catchAll = catchAll
    }

    init(name: String, virtualHosts: [VirtualHost]) {
        self.name = name
        self.virtualHosts = virtualHosts
        var exact: [String: Int] = [:]
        var suffixes: [(String, Int)] = []
        var catchAll: Int?
        for (index, host) in virtualHosts.enumerated() {
            for domain in host.domains {
                if domain == "*" {
                    if catchAll == nil { catchAll = index }
                } else if domain.hasPrefix("*") {
                    suffixes.append((String(domain.dropFirst()), index))
                } else if exact[domain] == nil {
                    exact[domain] = index
                }
            }
        }
        self.exact = exact
        self.suffixes = suffixes.sorted { $0.0.count > $1.0.count }
        self.catchAll = catchAll
    }

    /// The virtual host for a (lower-case, port-less) host name.
    package func virtualHost(for host: String) -> VirtualHost? {
        if let index = exact[host] { return virtualHosts[index] }
        for entry in suffixes where host.hasSuffix(entry.suffix) && host.count > entry.suffix.count {
            return virtualHosts[entry.index]
        }
        return catchAll.map { virtualHosts[$0] }
    }
}

/// The routes for a set of domains.
package final class VirtualHost: Sendable {
    package let name: String
    package let domains: [String]
    package let routes: [Route]
    /// The server answers every request with a redirect to https (`tls.httpsRedirect`).
    package let requireTLS: Bool
    /// Its routes with settings this data plane does not apply, found once: a publish that
    /// reports them walks the hosts, not their routes.
    package let routesWithUnappliedSettings: [Route]

    init(name: String, domains: [String], routes: [Route], requireTLS: Bool) {
        self.name = name
        self.domains = domains
        self.routes = routes
        self.requireTLS = requireTLS
        routesWithUnappliedSettings = routes.filter { !$0.unappliedSettings.isEmpty }
    }
}

/// Where a compiled route came from, for explanations and metrics labels.
package struct RouteSource: Sendable, Hashable, CustomStringConvertible {
    package var virtualService: ObjectReference
    /// Index in the VirtualService's `http` (or `tcp`/`tls`) list.
    package var index: Int
    package var name: String?
    /// For a route reached through delegation, the delegate and its index.
    package var delegate: ObjectReference?
    package var delegateIndex: Int?

    package var description: String {
        var text = "\(virtualService) http[\(index)]"
        if let name { text += " \"\(name)\"" }
        if let delegate, let delegateIndex { text += " via \(delegate) http[\(delegateIndex)]" }
        return text
    }
}

/// One compiled HTTP route: OR'ed matches, and what to do when one matches.
package final class Route: Sendable {
    package enum Action: Sendable {
        case forward([WeightedCluster])
        case redirect(RedirectAction)
        case directResponse(DirectResponseAction)
    }

    package let source: RouteSource
    /// Empty means every request.
    package let matches: [RouteMatch]
    package let action: Action
    /// The route as written: timeouts, retries, faults, rewrites, headers, CORS, mirrors.
    package var config: HTTPRoute { rules[ruleIndex] }
    /// The VirtualService's rules the route was compiled from (shared with the decoded object,
    /// not copied: a rule is 672 bytes, and 10,000 VirtualServices make 30,000 routes).
    private let rules: [HTTPRoute]
    private let ruleIndex: Int
    /// The same, compiled for the data plane.
    package let policy: RoutePolicy
    package let isCatchAll: Bool
    /// Settings of the route this data plane does not act on, said in the log (empty nearly
    /// always): found once, when the route is compiled.
    package let unappliedSettings: [String]

    convenience init(source: RouteSource, matches: [RouteMatch], action: Action, config: HTTPRoute, policy: RoutePolicy = .plain) {
        self.init(source: source, matches: matches, action: action, rules: [config], index: 0, policy: policy)
    }

    /// The route of `rules[index]`.
    init(source: RouteSource, matches: [RouteMatch], action: Action, rules: [HTTPRoute], index: Int, policy: RoutePolicy = .plain) {
        self.source = source
        self.matches = matches
        self.action = action
        self.rules = rules
        self.ruleIndex = index
        self.policy = policy
        self.unappliedSettings = Self.unappliedSettings(rules[index])
        // The compiler ends a route at its first catch-all match and gives that match a route
        // of its own, so a catch-all route is one of a single catch-all match (or of none).
        self.isCatchAll = matches.isEmpty || (matches.count == 1 && matches[0].isCatchAll)
    }

    static func unappliedSettings(_ config: HTTPRoute) -> [String] {
        var settings: [String] = []
        if let retries = config.retries {
            if retries.retryRemoteLocalities == true { settings.append("retries.retryRemoteLocalities (endpoints carry no locality)") }
            if retries.retryOn?.split(separator: ",").contains("retriable-headers") == true {
                settings.append("retries.retryOn retriable-headers (no retriable headers can be configured through Istio)")
            }
        }
        if let fault = config.fault {
            if fault.abort?.http2Error != nil { settings.append("fault.abort.http2Error") }
            if fault.delay?.exponentialDelay != nil { settings.append("fault.delay.exponentialDelay (applied as a fixed delay)") }
        }
        return settings
    }

    /// The index of the first match that takes the request (0 for a route without matches).
    package func matchIndex(_ request: RequestAttributes) -> Int? {
        if matches.isEmpty { return 0 }
        var index = 0
        while index < matches.count {
            if matches[index].matches(request) { return index }
            index += 1
        }
        return nil
    }
}

/// A destination of a route and its relative weight.
package final class WeightedCluster: Sendable {
    package let cluster: String
    package let weight: UInt32
    package let destination: Destination
    package let headers: Headers?
    /// `headers` compiled: applied before the route's own edits (the route's win).
    package let requestHeaders: HeaderMutation
    package let responseHeaders: HeaderMutation

    init(cluster: String, weight: UInt32, destination: Destination, headers: Headers?) {
        self.cluster = cluster
        self.weight = weight
        self.destination = destination
        self.headers = headers
        self.requestHeaders = HeaderMutation(headers?.request)
        self.responseHeaders = HeaderMutation(headers?.response)
    }
}

/// A TCP or TLS route: match conditions checked per connection, and weighted destinations.
package struct L4Route: Sendable {
    package var source: RouteSource
    /// TLS: server names (exact or `*.` wildcard); empty for TCP.
    package var sniHosts: [String]
    package var destinationSubnets: [String]
    package var port: UInt32?
    package var destinations: [WeightedCluster]
}

/// The traffic policy in force for a cluster, after Istio's merging of DestinationRule,
/// subset and port-level settings, as written; `UpstreamCluster.compile` turns it into values.
struct ClusterPolicy: Sendable {
    var destinationRule: ObjectReference?
    var loadBalancer: LoadBalancerSettings?
    var connectionPool: ConnectionPoolSettings?
    var outlierDetection: OutlierDetection?
    var tls: ClientTLSSettings?

    static let none = ClusterPolicy()
}

/// Istio's `redirect`, compiled: each part of the URL replaced when set, the query kept.
package struct RedirectAction: Sendable, Hashable {
    package enum DerivePort: Sendable, Hashable {
        /// The port the request came to (Istio programs the listener's port).
        case fromRequestPort
        /// No port: the scheme's default.
        case fromProtocolDefault
    }

    package var uri: String?
    package var authority: String?
    package var port: UInt32?
    package var derivePort: DerivePort?
    package var scheme: String?
    /// `redirectCode`, 301 when unset.
    package var status: UInt

    init(_ redirect: HTTPRedirect) {
        uri = redirect.uri
        authority = redirect.authority
        port = redirect.port
        derivePort = redirect.derivePort.map { $0 == .fromRequestPort ? .fromRequestPort : .fromProtocolDefault }
        scheme = redirect.scheme
        status = UInt(redirect.redirectCode ?? 301)
    }
}

/// Istio's `directResponse`, compiled: the status (200 when unset) and the body bytes (a
/// `bytes` body decoded from base64).
package struct DirectResponseAction: Sendable, Hashable {
    package var status: UInt
    package var body: [UInt8]

    init(status: UInt, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    init(_ response: HTTPDirectResponse) {
        status = UInt(response.status ?? 200)
        if let string = response.body?.string {
            body = Array(string.utf8)
        } else if let bytes = response.body?.bytes, let decoded = Base64.decode(bytes) {
            body = decoded
        } else {
            body = []
        }
    }
}
