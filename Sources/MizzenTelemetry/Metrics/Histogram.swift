/// One histogram's counts with Envoy's default buckets (`histogram_impl.cc defaultBuckets`,
/// ISTIO-OPS §1.3), the ones Istio's request duration and size histograms use: 19 bounds and
/// `+Inf`. Counts are per bucket here (not cumulative), summed into Prometheus's cumulative
/// form when written.
package struct Histogram: Sendable, Equatable {
    /// Upper bounds, inclusive (a value equal to a bound counts in its bucket, as `le` says).
    package static let envoyDefaultBounds: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1_800_000, 3_600_000,
    ]

    /// `envoyDefaultBounds.count + 1` counts; the last is the `+Inf` overflow.
    package private(set) var counts: [UInt64]
    package private(set) var sum: Double = 0
    package private(set) var count: UInt64 = 0

    package init() {
        counts = Array(repeating: 0, count: Self.envoyDefaultBounds.count + 1)
    }

    /// Counts `value`. A linear walk: most values land in the first ten buckets, where it
    /// stops sooner than a binary search would (and branch-predicts better).
    package mutating func record(_ value: Double) {
        var index = 0
        let bounds = Self.envoyDefaultBounds
        while index < bounds.count, value > bounds[index] { index += 1 }
        counts[index] &+= 1
        sum += value
        count &+= 1
    }

    /// Adds another loop's counts.
    package mutating func merge(_ other: Histogram) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        sum += other.sum
        count &+= other.count
    }
}
