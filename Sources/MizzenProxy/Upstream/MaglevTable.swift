import MizzenRouting

/// A Maglev lookup table (Eisenbud et al., NSDI 2016, pseudocode listing 1), built as Envoy's
/// `MAGLEV` builds it: each endpoint walks its own permutation of the slots, from
/// `XXH64(key, 0) % M` in steps of `XXH64(key, 1) % (M - 1) + 1` (key `address:port`), and the
/// endpoints take turns claiming their next free slot, a heavier one more turns, until every
/// slot has an owner. A request hash picks slot `hash % M`.
///
/// Compared with the ring it balances almost exactly (each endpoint owns within one slot of its
/// share) and looks up in O(1), at the cost of a fixed table of `M` entries and a little more
/// movement when the endpoint set changes (Maglev's permutations collide where a ring's points
/// do not). `M` must be prime so every permutation visits every slot.
///
/// Built once per endpoint set and immutable: shared by every event loop.
struct MaglevTable: Sendable {
    /// The paper's recommended size (section 5.3), Envoy's and Istio's default.
    static let defaultSize: UInt64 = LoadBalancerSpec.defaultMaglevSize

    /// The endpoint index owning each slot.
    private let slots: [UInt32]

    /// A table over `endpoints`; `weights` are their effective weights (each at least 1) and
    /// `size` a prime (see `LoadBalancerSpec.maglevTableSize(_:)`).
    init(endpoints: [ClusterEndpoint], weights: [UInt32], size: UInt64 = Self.defaultSize) {
        precondition(endpoints.count == weights.count)
        guard let heaviest = weights.max(), size >= 2 else {
            slots = []
            return
        }
        struct Builder {
            let endpoint: UInt32
            let offset: UInt64
            let skip: UInt64
            let weight: UInt64
            var target: UInt64 = 0
            var next: UInt64 = 0
        }
        // Envoy fills in the order of the sorted keys, so the table does not depend on the order
        // the registry listed the endpoints in.
        let keys = endpoints.map(\.addressKey)
        let order = keys.indices.sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
        var builders = order.map { index in
            Builder(endpoint: UInt32(truncatingIfNeeded: index),
                    offset: XXHash64.hash(keys[index], seed: 0) % size,
                    skip: XXHash64.hash(keys[index], seed: 1) % (size - 1) + 1,
                    weight: UInt64(weights[index]))
        }

        let empty = UInt32.max
        var table = [UInt32](repeating: empty, count: Int(size))
        var filled: UInt64 = 0
        var iteration: UInt64 = 1
        let maximumWeight = UInt64(heaviest)
        while filled < size {
            for position in builders.indices where filled < size {
                // An endpoint of the heaviest weight takes a turn every iteration, one of a third
                // of it every third iteration (Envoy's target-weight rule, in integers).
                if iteration * builders[position].weight < builders[position].target { continue }
                builders[position].target += maximumWeight
                var slot = (builders[position].offset + builders[position].skip * builders[position].next) % size
                while table[Int(slot)] != empty {
                    builders[position].next += 1
                    slot = (builders[position].offset + builders[position].skip * builders[position].next) % size
                }
                table[Int(slot)] = builders[position].endpoint
                builders[position].next += 1
                filled += 1
            }
            iteration += 1
        }
        slots = table
    }

    /// The number of slots.
    var count: Int { slots.count }

    /// The slot a request hash picks.
    @inline(__always)
    func slot(of hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash % UInt64(slots.count))
    }

    /// The endpoint index owning `slot`.
    @inline(__always)
    func owner(at slot: Int) -> Int {
        Int(slots[slot])
    }

    /// How many slots each endpoint owns, for tests and the admin dump.
    func slotsPerEndpoint(endpointCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: endpointCount)
        for owner in slots { counts[Int(owner)] += 1 }
        return counts
    }
}
