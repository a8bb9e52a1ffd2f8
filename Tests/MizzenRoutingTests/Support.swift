import Foundation
import Testing
@testable import MizzenConfig
@testable import MizzenRouting

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Istio's sample corpus beside the repository (`../shared/corpus/istio-samples`), when present.
/// A plain clone has none: tests that read it are skipped with this notice.
enum IstioCorpus {
    static let root = packageRoot.appendingPathComponent("../shared/corpus/istio-samples").standardizedFileURL.path
    static let isPresent = FileManager.default.fileExists(atPath: root + "/samples/bookinfo/platform/kube/bookinfo.yaml")
    static let absentNotice: Comment = "Istio's sample corpus is not beside the repository (../shared/corpus/istio-samples): skipped"
    static var bookinfoNetworking: String { root + "/samples/bookinfo/networking" }
    static var bookinfoPlatform: String { root + "/samples/bookinfo/platform/kube/bookinfo.yaml" }
}

/// Loads files (must be valid) into a snapshot.
func snapshot(files: [String]) -> ConfigSnapshot {
    let result = ConfigLoader(analyze: false).load(paths: files)
    precondition(result.errorCount == 0 && result.ioErrors.isEmpty, "\(result.diagnostics.filter { $0.severity == .error })")
    return result.snapshot
}

func snapshot(yaml: String) -> ConfigSnapshot {
    let result = ConfigLoader(analyze: false).load(text: yaml, file: "case.yaml")
    precondition(result.errorCount == 0, "\(result.diagnostics.filter { $0.severity == .error })")
    return result.snapshot
}

/// Bookinfo from the repository's fixtures: the services, subsets from destination-rule-all.yaml,
/// plus the named networking files.
func bookinfo(_ networking: [String]) -> ConfigSnapshot {
    let files = ["destination-rule-all.yaml"] + networking
    let documents = [BookinfoFixtures.platform] + files.map { name in
        guard let text = BookinfoFixtures.networking[name] else { preconditionFailure("no Bookinfo fixture \(name)") }
        return text
    }
    return snapshot(yaml: documents.joined(separator: "\n---\n"))
}

/// The same from Istio's own sample files (the corpus must be present).
func istioBookinfo(_ networking: [String]) -> ConfigSnapshot {
    snapshot(files: [IstioCorpus.bookinfoPlatform, "\(IstioCorpus.bookinfoNetworking)/destination-rule-all.yaml"]
             + networking.map { "\(IstioCorpus.bookinfoNetworking)/\($0)" })
}

/// SplitMix64: a fixed-seed generator so statistical tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RouteTable {
    /// The cluster a request goes to (nil for 404 or a non-forward action).
    func cluster(method: String = "GET", host: String, target: String, headers: [(String, String)] = [], port: UInt32, random: UInt64 = 0) -> String? {
        decide(RequestAttributes(method: method, authority: host, target: target, headers: headers.map { (name: $0.0, value: $0.1) }, port: port), random: random).cluster
    }
}
