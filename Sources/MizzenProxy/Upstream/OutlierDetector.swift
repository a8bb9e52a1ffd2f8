import MizzenRouting
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Passive health checking of a cluster's endpoints (Envoy's outlier detection, as Istio's
/// `outlierDetection` programs it): consecutive 5xx, gateway errors (502/503/504) and local
/// origin failures (connect failures, resets, timeouts) eject an endpoint for
/// `baseEjectionTime × times ejected` (capped at 300 s); it comes back at the first
/// `interval` tick after that. At most `maxEjectionPercent` of the endpoints are out at once,
/// but one always may be; below `minHealthPercent` healthy the cluster ignores ejections (Envoy's
/// panic threshold).
///
/// No lock on the request path: as Envoy's host monitors, each endpoint's counters are relaxed
/// atomics, and an ejection is decided by the event loop whose response trips it, with a
/// compare-and-swap on the cluster's ejected count (so the percentage cap holds under races).
/// Picks read one atomic per candidate endpoint, and only for clusters that configure outlier
/// detection. The lock below guards the endpoint map, which only a publish touches.
final class OutlierDetector: Sendable {
    /// What one attempt at an endpoint came to.
    enum Outcome: Sendable, Equatable {
        case status(UInt)
        /// Connect failure, reset or timeout: the proxy saw no response.
        case localOriginFailure
    }

    /// Endpoints ejected now (an ejection whose time is up counts until someone looks).
    let ejectedCount = Atomic<Int>(0)
    /// Ejections end on ticks of `interval` counted from here.
    let origin = NIODeadline.now()
    private let monitors = NIOLockedValueBox<[String: EndpointMonitor]>([:])

    /// The monitor of each endpoint, in order, made for new endpoints; monitors of endpoints no
    /// longer listed are forgotten (their ejections with them). Called at publish, off the loops.
    func monitors(for endpoints: [ClusterEndpoint]) -> [EndpointMonitor] {
        monitors.withLockedValue { map in
            var kept: [String: EndpointMonitor] = [:]
            let list = endpoints.map { endpoint -> EndpointMonitor in
                let key = endpoint.addressKey
                let monitor = kept[key] ?? map[key] ?? EndpointMonitor()
                kept[key] = monitor
                return monitor
            }
            for (key, monitor) in map where kept[key] == nil && monitor.ejectedUntil.load(ordering: .relaxed) != 0 {
                // A forgotten endpoint's ejection no longer counts against the cap.
                if monitor.ejectedUntil.exchange(0, ordering: .relaxed) != 0 { ejectedCount.wrappingSubtract(1, ordering: .relaxed) }
            }
            map = kept
            return list
        }
    }

    /// How many endpoints are monitored (for tests of pruning).
    var monitoredCount: Int { monitors.withLockedValue(\.count) }

    /// Records what an attempt at `monitor`'s endpoint came to; may eject it. `endpointCount` is
    /// the cluster's size.
    func record(_ outcome: Outcome, _ monitor: EndpointMonitor, endpointCount: Int, settings: OutlierSettings, now: NIODeadline = .now()) {
        releaseIfDue(monitor, now: now)
        guard monitor.ejectedUntil.load(ordering: .relaxed) == 0 else { return }
        var trip = false
        switch outcome {
        case .status(let status):
            let isError = settings.errorCodes.map { $0.contains(status) } ?? (status >= 500 && status <= 599)
            let isGateway = status == 502 || status == 503 || status == 504
            if isError {
                let count = monitor.consecutive5xx.wrappingAdd(1, ordering: .relaxed).newValue
                if settings.consecutive5xx > 0, count >= settings.consecutive5xx { trip = true }
            } else if monitor.consecutive5xx.load(ordering: .relaxed) != 0 {
                monitor.consecutive5xx.store(0, ordering: .relaxed)
            }
            if isGateway {
                let count = monitor.consecutiveGateway.wrappingAdd(1, ordering: .relaxed).newValue
                if settings.consecutiveGateway > 0, count >= settings.consecutiveGateway { trip = true }
            } else if monitor.consecutiveGateway.load(ordering: .relaxed) != 0 {
                monitor.consecutiveGateway.store(0, ordering: .relaxed)
            }
            if !isError && !isGateway {
                if monitor.consecutiveLocal.load(ordering: .relaxed) != 0 { monitor.consecutiveLocal.store(0, ordering: .relaxed) }
            }
        case .localOriginFailure:
            if settings.splitLocalOrigin {
                let count = monitor.consecutiveLocal.wrappingAdd(1, ordering: .relaxed).newValue
                if settings.consecutiveLocalOrigin > 0, count >= settings.consecutiveLocalOrigin { trip = true }
            } else {
                // Without the split, a local failure counts as a 503 (Envoy).
                let fives = monitor.consecutive5xx.wrappingAdd(1, ordering: .relaxed).newValue
                let gateway = monitor.consecutiveGateway.wrappingAdd(1, ordering: .relaxed).newValue
                if settings.consecutive5xx > 0, fives >= settings.consecutive5xx { trip = true }
                if settings.consecutiveGateway > 0, gateway >= settings.consecutiveGateway { trip = true }
            }
        }
        if trip { eject(monitor, endpointCount: endpointCount, settings: settings, now: now) }
    }

    private func eject(_ monitor: EndpointMonitor, endpointCount: Int, settings: OutlierSettings, now: NIODeadline) {
        guard endpointCount > 0 else { return }
        // Envoy: eject when that keeps the ejected share within the limit, or when none is out.
        var current = ejectedCount.load(ordering: .relaxed)
        while true {
            guard current == 0 || Double(current + 1) * 100 / Double(endpointCount) <= Double(settings.maxEjectionPercent) else { return }
            let (exchanged, original) = ejectedCount.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        // Envoy lowers the multiplier once for every interval the endpoint has been back.
        let nowNanos = Int64(truncatingIfNeeded: now.uptimeNanoseconds)
        let healthyIntervals = Int((nowNanos - monitor.returnedAt.load(ordering: .relaxed)) / settings.interval)
        let times = max(monitor.timesEjected.load(ordering: .relaxed) - max(healthyIntervals, 0), 0) + 1
        let duration = min(settings.baseEjection * Int64(times), max(settings.baseEjection, OutlierSettings.maxEjection))
        // The ejection ends at the first interval tick at or after its time.
        let originNanos = Int64(truncatingIfNeeded: origin.uptimeNanoseconds)
        let ticks = (nowNanos + duration - originNanos + settings.interval - 1) / settings.interval
        let release = originNanos + ticks * settings.interval
        let (installed, _) = monitor.ejectedUntil.compareExchange(expected: 0, desired: max(release, 1), ordering: .relaxed)
        guard installed else {
            // Another loop ejected it meanwhile.
            ejectedCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        monitor.timesEjected.store(times, ordering: .relaxed)
        monitor.consecutive5xx.store(0, ordering: .relaxed)
        monitor.consecutiveGateway.store(0, ordering: .relaxed)
        monitor.consecutiveLocal.store(0, ordering: .relaxed)
    }

    /// Ends an ejection whose time is up; the loop that sees it first gives the slot back.
    @discardableResult
    private func releaseIfDue(_ monitor: EndpointMonitor, now: NIODeadline) -> Bool {
        let until = monitor.ejectedUntil.load(ordering: .relaxed)
        guard until != 0, Int64(truncatingIfNeeded: now.uptimeNanoseconds) >= until else { return false }
        let (released, _) = monitor.ejectedUntil.compareExchange(expected: until, desired: 0, ordering: .relaxed)
        if released {
            ejectedCount.wrappingSubtract(1, ordering: .relaxed)
            monitor.returnedAt.store(Int64(truncatingIfNeeded: now.uptimeNanoseconds), ordering: .relaxed)
        }
        return true
    }

    /// Whether the cluster honours ejections now: not below its panic threshold.
    func honoursEjections(endpointCount: Int, settings: OutlierSettings) -> Bool {
        let ejected = ejectedCount.load(ordering: .relaxed)
        guard ejected > 0 else { return false }
        if settings.minHealthPercent > 0, endpointCount > 0 {
            let healthy = Double(endpointCount - ejected) * 100 / Double(endpointCount)
            if healthy < Double(settings.minHealthPercent) { return false }
        }
        return true
    }

    /// Whether the endpoint is out now (an ejection whose time is up is ended here).
    func isEjected(_ monitor: EndpointMonitor, now: NIODeadline) -> Bool {
        let until = monitor.ejectedUntil.load(ordering: .relaxed)
        if until == 0 { return false }
        return !releaseIfDue(monitor, now: now)
    }
}

/// One endpoint's counters (atomics, shared by every loop).
final class EndpointMonitor: Sendable {
    let consecutive5xx = Atomic<Int>(0)
    let consecutiveGateway = Atomic<Int>(0)
    let consecutiveLocal = Atomic<Int>(0)
    /// Uptime nanoseconds at which the ejection ends; 0: not ejected.
    let ejectedUntil = Atomic<Int64>(0)
    let timesEjected = Atomic<Int>(0)
    /// Uptime nanoseconds at which its last ejection ended (or it was first seen): written once
    /// per ejection, never per response.
    let returnedAt = Atomic<Int64>(Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds))
}
