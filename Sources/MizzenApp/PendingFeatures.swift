import MizzenConfig
import MizzenRouting

/// Route and cluster settings the configuration carries but this data plane does not act on.
/// The gateway says so once at start, per route and per cluster, rather than pretend.
enum PendingFeatures {
    static func report(_ table: RouteTable) -> [String] {
        var lines: [String] = []
        var seenRoutes = Set<String>()
        for listener in table.listeners {
            var configurations = listener.servers.compactMap(\.httpRoutes)
            if let shared = listener.httpRoutes { configurations.append(shared) }
            for configuration in configurations {
                for host in configuration.virtualHosts {
                    for route in host.routesWithUnappliedSettings {
                        let key = route.source.description
                        guard seenRoutes.insert(key).inserted else { continue }
                        lines.append("\(key): \(route.unappliedSettings.joined(separator: ", ")) not applied by this data plane")
                    }
                }
            }
        }
        // Clusters with unsupported settings are rare: only they are sorted.
        for (name, cluster) in table.clusters.filter({ !$0.value.unsupportedSettings.isEmpty }).sorted(by: { $0.key < $1.key }) {
            if let source = cluster.policySource {
                lines.append("\(source) for \(name): \(cluster.unsupportedSettings.joined(separator: ", ")) not applied by this data plane")
            }
        }
        return lines
    }
}
