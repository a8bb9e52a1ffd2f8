import Foundation
import Testing

/// `mizzen validate` through the built binary: exit statuses, output formats, real files.
struct ValidateCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `mizzen` binary beside this test bundle (swift build puts both in one folder).
    static var binary: URL {
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("mizzen")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/mizzen")
    }

    typealias Run = Harness.Output

    /// The built `mizzen` with `arguments`, run from the package root.
    static func run(_ arguments: [String]) throws -> Run {
        try Harness.run(binary.path, arguments, timeout: 120)
    }

    static func temporaryFile(_ name: String, _ contents: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try contents.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The binary does not link Foundation (its libraries were about 6 MiB of the gateway's
    /// resident set; the README's memory figures count on that).
    @Test func binaryDoesNotLinkFoundation() throws {
        let run = try Harness.run("/usr/bin/ldd", [Self.binary.path], timeout: 30)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("libswiftCore"), "ldd output not as expected: \(run.stdout)")
        #expect(!run.stdout.contains("libFoundation.so"), "\(run.stdout)")
        #expect(!run.stdout.contains("FoundationInternationalization"), "\(run.stdout)")
        #expect(!run.stdout.contains("_FoundationICU"), "\(run.stdout)")
    }

    @Test func bookinfoIsValid() throws {
        let run = try Self.run(["validate", "--summary", "Gateways/bookinfo"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("0 errors, 0 warnings"))
        #expect(run.stdout.contains("http[0] (header end-user = jason) -> to reviews v2"))
    }

    /// Istio's sample corpus beside the repository; a plain clone has none (its tests are skipped).
    static let istioCorpusPresent = FileManager.default.fileExists(
        atPath: packageRoot.appendingPathComponent("../shared/corpus/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml").path)
    static let corpusAbsentNotice: Comment = "Istio's sample corpus is not beside the repository (../shared/corpus/istio-samples): skipped"

    @Test(.enabled(if: istioCorpusPresent, corpusAbsentNotice))
    func istioSamplesAreValid() throws {
        let run = try Self.run(["validate", "../shared/corpus/istio-samples"])
        #expect(run.status == 0, "\(run.stdout.suffix(2000))")
    }

    @Test func invalidFileExitsOneWithPositionObjectAndField() throws {
        let file = try Self.temporaryFile("bad.yaml", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
          namespace: shop
        spec:
          hosts: [reviews]
          http:
          - route:
            - destination: {host: reviews, subset: v1}
              weight: 80
            - destination: {host: reviews, subset: v2}
              weight: -20
        """)
        let run = try Self.run(["validate", "--no-analysis", file.path])
        #expect(run.status == 1)
        #expect(run.stdout.contains("\(file.path):13:15: VirtualService shop/reviews: spec.http[0].route[1].weight: must not be negative"), "\(run.stdout)")
    }

    @Test func jsonOutputIsMachineReadable() throws {
        let file = try Self.temporaryFile("bad.yaml", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec: {host: a, trafficPolicy: {}}\n")
        let run = try Self.run(["validate", "--output", "json", file.path])
        #expect(run.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false)
        let diagnostics = object?["diagnostics"] as? [[String: Any]] ?? []
        #expect(diagnostics.first?["field"] as? String == "spec.trafficPolicy")
        #expect(diagnostics.first?["message"] as? String == "must set at least one field")
        #expect(diagnostics.first?["line"] as? Int == 4)
        #expect(diagnostics.first?["kind"] as? String == "DestinationRule")
    }

    @Test func missingPathExitsTwo() throws {
        let run = try Self.run(["validate", "/nonexistent/mizzen.yaml"])
        #expect(run.status == 2)
        #expect(run.stdout.contains("/nonexistent/mizzen.yaml: no such file or directory"))
    }

    @Test func badUsageExitsTwo() throws {
        #expect(try Self.run(["validate"]).status != 0)
        #expect(try Self.run(["validate", "--output", "xml", "Gateways"]).status == 2)
    }

    @Test func warningsAloneStillExitZero() throws {
        let file = try Self.temporaryFile("warn.yaml", """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: [a.example.com]
          gateways: [nowhere]
          http:
          - route:
            - destination: {host: a.example.com}
        """)
        let run = try Self.run(["validate", file.path])
        #expect(run.status == 0)
        #expect(run.stdout.contains("warning: VirtualService default/vs: spec.gateways[0]: gateway \"default/nowhere\" is not defined by any loaded Gateway"))
    }
}
