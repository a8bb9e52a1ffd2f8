import MizzenRouting

/// A consistent-hash ring: Envoy's `RING_HASH` (libketama's ring). Every endpoint is hashed to
/// many points of the 64-bit circle, `XXH64("address:port_i")` as Envoy names them; a request
/// hash belongs to the endpoint of the first point at or after it, wrapping past the top.
///
/// One deliberate difference from Envoy: `minimumRingSize` is the number of points of the
/// lightest endpoint, not of the whole ring. Envoy sizes the ring as a whole and divides it
/// among the endpoints, so adding or removing one endpoint adds or removes points of every
/// other one, and about 15 % of the keys of endpoints that stayed move (4 → 3 endpoints at the
/// default 1024). Here an endpoint's points depend only on its own address and relative weight,
/// so only the keys of the removed endpoint move, and every endpoint gets the 1024-point
/// granularity Envoy gives only to the ring (with 100 endpoints Envoy's default leaves ten
/// points each, and shares that are off by ±30 %). The ring is capped at `maximumSize` points;
/// past that the points per endpoint scale down, as Envoy's do.
///
/// Built once per endpoint set and immutable: shared by every event loop.
struct HashRing: Sendable {
    /// Envoy's and Istio's default `minimumRingSize`.
    static let defaultMinimumSize: UInt64 = 1024
    /// At most 2^20 points, 12 MB: Envoy allows 8M (96 MB per cluster at this layout), which a
    /// gateway with many consistent-hash clusters cannot afford, and a thousand points per
    /// endpoint already balance to ±3 %.
    static let maximumSize: UInt64 = 1 << 20

    /// The points' hashes, ascending.
    private let hashes: [UInt64]
    /// The endpoint index of each point.
    private let owners: [UInt32]

    /// A ring over `endpoints`; `weights` are their effective weights (each at least 1).
    init(endpoints: [ClusterEndpoint], weights: [UInt32], minimumSize: UInt64 = Self.defaultMinimumSize) {
        precondition(endpoints.count == weights.count)
        guard let lightest = weights.min() else {
            hashes = []
            owners = []
            return
        }
        let perUnit = Double(max(minimumSize, 1))
        var units = 0.0
        for weight in weights { units += Double(weight) / Double(lightest) }
        // Points per unit of the lightest endpoint's weight, scaled down only past the cap.
        let scale = min(perUnit, Double(Self.maximumSize) / units)

        var points: [(hash: UInt64, owner: UInt32)] = []
        points.reserveCapacity(Int(min(perUnit * units, Double(Self.maximumSize))) + endpoints.count)
        var key: [UInt8] = []
        for (index, endpoint) in endpoints.enumerated() {
            let count = max(1, Int((scale * Double(weights[index]) / Double(lightest)).rounded()))
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: endpoint.addressKey.utf8)
            key.append(UInt8(ascii: "_"))
            let prefixLength = key.count
            for point in 0..<count {
                key.removeSubrange(prefixLength...)
                appendDecimal(point, to: &key)
                points.append((XXHash64.hash(key), UInt32(truncatingIfNeeded: index)))
            }
        }
        // The owner breaks ties so equal hashes order the same on every build.
        points.sort { $0.hash < $1.hash || ($0.hash == $1.hash && $0.owner < $1.owner) }
        hashes = points.map(\.hash)
        owners = points.map(\.owner)
    }

    /// The number of points.
    var count: Int { hashes.count }

    /// The position of the first point at or after `hash`, wrapping to the first point.
    func position(of hash: UInt64) -> Int {
        var low = 0
        var high = hashes.count
        while low < high {
            let middle = (low + high) &>> 1
            if hashes[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low == hashes.count ? 0 : low
    }

    /// The endpoint index of the point at `position`.
    @inline(__always)
    func owner(at position: Int) -> Int {
        Int(owners[position])
    }

    /// How many points each endpoint has, for tests and the admin dump.
    func pointsPerEndpoint(endpointCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: endpointCount)
        for owner in owners { counts[Int(owner)] += 1 }
        return counts
    }
}

/// Appends the decimal digits of a non-negative number.
private func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
    if value < 10 {
        bytes.append(UInt8(ascii: "0") + UInt8(value))
        return
    }
    let start = bytes.count
    var rest = value
    while rest > 0 {
        bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
        rest /= 10
    }
    bytes[start...].reverse()
}
