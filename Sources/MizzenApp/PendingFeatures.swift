import MizzenConfig
import MizzenRouting

/// Route and cluster settings the configuration carries but this data plane does not act on
/// yet (the traffic-management features: rewrites, header edits, CORS, timeouts, retries,
/// faults, mirroring, connection pools, outlier detection, upstream TLS). The gateway says so
/// once at start, per route and per cluster, rather than pretend.
enum PendingFeatures {
    static func report(_ table: RouteTable) -> [String] {
        var lines: [String] = []
        var seenRoutes = Set<String>()
        for listener in table.listeners {
            var configurations = listener.servers.compactMap(\.httpRoutes)
            if let shared = listener.httpRoutes { configurations.append(shared) }
            for configuration in configurations {
                for host in configuration.virtualHosts {
                    for route in host.routes {
                        let key = route.source.description
                        guard seenRoutes.insert(key).inserted else { continue }
                        let config = route.config
                        var pending: [String] = []
                        if config.rewrite != nil { pending.append("rewrite") }
                        if config.headers != nil { pending.append("headers") }
                        if config.corsPolicy != nil { pending.append("corsPolicy") }
                        if config.timeout != nil { pending.append("timeout") }
                        if config.retries != nil { pending.append("retries") }
                        if config.fault != nil { pending.append("fault") }
                        if config.mirror != nil || config.mirrors != nil { pending.append("mirror") }
                        if config.route?.contains(where: { $0.headers != nil }) == true { pending.append("route[].headers") }
                        if !pending.isEmpty {
                            lines.append("\(key): \(pending.joined(separator: ", ")) not applied yet by this data plane (requests are routed without them)")
                        }
                    }
                }
            }
        }
        for (name, cluster) in table.clusters.sorted(by: { $0.key < $1.key }) {
            var pending: [String] = []
            if cluster.policy.connectionPool != nil { pending.append("connectionPool") }
            if cluster.policy.outlierDetection != nil { pending.append("outlierDetection") }
            if let tls = cluster.policy.tls, tls.mode != .disable { pending.append("tls") }
            if !pending.isEmpty, let rule = cluster.policy.destinationRule {
                lines.append("DestinationRule \(rule) for \(name): \(pending.joined(separator: ", ")) not applied yet by this data plane")
            }
        }
        return lines
    }
}
