import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// Bookinfo behaves as Istio's task pages say (request routing, traffic shifting, fault injection).
struct BookinfoRoutingTests {
    static let sidecar = ProxyIdentity.sidecar(namespace: "default", labels: ["app": "productpage", "version": "v1"])
    static let reviewsV1 = "outbound|9080|v1|reviews.default.svc.cluster.local"
    static let reviewsV2 = "outbound|9080|v2|reviews.default.svc.cluster.local"
    static let reviewsV3 = "outbound|9080|v3|reviews.default.svc.cluster.local"

    @Test func allV1SendsEveryReviewsRequestToV1() {
        let table = RouteTable.compile(bookinfo(["virtual-service-all-v1.yaml"]), for: Self.sidecar)
        for user in ["jason", "alice", ""] {
            #expect(table.cluster(host: "reviews:9080", target: "/reviews/0", headers: [("end-user", user)], port: 9080) == Self.reviewsV1)
        }
        #expect(table.cluster(host: "ratings", target: "/ratings/0", port: 9080) == "outbound|9080|v1|ratings.default.svc.cluster.local")
        #expect(table.cluster(host: "details.default.svc.cluster.local", target: "/details/0", port: 9080) == "outbound|9080|v1|details.default.svc.cluster.local")
    }

    @Test(arguments: [("jason", reviewsV2), ("alice", reviewsV1), ("JASON", reviewsV1), (nil, reviewsV1)] as [(String?, String)])
    func testV2SendsJasonToV2AndOthersToV1(_ user: String?, _ expected: String) {
        let table = RouteTable.compile(bookinfo(["virtual-service-reviews-test-v2.yaml"]), for: Self.sidecar)
        let headers = user.map { [("end-user", $0)] } ?? []
        #expect(table.cluster(host: "reviews:9080", target: "/reviews/0", headers: headers, port: 9080) == expected)
    }

    @Test func fiftyFiftySplitsEvenlyOverTenThousandDecisions() {
        let table = RouteTable.compile(bookinfo(["virtual-service-reviews-50-v3.yaml"]), for: Self.sidecar)
        var generator = SplitMix64(state: 42)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 {
            counts[table.cluster(host: "reviews", target: "/reviews/0", port: 9080, random: generator.next()) ?? "404", default: 0] += 1
        }
        // Binomial(10000, 0.5): sigma = 50; allow 4 sigma.
        #expect((4_800...5_200).contains(counts[Self.reviewsV1] ?? 0), "\(counts)")
        #expect((4_800...5_200).contains(counts[Self.reviewsV3] ?? 0), "\(counts)")
        #expect(counts.count == 2)
    }

    @Test func eightyTwentyShiftsTraffic() {
        let table = RouteTable.compile(bookinfo(["virtual-service-reviews-80-20.yaml"]), for: Self.sidecar)
        var generator = SplitMix64(state: 7)
        var v1 = 0
        for _ in 0..<10_000 where table.cluster(host: "reviews", target: "/", port: 9080, random: generator.next()) == Self.reviewsV1 { v1 += 1 }
        #expect((7_840...8_160).contains(v1), "v1 got \(v1) of 10000")
    }

    @Test func v3SendsAllToV3() {
        let table = RouteTable.compile(bookinfo(["virtual-service-reviews-v3.yaml"]), for: Self.sidecar)
        var generator = SplitMix64(state: 1)
        for _ in 0..<1_000 {
            #expect(table.cluster(host: "reviews", target: "/reviews/1", port: 9080, random: generator.next()) == Self.reviewsV3)
        }
    }

    @Test func ratingsTestDelaySelectsTheDelayedRouteForJason() throws {
        let table = RouteTable.compile(bookinfo(["virtual-service-ratings-test-delay.yaml"]), for: Self.sidecar)
        let jason = table.decide(RequestAttributes(authority: "ratings:9080", target: "/ratings/0", headers: [(name: "end-user", value: "jason")], port: 9080), random: 0)
        let delay = try #require(jason.route?.config.fault?.delay)
        #expect(delay.fixedDelay?.nanoseconds == 7_000_000_000)
        #expect(delay.percentage?.value == 100)
        #expect(jason.cluster == "outbound|9080|v1|ratings.default.svc.cluster.local")
        let other = table.decide(RequestAttributes(authority: "ratings:9080", target: "/ratings/0", port: 9080), random: 0)
        #expect(other.route?.config.fault == nil)
        #expect(other.routeIndex == 1)
    }

    @Test func ratingsTestAbortSelectsTheAbortingRouteForJason() throws {
        let table = RouteTable.compile(bookinfo(["virtual-service-ratings-test-abort.yaml"]), for: Self.sidecar)
        let jason = table.decide(RequestAttributes(authority: "ratings", target: "/ratings/0", headers: [(name: "end-user", value: "jason")], port: 9080), random: 0)
        #expect(jason.route?.config.fault?.abort?.httpStatus == 500)
        let other = table.decide(RequestAttributes(authority: "ratings", target: "/ratings/0", port: 9080), random: 0)
        #expect(other.route?.config.fault == nil)
    }

    @Test(arguments: [
        ("/productpage", true), ("/static/css/x.css", true), ("/login", true), ("/logout", true),
        ("/api/v1/products/1", true), ("/productpage/extra", false), ("/", false), ("/admin", false),
    ] as [(String, Bool)])
    func gatewaySendsBookinfoPathsToProductpage(_ path: String, _ routed: Bool) {
        let table = RouteTable.compile(bookinfo(["bookinfo-gateway.yaml"]), for: .defaultGateway)
        let cluster = table.cluster(host: "bookinfo.example.com", target: path, port: 8080)
        #expect(cluster == (routed ? "outbound|9080||productpage.default.svc.cluster.local" : nil))
    }

    @Test func sidecarWithoutVirtualServiceRoutesToTheWholeService() {
        let table = RouteTable.compile(bookinfo([]), for: Self.sidecar)
        #expect(table.cluster(host: "reviews", target: "/", port: 9080) == "outbound|9080||reviews.default.svc.cluster.local")
        // Any other Host: Istio's allow_any virtual host (outboundTrafficPolicy ALLOW_ANY).
        #expect(table.cluster(host: "unknown", target: "/", port: 9080) == "PassthroughCluster")
    }

    /// The repository's fixtures stand for Istio's own sample files: with the corpus beside the
    /// repository, both route a set of requests alike, file by file.
    @Test(.enabled(if: IstioCorpus.isPresent, IstioCorpus.absentNotice),
          arguments: BookinfoFixtures.networking.keys.filter { $0 != "destination-rule-all.yaml" }.sorted())
    func fixturesRouteAsIstiosSamples(_ file: String) {
        let proxy: ProxyIdentity = file == "bookinfo-gateway.yaml" ? .defaultGateway : Self.sidecar
        let ours = RouteTable.compile(bookinfo([file]), for: proxy)
        let istios = RouteTable.compile(istioBookinfo([file]), for: proxy)
        let port: UInt32 = file == "bookinfo-gateway.yaml" ? 8080 : 9080
        for host in ["reviews", "ratings", "details", "productpage", "bookinfo.example.com"] {
            for target in ["/", "/productpage", "/static/x", "/reviews/0", "/ratings/0", "/api/v1/products/1"] {
                for user in ["jason", "alice"] {
                    for random in [UInt64(0), 37, 51, 81, 99] {
                        let request = RequestAttributes(authority: host, target: target, headers: [(name: "end-user", value: user)], port: port)
                        let a = ours.decide(request, random: random), b = istios.decide(request, random: random)
                        #expect(a.cluster == b.cluster && a.routeIndex == b.routeIndex, "\(file) \(host)\(target) \(user)")
                        #expect(a.route?.policy.fault?.delay?.nanoseconds == b.route?.policy.fault?.delay?.nanoseconds)
                    }
                }
            }
        }
    }
}
