import Synchronization

/// The proxy's life as operators see it (Envoy's server state and the readiness checks of
/// Istio's agent): initializing until the first configuration is served and every listener is
/// bound, live, then draining; a failed health check (`/healthcheck/fail`); the reload
/// counters. Shared by the run loop and the admin servers.
package final class ServerStatus: Sendable {
    package enum State: Int, Sendable {
        /// Envoy's numbering: LIVE 0, DRAINING 1, PRE_INITIALIZING 2, INITIALIZING 3.
        case live = 0
        case draining = 1
        case preInitializing = 2
        case initializing = 3

        package var name: String {
            switch self {
            case .live: "LIVE"
            case .draining: "DRAINING"
            case .preInitializing: "PRE_INITIALIZING"
            case .initializing: "INITIALIZING"
            }
        }
    }

    struct Values {
        var state: State = .preInitializing
        var healthCheckFailed = false
        var generation = 0
        var reloadsSucceeded = 0
        var reloadsRejected = 0
        var listenersBound = 0
        var lastReloadProblem: String?
    }

    private let values = Mutex(Values())
    package let startedAt = ContinuousClock.now
    /// Seconds since the epoch at start, for `/server_info`.
    package let startedAtEpochSeconds: Int64

    package init(startedAtEpochSeconds: Int64) {
        self.startedAtEpochSeconds = startedAtEpochSeconds
    }

    package var state: State { values.withLock { $0.state } }
    package var healthCheckFailed: Bool { values.withLock { $0.healthCheckFailed } }
    package var generation: Int { values.withLock { $0.generation } }
    package var reloads: (succeeded: Int, rejected: Int) { values.withLock { ($0.reloadsSucceeded, $0.reloadsRejected) } }
    package var listenersBound: Int { values.withLock { $0.listenersBound } }
    package var lastReloadProblem: String? { values.withLock { $0.lastReloadProblem } }

    /// The first configuration is served and `listeners` are bound.
    package func started(generation: Int, listeners: Int) {
        values.withLock {
            $0.state = .live
            $0.generation = generation
            $0.listenersBound = listeners
        }
    }

    package func reloaded(generation: Int, listeners: Int) {
        values.withLock {
            $0.generation = generation
            $0.reloadsSucceeded += 1
            $0.listenersBound = listeners
            $0.lastReloadProblem = nil
        }
    }

    package func reloadRejected(_ problem: String) {
        values.withLock {
            $0.reloadsRejected += 1
            $0.lastReloadProblem = problem
        }
    }

    package func startDraining() {
        values.withLock { $0.state = .draining }
    }

    package func setHealthCheckFailed(_ failed: Bool) {
        values.withLock { $0.healthCheckFailed = failed }
    }

    /// Why the proxy is not ready (nil: ready), in the words of Istio's agent where it has them.
    package var notReadyReason: String? {
        values.withLock { values in
            switch values.state {
            case .preInitializing, .initializing: return "config not received yet (listeners not bound)"
            case .draining: return "server is draining"
            case .live: return values.healthCheckFailed ? "health check failed (/healthcheck/fail)" : nil
            }
        }
    }
}
