import MizzenConfig

/// The protocol Istio gives a service port at a sidecar (`protocol.Parse` of the port's
/// `appProtocol` or name prefix): HTTP-family ports are routed by Host, TCP-family ones by
/// the destination address, the others are sniffed (HTTP if the first bytes say so, else TCP).
enum SidecarPortProtocol: Sendable, Equatable {
    case http
    case tcp
    /// TLS the sidecar does not terminate (TLS, HTTPS ports): by SNI with `tls` routes, else as TCP.
    case tls
    case auto

    init(_ name: String?) {
        guard let name else {
            self = .auto
            return
        }
        switch name.uppercased() {
        case "HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB", "H2C", "KUBERNETES.IO/H2C": self = .http
        case "TLS", "HTTPS": self = .tls
        case "TCP", "MONGO", "MYSQL", "REDIS": self = .tcp
        default: self = .auto
        }
    }
}

extension RouteTableCompiler {
    /// A sidecar's outbound listeners, one per port some visible service declares:
    /// - HTTP and undeclared ports: a virtual host per service (its FQDN, short forms, VIPs),
    ///   routed by the first `mesh` VirtualService for the host in Istio's precedence order, or
    ///   straight to the service; then Istio's `allow_any` (to `PassthroughCluster`) or
    ///   `block_all` (502) virtual host for any other Host;
    /// - TCP ports: a TCP route per service VIP, by the first `mesh` VirtualService's `tcp`
    ///   routes for the host, or to the service.
    /// Destinations on no listener go to `PassthroughCluster` (or `BlackHoleCluster`).
    mutating func compileSidecarListeners() -> [Listener] {
        let namespace = proxy.namespace
        let imports = EgressImports(sidecarScope, proxyNamespace: namespace)
        let meshServices = registry.allServices.filter {
            $0.isVisible(from: namespace) && !$0.hostname.hasPrefix("*") && imports.imports(namespace: $0.namespace, host: $0.hostname)
        }
        var ports: Set<UInt32> = []
        for service in meshServices { for port in service.ports { ports.insert(port.number) } }
        let meshVirtualServices = virtualServices.filter { vs in
            let gateways = vs.spec.gateways ?? []
            return (gateways.isEmpty || gateways.contains("mesh")) && !(vs.spec.hosts ?? []).isEmpty
                && Self.isVisible(exportTo: vs.spec.exportTo, owner: vs.namespace, from: namespace)
                && (vs.spec.hosts ?? []).contains { imports.imports(namespace: vs.namespace, host: ServiceRegistry.expand($0, namespace: vs.namespace)) }
        }
        addPassthroughClusters()
        var listeners: [Listener] = []
        for port in ports.sorted() {
            var hosts: [VirtualHost] = []
            var tcpRoutes: [L4Route] = []
            var tlsRoutes: [L4Route] = []
            var sniffedRoutes: [L4Route] = []
            for service in meshServices {
                guard let servicePort = service.port(port), imports.imports(namespace: service.namespace, host: service.hostname, port: port) else { continue }
                // The first VirtualService claiming the host wins at a sidecar; no merging.
                let claimants = meshVirtualServices.filter { vs in
                    (vs.spec.hosts ?? []).contains { HostName.matches(ServiceRegistry.expand($0, namespace: vs.namespace), service.hostname) }
                }
                let owner = claimants.first
                if let owner {
                    for shadowed in claimants.dropFirst() where shadowedReported.insert("\(shadowed.reference)|\(service.hostname)").inserted {
                        problems.append("\(shadowed.reference): not used for \(service.hostname) at this sidecar: \(owner.reference) claims it first "
                                        + "(private to the namespace, then exported to it, then public; each oldest first)")
                    }
                }
                let subnets = service.addresses.map(Self.hostSubnet)
                let kind = SidecarPortProtocol(servicePort.protocolName)
                if kind == .tls, let owner {
                    let routes = sidecarTLSRoutes(owner, port: port)
                    if !routes.isEmpty {
                        tlsRoutes += routes
                        continue
                    }
                }
                if kind == .tcp || kind == .tls {
                    // A service without a VIP is reached only through the passthrough.
                    guard !subnets.isEmpty else { continue }
                    tcpRoutes.append(sidecarTCPRoute(service, port: port, owner: owner, subnets: subnets))
                    continue
                }
                if kind == .auto, !subnets.isEmpty {
                    // Not HTTP after sniffing: TCP to the service by its VIP.
                    sniffedRoutes.append(sidecarTCPRoute(service, port: port, owner: owner, subnets: subnets))
                }
                var routes: [Route]
                if let owner {
                    // In the VirtualService's order: a sidecar does not move catch-alls last
                    // (Istio sorts only a gateway's merged routes).
                    routes = compileHTTPRoutes(owner, gateway: nil, port: port)
                } else {
                    let name = clusterName(host: service.hostname, subset: nil, explicitPort: port, listenerPort: port, namespace: namespace)
                    let destination = Destination(host: service.hostname, port: port)
                    routes = [Route(source: RouteSource(virtualService: ObjectReference(kind: "Service", namespace: service.namespace, name: service.hostname), index: 0, name: "default"),
                                    matches: [], action: .forward([WeightedCluster(cluster: name, weight: 100, destination: destination, headers: nil)]), config: .plain)]
                }
                hosts.append(VirtualHost(name: "\(service.hostname):\(port)", domains: sidecarDomains(service, port: port), routes: routes, requireTLS: false))
            }
            var servers: [ServerEntry] = []
            if !tlsRoutes.isEmpty {
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .tlsPassthrough, protocolName: "TLS", hosts: [],
                                           serverNames: tlsRoutes.flatMap(\.sniHosts), bind: nil, tls: nil, httpRoutes: nil, tcpRoutes: [], tlsRoutes: tlsRoutes))
            }
            if !tcpRoutes.isEmpty {
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .tcp, protocolName: "TCP", hosts: [], serverNames: [], bind: nil, tls: nil,
                                           httpRoutes: nil, tcpRoutes: tcpRoutes, tlsRoutes: []))
            }
            if !sniffedRoutes.isEmpty {
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .tcp, protocolName: RouteTable.sniffedProtocol, hosts: [], serverNames: [],
                                           bind: nil, tls: nil, httpRoutes: nil, tcpRoutes: sniffedRoutes, tlsRoutes: []))
            }
            var configuration: HTTPRouteConfiguration?
            if !hosts.isEmpty {
                hosts.append(outboundCatchAll(port: port))
                configuration = HTTPRouteConfiguration(name: "\(port)", virtualHosts: hosts)
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .http, protocolName: "HTTP", hosts: [], serverNames: [], bind: nil,
                                           tls: nil, httpRoutes: nil, tcpRoutes: [], tlsRoutes: []))
            }
            // A port none of whose services is imported has no listener: its traffic passes through.
            guard !servers.isEmpty else { continue }
            listeners.append(Listener(port: port, servers: servers, httpRoutes: configuration))
        }
        return listeners
    }

    /// A TCP service port at a sidecar: the first `tcp` route of the owning VirtualService that
    /// applies to the port (and to `mesh`), else the service itself.
    mutating func sidecarTCPRoute(_ service: RegistryService, port: UInt32, owner: ConfigResource<VirtualService>?, subnets: [String]) -> L4Route {
        if let owner {
            for (index, route) in (owner.spec.tcp ?? []).enumerated() {
                let matches = route.match ?? []
                let applies = matches.isEmpty || matches.contains { match in
                    (match.port == nil || match.port == 0 || match.port == port)
                        && ((match.gateways ?? []).isEmpty || (match.gateways ?? []).contains("mesh"))
                }
                guard applies else { continue }
                let destinations = weightedClusters((route.route ?? []).map { ($0.destination, $0.weight, nil) }, namespace: owner.namespace, port: port)
                return L4Route(source: RouteSource(virtualService: owner.reference, index: index), sniHosts: [], destinationSubnets: subnets, port: port,
                               destinations: destinations)
            }
        }
        let name = clusterName(host: service.hostname, subset: nil, explicitPort: port, listenerPort: port, namespace: proxy.namespace)
        return L4Route(source: RouteSource(virtualService: ObjectReference(kind: "Service", namespace: service.namespace, name: service.hostname), index: 0, name: "default"),
                       sniHosts: [], destinationSubnets: subnets, port: port,
                       destinations: [WeightedCluster(cluster: name, weight: 100, destination: Destination(host: service.hostname, port: port), headers: nil)])
    }

    /// The `tls` routes of a `mesh` VirtualService for a port: by SNI, first claim wins.
    mutating func sidecarTLSRoutes(_ vs: ConfigResource<VirtualService>, port: UInt32) -> [L4Route] {
        var routes: [L4Route] = []
        for (index, route) in (vs.spec.tls ?? []).enumerated() {
            for match in route.match ?? [] {
                if let matchPort = match.port, matchPort != 0, matchPort != port { continue }
                if let gateways = match.gateways, !gateways.isEmpty, !gateways.contains("mesh") { continue }
                let sni = (match.sniHosts ?? []).map { $0.lowercased() }
                guard !sni.isEmpty else { continue }
                let destinations = weightedClusters((route.route ?? []).map { ($0.destination, $0.weight, nil) }, namespace: vs.namespace, port: port)
                routes.append(L4Route(source: RouteSource(virtualService: vs.reference, index: index), sniHosts: sni,
                                      destinationSubnets: match.destinationSubnets ?? [], port: port, destinations: destinations))
            }
        }
        return routes
    }

    /// Istio's last virtual host on a sidecar's HTTP route configuration: `allow_any` sends any
    /// other Host to `PassthroughCluster`; `block_all` (REGISTRY_ONLY) answers 502.
    func outboundCatchAll(port: UInt32) -> VirtualHost {
        let source = ObjectReference(kind: "MeshConfig", namespace: proxy.namespace, name: "outboundTrafficPolicy")
        switch outboundTrafficPolicy {
        case .allowAny:
            let passthrough = WeightedCluster(cluster: RouteTable.passthroughCluster, weight: 100,
                                              destination: Destination(host: RouteTable.passthroughCluster, port: port), headers: nil)
            let route = Route(source: RouteSource(virtualService: source, index: 0, name: "allow_any"), matches: [], action: .forward([passthrough]), config: .plain)
            return VirtualHost(name: "allow_any", domains: ["*"], routes: [route], requireTLS: false)
        case .registryOnly:
            let route = Route(source: RouteSource(virtualService: source, index: 0, name: "block_all"), matches: [],
                              action: .directResponse(DirectResponseAction(status: 502, body: [])), config: .plain)
            return VirtualHost(name: "block_all", domains: ["*"], routes: [route], requireTLS: false)
        }
    }

    /// `PassthroughCluster` (original destination), `BlackHoleCluster` (no endpoints) and
    /// `InboundPassthroughCluster` (original destination from 127.0.0.6).
    mutating func addPassthroughClusters() {
        clusters[RouteTable.passthroughCluster] = UpstreamCluster(
            name: RouteTable.passthroughCluster, serviceHost: RouteTable.passthroughCluster, port: 0, subset: nil, subsetLabels: [:], serviceKnown: true,
            endpoints: [], originalDestination: OriginalDestinationPolicy(sourceAddress: nil))
        clusters[RouteTable.blackHoleCluster] = UpstreamCluster(
            name: RouteTable.blackHoleCluster, serviceHost: RouteTable.blackHoleCluster, port: 0, subset: nil, subsetLabels: [:], serviceKnown: true, endpoints: [])
        clusters[RouteTable.inboundPassthroughCluster] = UpstreamCluster(
            name: RouteTable.inboundPassthroughCluster, serviceHost: RouteTable.inboundPassthroughCluster, port: 0, subset: nil, subsetLabels: [:],
            serviceKnown: true, endpoints: [], originalDestination: OriginalDestinationPolicy(sourceAddress: OriginalDestinationPolicy.inboundSourceIPv4))
    }

    /// The cluster a sidecar sends traffic no service claims to.
    var unmatchedOutboundCluster: String {
        outboundTrafficPolicy == .allowAny ? RouteTable.passthroughCluster : RouteTable.blackHoleCluster
    }

    /// `reviews.default.svc.cluster.local`, `reviews.default.svc`, `reviews.default`, `reviews`
    /// (from the same namespace), the service's VIPs; with and without `:port`.
    func sidecarDomains(_ service: RegistryService, port: UInt32) -> [String] {
        var names = [service.hostname]
        let suffix = ".svc.cluster.local"
        if service.hostname.hasSuffix(suffix) {
            let base = String(service.hostname.dropLast(suffix.count))
            names.append(base + ".svc")
            names.append(base)
            if service.namespace == proxy.namespace, let short = base.split(separator: ".").first { names.append(String(short)) }
        }
        names.append(contentsOf: service.addresses.filter { !$0.contains("/") })
        return names.flatMap { [$0, "\($0):\(port)"] }
    }

    static func hostSubnet(_ address: String) -> String {
        if address.contains("/") { return address }
        return address.contains(":") ? "\(address)/128" : "\(address)/32"
    }

    // MARK: - Inbound

    /// A sidecar's inbound listeners: one per port of the pod that a service selecting the pod
    /// (Kubernetes Service `selector`, ServiceEntry `workloadSelector`, in the pod's namespace)
    /// targets, each to the cluster `inbound|PORT||`, which reaches the application at the
    /// address the connection was sent to, from 127.0.0.6. HTTP ports (and undeclared ones that
    /// turn out to carry HTTP) go through the HTTP exchange, so requests are counted with
    /// `reporter="destination"`; TCP ports are proxied. Other ports go to
    /// `InboundPassthroughCluster`.
    mutating func compileInboundListeners() -> [Listener] {
        let namespace = proxy.namespace
        let labels = proxy.labels
        let selecting = registry.allServices.filter { service in
            guard service.namespace == namespace, let selector = service.selector, !selector.isEmpty else { return false }
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }
        addPassthroughClusters()
        if let ingress = sidecarScope?.spec.ingress, !ingress.isEmpty {
            return sidecarIngressListeners(ingress, selecting: selecting)
        }
        // The first service (by host name) to declare a pod port names its protocol and
        // service, as Istio's inbound cluster metadata takes the first.
        var ports: [UInt32: (service: RegistryService, port: ServicePortSpec)] = [:]
        for service in selecting {
            for port in service.ports {
                let target = port.targetPort ?? port.number
                if ports[target] == nil { ports[target] = (service, port) }
            }
        }
        var listeners: [Listener] = []
        for (target, owner) in ports.sorted(by: { $0.key < $1.key }) {
            let name = "inbound|\(target)||"
            let identity = (owner.service.origin == .kubernetes ? owner.service.source.name : owner.service.hostname, owner.service.namespace)
            clusters[name] = UpstreamCluster.compile(
                name: name, serviceHost: owner.service.hostname, service: identity, port: target, subset: nil, subsetLabels: [:], serviceKnown: true,
                endpoints: [], protocolName: owner.port.protocolName, policy: .none,
                originalDestination: OriginalDestinationPolicy(sourceAddress: OriginalDestinationPolicy.inboundSourceIPv4))
            let source = RouteSource(virtualService: ObjectReference(kind: "Service", namespace: owner.service.namespace, name: owner.service.hostname), index: 0, name: "default")
            let destination = WeightedCluster(cluster: name, weight: 100, destination: Destination(host: owner.service.hostname, port: target), headers: nil)
            let kind = SidecarPortProtocol(owner.port.protocolName)
            var servers: [ServerEntry] = []
            var configuration: HTTPRouteConfiguration?
            if kind != .http {
                let route = L4Route(source: source, sniHosts: [], destinationSubnets: [], port: target, destinations: [destination])
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .tcp, protocolName: "TCP", hosts: [], serverNames: [], bind: nil,
                                           tls: nil, httpRoutes: nil, tcpRoutes: [route], tlsRoutes: []))
            }
            if kind != .tcp {
                let route = Route(source: source, matches: [], action: .forward([destination]), config: .plain)
                let host = VirtualHost(name: "inbound|http|\(target)", domains: ["*"], routes: [route], requireTLS: false)
                configuration = HTTPRouteConfiguration(name: "inbound|\(target)||", virtualHosts: [host])
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .http, protocolName: "HTTP", hosts: [], serverNames: [], bind: nil,
                                           tls: nil, httpRoutes: nil, tcpRoutes: [], tlsRoutes: []))
            }
            listeners.append(Listener(port: target, servers: servers, httpRoutes: configuration))
        }
        return listeners
    }

    /// A Sidecar's `ingress` listeners replace the ports the services give: each port goes to
    /// `inbound|PORT||`, which reaches the application at `defaultEndpoint` (`127.0.0.1:P`,
    /// `[::1]:P`: that address; `0.0.0.0:P`, `[::]:P`: the pod's address on port P; unset: the
    /// original destination), from 127.0.0.6 unless it is the loopback.
    mutating func sidecarIngressListeners(_ ingress: [Sidecar.IngressListener], selecting: [RegistryService]) -> [Listener] {
        var listeners: [Listener] = []
        for listener in ingress {
            guard let number = listener.port?.number, number > 0 else { continue }
            let name = "inbound|\(number)||"
            let owner = selecting.first { service in service.ports.contains { ($0.targetPort ?? $0.number) == number } }
            var endpoints: [ClusterEndpoint] = []
            var original: OriginalDestinationPolicy? = OriginalDestinationPolicy(sourceAddress: OriginalDestinationPolicy.inboundSourceIPv4)
            if let endpoint = listener.defaultEndpoint, !endpoint.isEmpty, !endpoint.hasPrefix("unix://"), let colon = endpoint.lastIndex(of: ":"),
               let port = UInt32(endpoint[endpoint.index(after: colon)...]) {
                var host = String(endpoint[..<colon])
                if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                if host == "127.0.0.1" || host == "::1" {
                    endpoints = [ClusterEndpoint(address: host, port: port, labels: [:], weight: 1)]
                    original = nil
                } else {
                    original = OriginalDestinationPolicy(sourceAddress: OriginalDestinationPolicy.inboundSourceIPv4, port: port)
                }
            } else if listener.defaultEndpoint?.hasPrefix("unix://") == true {
                problems.append("Sidecar \(sidecarScope.map { "\($0.namespace)/\($0.name)" } ?? "") ingress port \(number): unix socket endpoints are not supported; original destination used")
            }
            let host = owner?.hostname ?? name
            let identity = owner.map { ($0.origin == .kubernetes ? $0.source.name : $0.hostname, $0.namespace) }
            clusters[name] = UpstreamCluster.compile(name: name, serviceHost: host, service: identity, port: number, subset: nil, subsetLabels: [:],
                                                     serviceKnown: true, endpoints: endpoints, protocolName: listener.port?.protocol, policy: .none,
                                                     originalDestination: original)
            let source = RouteSource(virtualService: sidecarScope?.reference ?? ObjectReference(kind: "Sidecar", namespace: proxy.namespace, name: ""), index: 0, name: "ingress")
            let destination = WeightedCluster(cluster: name, weight: 100, destination: Destination(host: host, port: number), headers: nil)
            let kind = SidecarPortProtocol(listener.port?.protocol)
            var servers: [ServerEntry] = []
            var configuration: HTTPRouteConfiguration?
            if kind != .http {
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .tcp, protocolName: "TCP", hosts: [], serverNames: [], bind: nil, tls: nil,
                                           httpRoutes: nil, tcpRoutes: [L4Route(source: source, sniHosts: [], destinationSubnets: [], port: number, destinations: [destination])],
                                           tlsRoutes: []))
            }
            if kind != .tcp {
                let route = Route(source: source, matches: [], action: .forward([destination]), config: .plain)
                configuration = HTTPRouteConfiguration(name: name, virtualHosts: [VirtualHost(name: "inbound|http|\(number)", domains: ["*"], routes: [route], requireTLS: false)])
                servers.append(ServerEntry(gateway: nil, index: servers.count, name: nil, kind: .http, protocolName: "HTTP", hosts: [], serverNames: [], bind: nil, tls: nil,
                                           httpRoutes: nil, tcpRoutes: [], tlsRoutes: []))
            }
            listeners.append(Listener(port: number, servers: servers, httpRoutes: configuration))
        }
        return listeners
    }

    /// Istio's choice of the Sidecar for a workload (push_context.go `initSidecarScopes`): in
    /// its namespace the oldest whose `workloadSelector` matches its labels, else the oldest
    /// without a selector, else the root namespace's oldest without a selector.
    static func sidecarScope(_ sidecars: [ConfigResource<Sidecar>], proxy: ProxyIdentity, rootNamespace: String) -> ConfigResource<Sidecar>? {
        let ordered = sidecars.sorted(by: olderFirst)
        let own = ordered.filter { $0.namespace == proxy.namespace }
        if let selected = own.first(where: { sidecar in
            guard let labels = sidecar.spec.workloadSelector?.labels else { return false }
            return labels.allSatisfy { proxy.labels[$0.key] == $0.value }
        }) {
            return selected
        }
        if let namespaceWide = own.first(where: { $0.spec.workloadSelector == nil }) { return namespaceWide }
        return ordered.first { $0.namespace == rootNamespace && $0.spec.workloadSelector == nil }
    }
}

/// What a Sidecar's `egress` hosts import (`namespace/dnsName`; `.` the Sidecar's namespace, or
/// the proxy's for a root-namespace default; `*` any; a `~` namespace prefix excludes, and `~`
/// alone imports nothing). Without a Sidecar, or without egress: everything (`*/*`). A
/// listener with a port decides for that port; the port-less one for the others (none: the
/// other ports import nothing).
struct EgressImports {
    struct Entry {
        var namespace: String
        var host: String
        var exclude: Bool
    }

    /// Every listener's entries together (for VirtualServices, which have no port).
    var entries: [Entry]?
    var byPort: [UInt32: [Entry]] = [:]
    var portless: [Entry]?

    init(_ sidecar: ConfigResource<Sidecar>?, proxyNamespace: String) {
        guard let egress = sidecar?.spec.egress, !egress.isEmpty else {
            entries = nil
            return
        }
        var entries: [Entry] = []
        for listener in egress {
            let own = Self.entries(listener, proxyNamespace: proxyNamespace)
            entries += own
            if let port = listener.port?.number, port != 0 { byPort[port, default: []] += own } else { portless = (portless ?? []) + own }
        }
        self.entries = entries
    }

    static func entries(_ listener: Sidecar.EgressListener, proxyNamespace: String) -> [Entry] {
        var entries: [Entry] = []
        for host in listener.hosts ?? [] {
            let parts = host.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            var namespace = parts[0]
            var exclude = false
            if namespace.hasPrefix("~") {
                exclude = true
                namespace = String(namespace.dropFirst())
                // `~/*`: nothing imported.
                if namespace.isEmpty { continue }
            }
            if namespace == "." { namespace = proxyNamespace }
            entries.append(Entry(namespace: namespace, host: parts[1].lowercased(), exclude: exclude))
        }
        return entries
    }

    func imports(namespace: String, host: String) -> Bool {
        guard let entries else { return true }
        return Self.imports(entries, namespace: namespace, host: host)
    }

    /// For one service port: the listener of that port, else the port-less one.
    func imports(namespace: String, host: String, port: UInt32) -> Bool {
        guard entries != nil else { return true }
        return Self.imports(byPort[port] ?? portless ?? [], namespace: namespace, host: host)
    }

    static func imports(_ entries: [Entry], namespace: String, host: String) -> Bool {
        func matches(_ entry: Entry) -> Bool {
            (entry.namespace == "*" || entry.namespace == namespace) && (entry.host == "*" || HostName.matches(entry.host, host))
        }
        return entries.contains { !$0.exclude && matches($0) } && !entries.contains { $0.exclude && matches($0) }
    }
}
