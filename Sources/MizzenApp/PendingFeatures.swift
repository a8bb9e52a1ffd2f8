import MizzenConfig
import MizzenRouting

/// Route and cluster settings the configuration carries but this data plane does not act on.
/// The gateway says so once at start, per route and per cluster, rather than pretend.
enum PendingFeatures {
    /// The routes with unapplied settings of each route configuration a report walked, kept
    /// while the configuration is (a compile that reused it needs no walk of its 10,000 routes).
    final class Memo: @unchecked Sendable {
        fileprivate var byConfiguration: [ObjectIdentifier: (configuration: HTTPRouteConfiguration, routes: [Route])] = [:]
    }

    static func report(_ table: RouteTable, memo: Memo? = nil) -> [String] {
        var lines: [String] = []
        var seenRoutes = Set<String>()
        var walked: [ObjectIdentifier: (configuration: HTTPRouteConfiguration, routes: [Route])] = [:]
        for listener in table.listeners {
            var configurations = listener.servers.compactMap(\.httpRoutes)
            if let shared = listener.httpRoutes { configurations.append(shared) }
            for configuration in configurations {
                let id = ObjectIdentifier(configuration)
                let routes = walked[id]?.routes ?? memo?.byConfiguration[id]?.routes
                    ?? configuration.virtualHosts.flatMap { $0.routes.filter { !$0.unappliedSettings.isEmpty } }
                walked[id] = (configuration, routes)
                for route in routes {
                    let key = route.source.description
                    guard seenRoutes.insert(key).inserted else { continue }
                    lines.append("\(key): \(route.unappliedSettings.joined(separator: ", ")) not applied by this data plane")
                }
            }
        }
        memo?.byConfiguration = walked
        // Clusters with unsupported settings are rare: only they are sorted.
        for (name, cluster) in table.clusters.filter({ !$0.value.unsupportedSettings.isEmpty }).sorted(by: { $0.key < $1.key }) {
            if let source = cluster.policySource {
                lines.append("\(source) for \(name): \(cluster.unsupportedSettings.joined(separator: ", ")) not applied by this data plane")
            }
        }
        return lines
    }
}
