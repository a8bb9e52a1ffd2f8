/// SplitMix64 (Steele, Lea and Flood): the load balancers' random source.
///
/// Each balancer owns one, seeded when it is built, so a pick costs three multiplies instead of
/// a `getrandom` call through `SystemRandomNumberGenerator`, and a test that passes a fixed seed
/// sees the same picks on every run. Not for anything that must be unpredictable.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value &>> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value &>> 31)
    }

    /// A number in `0..<bound` (`bound` > 0), without modulo bias (Lemire's method, which the
    /// standard library's `next(upperBound:)` implements).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
    }
}
