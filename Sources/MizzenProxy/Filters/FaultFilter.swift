import MizzenRouting
import NIOCore

/// Envoy's fault filter as Istio programs it (`fault`): a delay and/or an abort, each for a
/// share of requests. It runs before the router; when both are chosen, Envoy delays first,
/// then aborts. Pure: the random draws come from the caller's generator.
enum FaultFilter {
    struct Outcome: Equatable {
        /// Hold the request this long first (DI).
        var delay: TimeAmount?
        /// Then answer with this instead of routing (FI).
        var abort: LocalReply?
    }

    static func apply(_ fault: FaultPolicy, random: inout some RandomNumberGenerator) -> Outcome {
        var outcome = Outcome()
        if let abort = fault.abort, chance(abort.fraction, using: &random) {
            switch abort.status {
            case .http(let code): outcome.abort = .error(.faultAbort(code))
            case .grpc(let code): outcome.abort = .grpcStatus(code: code, message: "fault filter abort")
            }
        }
        if let (nanoseconds, fraction) = fault.delay, chance(fraction, using: &random) {
            outcome.delay = .nanoseconds(nanoseconds)
        }
        return outcome
    }

    static func chance(_ fraction: Double, using random: inout some RandomNumberGenerator) -> Bool {
        if fraction >= 1 { return true }
        if fraction <= 0 { return false }
        return Double.random(in: 0..<1, using: &random) < fraction
    }
}
