import MizzenRouting

/// Picks the endpoint of a cluster for each request or connection.
///
/// One per cluster per event loop, used only on that loop: rotation state and the random source
/// are plain stored properties, with no lock and no atomics. The immutable part (endpoints,
/// weights, ring or Maglev table) is a `LoadBalancerPlan` that the loops' balancers share.
///
/// `pick` asks the caller which endpoints may be used (`isAvailable`: not ejected by outlier
/// detection, circuit not open...) and how many requests each has in flight, so this type knows
/// nothing of health or connection pools. It returns an endpoint index, or nil when no endpoint
/// is available. What Envoy does that this does not (yet): priorities and locality weighting,
/// the healthy panic threshold, slow start.
final class LoadBalancer {
    let plan: LoadBalancerPlan
    private var random: SplitMix64
    /// Plain rotation: the next index to try.
    private var nextIndex: Int
    /// Smooth weighted round robin (nginx's): each endpoint's current weight.
    private var currentWeights: [Int64]
    /// Which endpoints are available, filled only when a consistent-hash pick must walk past an
    /// unavailable one, so that walk asks `isAvailable` once per endpoint rather than per point.
    private var availability: [Bool] = []

    /// A balancer for `endpoints` under a cluster's compiled `spec`; `seed` fixes its random
    /// choices (tests), and is otherwise random so balancers on different loops and proxies do
    /// not move in step.
    convenience init(endpoints: [ClusterEndpoint], spec: LoadBalancerSpec, seed: UInt64 = .random(in: .min ... .max)) {
        self.init(plan: LoadBalancerPlan(endpoints: endpoints, spec: spec), seed: seed)
    }

    /// A balancer over a plan built once and shared by the cluster's event loops.
    init(plan: LoadBalancerPlan, seed: UInt64 = .random(in: .min ... .max)) {
        self.plan = plan
        random = SplitMix64(seed: seed)
        let count = plan.endpoints.count
        // Start at a random place, as Envoy does, so that proxies restarted together do not
        // all send their first requests to the first endpoint.
        nextIndex = count > 0 ? random.below(count) : 0
        currentWeights = [Int64](repeating: 0, count: plan.algorithm == .roundRobin && !plan.uniformWeights ? count : 0)
        if !currentWeights.isEmpty { warmUpSmoothWeighted() }
    }

    var endpoints: [ClusterEndpoint] { plan.endpoints }

    /// The index of the endpoint to use, or nil when none is available.
    ///
    /// - Parameters:
    ///   - hashKey: the request's hash (`HashPolicy.key`) for the consistent-hash algorithms;
    ///     nil there picks a random point of the ring or table, as Envoy does when a request
    ///     lacks the key. Ignored by the other algorithms.
    ///   - isAvailable: whether an endpoint may be picked.
    ///   - activeRequests: an endpoint's requests in flight, for least request.
    func pick(hashKey: UInt64?, isAvailable: (Int) -> Bool, activeRequests: (Int) -> Int) -> Int? {
        let count = plan.endpoints.count
        if count == 0 { return nil }
        switch plan.algorithm {
        case .leastRequest:
            return pickLeastRequest(isAvailable: isAvailable, activeRequests: activeRequests)
        case .roundRobin:
            return plan.uniformWeights ? pickRotation(isAvailable: isAvailable) : pickSmoothWeighted(isAvailable: isAvailable)
        case .random:
            return pickRandom(isAvailable: isAvailable)
        case .ringHash:
            guard let ring = plan.ring, ring.count > 0 else { return nil }
            let hash = hashKey ?? random.next()
            let position = ring.position(of: hash)
            let owner = ring.owner(at: position)
            if isAvailable(owner) { return owner }
            // Walking on to the next point of another, available endpoint is what Envoy's
            // rebuilt ring without the endpoint would answer: its points are simply gone.
            return walk(from: position, count: ring.count, owner: ring.owner(at:), hash: hash, isAvailable: isAvailable)
        case .maglev:
            guard let table = plan.maglev, table.count > 0 else { return nil }
            let hash = hashKey ?? random.next()
            let slot = table.slot(of: hash)
            let owner = table.owner(at: slot)
            if isAvailable(owner) { return owner }
            // Envoy rebuilds the table without the endpoint; the next slot's owner is an
            // endpoint drawn in proportion to its share, and the same one for every key of this
            // slot, which keeps those keys together without a rebuild per ejection.
            return walk(from: slot, count: table.count, owner: table.owner(at:), hash: hash, isAvailable: isAvailable)
        }
    }

    // MARK: Least request

    /// Envoy's `LEAST_REQUEST` with its default `choice_count` of 2: sample two endpoints and
    /// take the one with fewer active requests, which keeps away from busy or slow endpoints
    /// without scanning them all.
    ///
    /// The two samples are distinct when weights are equal (Envoy samples with replacement, so
    /// with four endpoints it still picks the one busy endpoint 1 time in 16). With unequal
    /// weights Envoy switches to an earliest-deadline schedule on `weight / (active + 1)`; here
    /// the samples are drawn in proportion to weight and compared on `active / weight`, ties
    /// keeping the first: idle endpoints then share requests by weight exactly, and under load
    /// each endpoint's in-flight requests stay in proportion to its weight.
    private func pickLeastRequest(isAvailable: (Int) -> Bool, activeRequests: (Int) -> Int) -> Int? {
        let count = plan.endpoints.count
        if count == 1 { return isAvailable(0) ? 0 : nil }
        let first = sampleByWeight()
        var second = plan.uniformWeights ? random.below(count - 1) : sampleByWeight()
        if plan.uniformWeights {
            if second >= first { second += 1 }
        } else if second == first {
            second = sampleByWeight()
        }
        let firstUsable = isAvailable(first)
        let secondUsable = second != first && isAvailable(second)
        switch (firstUsable, secondUsable) {
        case (true, true):
            return lessLoaded(second, than: first, activeRequests: activeRequests) ? second : first
        case (true, false):
            return first
        case (false, true):
            return second
        case (false, false):
            return leastLoadedAvailable(isAvailable: isAvailable, activeRequests: activeRequests)
        }
    }

    /// Whether `candidate` carries fewer active requests per unit of weight than `current`.
    @inline(__always)
    private func lessLoaded(_ candidate: Int, than current: Int, activeRequests: (Int) -> Int) -> Bool {
        let candidateActive = UInt64(clamping: min(max(activeRequests(candidate), 0), Int(UInt32.max)))
        let currentActive = UInt64(clamping: min(max(activeRequests(current), 0), Int(UInt32.max)))
        if plan.uniformWeights { return candidateActive < currentActive }
        // a/wa < b/wb without division; both products fit in 64 bits.
        return candidateActive * UInt64(plan.weights[current]) < currentActive * UInt64(plan.weights[candidate])
    }

    /// Both samples were unavailable: scan, from a random place so ties spread.
    private func leastLoadedAvailable(isAvailable: (Int) -> Bool, activeRequests: (Int) -> Int) -> Int? {
        let count = plan.endpoints.count
        let start = random.below(count)
        var best: Int?
        for step in 0..<count {
            var index = start + step
            if index >= count { index -= count }
            guard isAvailable(index) else { continue }
            if let current = best {
                if lessLoaded(index, than: current, activeRequests: activeRequests) { best = index }
            } else {
                best = index
            }
        }
        return best
    }

    /// An endpoint index drawn in proportion to weight.
    private func sampleByWeight() -> Int {
        let count = plan.endpoints.count
        if plan.uniformWeights { return random.below(count) }
        let target = random.next(upperBound: plan.totalWeight)
        // The first running sum above the target.
        var low = 0
        var high = count - 1
        while low < high {
            let middle = (low + high) &>> 1
            if plan.cumulativeWeights[middle] > target { high = middle } else { low = middle + 1 }
        }
        return low
    }

    // MARK: Round robin

    /// Plain rotation, skipping unavailable endpoints (Envoy's unweighted round robin).
    private func pickRotation(isAvailable: (Int) -> Bool) -> Int? {
        let count = plan.endpoints.count
        for _ in 0..<count {
            let index = nextIndex
            nextIndex = index + 1 == count ? 0 : index + 1
            if isAvailable(index) { return index }
        }
        return nil
    }

    /// Smooth weighted round robin (nginx): every pick adds each available endpoint's weight to
    /// its current weight, takes the largest, and subtracts the total from it. Over a cycle each
    /// endpoint is picked exactly in proportion to its weight, and the picks of a heavy endpoint
    /// are spread through the cycle rather than bunched (3:1 gives a a b a, not a a a b).
    /// Envoy's earliest-deadline scheduler produces the same proportions; this is O(endpoints)
    /// per pick, which for the tens of endpoints of a service costs less than a heap.
    private func pickSmoothWeighted(isAvailable: (Int) -> Bool) -> Int? {
        var best = -1
        var total: Int64 = 0
        for index in currentWeights.indices where isAvailable(index) {
            let weight = Int64(plan.weights[index])
            currentWeights[index] += weight
            total += weight
            if best < 0 || currentWeights[index] > currentWeights[best] { best = index }
        }
        guard best >= 0 else { return nil }
        currentWeights[best] -= total
        return best
    }

    /// Advances the smooth weighted rotation by a random number of picks within one cycle (the
    /// total weight over the weights' common divisor), bounded so a wide cycle costs at most
    /// about 65536 steps: the weighted form of starting at a random index.
    private func warmUpSmoothWeighted() {
        var divisor: UInt64 = 0
        for weight in plan.weights { divisor = greatestCommonDivisor(divisor, UInt64(weight)) }
        let cycle = plan.totalWeight / max(divisor, 1)
        let bound = min(cycle, UInt64(max(1, 65536 / plan.endpoints.count)))
        let steps = random.next(upperBound: max(bound, 1))
        for _ in 0..<steps { _ = pickSmoothWeighted(isAvailable: { _ in true }) }
    }

    // MARK: Random

    /// A uniformly random available endpoint. Envoy's `RANDOM` ignores weights
    /// (`hosts[random % hosts.size()]`), and so does this.
    private func pickRandom(isAvailable: (Int) -> Bool) -> Int? {
        let count = plan.endpoints.count
        // A few draws find an available endpoint unless most are out; then count them.
        for _ in 0..<3 {
            let index = random.below(count)
            if isAvailable(index) { return index }
        }
        var available = 0
        for index in 0..<count where isAvailable(index) { available += 1 }
        guard available > 0 else { return nil }
        var remaining = random.below(available)
        for index in 0..<count where isAvailable(index) {
            if remaining == 0 { return index }
            remaining -= 1
        }
        return nil
    }

    // MARK: Consistent hash

    /// The owner of the first position after `start` (wrapping) whose endpoint is available.
    /// Availability is asked once per endpoint up front; if an available endpoint owns no
    /// position (a Maglev table smaller than the endpoint list), the hash picks among the
    /// available endpoints directly.
    private func walk(from start: Int, count: Int, owner: (Int) -> Int, hash: UInt64, isAvailable: (Int) -> Bool) -> Int? {
        let endpointCount = plan.endpoints.count
        if availability.count != endpointCount { availability = [Bool](repeating: false, count: endpointCount) }
        var availableCount = 0
        for index in 0..<endpointCount {
            let usable = isAvailable(index)
            availability[index] = usable
            if usable { availableCount += 1 }
        }
        guard availableCount > 0 else { return nil }
        var position = start
        for _ in 1..<max(count, 2) {
            position += 1
            if position == count { position = 0 }
            let candidate = owner(position)
            if availability[candidate] { return candidate }
        }
        var remaining = Int(truncatingIfNeeded: hash % UInt64(availableCount))
        for index in 0..<endpointCount where availability[index] {
            if remaining == 0 { return index }
            remaining -= 1
        }
        return nil
    }
}

@available(*, unavailable)
extension LoadBalancer: Sendable {}

private func greatestCommonDivisor(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}
