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
                    for route in host.routes {
                        let key = route.source.description
                        guard seenRoutes.insert(key).inserted else { continue }
                        let config = route.config
                        var pending: [String] = []
                        if config.retries?.retryRemoteLocalities == true { pending.append("retries.retryRemoteLocalities (endpoints carry no locality)") }
                        if config.retries?.retryOn?.split(separator: ",").contains("retriable-headers") == true {
                            pending.append("retries.retryOn retriable-headers (no retriable headers can be configured through Istio)")
                        }
                        if config.fault?.abort?.http2Error != nil { pending.append("fault.abort.http2Error") }
                        if config.fault?.delay?.exponentialDelay != nil { pending.append("fault.delay.exponentialDelay (applied as a fixed delay)") }
                        if !pending.isEmpty {
                            lines.append("\(key): \(pending.joined(separator: ", ")) not applied by this data plane")
                        }
                    }
                }
            }
        }
        for (name, cluster) in table.clusters.sorted(by: { $0.key < $1.key }) {
            if !cluster.unsupportedSettings.isEmpty, let source = cluster.policySource {
                lines.append("\(source) for \(name): \(cluster.unsupportedSettings.joined(separator: ", ")) not applied by this data plane")
            }
        }
        return lines
    }
}
