import MizzenConfig
import MizzenRouting

/// What a cluster's load balancers share: the algorithm Istio's settings translate to, the
/// endpoints and their effective weights, and the hash ring or Maglev table. Immutable and
/// `Sendable`, built once per endpoint set, so the per-event-loop `LoadBalancer`s of a cluster
/// share one 65537-slot table instead of building one each.
struct LoadBalancerPlan: Sendable {
    /// The Envoy load-balancing policy a cluster runs, as Istio's
    /// `cluster_traffic_policy.go` (`applyLoadBalancer`, `ApplyRingHashLoadBalancer`) chooses it.
    enum Algorithm: Sendable, Hashable {
        /// Power of two choices by active requests (Envoy `LEAST_REQUEST`).
        case leastRequest
        /// Rotation, smooth weighted when weights differ (Envoy `ROUND_ROBIN`).
        case roundRobin
        /// Uniform (Envoy `RANDOM`).
        case random
        /// Consistent hash on a ring (Envoy `RING_HASH`).
        case ringHash(minimumSize: UInt64)
        /// Consistent hash on a Maglev table (Envoy `MAGLEV`).
        case maglev(tableSize: UInt64)
    }

    let algorithm: Algorithm
    let endpoints: [ClusterEndpoint]
    /// Each endpoint's weight, at least 1: Envoy rejects a `load_balancing_weight` of 0 and Istio
    /// writes 1 for an endpoint without one, so 0 here means "unset".
    let weights: [UInt32]
    /// All weights equal: plain rotation and unweighted sampling apply.
    let uniformWeights: Bool
    /// Running sums of `weights`, for sampling in proportion to weight.
    let cumulativeWeights: [UInt64]
    /// How requests are hashed, for the consistent-hash algorithms (nil when the settings name no
    /// key: every pick is then random, as in Envoy).
    let hashPolicy: HashPolicy?
    let ring: HashRing?
    let maglev: MaglevTable?

    init(endpoints: [ClusterEndpoint], settings: LoadBalancerSettings?) {
        let algorithm = Self.algorithm(for: settings)
        self.algorithm = algorithm
        self.endpoints = endpoints
        let weights = endpoints.map { max($0.weight, 1) }
        self.weights = weights
        uniformWeights = weights.allSatisfy { $0 == weights.first }
        var sum: UInt64 = 0
        cumulativeWeights = weights.map { weight in
            sum += UInt64(weight)
            return sum
        }
        hashPolicy = settings?.consistentHash.flatMap(HashPolicy.init)
        switch algorithm {
        case .ringHash(let minimumSize):
            ring = HashRing(endpoints: endpoints, weights: weights, minimumSize: minimumSize)
            maglev = nil
        case .maglev(let tableSize):
            ring = nil
            maglev = MaglevTable(endpoints: endpoints, weights: weights, size: tableSize)
        case .leastRequest, .roundRobin, .random:
            ring = nil
            maglev = nil
        }
    }

    /// The sum of the weights.
    var totalWeight: UInt64 { cumulativeWeights.last ?? 0 }

    /// The algorithm for a cluster's merged settings.
    ///
    /// - No settings, `UNSPECIFIED`: `LEAST_REQUEST`, Istio's default since 1.14
    ///   (`defaultLBAlgorithm()`); before that it was `ROUND_ROBIN`.
    /// - `LEAST_CONN`: deprecated in Istio and translated to `LEAST_REQUEST`, as Envoy has no
    ///   least-connections policy.
    /// - `PASSTHROUGH`: Istio makes the cluster `ORIGINAL_DST`, forwarding to the address the
    ///   downstream connection was originally sent to. A gateway terminates connections addressed
    ///   to itself, so there is no such address to honour; the endpoints are rotated instead.
    /// - `consistentHash` overrides `simple` (Istio applies it last): `maglev` when set, else the
    ///   ring, sized by `ringHash.minimumRingSize` or the deprecated `minimumRingSize` (0 meaning
    ///   unset, as in Istio).
    static func algorithm(for settings: LoadBalancerSettings?) -> Algorithm {
        guard let settings else { return .leastRequest }
        if let hash = settings.consistentHash {
            if let maglev = hash.maglev { return .maglev(tableSize: MaglevTable.tableSize(maglev.tableSize)) }
            let size = [hash.ringHash?.minimumRingSize, hash.minimumRingSize].lazy.compactMap { $0 }.first { $0 != 0 }
            return .ringHash(minimumSize: size ?? HashRing.defaultMinimumSize)
        }
        switch settings.simple {
        case nil, .unspecified, .leastRequest, .leastConn: return .leastRequest
        case .roundRobin, .passthrough: return .roundRobin
        case .random: return .random
        }
    }
}

extension ClusterEndpoint {
    /// The endpoint as Envoy names a host when hashing it (`Address::asString()`): `ip:port`,
    /// `[ipv6]:port`.
    var addressKey: String {
        address.utf8.contains(UInt8(ascii: ":")) && !address.hasPrefix("[") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
