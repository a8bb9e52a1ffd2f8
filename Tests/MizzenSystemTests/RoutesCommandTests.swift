import Foundation
import Testing

/// `mizzen routes` through the built binary, compared with reviewed golden files
/// (`MIZZEN_UPDATE_GOLDEN=1 swift test` rewrites them; review the diff before committing).
struct RoutesCommandTests {
    struct GoldenCase: CustomStringConvertible, Sendable {
        var name: String
        var arguments: [String]
        var description: String { name }
    }

    static let cases: [GoldenCase] = [
        GoldenCase(name: "bookinfo-table", arguments: ["routes", "--config", "Gateways/bookinfo"]),
        GoldenCase(name: "bookinfo-productpage-jason", arguments: ["routes", "--config", "Gateways/bookinfo", "--request", "GET http://bookinfo.example.com:8080/productpage", "-H", "end-user: jason"]),
        GoldenCase(name: "bookinfo-reviews-jason", arguments: ["routes", "--config", "Gateways/bookinfo", "--request", "GET http://reviews.default.svc.cluster.local:8080/reviews/0", "-H", "end-user: jason"]),
        GoldenCase(name: "bookinfo-reviews-anonymous", arguments: ["routes", "--config", "Gateways/bookinfo", "--request", "GET http://reviews.default.svc.cluster.local:8080/reviews/0"]),
        GoldenCase(name: "bookinfo-no-route", arguments: ["routes", "--config", "Gateways/bookinfo", "--request", "GET http://bookinfo.example.com:8080/admin"]),
        GoldenCase(name: "bookinfo-no-listener", arguments: ["routes", "--config", "Gateways/bookinfo", "--request", "GET http://bookinfo.example.com/productpage"]),
        GoldenCase(name: "sidecar-ratings-delay-jason", arguments: ["routes", "--config", "Gateways/bookinfo", "--sidecar", "default", "--request", "GET http://ratings:9080/ratings/0", "-H", "end-user: jason"]),
    ]

    /// Cases on Istio's sample corpus beside the repository (skipped in a plain clone).
    static let corpusCases: [GoldenCase] = [
        GoldenCase(name: "samples-50-50-json", arguments: ["routes", "--config", "../shared/corpus/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml", "--config", "../shared/corpus/istio-samples/samples/bookinfo/networking/destination-rule-all.yaml", "--config", "../shared/corpus/istio-samples/samples/bookinfo/networking/virtual-service-reviews-50-v3.yaml", "--sidecar", "default", "--request", "GET http://reviews:9080/", "--seed", "7", "--output", "json"]),
    ]

    @Test(.enabled(if: ValidateCommandTests.istioCorpusPresent, ValidateCommandTests.corpusAbsentNotice), arguments: corpusCases)
    func corpusOutputMatchesGolden(_ testCase: GoldenCase) throws {
        try outputMatchesGolden(testCase)
    }

    @Test(arguments: cases)
    func outputMatchesGolden(_ testCase: GoldenCase) throws {
        let run = try ValidateCommandTests.run(testCase.arguments)
        #expect(run.status == 0, "\(run.stderr)")
        let golden = ValidateCommandTests.packageRoot.appendingPathComponent("Tests/MizzenSystemTests/Golden/\(testCase.name).txt")
        if ProcessInfo.processInfo.environment["MIZZEN_UPDATE_GOLDEN"] == "1" {
            try run.stdout.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(run.stdout == expected, "output differs from \(golden.lastPathComponent):\n\(run.stdout)")
    }

    @Test func unknownGatewayObjectIsAUsageError() throws {
        let run = try ValidateCommandTests.run(["routes", "--config", "Gateways/bookinfo", "--gateway", "default/nope"])
        #expect(run.status == 2)
        #expect(run.stdout.contains("no Gateway default/nope was loaded"))
    }
}
