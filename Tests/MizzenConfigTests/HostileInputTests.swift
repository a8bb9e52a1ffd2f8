import Foundation
import Testing
@testable import MizzenConfig

/// Hostile input gets a clear error, in bounded time and memory, and never a crash.
struct HostileInputTests {
    @Test func malformedYAMLNamesTheLine() {
        let result = load("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n   bad: [1, 2\n")
        let error = try! #require(result.diagnostics.first { $0.severity == .error })
        #expect(error.mark?.line == 5)
        #expect(error.file == "case.yaml")
    }

    /// Random bytes (fixed seed, so a failure repeats) are refused with a positioned error.
    @Test func binaryGarbageIsAnErrorNotACrash() {
        var state: UInt64 = 0x5EED
        for round in 0..<50 {
            let bytes = (0..<4096).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let result = ConfigLoader().load(text: String(decoding: bytes, as: UTF8.self), file: "garbage-\(round).bin")
            let error = result.diagnostics.first { $0.severity == .error }
            #expect(error != nil, "round \(round): random bytes were accepted")
            #expect((error?.mark?.line ?? 0) >= 1, "round \(round): the error has no position")
            #expect(result.snapshot.objectCount == 0)
            // Straight into the composer too, without the UTF-8 repair of String(decoding:).
            let stream = YAMLComposer.compose(bytes)
            #expect(!stream.problems.isEmpty, "round \(round): raw bytes composed without a problem")
        }
    }

    @Test func invalidUTF8IsReportedWithAPosition() {
        let bytes: [UInt8] = Array("apiVersion: v1\nkind: Service\nmetadata:\n  name: ".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let stream = YAMLComposer.compose(bytes)
        let problem = try! #require(stream.problems.first)
        #expect(problem.mark.line == 4)
        #expect(problem.message.contains("UTF-8"))
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let stream = YAMLComposer.compose(Array(deep.utf8))
        #expect(stream.problems.contains { $0.message.contains("nesting deeper than 256 levels") })
        // Block style too; 1,000 levels already pass the limit without building a 50 MB string.
        let block = (0..<1_000).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n")
        #expect(YAMLComposer.compose(Array(block.utf8)).problems.contains { $0.message.contains("nesting deeper") })
    }

    @Test func billionLaughsIsRefusedWithoutExpanding() {
        var yaml = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"]
        var previous = "a"
        for name in names {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
            previous = name
        }
        let stream = YAMLComposer.compose(Array(yaml.utf8))
        #expect(stream.problems.contains { $0.message.contains("alias expansion bomb") })
        #expect(stream.documents.allSatisfy { $0.root == nil })
        // The same bomb as a mapping key (which hangs a composer that hashes keys deeply).
        let keyBomb = yaml + "? *i\n: 1\n"
        #expect(YAMLComposer.compose(Array(keyBomb.utf8)).problems.contains { $0.message.contains("alias expansion bomb") })
    }

    @Test func duplicateKeysAreErrorsAtTheSecondKey() {
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: a
        spec:
          hosts: [a]
          hosts: [b]
          http:
          - route:
            - destination: {host: a}
        """)
        let error = try! #require(result.diagnostics.first { $0.severity == .error })
        #expect(error.message == "duplicate key \"hosts\" (first at line 6, column 3)")
        #expect(error.mark == SourceMark(line: 7, column: 3))
        #expect(result.snapshot.virtualServices.isEmpty)
    }

    @Test func oversizedFileIsRefusedBeforeReading() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("huge.yaml")
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 100 << 20)  // a sparse 100 MiB file
        try handle.close()
        let result = ConfigLoader().load(paths: [file.path])
        let error = try #require(result.diagnostics.first)
        #expect(error.message == "file is 100.0 MiB, larger than the 32.0 MiB limit (--max-file-size); not read")
        #expect(result.ioErrors.isEmpty)
    }

    /// Each level of a VirtualService given the wrong type yields one error at that level.
    @Test(arguments: [
        ("spec: 5", "spec", "must be an object, got integer \"5\""),
        ("spec: {hosts: a}", "spec.hosts", "must be a list, got string \"a\""),
        ("spec: {hosts: [a], http: {route: []}}", "spec.http", "must be a list, got an object"),
        ("spec: {hosts: [a], http: [5]}", "spec.http[0]", "must be an object, got integer \"5\""),
        ("spec: {hosts: [a], http: [{route: [{destination: []}]}]}", "spec.http[0].route[0].destination", "must be an object, got a list"),
        ("spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: \"50\"}]}]}", "spec.http[0].route[0].weight", "must be an integer, got string \"50\""),
        ("spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: 1.5}]}]}", "spec.http[0].route[0].weight", "must be an integer, got number \"1.5\""),
        ("spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: 3000000000}]}]}", "spec.http[0].route[0].weight", "must be an integer between -2147483648 and 2147483647, got 3000000000"),
        ("spec: {hosts: [5], http: [{route: [{destination: {host: a}}]}]}", "spec.hosts[0]", "must be a string, got integer 5; quote it: \"5\""),
        ("spec: {hosts: [a], http: [{match: [{ignoreUriCase: yes}], route: [{destination: {host: a}}]}]}", "spec.http[0].match[0].ignoreUriCase", "must be true or false, got string \"yes\""),
        ("spec: {hosts: [a], http: [{timeout: 10, route: [{destination: {host: a}}]}]}", "spec.http[0].timeout", "must be a duration string such as \"10s\" or \"100ms\", got 10"),
        ("metadata: [a]\nspec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}", "metadata", "must be an object, got a list"),
    ] as [(String, String, String)])
    func wrongTypeAtEveryLevel(_ body: String, _ field: String, _ message: String) {
        var yaml = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        if !body.hasPrefix("metadata") { yaml += "metadata: {name: vs}\n" }
        yaml += body + "\n"
        let lines = errorLines(load(yaml))
        #expect(lines.contains("\(field): \(message)"), "got \(lines)")
    }

    @Test func everyProblemOfEveryFileIsReportedInOneRun() {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: one}
        spec:
          hosts: [a]
          http:
          - route:
            - destination: {host: a}
              weight: -1
            - destination: {host: b}
              weight: -2
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: two}
        spec:
          host: a
          trafficPolicy:
            connectionPool:
              tcp: {maxConnections: -1}
        """
        let result = load(yaml)
        #expect(result.errorCount == 3, "\(errorLines(result))")
        #expect(result.diagnostics.map(\.description).contains("case.yaml:9:15: VirtualService default/one: spec.http[0].route[0].weight: must not be negative"))
    }

    @Test func emptyAndCommentOnlyInputIsValid() {
        #expect(load("").errorCount == 0)
        #expect(load("# nothing\n---\n---\n").errorCount == 0)
    }
}
