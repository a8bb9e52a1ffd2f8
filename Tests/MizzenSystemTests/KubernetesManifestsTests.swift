import Foundation
import Testing

/// The manifests that install Mizzen as istio-ingressgateway (Gateways/kubernetes), through the
/// built `mizzen validate` as a user runs it before `kubectl apply`.
struct KubernetesManifestsTests {
    static let folder = "Gateways/kubernetes"

    @Test func manifestsValidateWithNothingSkipped() throws {
        let run = try ValidateCommandTests.run(["validate", "--output", "json", Self.folder])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(report["errors"] as? Int == 0, "\(run.stdout)")
        #expect(report["warnings"] as? Int == 0, "\(run.stdout)")
        #expect(report["skipped"] as? Int == 0, "every kind of the manifests is validated: \(run.stdout)")
        #expect((report["objects"] as? Int ?? 0) >= 14, "\(run.stdout)")
    }

    @Test func textReportCountsEveryObjectAsValid() throws {
        let run = try ValidateCommandTests.run(["validate", "--notices", Self.folder])
        #expect(run.status == 0, "\(run.stdout)")
        #expect(run.stdout.contains(" valid objects: 0 errors, 0 warnings\n"), "\(run.stdout)")
        #expect(!run.stdout.contains("skipped"), "\(run.stdout)")
    }

    /// A broken copy of the gateway's manifest is reported at its file, line, object and field;
    /// the line is that of `marker` (a whole line of the broken file) plus `offset`.
    @Test(arguments: [
        ("      app: istio-ingressgateway\n      istio: ingressgateway\n  template:", "      app: istio-gateway\n      istio: ingressgateway\n  template:",
         "Deployment istio-system/istio-ingressgateway: spec.template.metadata.labels: `selector` does not match template `labels`", "      labels:", 1),
        ("            cpu: 100m\n", "            cpu: 3000m\n",
         "Deployment istio-system/istio-ingressgateway: spec.template.spec.containers[0].resources.requests.cpu: must be less than or equal to cpu limit of 2000m",
         "            cpu: 3000m", 0),
        ("  minAvailable: 1\n", "  minAvailable: 1\n  maxUnavailable: 1\n",
         "PodDisruptionBudget istio-system/istio-ingressgateway: spec: minAvailable and maxUnavailable cannot be both set", "  minAvailable: 1", 0),
    ])
    func brokenCopyIsReportedAtItsLine(_ old: String, _ new: String, _ expected: String, _ marker: String, _ offset: Int) throws {
        let original = try String(contentsOf: Harness.packageRoot.appendingPathComponent("\(Self.folder)/10-gateway.yaml"), encoding: .utf8)
        try #require(original.components(separatedBy: old).count == 2, "the manifest holds \(old) once")
        let broken = original.replacingOccurrences(of: old, with: new)
        let file = try ValidateCommandTests.temporaryFile("10-gateway.yaml", broken)
        let run = try ValidateCommandTests.run(["validate", file.path])
        #expect(run.status == 1, "\(run.stdout)")
        let markerLine = try #require(broken.components(separatedBy: "\n").firstIndex(of: marker)) + 1
        let prefix = "\(file.path):\(markerLine + offset):"
        #expect(run.stdout.split(separator: "\n").contains { $0.hasPrefix(prefix) && $0.hasSuffix(expected) }, "expected \(prefix)...\(expected) in \(run.stdout)")
    }

    static let makefile = (try? String(contentsOf: Harness.packageRoot.appendingPathComponent("Makefile"), encoding: .utf8)) ?? ""

    /// The image the manifests run is the one `make image` builds (Makefile IMAGE and VERSION).
    @Test(.enabled(if: makefile.contains("IMAGE ?="), "the Makefile names no image"))
    func manifestsRunTheImageMakeBuilds() throws {
        func value(_ name: String) -> String? {
            Self.makefile.split(separator: "\n").first { $0.hasPrefix("\(name) ?=") }.map { $0.dropFirst(name.count + 3).trimmingCharacters(in: .whitespaces) }
        }
        let version = try #require(value("VERSION"))
        let image = try #require(value("IMAGE")).replacingOccurrences(of: "$(VERSION)", with: version)
        let directory = Harness.packageRoot.appendingPathComponent(Self.folder)
        var images: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".yaml") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            images += text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("image: ") }.map { String($0.dropFirst(7)) }
        }
        #expect(!images.isEmpty)
        #expect(images.allSatisfy { $0 == image }, "\(images) should all be \(image)")
    }
}
