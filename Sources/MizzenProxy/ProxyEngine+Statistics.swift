package import MizzenTelemetry
import MizzenRouting
import Synchronization
import NIOCore

/// What a scrape or an admin page reads from the data plane: every loop's counters and pools,
/// copied on the loop itself (no lock on the request path), then summed here.
package struct EngineStatistics: Sendable {
    package var metrics = MetricsSnapshot()
    package var pools: [String: PoolStatistics] = [:]
    package var activeRequests = 0
    package var draining = false

    package init() {}
}

extension ProxyEngine {
    /// Collects every loop's statistics (each loop copies its own, on its thread).
    package func statistics() async -> EngineStatistics {
        var total = EngineStatistics()
        for (_, bound) in states {
            let part = try? await bound.eventLoop.submit { () -> EngineStatistics in
                let state = bound.value
                var part = EngineStatistics()
                if let telemetry = state.telemetry { part.metrics = telemetry.metrics.snapshot() }
                part.pools = state.upstreams.statistics()
                part.activeRequests = state.activeRequests
                part.draining = state.draining
                return part
            }.get()
            guard let part else { continue }
            total.metrics.merge(part.metrics)
            for (name, pool) in part.pools { total.pools[name, default: PoolStatistics()].merge(pool) }
            total.activeRequests += part.activeRequests
            total.draining = total.draining || part.draining
        }
        return total
    }

    /// Envoy's cluster gauges of `snapshot`'s clusters: pools from `statistics`, ejections and
    /// membership from the shared outlier state.
    package func clusterGauges(_ snapshot: ProxySnapshot, statistics: EngineStatistics) -> [String: ClusterGauges] {
        var gauges: [String: ClusterGauges] = [:]
        let now = NIODeadline.now()
        for (name, cluster) in snapshot.clusters {
            var gauge = ClusterGauges()
            let pool = statistics.pools[name]
            gauge.connectionsActive = pool?.connections ?? 0
            gauge.requestsPending = pool?.pending ?? 0
            gauge.requestsActive = pool?.activeRequests ?? 0
            gauge.membershipTotal = cluster.endpoints.count
            let ejected = cluster.monitors.filter { cluster.runtime.outliers.isEjected($0, now: now) }.count
            gauge.ejectionsActive = ejected
            gauge.membershipHealthy = cluster.endpoints.count - ejected
            gauges[name] = gauge
        }
        return gauges
    }

    /// Starts (or, with false, stops) draining: every loop's requests close their connections
    /// as they finish (HTTP/1 `Connection: close`, HTTP/2 GOAWAY), as Envoy's drain manager
    /// does once draining or after `/healthcheck/fail`.
    package func setDraining(_ draining: Bool) {
        for (_, bound) in states {
            bound.eventLoop.execute { bound.value.setDraining(draining) }
        }
    }
}

/// One endpoint of a cluster as `/clusters` shows it.
package struct EndpointDetail: Sendable {
    package var address: String
    package var weight: UInt32
    package var labels: [String: String]
    /// Ejected by outlier detection now, and how many times it was.
    package var ejected: Bool
    package var ejections: Int
}

extension ProxyEngine {
    package func endpointDetails(_ snapshot: ProxySnapshot) -> [String: [EndpointDetail]] {
        let now = NIODeadline.now()
        var result: [String: [EndpointDetail]] = [:]
        for (name, cluster) in snapshot.clusters {
            result[name] = cluster.endpoints.enumerated().map { index, endpoint in
                let monitor = index < cluster.monitors.count ? cluster.monitors[index] : nil
                return EndpointDetail(address: endpoint.addressKey, weight: endpoint.weight, labels: endpoint.labels,
                                      ejected: monitor.map { cluster.runtime.outliers.isEjected($0, now: now) } ?? false,
                                      ejections: monitor.map { $0.timesEjected.load(ordering: .relaxed) } ?? 0)
            }
        }
        return result
    }
}
