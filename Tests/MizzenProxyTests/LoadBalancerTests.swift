import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

struct LoadBalancerTests {
    // MARK: Fixtures

    static func endpoints(_ count: Int, weights: [UInt32]? = nil) -> [ClusterEndpoint] {
        (0..<count).map { index in
            ClusterEndpoint(address: "10.0.0.\(index + 1)", port: 8080, labels: [:], weight: weights?[index] ?? 1)
        }
    }

    static func simple(_ simple: LoadBalancerSettings.SimpleLB?) -> LoadBalancerSettings {
        var settings = LoadBalancerSettings()
        settings.simple = simple
        return settings
    }

    enum HashKind: String, CaseIterable, Sendable {
        case ringHash, maglev
    }

    static func consistentHash(_ kind: HashKind) -> LoadBalancerSettings {
        var hash = LoadBalancerSettings.ConsistentHashLB()
        hash.httpHeaderName = "x-user"
        switch kind {
        case .ringHash: hash.ringHash = .init(minimumRingSize: 1024)
        case .maglev: hash.maglev = .init(tableSize: 65537)
        }
        var settings = LoadBalancerSettings()
        settings.consistentHash = hash
        return settings
    }

    static func key(_ index: Int) -> UInt64 {
        XXHash64.hash("user-\(index)")
    }

    /// Counts the picks of each endpoint over `picks` calls.
    static func tally(_ balancer: LoadBalancer, picks: Int, isAvailable: (Int) -> Bool = { _ in true },
                      activeRequests: (Int) -> Int = { _ in 0 }) -> [Int] {
        var counts = [Int](repeating: 0, count: balancer.endpoints.count)
        for _ in 0..<picks {
            if let index = balancer.pick(hashKey: nil, isAvailable: isAvailable, activeRequests: activeRequests) { counts[index] += 1 }
        }
        return counts
    }

    // MARK: XXH64

    @Test(arguments: [
        ("", 0xEF46_DB37_51D8_E999),
        ("a", 0xD24E_C4F1_A98C_6E5B),
        ("abc", 0x44BC_2CF5_AD77_0999),
        // 39 bytes: the 32-byte stripe loop, then the 8-, 4- and 1-byte tails.
        ("Nobody inspects the spammish repetition", 0xFBCE_A83C_8A37_8BF1),
    ] as [(String, UInt64)])
    func xxHash64MatchesTheReferenceVectors(input: String, expected: UInt64) {
        #expect(XXHash64.hash(input) == expected)
        #expect(XXHash64.hash(Array(input.utf8)) == expected)
        #expect(XXHash64.hash(input[...]) == expected)
    }

    @Test func xxHash64SeedChangesTheHash() {
        #expect(XXHash64.hash("10.0.0.1:8080", seed: 0) != XXHash64.hash("10.0.0.1:8080", seed: 1))
    }

    // MARK: Algorithm choice

    @Test(arguments: [
        (nil, .leastRequest),
        (.unspecified, .leastRequest),
        (.leastRequest, .leastRequest),
        (.leastConn, .leastRequest),
        (.roundRobin, .roundRobin),
        (.random, .random),
        (.passthrough, .roundRobin),
    ] as [(LoadBalancerSettings.SimpleLB?, LoadBalancerSpec.Algorithm)])
    func simpleSettingsChooseIstiosAlgorithm(simple: LoadBalancerSettings.SimpleLB?, expected: LoadBalancerSpec.Algorithm) {
        #expect(UpstreamCluster.loadBalancer(Self.simple(simple)).algorithm == expected)
    }

    @Test func noSettingsMeanLeastRequest() {
        #expect(UpstreamCluster.loadBalancer(nil).algorithm == .leastRequest)
    }

    @Test(arguments: [
        (nil, nil, nil, .ringHash(minimumSize: 1024)),
        (2048, nil, nil, .ringHash(minimumSize: 2048)),
        (nil, 4096, nil, .ringHash(minimumSize: 4096)),
        (0, 0, nil, .ringHash(minimumSize: 1024)),
        (nil, nil, 0, .maglev(tableSize: 65537)),
        (nil, nil, 1031, .maglev(tableSize: 1031)),
        (nil, nil, 1000, .maglev(tableSize: 1009)),
    ] as [(UInt64?, UInt64?, UInt64?, LoadBalancerSpec.Algorithm)])
    func consistentHashOverridesSimple(deprecatedRingSize: UInt64?, ringSize: UInt64?, maglevSize: UInt64?, expected: LoadBalancerSpec.Algorithm) {
        var hash = LoadBalancerSettings.ConsistentHashLB()
        hash.useSourceIp = true
        hash.minimumRingSize = deprecatedRingSize
        if let ringSize { hash.ringHash = .init(minimumRingSize: ringSize) }
        if let maglevSize { hash.maglev = .init(tableSize: maglevSize) }
        var settings = Self.simple(.roundRobin)
        settings.consistentHash = hash
        #expect(UpstreamCluster.loadBalancer(settings).algorithm == expected)
    }

    @Test func noEndpointsPickNothing() {
        for settings in [nil, Self.simple(.roundRobin), Self.simple(.random), Self.consistentHash(.ringHash), Self.consistentHash(.maglev)] {
            let balancer = LoadBalancer(endpoints: [], settings: settings, seed: 1)
            #expect(balancer.pick(hashKey: 7, isAvailable: { _ in true }, activeRequests: { _ in 0 }) == nil)
        }
    }

    // MARK: Round robin

    @Test func roundRobinVisitsEveryEndpointOncePerCycle() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.simple(.roundRobin), seed: 42)
        for _ in 0..<1000 {
            var seen = Set<Int>()
            for _ in 0..<4 {
                if let index = balancer.pick(hashKey: nil, isAvailable: { _ in true }, activeRequests: { _ in 0 }) { seen.insert(index) }
            }
            #expect(seen == [0, 1, 2, 3])
        }
    }

    @Test func roundRobinStartsAtARandomEndpoint() {
        var firsts = Set<Int>()
        for seed in UInt64(0)..<32 {
            let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.simple(.roundRobin), seed: seed)
            firsts.insert(balancer.pick(hashKey: nil, isAvailable: { _ in true }, activeRequests: { _ in 0 })!)
        }
        #expect(firsts.count > 1)
    }

    @Test(arguments: [
        [3, 1],
        [1, 2, 3],
        [5, 1, 1, 1],
        [10, 10, 1],
    ] as [[UInt32]])
    func roundRobinRespectsWeights(weights: [UInt32]) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(weights.count, weights: weights), settings: Self.simple(.roundRobin), seed: 9)
        let picks = 4000
        let counts = Self.tally(balancer, picks: picks)
        let total = Double(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            let share = Double(counts[index]) / Double(picks)
            #expect(abs(share - Double(weight) / total) < 0.05, "endpoint \(index): \(counts)")
        }
    }

    @Test func weightedRoundRobinInterleavesTheHeavyEndpoint() {
        // Smooth weighted round robin: 3:1 runs a a b a, never a a a b a a a b... bunched into
        // more than three in a row.
        let balancer = LoadBalancer(endpoints: Self.endpoints(2, weights: [3, 1]), settings: Self.simple(.roundRobin), seed: 3)
        var run = 0
        for _ in 0..<400 {
            let index = balancer.pick(hashKey: nil, isAvailable: { _ in true }, activeRequests: { _ in 0 })
            run = index == 0 ? run + 1 : 0
            #expect(run <= 3)
        }
    }

    @Test(arguments: [nil, [3, 1, 1, 1]] as [[UInt32]?])
    func roundRobinSkipsUnavailableEndpoints(weights: [UInt32]?) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4, weights: weights), settings: Self.simple(.roundRobin), seed: 5)
        let counts = Self.tally(balancer, picks: 3000, isAvailable: { $0 != 0 })
        #expect(counts[0] == 0)
        #expect(counts[1] > 800 && counts[2] > 800 && counts[3] > 800, "\(counts)")
        #expect(balancer.pick(hashKey: nil, isAvailable: { _ in false }, activeRequests: { _ in 0 }) == nil)
    }

    // MARK: Least request

    @Test(arguments: [2, 4, 8])
    func leastRequestAvoidsTheBusyEndpoint(count: Int) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(count), settings: Self.simple(.leastRequest), seed: 11)
        let picks = 10_000
        let counts = Self.tally(balancer, picks: picks, activeRequests: { $0 == 0 ? 100 : 0 })
        #expect(Double(counts[0]) / Double(picks) < 0.10, "\(counts)")
        for index in 1..<count { #expect(counts[index] > 0) }
    }

    @Test func leastRequestSpreadsEvenlyWhenIdle() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: nil, seed: 12)
        let counts = Self.tally(balancer, picks: 8000)
        for count in counts { #expect(count > 1600 && count < 2400, "\(counts)") }
    }

    @Test func weightedLeastRequestSharesIdleTrafficByWeight() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(2, weights: [3, 1]), settings: Self.simple(.leastRequest), seed: 13)
        let counts = Self.tally(balancer, picks: 8000)
        #expect(abs(Double(counts[0]) / 8000 - 0.75) < 0.05, "\(counts)")
    }

    @Test func weightedLeastRequestComparesLoadPerWeight() {
        // Endpoint 0 (weight 4) with 4 in flight carries 1 per unit of weight; endpoint 1
        // (weight 1) with 2 carries 2: endpoint 0 wins whenever both are sampled.
        let balancer = LoadBalancer(endpoints: Self.endpoints(2, weights: [4, 1]), settings: Self.simple(.leastRequest), seed: 14)
        let counts = Self.tally(balancer, picks: 4000, activeRequests: { $0 == 0 ? 4 : 2 })
        #expect(counts[0] > counts[1] * 8, "\(counts)")
    }

    @Test func leastRequestSkipsUnavailableEndpoints() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.simple(.leastConn), seed: 15)
        let counts = Self.tally(balancer, picks: 4000, isAvailable: { $0 == 2 })
        #expect(counts == [0, 0, 4000, 0])
        #expect(balancer.pick(hashKey: nil, isAvailable: { _ in false }, activeRequests: { _ in 0 }) == nil)
    }

    // MARK: Random

    @Test func randomCoversEveryEndpoint() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.simple(.random), seed: 21)
        let counts = Self.tally(balancer, picks: 4000)
        for count in counts { #expect(count > 800 && count < 1200, "\(counts)") }
    }

    @Test func randomSkipsUnavailableEndpoints() {
        let balancer = LoadBalancer(endpoints: Self.endpoints(8), settings: Self.simple(.random), seed: 22)
        let counts = Self.tally(balancer, picks: 4000, isAvailable: { $0 == 3 || $0 == 6 })
        #expect(counts[3] + counts[6] == 4000)
        #expect(counts[3] > 1600 && counts[6] > 1600, "\(counts)")
        #expect(balancer.pick(hashKey: nil, isAvailable: { _ in false }, activeRequests: { _ in 0 }) == nil)
    }

    // MARK: Consistent hash (ring and Maglev)

    @Test(arguments: HashKind.allCases)
    func sameKeyAlwaysPicksTheSameEndpoint(kind: HashKind) {
        let first = LoadBalancer(endpoints: Self.endpoints(5), settings: Self.consistentHash(kind), seed: 1)
        let second = LoadBalancer(endpoints: Self.endpoints(5), settings: Self.consistentHash(kind), seed: 2)
        for index in 0..<1000 {
            let pick = first.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 })
            #expect(pick != nil)
            #expect(first.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }) == pick)
            #expect(second.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }) == pick)
        }
    }

    @Test(arguments: HashKind.allCases)
    func keysSpreadOverAllEndpoints(kind: HashKind) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.consistentHash(kind), seed: 1)
        var counts = [0, 0, 0, 0]
        for index in 0..<10_000 {
            if let pick = balancer.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }) { counts[pick] += 1 }
        }
        for count in counts { #expect(count > 1500 && count < 3500, "\(counts)") }
    }

    @Test(arguments: HashKind.allCases)
    func consistentHashRespectsWeights(kind: HashKind) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(2, weights: [3, 1]), settings: Self.consistentHash(kind), seed: 1)
        var counts = [0, 0]
        for index in 0..<10_000 {
            if let pick = balancer.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }) { counts[pick] += 1 }
        }
        #expect(abs(Double(counts[0]) / 10_000 - 0.75) < 0.05, "\(counts)")
    }

    @Test(arguments: HashKind.allCases)
    func removingAnEndpointMovesOnlyItsKeys(kind: HashKind) {
        let all = Self.endpoints(4)
        let removed = all[2]
        let before = LoadBalancer(endpoints: all, settings: Self.consistentHash(kind), seed: 1)
        let after = LoadBalancer(endpoints: all.filter { $0 != removed }, settings: Self.consistentHash(kind), seed: 1)
        var stayed = 0
        var others = 0
        for index in 0..<10_000 {
            guard let old = before.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }),
                  let new = after.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 }) else {
                Issue.record("no pick")
                return
            }
            #expect(after.endpoints[new] != removed)
            guard before.endpoints[old] != removed else { continue }
            others += 1
            if before.endpoints[old] == after.endpoints[new] { stayed += 1 }
        }
        #expect(Double(stayed) / Double(others) > 0.90, "\(stayed) of \(others) stayed")
    }

    @Test func ringKeepsEveryOtherKeyWhenAnEndpointIsRemoved() {
        // The ring's points of an endpoint do not depend on the other endpoints.
        let all = Self.endpoints(5)
        let before = LoadBalancer(endpoints: all, settings: Self.consistentHash(.ringHash), seed: 1)
        let after = LoadBalancer(endpoints: Array(all.dropFirst()), settings: Self.consistentHash(.ringHash), seed: 1)
        for index in 0..<5000 {
            let old = before.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 })!
            let new = after.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 })!
            if old != 0 { #expect(before.endpoints[old] == after.endpoints[new]) }
        }
    }

    @Test(arguments: HashKind.allCases)
    func unavailableEndpointIsSkippedAndOtherKeysStay(kind: HashKind) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.consistentHash(kind), seed: 1)
        var moved = [0, 0, 0, 0]
        for index in 0..<10_000 {
            let key = Self.key(index)
            let usual = balancer.pick(hashKey: key, isAvailable: { _ in true }, activeRequests: { _ in 0 })!
            let pick = balancer.pick(hashKey: key, isAvailable: { $0 != 1 }, activeRequests: { _ in 0 })!
            #expect(pick != 1)
            if usual == 1 { moved[pick] += 1 } else { #expect(pick == usual) }
        }
        // The ejected endpoint's keys spread over the others rather than piling onto one.
        #expect(moved[0] > 0 && moved[2] > 0 && moved[3] > 0, "\(moved)")
    }

    @Test(arguments: HashKind.allCases)
    func consistentHashWithNothingAvailablePicksNothing(kind: HashKind) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(3), settings: Self.consistentHash(kind), seed: 1)
        #expect(balancer.pick(hashKey: Self.key(1), isAvailable: { _ in false }, activeRequests: { _ in 0 }) == nil)
        #expect(balancer.pick(hashKey: Self.key(1), isAvailable: { $0 == 2 }, activeRequests: { _ in 0 }) == 2)
    }

    @Test(arguments: HashKind.allCases)
    func requestWithoutAKeyPicksAtRandom(kind: HashKind) {
        let balancer = LoadBalancer(endpoints: Self.endpoints(4), settings: Self.consistentHash(kind), seed: 1)
        let counts = Self.tally(balancer, picks: 4000)
        for count in counts { #expect(count > 700 && count < 1300, "\(counts)") }
    }

    @Test func endpointOrderDoesNotChangeTheMapping() {
        for kind in HashKind.allCases {
            let endpoints = Self.endpoints(6)
            let forward = LoadBalancer(endpoints: endpoints, settings: Self.consistentHash(kind), seed: 1)
            let reversed = LoadBalancer(endpoints: endpoints.reversed(), settings: Self.consistentHash(kind), seed: 1)
            for index in 0..<2000 {
                let a = forward.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 })!
                let b = reversed.pick(hashKey: Self.key(index), isAvailable: { _ in true }, activeRequests: { _ in 0 })!
                #expect(forward.endpoints[a] == reversed.endpoints[b], "\(kind)")
            }
        }
    }

    @Test func maglevTableBalancesSlotsByWeight() {
        let table = MaglevTable(endpoints: Self.endpoints(3), weights: [2, 1, 1], size: 65537)
        let slots = table.slotsPerEndpoint(endpointCount: 3)
        #expect(slots.reduce(0, +) == 65537)
        #expect(abs(slots[0] - 32768) <= 2 && abs(slots[1] - 16384) <= 2, "\(slots)")
    }

    @Test func ringGivesTheLightestEndpointTheMinimumPoints() {
        let ring = HashRing(endpoints: Self.endpoints(3), weights: [1, 2, 4], minimumSize: 1024)
        #expect(ring.pointsPerEndpoint(endpointCount: 3) == [1024, 2048, 4096])
    }

    @Test(arguments: [(0, false), (1, false), (2, true), (3, true), (4, false), (25, false), (49, false), (65537, true), (65535, false), (5_000_011, true)] as [(UInt64, Bool)])
    func primality(value: UInt64, prime: Bool) {
        #expect(Rules.isPrime(value) == prime)
    }

    @Test(arguments: [(nil, 65537), (0, 65537), (1, 2), (65537, 65537), (5_000_011, 5_000_011), (6_000_000, 5_000_011)] as [(UInt64?, UInt64)])
    func maglevTableSizes(configured: UInt64?, built: UInt64) {
        #expect(LoadBalancerSpec.maglevTableSize(configured) == built)
    }

    @Test func ipv6EndpointsAreBracketedInHashKeys() {
        let endpoint = ClusterEndpoint(address: "fd00::1", port: 80, labels: [:], weight: 1)
        #expect(endpoint.addressKey == "[fd00::1]:80")
        #expect(Self.endpoints(1)[0].addressKey == "10.0.0.1:8080")
    }
}

struct HashPolicyTests {
    static func policy(_ configure: (inout LoadBalancerSettings.ConsistentHashLB) -> Void) -> HashPolicy? {
        var settings = LoadBalancerSettings.ConsistentHashLB()
        configure(&settings)
        return HashPolicy(settings)
    }

    static func noHeaders(_ name: String) -> String? { nil }

    @Test func headerNameIsLowerCased() {
        let policy = Self.policy { $0.httpHeaderName = "X-User-ID" }
        #expect(policy?.source == .header(name: "x-user-id"))
        let key = policy?.key(header: { $0 == "x-user-id" ? "alice" : nil }, cookie: Self.noHeaders, sourceAddress: nil, query: Self.noHeaders)
        #expect(key == XXHash64.hash("alice"))
        #expect(policy?.key(header: Self.noHeaders, cookie: Self.noHeaders, sourceAddress: nil, query: Self.noHeaders) == nil)
    }

    @Test func sourceIPHashesTheAddress() {
        let policy = Self.policy { $0.useSourceIp = true }
        #expect(policy?.source == .sourceIP)
        #expect(policy?.key(header: Self.noHeaders, cookie: Self.noHeaders, sourceAddress: "192.0.2.7", query: Self.noHeaders) == XXHash64.hash("192.0.2.7"))
        #expect(policy?.key(header: Self.noHeaders, cookie: Self.noHeaders, sourceAddress: nil, query: Self.noHeaders) == nil)
    }

    @Test func noKeyMeansNoPolicy() {
        #expect(Self.policy { _ in } == nil)
        #expect(Self.policy { $0.useSourceIp = false } == nil)
        #expect(Self.policy { $0.maglev = .init(tableSize: 65537) } == nil)
    }

    @Test func cookiePolicyHashesTheCookieAndTreatsEmptyAsMissing() {
        let policy = Self.policy { $0.httpCookie = .init(name: "session") }
        let jar = HashPolicy.cookieLookup(cookieHeaders: ["theme=dark", "session=abc123; other=1"])
        #expect(policy?.key(header: Self.noHeaders, cookie: jar, sourceAddress: nil, query: Self.noHeaders) == XXHash64.hash("abc123"))
        let empty = HashPolicy.cookieLookup(cookieHeaders: ["session="])
        #expect(policy?.key(header: Self.noHeaders, cookie: empty, sourceAddress: nil, query: Self.noHeaders) == nil)
    }

    @Test func queryParameterPolicyHashesTheValue() {
        let policy = Self.policy { $0.httpQueryParameterName = "user" }
        let request = RequestAttributes(authority: "a", target: "/api?x=1&user=bob", port: 80)
        let key = policy?.key(header: Self.noHeaders, cookie: Self.noHeaders, sourceAddress: nil,
                              query: { request.queryValue($0) })
        #expect(key == XXHash64.hash("bob"))
    }

    @Test(arguments: [
        ("a=1; b=2", "b", "2"),
        ("a=1;b=2", "b", "2"),
        ("   session=abc", "session", "abc"),
        ("b=\"quoted value\"", "b", "quoted value"),
        ("b=\"", "b", "\""),
        ("sessionx=1; session=2", "session", "2"),
        ("flag; b=3", "b", "3"),
        ("b=; c=1", "b", ""),
        ("b=1; b=2", "b", "1"),
        ("B=1", "b", nil),
        ("a=1", "b", nil),
        ("", "b", nil),
    ] as [(String, String, String?)])
    func cookieParsing(header: String, name: String, expected: String?) {
        #expect(HashPolicy.cookie(named: name, inHeader: header).map(String.init) == expected)
    }

    @Test func cookieWithTTLIsGeneratedWhenMissing() throws {
        var cookie = LoadBalancerSettings.ConsistentHashLB.HTTPCookie(name: "sticky", path: "/", ttl: IstioDuration("10s"))
        cookie.attributes = [.init(name: "SameSite", value: "Strict"), .init(name: "Secure", value: nil)]
        let policy = try #require(Self.policy { $0.httpCookie = cookie })
        let generated = try #require(policy.generatedCookie(remoteAddress: "192.0.2.7:51000", localAddress: "10.0.0.1:443"))
        #expect(generated.value == HashPolicy.hex(XXHash64.hash("192.0.2.7:5100010.0.0.1:443")))
        #expect(generated.value.utf8.count == 16)
        #expect(generated.hash == XXHash64.hash(generated.value))
        #expect(generated.setCookie == "sticky=\"\(generated.value)\"; Max-Age=10; Path=/; SameSite=Strict; Secure; HttpOnly")
        // The same connection gets the same cookie.
        #expect(policy.generatedCookie(remoteAddress: "192.0.2.7:51000", localAddress: "10.0.0.1:443") == generated)
    }

    @Test func zeroTTLMakesASessionCookieAndNoTTLNone() throws {
        let session = try #require(Self.policy { $0.httpCookie = .init(name: "s", ttl: IstioDuration("0s")) })
        #expect(session.generatedCookie(remoteAddress: "a", localAddress: "b")?.setCookie.contains("Max-Age") == false)
        let plain = try #require(Self.policy { $0.httpCookie = .init(name: "s") })
        #expect(plain.generatedCookie(remoteAddress: "a", localAddress: "b") == nil)
    }

    @Test func hexIsZeroPadded() {
        #expect(HashPolicy.hex(0) == "0000000000000000")
        #expect(HashPolicy.hex(0xABC) == "0000000000000abc")
        #expect(HashPolicy.hex(.max) == "ffffffffffffffff")
    }
}

extension LoadBalancer {
    /// A balancer for `endpoints` under Istio `settings`, compiled as a cluster's are.
    convenience init(endpoints: [ClusterEndpoint], settings: LoadBalancerSettings?, seed: UInt64) {
        self.init(endpoints: endpoints, spec: UpstreamCluster.loadBalancer(settings), seed: seed)
    }
}
