import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The container image: the Containerfile against the toolchain and the binary, and the runtime
/// image built from the binary under test (scripts/image-test.sh, as `make image-test` runs it
/// with the release build) on a Debian base made here with debootstrap, run in a pod's network
/// namespace with the Bookinfo stand-ins and checked from outside.
struct ContainerImageTests {
    static let containerfile = Harness.packageRoot.appendingPathComponent("Containerfile")
    static let script = Harness.packageRoot.appendingPathComponent("scripts/image-test.sh")

    /// Root, podman, runc, debootstrap and iproute2: what the script needs before it can try.
    static let enginePresent: Bool = {
        guard getuid() == 0 else { return false }
        let tools = ["/usr/bin/podman", "/usr/sbin/runc", "/usr/bin/runc", "/usr/sbin/debootstrap", "/usr/sbin/ip"]
        let present = Set(tools.filter { FileManager.default.isExecutableFile(atPath: $0) }.map { ($0 as NSString).lastPathComponent })
        return present.isSuperset(of: ["podman", "runc", "debootstrap", "ip"])
    }()
    static let engineNotice: Comment = "the container image test needs root, podman, runc, debootstrap and iproute2 (make deps installs them): skipped"

    @Test("the builder stage's Swift image is the version the project builds with")
    func builderMatchesToolchain() throws {
        let text = try String(contentsOf: Self.containerfile, encoding: .utf8)
        let argument = try #require(text.split(separator: "\n").first { $0.hasPrefix("ARG SWIFT_IMAGE=") })
        // docker.io/library/swift:6.3.1-bookworm -> 6.3
        let tag = try #require(argument.split(separator: ":").last)
        let imageVersion = tag.split(separator: "-").first.map { $0.split(separator: ".").prefix(2).joined(separator: ".") }
        let toolchain = try Harness.run("swift", ["--version"], timeout: 60)
        // "Swift version 6.3.1 (swift-6.3.1-RELEASE)"
        let words = (toolchain.stdout + toolchain.stderr).split(whereSeparator: \.isWhitespace)
        let index = try #require(words.firstIndex(of: "version"), "\(toolchain.stdout)")
        let toolchainVersion = words[words.index(after: index)].split(separator: ".").prefix(2).joined(separator: ".")
        #expect(imageVersion == toolchainVersion, "Containerfile builds with \(argument), the project with Swift \(toolchainVersion)")
        #expect(tag.hasSuffix("-bookworm"), "the builder must be Debian bookworm, as the runtime stage: \(argument)")
    }

    @Test("the runtime stage installs the Debian packages of every library the binary links")
    func runtimePackagesCoverLinkedLibraries() throws {
        let text = try String(contentsOf: Self.containerfile, encoding: .utf8)
        // The apt-get line of the `base` stage.
        let baseStage = try #require(text.range(of: "AS base\n")).upperBound
        let installLine = try #require(text[baseStage...].split(separator: "\n").first { $0.contains("apt-get install") })
        let installed = Set(installLine.split(separator: " ").map(String.init))
        // Packages every Debian image has (bookworm-slim's own: apt needs them).
        let essential: Set<String> = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g"]
        let ldd = try Harness.run("/usr/bin/ldd", [ValidateCommandTests.binary.path])
        #expect(ldd.status == 0, "\(ldd.stderr)")
        var packages: [String: String] = [:]
        for line in ldd.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 3, parts[1] == "=>", parts[2].hasPrefix("/") else { continue }
            let path = String(parts[2])
            // The Swift runtime of a debug build comes with the binary (image-test.sh ships it).
            guard !path.hasPrefix("/opt/") else { continue }
            // dpkg knows some libraries by ldd's path (/lib/...), others only by the file the
            // symlinks lead to (/usr/lib/...so.N.M).
            var owner = try Harness.run("/usr/bin/dpkg", ["-S", path])
            if owner.status != 0 {
                let real = try Harness.run("/usr/bin/realpath", [path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                owner = try Harness.run("/usr/bin/dpkg", ["-S", real])
            }
            let package = owner.stdout.split(separator: ":").first.map(String.init) ?? ""
            packages[path] = package
        }
        #expect(packages.values.contains("libpcre2-8-0") && packages.values.contains("libyaml-0-2"), "\(ldd.stdout)")
        for (library, package) in packages.sorted(by: { $0.key < $1.key }) {
            #expect(essential.contains(package) || installed.contains(package), "\(library) is in \(package), which the Containerfile does not install")
        }
    }

    @Test("the image runs the gateway as uid 1337 on a read-only root, serves Bookinfo, is ready on 15021 and drains on SIGTERM",
          .enabled(if: enginePresent, engineNotice), .timeLimit(.minutes(15)))
    func imageServesBookinfo() throws {
        // The debug binary under test with its Swift runtime libraries, under a tag of its own:
        // `make image-test` makes localhost/mizzen:0.1.0 from the release build.
        let image = "localhost/mizzen-test:debug"
        let run = try Harness.run("/bin/bash", [Self.script.path, "--binary", ValidateCommandTests.binary.path, "--image", image], timeout: 840)
        defer {
            var environment = ProcessInfo.processInfo.environment
            environment["CONTAINERS_CONF"] = Harness.packageRoot.appendingPathComponent("scripts/containers.conf").path
            _ = try? Harness.run("/usr/bin/podman", ["rmi", "--ignore", image], timeout: 120, environment: environment)
        }
        if run.status == 77 {
            let reason = run.stdout.split(separator: "\n").first { $0.hasPrefix("SKIP: ") }?.dropFirst(6) ?? "podman cannot build or run containers here"
            try Test.cancel("container image test skipped: \(reason)")
        }
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Each failed check as an issue of its own, with the script's detail lines under it.
        for (index, line) in lines.enumerated() where line.hasPrefix("not ok ") {
            let detail = lines[(index + 1)...].prefix { $0.hasPrefix("#   ") }.joined(separator: "\n")
            Issue.record("\(line)\n\(detail)")
        }
        #expect(run.status == 0, "image-test.sh exited \(run.status)\n\(run.stdout)\n\(run.stderr)")
        // What the image must show, whatever else the script checks.
        let passed = lines.filter { $0.hasPrefix("ok ") }
        for observed in ["uid 1337, not root", "/healthz/ready on 15021 answers 200", "/productpage is routed to productpage",
                         "end-user: jason was routed to reviews v2", "read-only", "SIGTERM stops it with status 0",
                         "stops after the 5 s drain", "every library the binary links is in the image"] {
            #expect(passed.contains { $0.contains(observed) }, "no passed check says \"\(observed)\":\n\(run.stdout)")
        }
    }
}
