import MizzenRouting

/// What a cluster's load balancers share: the algorithm, the endpoints and their effective
/// weights, and the hash ring or Maglev table. Immutable and `Sendable`, built off the event
/// loops once per endpoint set (a publish that leaves a cluster's endpoints and balancing alone
/// keeps its plan, so a 65537-slot Maglev table is not rebuilt), shared by the per-loop
/// `LoadBalancer`s. A class: each loop keeps its balancer by plan identity.
final class LoadBalancerPlan: Sendable {
    let spec: LoadBalancerSpec
    let endpoints: [ClusterEndpoint]
    /// Each endpoint's weight, at least 1: Envoy rejects a `load_balancing_weight` of 0 and Istio
    /// writes 1 for an endpoint without one, so 0 here means "unset".
    let weights: [UInt32]
    /// All weights equal: plain rotation and unweighted sampling apply.
    let uniformWeights: Bool
    /// Running sums of `weights`, for sampling in proportion to weight.
    let cumulativeWeights: [UInt64]
    let ring: HashRing?
    let maglev: MaglevTable?

    init(endpoints: [ClusterEndpoint], spec: LoadBalancerSpec) {
        self.spec = spec
        self.endpoints = endpoints
        let weights = endpoints.map { max($0.weight, 1) }
        self.weights = weights
        uniformWeights = weights.allSatisfy { $0 == weights.first }
        var sum: UInt64 = 0
        cumulativeWeights = weights.map { weight in
            sum += UInt64(weight)
            return sum
        }
        switch spec.algorithm {
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

    var algorithm: LoadBalancerSpec.Algorithm { spec.algorithm }

    /// How requests are hashed, for the consistent-hash algorithms (nil when the settings name no
    /// key: every pick is then random, as in Envoy).
    var hashPolicy: HashPolicy? { spec.hashPolicy }

    /// The sum of the weights.
    var totalWeight: UInt64 { cumulativeWeights.last ?? 0 }

    /// Whether this plan serves `endpoints` under `spec` as well (a publish may keep it).
    func serves(_ endpoints: [ClusterEndpoint], spec: LoadBalancerSpec) -> Bool {
        self.spec == spec && self.endpoints == endpoints
    }
}
