package import MizzenConfig

extension RouteTable {
    /// Compiles a snapshot into the route table of one proxy. Pure: no I/O, no clocks.
    package static func compile(_ snapshot: ConfigSnapshot, for proxy: ProxyIdentity, mesh: MeshSettings = MeshSettings()) -> RouteTable {
        var compiler = RouteTableCompiler(snapshot: snapshot, proxy: proxy, mesh: mesh)
        return compiler.compile()
    }

    /// Compiles reusing what `cache` kept of the last compile and is still valid (the caller
    /// said what changed since, with `RouteCompileCache.invalidate`), and leaves this compile's
    /// parts in it for the next.
    package static func compile(_ snapshot: ConfigSnapshot, for proxy: ProxyIdentity, mesh: MeshSettings, cache: RouteCompileCache) -> RouteTable {
        cache.prepare(proxy: proxy, mesh: mesh)
        let registry = cache.registry ?? ServiceRegistry(snapshot, reusing: cache.replacedRegistry)
        if cache.registry == nil { cache.registryReplaced(by: registry) }
        // The last precedence order holds while every VirtualService keeps its place (a change
        // to one's spec, an endpoint change): checked pairwise, not sorted again.
        let virtualServices = snapshot.virtualServices
        let positions: [Int]?
        if let last = cache.precedence, last.namespace == proxy.namespace, last.virtualServices.count == virtualServices.count,
           virtualServices.indices.allSatisfy({ RouteTableCompiler.samePlace(virtualServices[$0], last.virtualServices[$0]) }) {
            positions = last.positions
        } else {
            positions = RouteTableCompiler.precedenceIndices(virtualServices, proxyNamespace: proxy.namespace)
        }
        cache.precedence = RouteCompileCache.PrecedenceMemo(namespace: proxy.namespace, virtualServices: virtualServices, positions: positions)
        let order = positions.map { $0.map { virtualServices[$0] } } ?? virtualServices
        var compiler = RouteTableCompiler(snapshot: snapshot, proxy: proxy, mesh: mesh, registry: registry, virtualServices: order)
        compiler.cache = cache
        compiler.fragmentClusterUses = cache.clusterUses
        compiler.fragmentClusterRequests = cache.clusterRequests
        compiler.reuse.registry = cache.registry != nil
        let table = compiler.compile()
        cache.finish(registry: compiler.registry, clusters: compiler.clusters, configurations: compiler.nextConfigurations,
                     clusterUses: compiler.fragmentClusterUses, clusterRequests: compiler.fragmentClusterRequests, reuse: compiler.reuse)
        return table
    }
}

/// The parts of Istio's MeshConfig a proxy's routing depends on.
package struct MeshSettings: Sendable, Hashable {
    /// `outboundTrafficPolicy.mode`: where a sidecar sends traffic for destinations no service
    /// claims.
    package enum OutboundTrafficPolicy: String, Sendable, Hashable {
        /// To the original destination (`PassthroughCluster`): Istio's default.
        case allowAny = "ALLOW_ANY"
        /// Nowhere (`BlackHoleCluster`): HTTP gets 502, TCP connections are closed.
        case registryOnly = "REGISTRY_ONLY"
    }

    package var outboundTrafficPolicy: OutboundTrafficPolicy = .allowAny
    /// `rootNamespace`: its selector-less PeerAuthentication is the mesh's.
    package var rootNamespace = "istio-system"
    /// `trustDomain`: SPIFFE identities are `spiffe://TRUST_DOMAIN/ns/NS/sa/SA`.
    package var trustDomain = "cluster.local"
    /// `enableAutoMtls`: mutual TLS towards workloads with a sidecar when no DestinationRule
    /// says how to talk to them.
    package var enableAutoMTLS = true

    package init(outboundTrafficPolicy: OutboundTrafficPolicy = .allowAny, rootNamespace: String = "istio-system", trustDomain: String = "cluster.local",
                 enableAutoMTLS: Bool = true) {
        self.outboundTrafficPolicy = outboundTrafficPolicy
        self.rootNamespace = rootNamespace
        self.trustDomain = trustDomain
        self.enableAutoMTLS = enableAutoMTLS
    }
}

/// Istio's translation of Gateways, VirtualServices and DestinationRules (istio/istio
/// pilot/pkg/networking/core gateway.go, httproute.go, route/route.go), to values.
struct RouteTableCompiler {
    let snapshot: ConfigSnapshot
    let proxy: ProxyIdentity
    let mesh: MeshSettings
    let registry: ServiceRegistry
    var clusters: [String: UpstreamCluster] = [:]
    var problems: [String] = []
    /// VirtualServices already reported as shadowed at a sidecar, by reference and host.
    var shadowedReported: Set<String> = []
    /// VirtualServices oldest first (creation time, then name, then namespace, then load order).
    let virtualServices: [ConfigResource<VirtualService>]
    /// DestinationRules by namespace, oldest first: built once, looked up for every cluster.
    let destinationRulesByNamespace: [String: [ConfigResource<DestinationRule>]]
    /// PeerAuthentications oldest first.
    let peerAuthentications: [ConfigResource<PeerAuthentication>]
    /// The Sidecar resource that applies to a sidecar proxy (nil: the default scope).
    let sidecarScope: ConfigResource<Sidecar>?
    /// Where a sidecar sends what no service claims: the Sidecar's, else the mesh's.
    let outboundTrafficPolicy: MeshSettings.OutboundTrafficPolicy
    /// The last compile's parts, when recompiling after a change (nil: compile everything).
    var cache: RouteCompileCache?
    /// This compile's parts, for the next (see `RouteCompileCache`).
    var nextConfigurations: [String: RouteConfigurationMemo] = [:]
    /// The clusters fragments name, counted (see `RouteCompileCache.clusterUses`).
    var fragmentClusterUses: [String: Int] = [:]
    var fragmentClusterRequests: [String: ClusterRequest] = [:]
    var reuse = RouteCompileCache.Reuse()
    /// While compiling one fragment: the clusters its routes name.
    var clusterRequests: [ClusterRequest]?

    /// `virtualServices`: the snapshot's in precedence order, when known (a cache's, unchanged).
    init(snapshot: ConfigSnapshot, proxy: ProxyIdentity, mesh: MeshSettings = MeshSettings(), registry: ServiceRegistry? = nil,
         virtualServices: [ConfigResource<VirtualService>]? = nil) {
        self.snapshot = snapshot
        self.proxy = proxy
        self.mesh = mesh
        self.registry = registry ?? ServiceRegistry(snapshot)
        self.virtualServices = virtualServices ?? Self.precedenceOrder(snapshot.virtualServices, proxyNamespace: proxy.namespace)
        self.destinationRulesByNamespace = Dictionary(grouping: Self.oldestFirst(snapshot.destinationRules), by: \.namespace)
        self.peerAuthentications = Self.oldestFirst(snapshot.peerAuthentications)
        let scope = proxy.isGateway ? nil : Self.sidecarScope(snapshot.sidecars, proxy: proxy, rootNamespace: mesh.rootNamespace)
        self.sidecarScope = scope
        if let policy = scope?.spec.outboundTrafficPolicy {
            // Present without a mode: REGISTRY_ONLY, the enum's zero value.
            self.outboundTrafficPolicy = policy.mode == .allowAny ? .allowAny : .registryOnly
        } else {
            self.outboundTrafficPolicy = mesh.outboundTrafficPolicy
        }
    }

    /// Istio's order of the VirtualServices a proxy sees (push_context.go, the virtual service
    /// index and `VirtualServicesForGateway`): those private to the proxy's namespace
    /// (`exportTo: ["."]`), then those exported to it by name, then the public ones; each group
    /// oldest first. A sidecar takes the first one for a host; a gateway merges in this order.
    static func precedenceOrder(_ virtualServices: [ConfigResource<VirtualService>], proxyNamespace: String) -> [ConfigResource<VirtualService>] {
        precedenceIndices(virtualServices, proxyNamespace: proxyNamespace).map { $0.map { virtualServices[$0] } } ?? virtualServices
    }

    /// The positions of `virtualServices` in precedence order, or nil when they are in order.
    static func precedenceIndices(_ virtualServices: [ConfigResource<VirtualService>], proxyNamespace: String) -> [Int]? {
        func group(_ vs: borrowing ConfigResource<VirtualService>) -> Int {
            guard let exportTo = vs.spec.exportTo, !exportTo.isEmpty, !exportTo.contains("*") else { return 2 }
            if exportTo == ["."] { return vs.namespace == proxyNamespace ? 0 : 3 }
            let names = exportTo.map { $0 == "." ? vs.namespace : $0 }
            return names.contains(proxyNamespace) ? 1 : 3
        }
        // Keys made once: 10,000 VirtualServices are ~140,000 comparisons.
        let groups = virtualServices.map { group($0) }
        let ages = virtualServices.map { AgeKey($0) }
        func before(_ a: Int, _ b: Int) -> Bool { groups[a] != groups[b] ? groups[a] < groups[b] : ages[a] < ages[b] }
        // Usually in order already (the Kubernetes store hands them oldest first and few set
        // exportTo): then the array is kept as it is, not copied.
        if virtualServices.indices.dropFirst().allSatisfy({ !before($0, $0 - 1) }) { return nil }
        return virtualServices.indices.sorted(by: before)
    }

    /// Whether two versions of a VirtualService take the same place in precedence order: the
    /// same object, creation time, load position and `exportTo` (its spec may differ).
    static func samePlace(_ a: borrowing ConfigResource<VirtualService>, _ b: borrowing ConfigResource<VirtualService>) -> Bool {
        a.loadIndex == b.loadIndex && a.creationSeconds == b.creationSeconds && a.name == b.name && a.namespace == b.namespace
            && a.spec.exportTo == b.spec.exportTo
    }

    /// What `olderFirst` compares, computed once per object.
    struct AgeKey: Comparable {
        var created: Int64?
        var name: String
        var namespace: String
        var loadIndex: Int

        init<P>(_ resource: ConfigResource<P>) {
            created = resource.creationSeconds
            name = resource.name
            namespace = resource.namespace
            loadIndex = resource.loadIndex
        }

        static func < (a: AgeKey, b: AgeKey) -> Bool {
            if a.created != b.created {
                switch (a.created, b.created) {
                case (let x?, let y?): return x < y
                case (.some, nil): return true
                case (nil, .some): return false
                default: break
                }
            }
            if a.created != nil, a.name != b.name { return a.name < b.name }
            if a.created != nil, a.namespace != b.namespace { return a.namespace < b.namespace }
            return a.loadIndex < b.loadIndex
        }

        static func == (a: AgeKey, b: AgeKey) -> Bool { !(a < b) && !(b < a) }
    }

    static func oldestFirst<P>(_ resources: [ConfigResource<P>]) -> [ConfigResource<P>] {
        resources.map { (AgeKey($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func olderFirst<P>(_ a: ConfigResource<P>, _ b: ConfigResource<P>) -> Bool {
        AgeKey(a) < AgeKey(b)
    }

    mutating func compile() -> RouteTable {
        switch proxy {
        case .gateway:
            let listeners = compileGatewayListeners()
            if cache != nil { addFragmentClusters() }
            return RouteTable(proxy: proxy, listeners: listeners, clusters: clusters, problems: problems)
        case .sidecar:
            let outbound = compileSidecarListeners()
            let inbound = compileInboundListeners()
            let peerAuthentication = EffectivePeerAuthentication.compose(peerAuthentications, namespace: proxy.namespace, labels: proxy.labels,
                                                                         rootNamespace: mesh.rootNamespace)
            return RouteTable(proxy: proxy, listeners: outbound, inboundListeners: inbound, unmatchedOutboundCluster: unmatchedOutboundCluster,
                              inboundPeerAuthentication: peerAuthentication, clusters: clusters, problems: problems)
        }
    }

    // MARK: - Gateways

    /// Gateways whose selector matches the proxy's labels (an empty selector matches every proxy).
    func selectedGateways() -> [ConfigResource<Gateway>] {
        snapshot.gateways.filter { gateway in
            (gateway.spec.selector ?? [:]).allSatisfy { proxy.labels[$0.key] == $0.value }
        }.sorted(by: Self.olderFirst)
    }

    mutating func compileGatewayListeners() -> [Listener] {
        var serversByPort: [UInt32: [ServerEntry]] = [:]
        var claimedServerNames: [UInt32: Set<String>] = [:]
        for gateway in selectedGateways() {
            for (index, server) in (gateway.spec.servers ?? []).enumerated() {
                guard let number = server.port?.number, let protocolText = server.port?.protocol,
                      let parsed = Rules.PortProtocol(parsing: protocolText) else { continue }
                let tls = server.tls
                let mode = tls?.mode ?? .passthrough
                let kind: ServerEntry.Kind
                if parsed.isHTTP {
                    kind = .http
                } else if parsed.isTLS {
                    if mode == .passthrough || mode == .autoPassthrough {
                        kind = .tlsPassthrough
                    } else {
                        kind = parsed == .https ? .https : .tlsTerminated
                    }
                } else {
                    kind = .tcp
                }
                let serverNames = (server.hosts ?? []).map(Self.dnsName)
                let entry = ServerEntry(gateway: gateway.reference, index: index, name: server.name, kind: kind, protocolName: parsed.rawValue,
                                        hosts: server.hosts ?? [], serverNames: serverNames, bind: server.bind, tls: tls,
                                        httpRoutes: nil, tcpRoutes: [], tlsRoutes: [])
                let existing = serversByPort[number] ?? []
                if let first = existing.first, (first.kind == .http) != (kind == .http) || (first.kind == .tcp) != (kind == .tcp) {
                    problems.append("\(entry.label): port \(number) already serves \(first.kind.rawValue) for \(first.label); this \(kind.rawValue) server is skipped")
                    continue
                }
                if kind != .http, kind != .tcp {
                    let claimed = claimedServerNames[number, default: []]
                    if let taken = serverNames.first(where: { claimed.contains($0) }) {
                        problems.append("\(entry.label): host \(taken) on port \(number) is already served by an earlier server; this server is skipped")
                        continue
                    }
                    claimedServerNames[number, default: []].formUnion(serverNames)
                }
                let complete: ServerEntry
                switch kind {
                case .http:
                    complete = entry
                case .https:
                    complete = entry.with(httpRoutes: httpRouteConfiguration(name: "https.\(number).\(server.port?.name ?? "").\(gateway.name).\(gateway.namespace)", servers: [entry], port: number))
                case .tlsPassthrough:
                    complete = entry.with(tlsRoutes: l4Routes(for: entry, port: number, tls: true))
                case .tlsTerminated, .tcp:
                    complete = entry.with(tcpRoutes: l4Routes(for: entry, port: number, tls: false))
                }
                serversByPort[number, default: []].append(complete)
            }
        }
        return serversByPort.map { port, servers in
            let plain = servers.filter { $0.kind == .http }
            return Listener(port: port, servers: servers, httpRoutes: plain.isEmpty ? nil : httpRouteConfiguration(name: "http.\(port)", servers: plain, port: port))
        }
    }

    /// `ns/host` → `host`.
    static func dnsName(_ serverHost: String) -> String {
        guard let slash = serverHost.firstIndex(of: "/") else { return serverHost.lowercased() }
        return String(serverHost[serverHost.index(after: slash)...]).lowercased()
    }

    /// Whether a VirtualService names this gateway (`name`, `ns/name`, `./name`, legacy FQDN).
    static func binds(_ vs: ConfigResource<VirtualService>, to gateway: ObjectReference) -> Bool {
        names(vs.spec.gateways ?? [], in: vs.namespace, gateway)
    }

    /// Whether one of `references`, written in `namespace`, names `gateway`.
    static func names(_ references: [String], in namespace: String, _ gateway: ObjectReference) -> Bool {
        let key = "\(gateway.namespace)/\(gateway.name)"
        return references.contains { ConfigAnalyzer.gatewayKey($0, namespace: namespace) == key }
    }

    /// `exportTo`: visible in `namespace`? Unset means everywhere.
    static func isVisible(exportTo: [String]?, owner: String, from namespace: String) -> Bool {
        guard let exportTo, !exportTo.isEmpty else { return true }
        return exportTo.contains { $0 == "*" || $0 == namespace || ($0 == "." && owner == namespace) }
    }

    /// The name two hosts have in common, or nil: the more specific of the two when one covers
    /// the other (istio pkg/config/host `Intersection`).
    static func intersection(_ server: String, _ vsHost: String) -> String? {
        if server == vsHost { return server }
        if HostName.isSubset(vsHost, of: server) { return vsHost }
        if HostName.isSubset(server, of: vsHost) { return server }
        return nil
    }

    /// One route configuration for a set of servers on a port: a virtual host per domain, the
    /// routes of every bound VirtualService joined oldest first, catch-alls moved last.
    ///
    /// Recompiling (`cache`), a VirtualService unchanged since the last compile (same
    /// resourceVersion) gives the same fragment, and a virtual host made of the same fragments
    /// is the one already made (see `RouteConfigurationMemo`).
    mutating func httpRouteConfiguration(name: String, servers: [ServerEntry], port: UInt32) -> HTTPRouteConfiguration {
        let serverKeys = servers.map(Self.fragmentKey)
        let previous = cache?.configurations[name]
        let memo = previous.flatMap { $0.serverKeys == serverKeys ? $0 : nil }
        if let memo, memo.allReusable, cache?.routeInputsChanged == false {
            // No VirtualService or Gateway changed (an endpoint change): the last configuration.
            reuse.fragments += memo.fragments.count
            reuse.virtualHosts += memo.configuration.virtualHosts.count
            problems += memo.problems
            nextConfigurations[name] = memo
            return memo.configuration
        }
        var identities: [FragmentIdentity?] = []
        var reusable: [Bool] = []
        var fragments: [HTTPFragment] = []
        identities.reserveCapacity(virtualServices.count * servers.count)
        reusable.reserveCapacity(virtualServices.count * servers.count)
        fragments.reserveCapacity(virtualServices.count * servers.count)
        /// Positions whose fragment is not the memo's at the same position.
        var moved: [Int] = []
        /// Memo fragments taken at another position.
        var takenElsewhere = Set<ObjectIdentifier>()
        // The memo's arrays read in place (through the memo, each position copied them).
        let memoIdentities = memo?.identities ?? [], memoReusable = memo?.reusable ?? [], memoFragments = memo?.fragments ?? []
        let caching = cache != nil
        for vs in virtualServices {
            let identity = caching ? vs.resourceVersion.flatMap { $0.isEmpty ? nil : FragmentIdentity(namespace: vs.namespace, name: vs.name, resourceVersion: $0) } : nil
            var delegates: Bool?
            for (serverIndex, server) in servers.enumerated() {
                let position = fragments.count
                let fragment: HTTPFragment
                let before = position < memoIdentities.count ? memoIdentities[position] : nil
                if let identity, before == identity, memoReusable[position] {
                    fragment = memoFragments[position]
                    reused(fragment)
                } else if let identity, before?.namespace != identity.namespace || before?.name != identity.name,
                          let kept = memo?.fragment(identity, server: serverIndex) {
                    // Another VirtualService here than last time (one was added or removed
                    // before it): its fragment by version, if it did not change. The same one
                    // here with another version changed: compiled.
                    fragment = kept
                    reused(fragment)
                    takenElsewhere.insert(ObjectIdentifier(kept))
                    moved.append(position)
                } else {
                    // A VirtualService that delegates depends on others: compiled every time.
                    if delegates == nil { delegates = (vs.spec.http ?? []).contains { $0.delegate != nil } }
                    fragment = compiledFragment(vs, server: server, port: port, cacheable: identity != nil && delegates == false)
                    moved.append(position)
                }
                identities.append(identity)
                reusable.append(identity != nil && fragment.isReusable)
                fragments.append(fragment)
            }
        }
        // The clusters named by fragments that came or went.
        for position in moved where !takenElsewhere.contains(ObjectIdentifier(fragments[position])) {
            countClusters(of: fragments[position], by: 1)
        }
        if let previous {
            for (position, fragment) in previous.fragments.enumerated() {
                let stayed = memo != nil && position < fragments.count && fragments[position] === fragment
                if !stayed, !takenElsewhere.contains(ObjectIdentifier(fragment)) { countClusters(of: fragment, by: -1) }
            }
        }
        if let memo, fragments.count == memo.fragments.count,
           moved.allSatisfy({ fragments[$0].domains == memo.fragments[$0].domains && fragments[$0].requireTLS == memo.fragments[$0].requireTLS }) {
            // Every domain is where it was: only the virtual hosts of changed fragments are made.
            var hosts = memo.configuration.virtualHosts
            var remade = Set<String>()
            for position in moved {
                for domain in fragments[position].domains where remade.insert(domain).inserted {
                    guard let index = memo.hostIndex[domain], let positions = memo.positionsByDomain[domain] else { continue }
                    hosts[index] = Self.virtualHost(domain: domain, port: port, parts: positions.map { fragments[$0] })
                }
            }
            reuse.virtualHosts += hosts.count - remade.count
            let configuration = remade.isEmpty ? memo.configuration : memo.configuration.replacingVirtualHosts(hosts)
            nextConfigurations[name] = RouteConfigurationMemo(serverKeys: serverKeys, identities: identities, reusable: reusable, fragments: fragments,
                                                              configuration: configuration, hostIndex: memo.hostIndex, positionsByDomain: memo.positionsByDomain)
            return configuration
        }
        var hostOrder: [String] = []
        var positionsByDomain: [String: [Int]] = [:]
        for (position, fragment) in fragments.enumerated() {
            for domain in fragment.domains {
                if positionsByDomain[domain] == nil { hostOrder.append(domain) }
                positionsByDomain[domain, default: []].append(position)
            }
        }
        var hostIndex: [String: Int] = [:]
        let hosts = hostOrder.enumerated().map { index, domain -> VirtualHost in
            hostIndex[domain] = index
            let parts = positionsByDomain[domain, default: []].map { fragments[$0] }
            // The same fragments as the last compile's virtual host: that host.
            if let memo, let old = memo.parts(of: domain), old.count == parts.count, zip(old, parts).allSatisfy({ $0 === $1 }),
               let oldIndex = memo.hostIndex[domain] {
                reuse.virtualHosts += 1
                return memo.configuration.virtualHosts[oldIndex]
            }
            return Self.virtualHost(domain: domain, port: port, parts: parts)
        }
        let configuration = HTTPRouteConfiguration(name: name, virtualHosts: hosts)
        if cache != nil {
            nextConfigurations[name] = RouteConfigurationMemo(serverKeys: serverKeys, identities: identities, reusable: reusable, fragments: fragments,
                                                              configuration: configuration, hostIndex: hostIndex, positionsByDomain: positionsByDomain)
        }
        return configuration
    }

    /// A domain's virtual host: its fragments' routes in order, catch-alls last (Istio's
    /// SortVHostRoutes; the rest keep their order), redirected to HTTPS when a server says so.
    static func virtualHost(domain: String, port: UInt32, parts: [HTTPFragment]) -> VirtualHost {
        let routes = parts.flatMap(\.routes)
        let ordered = routes.filter { !$0.isCatchAll } + routes.filter(\.isCatchAll)
        return VirtualHost(name: "\(domain):\(port)", domains: [domain], routes: ordered, requireTLS: parts.contains(where: \.requireTLS))
    }

    /// What makes a server's fragments differ: its gateway and index, hosts and HTTPS redirect.
    static func fragmentKey(_ server: ServerEntry) -> String {
        "\(server.gateway?.description ?? "")#\(server.index)|\(server.hosts.joined(separator: ","))|\(server.tls?.httpsRedirect == true)"
    }

    /// A fragment taken from the last compile: its problems are said again (its clusters are
    /// counted already, see `addFragmentClusters`).
    mutating func reused(_ fragment: HTTPFragment) {
        reuse.fragments += 1
        if !fragment.problems.isEmpty { problems += fragment.problems }
    }

    mutating func countClusters(of fragment: HTTPFragment, by change: Int) {
        for request in fragment.clusters {
            let uses = fragmentClusterUses[request.name, default: 0] + change
            if uses > 0 {
                fragmentClusterUses[request.name] = uses
                fragmentClusterRequests[request.name] = request
            } else {
                fragmentClusterUses[request.name] = nil
                fragmentClusterRequests[request.name] = nil
            }
        }
    }

    /// The clusters the route configurations' fragments name, taken from the cache or made;
    /// fragments of configurations no longer compiled are counted out first.
    mutating func addFragmentClusters() {
        for (name, memo) in cache?.configurations ?? [:] where nextConfigurations[name] == nil {
            for fragment in memo.fragments { countClusters(of: fragment, by: -1) }
        }
        for (name, request) in fragmentClusterRequests where clusters[name] == nil {
            clusters[name] = reusableCluster(name)
                ?? makeCluster(name: name, host: request.host, port: request.port, subset: request.subset, service: registry.service(for: request.host))
        }
    }

    /// A VirtualService's domains and routes at one server, compiled; with what it needs to be
    /// reused (the clusters it names, its problems) when `cacheable`.
    mutating func compiledFragment(_ vs: ConfigResource<VirtualService>, server: ServerEntry, port: UInt32, cacheable: Bool) -> HTTPFragment {
        guard cacheable else { return compileHTTPFragment(vs, server: server, port: port) }
        reuse.fragmentsCompiled += 1
        let problemsBefore = problems.count
        clusterRequests = []
        defer { clusterRequests = nil }
        let fragment = compileHTTPFragment(vs, server: server, port: port)
        return HTTPFragment(domains: fragment.domains, routes: fragment.routes, clusters: clusterRequests ?? [],
                            problems: Array(problems[problemsBefore...]), requireTLS: fragment.requireTLS, isReusable: true)
    }

    mutating func compileHTTPFragment(_ vs: ConfigResource<VirtualService>, server: ServerEntry, port: UInt32) -> HTTPFragment {
        guard let gateway = server.gateway, Self.binds(vs, to: gateway),
              Self.isVisible(exportTo: vs.spec.exportTo, owner: vs.namespace, from: gateway.namespace) else { return .empty }
        var domains: [String] = []
        for serverHost in server.hosts {
            let parts = serverHost.split(separator: "/", maxSplits: 1).map(String.init)
            let namespacePart = parts.count == 2 ? parts[0] : "*"
            let dns = (parts.count == 2 ? parts[1] : parts[0]).lowercased()
            guard namespacePart == "*" || (namespacePart == "." && vs.namespace == gateway.namespace) || namespacePart == vs.namespace else { continue }
            for host in vs.spec.hosts ?? [] {
                let expanded = ServiceRegistry.expand(host, namespace: vs.namespace)
                if let domain = Self.intersection(dns, expanded), !domains.contains(domain) { domains.append(domain) }
            }
        }
        guard !domains.isEmpty else { return .empty }
        let routes = compileHTTPRoutes(vs, gateway: gateway, port: port)
        return HTTPFragment(domains: domains, routes: routes, clusters: [], problems: [], requireTLS: server.tls?.httpsRedirect == true)
    }

    /// The last compile's cluster of this name, when still valid.
    mutating func reusableCluster(_ name: String) -> UpstreamCluster? {
        guard let cluster = cache?.clusters[name] else { return nil }
        reuse.clusters += 1
        return cluster
    }

    /// The `http` routes of a VirtualService as they apply at one gateway (or `mesh`) and port:
    /// matches naming other gateways or ports are dropped, and a route left without any is dropped.
    ///
    /// As Istio's `BuildHTTPRoutesForVirtualService`, translation stops at the first catch-all
    /// (see `RouteMatch.isCatchAll`): a rule without matches, or the first applicable match that
    /// catches everything. That match is kept, as a route of its own when earlier matches of its
    /// rule precede it (Istio makes an Envoy route per match; a gateway then moves the catch-all
    /// routes last); later matches and rules of the VirtualService are never reached in Istio
    /// and are left out here too.
    mutating func compileHTTPRoutes(_ vs: ConfigResource<VirtualService>, gateway: ObjectReference?, port: UInt32) -> [Route] {
        var routes: [Route] = []
        let rules = vs.spec.http ?? []
        for (index, http) in rules.enumerated() {
            let source = RouteSource(virtualService: vs.reference, index: index, name: http.name)
            // Every match filtered out (other gateways, ports, sources): the rule does not apply
            // and does not stop the ones after it.
            guard let matches = applicableMatches(http.match ?? [], vs: vs, gateway: gateway, port: port, source: source) else { continue }
            if let delegate = http.delegate {
                let (delegated, stop) = delegatedRoutes(delegate, rootMatches: matches, root: vs, source: source, gateway: gateway, port: port)
                routes.append(contentsOf: delegated)
                if stop { break }
                continue
            }
            let cut = matches.firstIndex(where: \.isCatchAll)
            let stops = matches.isEmpty || cut != nil
            if let action = action(for: http, vs: vs, port: port, source: source) {
                for part in Self.splitAtCatchAll(matches, cut: cut) {
                    let policy = routePolicy(http, matches: part, namespace: vs.namespace, port: port, source: source)
                    routes.append(Route(source: source, matches: part, action: action, rules: rules, index: index, policy: policy))
                }
            }
            if stops { break }
        }
        return routes
    }

    /// A rule's applicable matches up to its first catch-all (`cut`): one list, or the matches
    /// before the catch-all and the catch-all alone.
    static func splitAtCatchAll(_ matches: [RouteMatch], cut: Int?) -> [[RouteMatch]] {
        guard let cut else { return [matches] }
        if cut == 0 { return [[matches[0]]] }
        return [Array(matches[..<cut]), [matches[cut]]]
    }

    /// Compiled matches that apply here; nil when the route had matches and none applies.
    ///
    /// Istio's `TranslateRoute` and `sourceMatchHTTP`, at gateways and sidecars alike: a match
    /// for another port does not apply; a match naming `gateways` applies where one of them is
    /// this proxy's (`mesh` for a sidecar) and its source conditions are not looked at; otherwise
    /// its `sourceLabels` must all be the proxy's labels and its `sourceNamespace` the proxy's
    /// namespace (at a gateway: the gateway's own pod).
    mutating func applicableMatches(_ matches: [HTTPMatchRequest], vs: ConfigResource<VirtualService>, gateway: ObjectReference?, port: UInt32, source: RouteSource) -> [RouteMatch]? {
        var compiled: [RouteMatch] = []
        for match in matches {
            if let matchPort = match.port, matchPort != 0, matchPort != port { continue }
            if let gateways = match.gateways, !gateways.isEmpty {
                let applies: Bool
                if let gateway {
                    applies = Self.names(gateways, in: vs.namespace, gateway)
                } else {
                    applies = gateways.contains("mesh")
                }
                if !applies { continue }
            } else {
                if let labels = match.sourceLabels, !labels.allSatisfy({ proxy.labels[$0.key] == $0.value }) { continue }
                if let namespace = match.sourceNamespace, !namespace.isEmpty, namespace != proxy.namespace { continue }
            }
            do {
                var routeMatch = try RouteMatch(match)
                // The port was checked here, at compile time.
                routeMatch.conditions.removeAll { if case .port = $0 { return true } else { return false } }
                compiled.append(routeMatch)
            } catch {
                problems.append("\(source): \(error.message); match skipped")
            }
        }
        if !matches.isEmpty, compiled.isEmpty { return nil }
        return compiled
    }

    mutating func action(for http: HTTPRoute, vs: ConfigResource<VirtualService>, port: UInt32, source: RouteSource) -> Route.Action? {
        if let redirect = http.redirect { return .redirect(RedirectAction(redirect)) }
        if let response = http.directResponse { return .directResponse(DirectResponseAction(response)) }
        let destinations = http.route ?? []
        guard !destinations.isEmpty else { return nil }
        let weighted = weightedClusters(destinations.map { ($0.destination, $0.weight, $0.headers) }, namespace: vs.namespace, port: port)
        return .forward(weighted)
    }

    /// The route's data-plane policy: rewrites per match, header edits, CORS, fault, timeout,
    /// retries and mirrors (mirror clusters created like route destinations).
    mutating func routePolicy(_ http: HTTPRoute, matches: [RouteMatch], namespace: String, port: UInt32, source: RouteSource) -> RoutePolicy {
        var pathRewrites: [PathRewrite] = []
        do {
            if let prefix = http.redirect?.prefixRewrite {
                // A redirect's prefixRewrite swaps the matched prefix as rewrite.uri does.
                pathRewrites = try RoutePolicy.pathRewrites(HTTPRewrite(uri: prefix), matches: matches)
            } else {
                pathRewrites = try RoutePolicy.pathRewrites(http.rewrite, matches: matches)
            }
        } catch {
            problems.append("\(source): rewrite.uriRegexRewrite.match \(error.message); the path is not rewritten")
        }
        var mirrors: [MirrorPolicy] = []
        func mirror(_ destination: Destination?, _ fraction: Double) {
            guard let destination, let host = destination.host, fraction > 0 else { return }
            let cluster = clusterName(host: ServiceRegistry.expand(host, namespace: namespace), subset: destination.subset,
                                      explicitPort: destination.port?.number, listenerPort: port, namespace: namespace)
            mirrors.append(MirrorPolicy(cluster: cluster, fraction: fraction))
        }
        if let target = http.mirror {
            let percent = http.mirrorPercentage?.value ?? http.mirrorPercent.map(Double.init) ?? 100
            mirror(target, min(max(percent, 0), 100) / 100)
        }
        for policy in http.mirrors ?? [] {
            mirror(policy.destination, min(max(policy.percentage?.value ?? 100, 0), 100) / 100)
        }
        let requestHeaders = HeaderMutation(http.headers?.request)
        let responseHeaders = HeaderMutation(http.headers?.response)
        let cors = RoutePolicy.cors(http.corsPolicy)
        let fault = RoutePolicy.fault(http.fault)
        let timeout = http.timeout.map(\.nanoseconds).flatMap { $0 > 0 ? $0 : nil }
        let retry = RetryPolicy(http.retries)
        if pathRewrites.isEmpty, http.rewrite?.authority == nil, requestHeaders.isEmpty, responseHeaders.isEmpty, cors == nil, fault == nil,
           timeout == nil, http.retries == nil, mirrors.isEmpty {
            return .plain
        }
        return RoutePolicy(pathRewrites: pathRewrites, authorityRewrite: http.rewrite?.authority, requestHeaders: requestHeaders,
                           responseHeaders: responseHeaders, cors: cors, fault: fault, timeout: timeout, retry: retry, mirrors: mirrors)
    }

    /// Relative weights as Istio programs them: a single destination takes everything; with
    /// several, zero-weight ones are dropped.
    mutating func weightedClusters(_ destinations: [(Destination?, Int32?, Headers?)], namespace: String, port: UInt32) -> [WeightedCluster] {
        var result: [WeightedCluster] = []
        for (destination, weight, headers) in destinations {
            guard let destination, let host = destination.host else { continue }
            let effectiveWeight: UInt32 = destinations.count == 1 ? 100 : UInt32(max(weight ?? 0, 0))
            if destinations.count > 1, effectiveWeight == 0 { continue }
            let name = clusterName(host: ServiceRegistry.expand(host, namespace: namespace), subset: destination.subset,
                                   explicitPort: destination.port?.number, listenerPort: port, namespace: namespace)
            result.append(WeightedCluster(cluster: name, weight: effectiveWeight, destination: destination, headers: headers))
        }
        return result
    }

    /// The delegate's routes under the root rule: each delegate match ANDed with each root match
    /// (delegate matches outer, root matches inner, as Istio's `mergeHTTPMatchRequests`), and
    /// whether translation of the root stops here: a merged match is a catch-all when both of
    /// its halves are, and, as Istio checks the root's merged rule list, it ends the delegate's
    /// rules and the root's later ones alike.
    mutating func delegatedRoutes(_ delegate: Delegate, rootMatches: [RouteMatch], root: ConfigResource<VirtualService>, source: RouteSource,
                                  gateway: ObjectReference?, port: UInt32) -> (routes: [Route], stop: Bool) {
        let name = delegate.name ?? ""
        let namespace = delegate.namespace ?? root.namespace
        guard let target = snapshot.virtualServices.first(where: { $0.name == name && $0.namespace == namespace && ($0.spec.hosts ?? []).isEmpty }) else {
            // Istio drops only this rule (virtualservice_controller.go: "delegate not found,
            // ignore only the current HTTP route"); the root's later rules are translated.
            problems.append("\(source): delegate VirtualService \(namespace)/\(name) was not loaded; the rule is dropped")
            return ([], false)
        }
        var routes: [Route] = []
        let rules = target.spec.http ?? []
        for (index, http) in rules.enumerated() {
            var delegateSource = source
            delegateSource.delegate = target.reference
            delegateSource.delegateIndex = index
            guard let matches = applicableMatches(http.match ?? [], vs: target, gateway: gateway, port: port, source: delegateSource) else { continue }
            var merged: [RouteMatch] = []
            let roots = rootMatches.isEmpty ? [RouteMatch(name: nil, conditions: [])] : rootMatches
            let leaves = matches.isEmpty ? [RouteMatch(name: nil, conditions: [])] : matches
            for leaf in leaves {
                for rootMatch in roots {
                    merged.append(RouteMatch(name: leaf.name ?? rootMatch.name, conditions: rootMatch.conditions + leaf.conditions,
                                             catchAll: rootMatch.isCatchAll && leaf.isCatchAll))
                }
            }
            let cut = merged.firstIndex(where: \.isCatchAll)
            if let action = action(for: http, vs: target, port: port, source: delegateSource) {
                for part in Self.splitAtCatchAll(merged, cut: cut) {
                    let matchesOfPart = part.count == 1 && part[0].conditions.isEmpty ? [] : part
                    let policy = routePolicy(http, matches: matchesOfPart, namespace: target.namespace, port: port, source: delegateSource)
                    routes.append(Route(source: delegateSource, matches: matchesOfPart, action: action, rules: rules, index: index, policy: policy))
                }
            }
            if cut != nil { return (routes, true) }
        }
        return (routes, false)
    }

    /// TCP (`tls: false`) or TLS passthrough routes for a server: at a gateway, the oldest bound
    /// VirtualService whose hosts meet the server's; TLS routes keyed by SNI, first claim wins.
    mutating func l4Routes(for server: ServerEntry, port: UInt32, tls: Bool) -> [L4Route] {
        var routes: [L4Route] = []
        var claimedSNI: Set<String> = []
        for vs in virtualServices {
            guard let gateway = server.gateway, Self.binds(vs, to: gateway),
                  Self.isVisible(exportTo: vs.spec.exportTo, owner: vs.namespace, from: gateway.namespace) else { continue }
            let vsHosts = (vs.spec.hosts ?? []).map { ServiceRegistry.expand($0, namespace: vs.namespace) }
            let meets = server.serverNames.contains { serverName in vsHosts.contains { Self.intersection(serverName, $0) != nil } }
            guard meets else { continue }
            if tls {
                for (index, route) in (vs.spec.tls ?? []).enumerated() {
                    for match in route.match ?? [] {
                        if let matchPort = match.port, matchPort != 0, matchPort != port { continue }
                        if let gateways = match.gateways, !gateways.isEmpty, !Self.names(gateways, in: vs.namespace, gateway) { continue }
                        let sni = (match.sniHosts ?? []).map { $0.lowercased() }.filter { !claimedSNI.contains($0) }
                        guard !sni.isEmpty else { continue }
                        claimedSNI.formUnion(sni)
                        let destinations = weightedClusters((route.route ?? []).map { ($0.destination, $0.weight, nil) }, namespace: vs.namespace, port: port)
                        routes.append(L4Route(source: RouteSource(virtualService: vs.reference, index: index), sniHosts: sni,
                                              destinationSubnets: match.destinationSubnets ?? [], port: match.port, destinations: destinations))
                    }
                }
            } else {
                for (index, route) in (vs.spec.tcp ?? []).enumerated() {
                    let matches = route.match ?? []
                    let applies = matches.isEmpty || matches.contains { match in
                        (match.port == nil || match.port == 0 || match.port == port)
                            && ((match.gateways ?? []).isEmpty || Self.names(match.gateways ?? [], in: vs.namespace, gateway))
                    }
                    guard applies else { continue }
                    let destinations = weightedClusters((route.route ?? []).map { ($0.destination, $0.weight, nil) }, namespace: vs.namespace, port: port)
                    routes.append(L4Route(source: RouteSource(virtualService: vs.reference, index: index), sniHosts: [],
                                          destinationSubnets: matches.flatMap { $0.destinationSubnets ?? [] }, port: nil, destinations: destinations))
                    // At a gateway only the first matching TCP route of the first VirtualService is used.
                    return routes
                }
            }
        }
        return routes
    }

    // MARK: - Clusters

    /// Istio's cluster name, `outbound|port|subset|host`; creates the cluster on first use.
    mutating func clusterName(host: String, subset: String?, explicitPort: UInt32?, listenerPort: UInt32, namespace: String) -> String {
        let service = registry.service(for: host)
        let port: UInt32
        if let explicitPort {
            port = explicitPort
        } else if let ports = service?.ports, ports.count == 1 {
            port = ports[0].number
        } else {
            port = listenerPort
        }
        var name = "outbound|\(port)|\(subset ?? "")|\(host)"
        if let index = clusters.index(forKey: name) {
            // The name the cluster already has: one string for every route naming it.
            name = clusters.keys[index]
        } else {
            clusters[name] = reusableCluster(name) ?? makeCluster(name: name, host: host, port: port, subset: subset, service: service)
        }
        clusterRequests?.append(ClusterRequest(name: name, host: host, port: port, subset: subset))
        return name
    }

    mutating func makeCluster(name: String, host: String, port: UInt32, subset: String?, service: RegistryService?) -> UpstreamCluster {
        reuse.clustersCompiled += 1
        let rule = destinationRule(for: host)
        let subsetSpec = subset.flatMap { name in rule?.spec.subsets?.first { $0.name == name } }
        let labels = subsetSpec?.labels ?? [:]
        var endpoints: [ClusterEndpoint] = []
        var serviceAccounts: Set<String> = []
        if let service, let servicePort = service.port(port) {
            for instance in service.instances where labels.allSatisfy({ instance.labels[$0.key] == $0.value }) {
                var endpoint = ClusterEndpoint(address: instance.address, port: instance.endpointPort(for: servicePort), labels: instance.labels, weight: instance.weight)
                if let account = instance.serviceAccount {
                    let identity = EffectivePeerAuthentication.spiffeIdentity(trustDomain: mesh.trustDomain, namespace: service.namespace, serviceAccount: account)
                    serviceAccounts.insert(identity)
                    endpoint.identity = identity
                }
                endpoints.append(endpoint)
            }
            serviceAccounts.formUnion(service.subjectAltNames)
        }
        var policy = Self.policy(rule?.spec.trafficPolicy, port: port)
        if let subsetPolicy = subsetSpec?.trafficPolicy {
            let overrides = Self.policy(subsetPolicy, port: port)
            policy.loadBalancer = overrides.loadBalancer ?? policy.loadBalancer
            policy.connectionPool = overrides.connectionPool ?? policy.connectionPool
            policy.outlierDetection = overrides.outlierDetection ?? policy.outlierDetection
            policy.tls = overrides.tls ?? policy.tls
        }
        policy.destinationRule = rule?.reference
        // Istio's cluster metadata names a Kubernetes Service by its name and a ServiceEntry by
        // its host (`istio.services[0].name`), for the telemetry's destination_service_name.
        let identity = service.map { service -> (name: String, namespace: String) in
            (service.origin == .kubernetes ? service.source.name : service.hostname, service.namespace)
        }
        // Istio's auto mTLS (cluster_tls.go buildUpstreamTLSSettings): no DestinationRule TLS, a
        // mesh-internal service whose namespace does not disable mTLS; then mutual TLS to each
        // endpoint that has a sidecar (`security.istio.io/tlsMode: istio`) and whose own policy
        // for its port is not DISABLE, plain text to the others.
        var mesh: MeshTLSSettings?
        if policy.tls == nil, self.mesh.enableAutoMTLS, let service, !service.meshExternal,
           EffectivePeerAuthentication.namespaceMode(peerAuthentications, namespace: service.namespace, rootNamespace: self.mesh.rootNamespace) != .disable {
            for index in endpoints.indices where endpoints[index].labels["security.istio.io/tlsMode"] == "istio" {
                let workload = EffectivePeerAuthentication.compose(peerAuthentications, namespace: service.namespace, labels: endpoints[index].labels,
                                                                   rootNamespace: self.mesh.rootNamespace)
                endpoints[index].meshTLS = workload.mode(forPort: endpoints[index].port) != .disable
            }
            mesh = MeshTLSSettings(automatic: true, subjectAltNames: serviceAccounts.sorted())
        } else if policy.tls?.mode == .istioMutual {
            mesh = MeshTLSSettings(automatic: false, subjectAltNames: serviceAccounts.sorted())
        }
        return UpstreamCluster.compile(name: name, serviceHost: host, service: identity, port: port, subset: subset, subsetLabels: labels,
                                       serviceKnown: service?.port(port) != nil, endpoints: endpoints,
                                       protocolName: service?.port(port)?.protocolName, policy: policy, mesh: mesh)
    }

    /// A traffic policy as it applies to one port: port-level settings replace the top-level ones wholesale.
    static func policy(_ policy: TrafficPolicy?, port: UInt32) -> ClusterPolicy {
        guard let policy else { return .none }
        if let portLevel = policy.portLevelSettings?.first(where: { $0.port?.number == port }) {
            return ClusterPolicy(destinationRule: nil, loadBalancer: portLevel.loadBalancer, connectionPool: portLevel.connectionPool,
                                 outlierDetection: portLevel.outlierDetection, tls: portLevel.tls)
        }
        return ClusterPolicy(destinationRule: nil, loadBalancer: policy.loadBalancer, connectionPool: policy.connectionPool,
                             outlierDetection: policy.outlierDetection, tls: policy.tls)
    }

    /// The DestinationRule for a host as seen from the proxy: the proxy's namespace first, then
    /// the service's, then the root namespace; the most specific host wins within each.
    func destinationRule(for host: String) -> ConfigResource<DestinationRule>? {
        let serviceNamespace = registry.service(for: host)?.namespace
        let order = [proxy.namespace, serviceNamespace, "istio-system"].compactMap { $0 }
        for namespace in order {
            var best: (rule: ConfigResource<DestinationRule>, specificity: Int)?
            for rule in destinationRulesByNamespace[namespace] ?? [] {
                guard namespace == proxy.namespace || Self.isVisible(exportTo: rule.spec.exportTo, owner: rule.namespace, from: proxy.namespace) else { continue }
                guard let ruleHost = rule.spec.host.map({ ServiceRegistry.expand($0, namespace: rule.namespace) }),
                      HostName.isSubset(host, of: ruleHost) || ruleHost == host else { continue }
                let specificity = ruleHost.hasPrefix("*") ? ruleHost.count : Int.max
                if best == nil || specificity > best!.specificity { best = (rule, specificity) }
            }
            if let best { return best.rule }
        }
        return nil
    }
}
