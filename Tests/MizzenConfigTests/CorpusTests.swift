import Foundation
import Testing
@testable import MizzenConfig

/// Every YAML file under ../shared/corpus/istio-samples (written by the Istio project) and under
/// Gateways/ (ours) loads and validates without errors; new files are picked up by the walk.
/// The Istio corpus lives beside the repository, not in it: in a plain clone its tests are
/// skipped with a notice.
struct CorpusTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func yamlFiles(under relative: String) -> [String] {
        let root = packageRoot.appendingPathComponent(relative).path
        guard case .success(let files) = ConfigLoader.expand(root) else { return [] }
        return files
    }

    static let istioSamples = yamlFiles(under: "../shared/corpus/istio-samples")
    static let gateways = yamlFiles(under: "Gateways")
    static let corpusPresent = FileManager.default.fileExists(
        atPath: packageRoot.appendingPathComponent("../shared/corpus/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml").path)
    static let absentNotice: Comment = "Istio's sample corpus is not beside the repository (../shared/corpus/istio-samples): skipped"

    @Test(.enabled(if: corpusPresent, absentNotice))
    func corpusIsComplete() {
        #expect(Self.istioSamples.count >= 80, "expected the whole Istio samples corpus beside the repository (../shared/corpus)")
    }

    @Test func gatewaysFolderHasConfigurations() {
        #expect(!Self.gateways.isEmpty)
    }

    @Test(.enabled(if: corpusPresent, absentNotice), arguments: istioSamples)
    func istioSampleValidates(_ file: String) {
        let result = ConfigLoader().load(paths: [file])
        #expect(result.ioErrors.isEmpty)
        #expect(result.errorCount == 0, "\(result.diagnostics.filter { $0.severity == .error }.map(\.description))")
    }

    @Test(.enabled(if: corpusPresent, absentNotice))
    func wholeIstioSampleFolderValidatesInOneRun() {
        let root = Self.packageRoot.appendingPathComponent("../shared/corpus/istio-samples").path
        let result = ConfigLoader().load(paths: [root])
        #expect(result.errorCount == 0)
        #expect(result.snapshot.virtualServices.count > 20)
        #expect(result.skippedCount > 0, "AuthorizationPolicy, Sidecar, Deployment are skipped with a notice")
    }

    @Test(arguments: gateways)
    func exampleGatewayConfigValidates(_ file: String) {
        let result = ConfigLoader().load(paths: [file])
        #expect(result.errorCount == 0, "\(result.diagnostics.map(\.description))")
    }

    @Test func bookinfoFolderHasNoWarningsAndResolvesEveryReference() {
        let result = ConfigLoader().load(paths: [Self.packageRoot.appendingPathComponent("Gateways/bookinfo").path])
        #expect(result.diagnostics.filter { $0.severity != .notice }.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.snapshot.gateways.count == 1)
        #expect(result.snapshot.destinationRules.count == 4)
    }

    @Test(.enabled(if: corpusPresent, absentNotice))
    func bookinfoPlatformManifestYieldsServices() {
        let path = Self.packageRoot.appendingPathComponent("../shared/corpus/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml").path
        let result = ConfigLoader().load(paths: [path])
        #expect(result.errorCount == 0)
        #expect(Set(result.snapshot.services.map(\.name)) == ["details", "ratings", "reviews", "productpage"])
        #expect(result.skippedCount == 0, "ServiceAccounts and Deployments are validated as install manifests")
        #expect(result.snapshot.manifests.count == 10)
    }
}
