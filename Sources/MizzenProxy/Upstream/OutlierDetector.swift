import MizzenConfig
import NIOConcurrencyHelpers
import NIOCore

/// Passive health checking of a cluster's endpoints (Envoy's outlier detection, as Istio's
/// `outlierDetection` programs it): consecutive 5xx, gateway errors (502/503/504) and local
/// origin failures (connect failures, resets, timeouts) eject an endpoint for
/// `baseEjectionTime × times ejected` (capped at 300 s); it comes back at the first
/// `interval` tick after that. At most `maxEjectionPercent` of the endpoints are out at once,
/// but one always may be; below `minHealthPercent` healthy the cluster ignores ejections (Envoy's
/// panic threshold).
///
/// Shared by every event loop; a lock guards the per-endpoint state (touched once per response
/// of a cluster that has outlier detection, never for other clusters).
final class OutlierDetector: Sendable {
    struct Settings: Sendable {
        var consecutive5xx: Int
        var consecutiveGateway: Int
        var consecutiveLocalOrigin: Int
        var splitLocalOrigin: Bool
        var interval: Int64
        var baseEjection: Int64
        var maxEjectionPercent: Int
        var minHealthPercent: Int
        /// Statuses that count as errors for the 5xx counter; nil: 500–599.
        var errorCodes: Set<UInt>?

        static let maxEjection: Int64 = 300_000_000_000

        init(_ policy: OutlierDetection) {
            consecutive5xx = policy.consecutive5xxErrors.map(Int.init) ?? 5
            if let gateway = policy.consecutiveGatewayErrors {
                consecutiveGateway = Int(gateway)
            } else if let legacy = policy.consecutiveErrors, legacy > 0 {
                consecutiveGateway = Int(legacy)
            } else {
                consecutiveGateway = 0
            }
            splitLocalOrigin = policy.splitExternalLocalOriginErrors ?? false
            consecutiveLocalOrigin = policy.consecutiveLocalOriginFailures.map(Int.init) ?? 5
            interval = max(policy.interval?.nanoseconds ?? 10_000_000_000, 1_000_000)
            baseEjection = max(policy.baseEjectionTime?.nanoseconds ?? 30_000_000_000, 1_000_000)
            maxEjectionPercent = Int(policy.maxEjectionPercent ?? 10)
            minHealthPercent = Int(policy.minHealthPercent ?? 0)
            errorCodes = policy.outlierDetectionHttpErrorCodes.flatMap { $0.isEmpty ? nil : Set($0.map(UInt.init)) }
        }
    }

    /// What one attempt at an endpoint came to.
    enum Outcome {
        case status(UInt)
        /// Connect failure, reset or timeout: the proxy saw no response.
        case localOriginFailure
    }

    private struct EndpointState {
        var consecutive5xx = 0
        var consecutiveGateway = 0
        var consecutiveLocal = 0
        var ejectedUntil: NIODeadline?
        var timesEjected = 0
        var lastHealthy = NIODeadline.now()
    }

    private struct State {
        var endpoints: [String: EndpointState] = [:]
        var ejectedCount = 0
        let origin = NIODeadline.now()
    }

    private let state = NIOLockedValueBox(State())

    static func key(_ address: String, _ port: UInt32) -> String { "\(address):\(port)" }

    /// Records an outcome; may eject the endpoint. `endpointCount` is the cluster's size.
    func record(_ outcome: Outcome, endpoint: String, endpointCount: Int, settings: Settings, now: NIODeadline = .now()) {
        state.withLockedValue { state in
            Self.releaseExpired(&state, settings: settings, now: now)
            var entry = state.endpoints[endpoint] ?? EndpointState()
            guard entry.ejectedUntil == nil else { return }
            var trip = false
            switch outcome {
            case .status(let status):
                let isError = settings.errorCodes.map { $0.contains(status) } ?? (status >= 500 && status <= 599)
                let isGateway = status == 502 || status == 503 || status == 504
                if isError {
                    entry.consecutive5xx += 1
                    if settings.consecutive5xx > 0, entry.consecutive5xx >= settings.consecutive5xx { trip = true }
                } else {
                    entry.consecutive5xx = 0
                }
                if isGateway {
                    entry.consecutiveGateway += 1
                    if settings.consecutiveGateway > 0, entry.consecutiveGateway >= settings.consecutiveGateway { trip = true }
                } else {
                    entry.consecutiveGateway = 0
                }
                if !isError && !isGateway {
                    entry.consecutiveLocal = 0
                    entry.lastHealthy = now
                }
            case .localOriginFailure:
                if settings.splitLocalOrigin {
                    entry.consecutiveLocal += 1
                    if settings.consecutiveLocalOrigin > 0, entry.consecutiveLocal >= settings.consecutiveLocalOrigin { trip = true }
                } else {
                    // Without the split, a local failure counts as a 503 (Envoy).
                    entry.consecutive5xx += 1
                    entry.consecutiveGateway += 1
                    if settings.consecutive5xx > 0, entry.consecutive5xx >= settings.consecutive5xx { trip = true }
                    if settings.consecutiveGateway > 0, entry.consecutiveGateway >= settings.consecutiveGateway { trip = true }
                }
            }
            if trip, Self.mayEject(ejected: state.ejectedCount, total: endpointCount, settings: settings) {
                // Envoy lowers the multiplier for every interval the endpoint stayed healthy.
                let healthyIntervals = Int((now - entry.lastHealthy).nanoseconds / settings.interval)
                entry.timesEjected = max(entry.timesEjected - healthyIntervals, 0) + 1
                let duration = min(settings.baseEjection * Int64(entry.timesEjected), max(settings.baseEjection, Settings.maxEjection))
                entry.ejectedUntil = now + .nanoseconds(duration)
                entry.consecutive5xx = 0
                entry.consecutiveGateway = 0
                entry.consecutiveLocal = 0
                state.ejectedCount += 1
            }
            state.endpoints[endpoint] = entry
        }
    }

    /// Envoy: eject when that keeps the ejected share within the limit, or when none is out.
    static func mayEject(ejected: Int, total: Int, settings: Settings) -> Bool {
        guard total > 0 else { return false }
        if ejected == 0 { return true }
        return Double(ejected + 1) * 100 / Double(total) <= Double(settings.maxEjectionPercent)
    }

    /// The endpoints currently ejected (after returning those whose time is up), or an empty
    /// set when the cluster is below its panic threshold.
    func ejected(endpointCount: Int, settings: Settings, now: NIODeadline = .now()) -> Set<String> {
        state.withLockedValue { state in
            Self.releaseExpired(&state, settings: settings, now: now)
            guard state.ejectedCount > 0 else { return [] }
            if settings.minHealthPercent > 0, endpointCount > 0 {
                let healthy = Double(endpointCount - state.ejectedCount) * 100 / Double(endpointCount)
                if healthy < Double(settings.minHealthPercent) { return [] }
            }
            var result: Set<String> = []
            for (key, entry) in state.endpoints where entry.ejectedUntil != nil { result.insert(key) }
            return result
        }
    }

    /// Ejections end at the first interval tick at or after their time.
    private static func releaseExpired(_ state: inout State, settings: Settings, now: NIODeadline) {
        guard state.ejectedCount > 0 else { return }
        for (key, entry) in state.endpoints {
            guard let until = entry.ejectedUntil else { continue }
            let sinceOrigin = (until - state.origin).nanoseconds
            let ticks = (sinceOrigin + settings.interval - 1) / settings.interval
            let release = state.origin + .nanoseconds(ticks * settings.interval)
            if now >= release {
                var updated = entry
                updated.ejectedUntil = nil
                updated.lastHealthy = now
                state.endpoints[key] = updated
                state.ejectedCount -= 1
            }
        }
    }
}
