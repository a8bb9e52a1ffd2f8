import NIOConcurrencyHelpers
import Synchronization

/// A cluster's live counters, shared by all event loops (Envoy's circuit breakers are per
/// cluster, not per worker): connections open, requests waiting for a connection, requests in
/// flight, retries in flight; and its outlier detector. Kept across reloads while the cluster
/// exists, so counts and ejections survive a SIGHUP.
final class ClusterRuntime: Sendable {
    let connections = ResourceCounter()
    let pendingRequests = ResourceCounter()
    let activeRequests = ResourceCounter()
    let activeRetries = ResourceCounter()
    let outliers = OutlierDetector()
}

/// A count of a cluster resource in use, taken only below a limit (an Envoy circuit breaker).
/// Relaxed atomics: the request path touches one only when a limit is set.
final class ResourceCounter: Sendable {
    private let value = Synchronization.Atomic<Int>(0)

    var current: Int { value.load(ordering: .relaxed) }

    func increment() {
        value.wrappingAdd(1, ordering: .relaxed)
    }

    func decrement() {
        value.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Takes one unit if fewer than `limit` are in use.
    func tryAcquire(limit: Int) -> Bool {
        if limit == Int.max {
            increment()
            return true
        }
        var current = value.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = value.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
}

/// The runtimes of every cluster by name. A publish keeps those of clusters still configured
/// (by name: a cluster whose settings changed keeps its counts) and forgets the rest; requests
/// still holding a forgotten runtime give their counts back to it, harmlessly.
package final class ClusterRuntimes: Sendable {
    private let runtimes = NIOLockedValueBox<[String: ClusterRuntime]>([:])

    package init() {}

    /// The runtime of each named cluster, made for new ones; every other runtime is dropped.
    /// Called off the event loops, once per publish.
    func retain(_ names: some Collection<String>) -> [String: ClusterRuntime] {
        runtimes.withLockedValue { map in
            // The same clusters as the last publish (an endpoint change): the same map.
            if names.count == map.count, names.allSatisfy({ map[$0] != nil }) { return map }
            var kept: [String: ClusterRuntime] = [:]
            kept.reserveCapacity(names.count)
            for name in names { kept[name] = map[name] ?? ClusterRuntime() }
            map = kept
            return kept
        }
    }

    /// How many runtimes are kept (for tests of pruning).
    var count: Int { runtimes.withLockedValue(\.count) }
}
