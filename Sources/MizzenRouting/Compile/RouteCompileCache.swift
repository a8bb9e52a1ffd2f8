package import MizzenConfig

/// What one compile leaves for the next, when a source recompiles after every change (a
/// Kubernetes watch): the service registry, the clusters, each VirtualService's routes at each
/// gateway server, and the virtual hosts made of them. Each part is reused while what it was
/// made from is unchanged, so a change to one VirtualService among 10,000 recompiles that one.
///
/// Routes are keyed by the VirtualService's `resourceVersion`, which the API server changes with
/// every change to the object: objects without one (files) and VirtualServices that delegate
/// (their routes depend on other VirtualServices) are compiled every time. The caller says which
/// other inputs changed (`invalidate`); the cache is only as right as that.
///
/// Used by one compile at a time (a run loop), never shared between threads.
package final class RouteCompileCache: @unchecked Sendable {
    /// Kinds of input a compile reads, to say what changed since the last one.
    package struct Inputs: OptionSet, Sendable, Hashable {
        package let rawValue: Int
        package init(rawValue: Int) { self.rawValue = rawValue }

        package static let virtualServices = Inputs(rawValue: 1 << 0)
        package static let gateways = Inputs(rawValue: 1 << 1)
        package static let destinationRules = Inputs(rawValue: 1 << 2)
        /// Services, Endpoints, EndpointSlices, Pods, ServiceEntries, WorkloadEntries.
        package static let serviceRegistry = Inputs(rawValue: 1 << 3)
        package static let peerAuthentications = Inputs(rawValue: 1 << 4)
        package static let sidecars = Inputs(rawValue: 1 << 5)
        /// Read by the proxy's TLS only, never by routing.
        package static let secrets = Inputs(rawValue: 1 << 6)
        /// Anything else: treated as a change to everything.
        package static let other = Inputs(rawValue: 1 << 7)

        package static let everything: Inputs = [.virtualServices, .gateways, .destinationRules, .serviceRegistry, .peerAuthentications, .sidecars,
                                                 .secrets, .other]
    }

    /// The registry of the last compile (nil: make one).
    var registry: ServiceRegistry?
    /// The registry before a change to what it is made of: the next compile compares the new
    /// one with it, to keep the routes (when no service's ports changed) and the clusters of
    /// services that did not change.
    var replacedRegistry: ServiceRegistry?
    /// Clusters of the last compile, by name.
    var clusters: [String: UpstreamCluster] = [:]
    /// Route configurations of the last compile, by name, with what they were made of.
    var configurations: [String: RouteConfigurationMemo] = [:]
    /// How many fragments of `configurations` name each cluster, and how to make it: a change
    /// adds and removes the counts of the fragments it changed, not of all of them.
    var clusterUses: [String: Int] = [:]
    var clusterRequests: [String: ClusterRequest] = [:]
    /// Whether a VirtualService, Gateway, Sidecar or anything unknown changed since the last
    /// compile: while none did, a route configuration whose servers are the same is the last
    /// one (an endpoint change among 10,000 VirtualServices walked all their fragments).
    private(set) var routeInputsChanged = true
    /// The VirtualServices of the last compile as the snapshot listed them, and their
    /// positions in precedence order for a proxy namespace (nil: in order already).
    struct PrecedenceMemo {
        var namespace: String
        var virtualServices: [ConfigResource<VirtualService>]
        var positions: [Int]?
    }

    var precedence: PrecedenceMemo?
    /// Who the cache was filled for: another proxy or mesh empties it.
    var proxy: ProxyIdentity?
    var mesh: MeshSettings?

    /// How much the last compile reused, for the debug log.
    package private(set) var lastReuse = Reuse()

    package struct Reuse: Sendable, CustomStringConvertible {
        package var fragments = 0
        package var fragmentsCompiled = 0
        package var clusters = 0
        package var clustersCompiled = 0
        package var virtualHosts = 0
        package var registry = false

        package var description: String {
            "routes of \(fragments) VirtualService servers reused, \(fragmentsCompiled) compiled; clusters \(clusters) reused, \(clustersCompiled) compiled; "
                + "virtual hosts \(virtualHosts) reused; registry \(registry ? "reused" : "made")"
        }
    }

    package init() {}

    /// Forgets what depended on `changed` inputs.
    package func invalidate(_ changed: Inputs) {
        if !changed.isDisjoint(with: [.virtualServices, .gateways, .sidecars, .other]) {
            routeInputsChanged = true
        }
        if changed.contains(.serviceRegistry), let registry {
            // Kept to compare with: only what depends on services that changed is made again.
            replacedRegistry = replacedRegistry ?? registry
        }
        if !changed.isDisjoint(with: [.serviceRegistry, .other]) {
            registry = nil
        }
        // A cluster is made of its service's endpoints, the DestinationRule for its host and the
        // PeerAuthentications of its workloads (auto mTLS); a sidecar's scope decides which.
        if !changed.isDisjoint(with: [.destinationRules, .peerAuthentications, .sidecars, .other]) {
            clusters = [:]
        }
        if !changed.isDisjoint(with: [.sidecars, .other]) {
            forgetRoutes()
            replacedRegistry = nil
        }
    }

    func forgetRoutes() {
        routeInputsChanged = true
        configurations = [:]
        clusterUses = [:]
        clusterRequests = [:]
    }

    /// After the registry was made anew: routes name clusters by their service's ports (a
    /// destination without a port takes the service's only one), so they are forgotten when any
    /// service's ports changed; clusters of services that changed are forgotten.
    func registryReplaced(by registry: ServiceRegistry) {
        guard let old = replacedRegistry else { return }
        replacedRegistry = nil
        // Services the registry took from the old one are equal to theirs: only the others are
        // compared (copying and comparing 1,000 services was a sixth of an endpoint change).
        let reused = registry.reusedHosts
        let samePorts = old.services.count == registry.services.count && old.wildcardHosts == registry.wildcardHosts
            && registry.services.allSatisfy { reused.contains($0.key) || old.services[$0.key]?.ports == $0.value.ports }
        if !samePorts { forgetRoutes() }
        // Only the clusters of services that changed are removed, in place (filtering made the
        // whole dictionary of 1,000 clusters again at every endpoint change).
        var unchanged: [String: Bool] = [:]
        var stale: [String] = []
        for (name, cluster) in clusters where !reused.contains(cluster.serviceHost) {
            if let known = unchanged[cluster.serviceHost] {
                if !known { stale.append(name) }
                continue
            }
            let same = old.service(for: cluster.serviceHost) == registry.service(for: cluster.serviceHost)
            unchanged[cluster.serviceHost] = same
            if !same { stale.append(name) }
        }
        for name in stale { clusters[name] = nil }
    }

    func prepare(proxy: ProxyIdentity, mesh: MeshSettings) {
        if self.proxy != proxy || self.mesh != mesh {
            invalidate(.everything)
            self.proxy = proxy
            self.mesh = mesh
        }
    }

    func finish(registry: ServiceRegistry, clusters: [String: UpstreamCluster], configurations: [String: RouteConfigurationMemo],
                clusterUses: [String: Int], clusterRequests: [String: ClusterRequest], reuse: Reuse) {
        self.registry = registry
        self.clusters = clusters
        self.configurations = configurations
        self.clusterUses = clusterUses
        self.clusterRequests = clusterRequests
        lastReuse = reuse
        routeInputsChanged = false
    }
}

/// One version of one VirtualService: its `resourceVersion` changes with every change to it.
struct FragmentIdentity: Hashable {
    var namespace: String
    var name: String
    var resourceVersion: String
}

/// A route configuration as the last compile made it: the fragment of every (VirtualService,
/// server) pair in compile order, the virtual hosts made of them, and where each domain's
/// fragments are. The next compile walks the same order: a pair whose VirtualService is the same
/// version takes its fragment by position, without hashing; when only fragments with the same
/// domains changed, only their virtual hosts are made again.
final class RouteConfigurationMemo {
    let serverKeys: [String]
    /// Per position: the VirtualService version (nil: none) and whether its fragment can be
    /// reused (not when it delegates).
    let identities: [FragmentIdentity?]
    let reusable: [Bool]
    let fragments: [HTTPFragment]
    let configuration: HTTPRouteConfiguration
    /// Domain to its virtual host's index in `configuration`.
    let hostIndex: [String: Int]
    /// Domain to the positions of the fragments its virtual host is made of.
    let positionsByDomain: [String: [Int]]
    /// Fragments by version and server index, made the first time a compile needs them (a
    /// VirtualService added or removed shifts the positions after it).
    private var index: [FragmentLookup: HTTPFragment]?

    struct FragmentLookup: Hashable {
        var identity: FragmentIdentity
        var server: Int
    }

    /// Every fragment can be reused (none delegates, every VirtualService has a version).
    let allReusable: Bool
    /// The problems of every fragment, in order: what reusing each of them reports.
    private(set) lazy var problems: [String] = fragments.flatMap(\.problems)

    init(serverKeys: [String], identities: [FragmentIdentity?], reusable: [Bool], fragments: [HTTPFragment], configuration: HTTPRouteConfiguration,
         hostIndex: [String: Int], positionsByDomain: [String: [Int]]) {
        self.serverKeys = serverKeys
        self.identities = identities
        self.reusable = reusable
        self.fragments = fragments
        self.configuration = configuration
        self.hostIndex = hostIndex
        self.positionsByDomain = positionsByDomain
        allReusable = !reusable.contains(false)
    }

    func fragment(_ identity: FragmentIdentity, server: Int) -> HTTPFragment? {
        if index == nil {
            var made: [FragmentLookup: HTTPFragment] = [:]
            made.reserveCapacity(fragments.count)
            for position in fragments.indices where reusable[position] {
                guard let identity = identities[position] else { continue }
                made[FragmentLookup(identity: identity, server: position % serverKeys.count)] = fragments[position]
            }
            index = made
        }
        return index?[FragmentLookup(identity: identity, server: server)]
    }

    /// The fragments a domain's virtual host was made of.
    func parts(of domain: String) -> [HTTPFragment]? {
        positionsByDomain[domain].map { $0.map { fragments[$0] } }
    }
}

/// A cluster a route names, as `clusterName` resolved it: enough to make it again.
struct ClusterRequest: Sendable {
    var name: String
    var host: String
    var port: UInt32
    var subset: String?
}

/// One VirtualService's contribution to a route configuration at one server: the domains it
/// serves there, its routes, the clusters they name and the problems met compiling them.
final class HTTPFragment: Sendable {
    let domains: [String]
    let routes: [Route]
    let clusters: [ClusterRequest]
    let problems: [String]
    let requireTLS: Bool
    /// Compiled with what reusing it needs (its cluster requests and problems): not the
    /// fragments of a VirtualService that delegates.
    let isReusable: Bool

    init(domains: [String], routes: [Route], clusters: [ClusterRequest], problems: [String], requireTLS: Bool, isReusable: Bool = false) {
        self.domains = domains
        self.routes = routes
        self.clusters = clusters
        self.problems = problems
        self.requireTLS = requireTLS
        self.isReusable = isReusable
    }

    static let empty = HTTPFragment(domains: [], routes: [], clusters: [], problems: [], requireTLS: false)
}
