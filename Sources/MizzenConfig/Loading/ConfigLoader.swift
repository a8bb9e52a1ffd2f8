internal import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What loading produced: the snapshot of valid objects and every diagnostic, in file order.
package struct LoadResult: Sendable {
    package var snapshot: ConfigSnapshot
    package var diagnostics: [Diagnostic]
    /// Paths that could not be read at all (missing, unreadable): a usage or I/O problem.
    package var ioErrors: [Diagnostic]
    package var fileCount: Int
    package var skippedCount: Int

    package var errorCount: Int { diagnostics.count { $0.severity == .error } }
    package var warningCount: Int { diagnostics.count { $0.severity == .warning } }
}

/// Reads Istio and Kubernetes YAML or JSON from files and directories into a `ConfigSnapshot`.
///
/// Every object keeps its file and line; every problem of every file is reported in one run; an
/// invalid object is left out of the snapshot and does not take the others with it.
package struct ConfigLoader: Sendable {
    /// Namespace of objects whose metadata names none (`--namespace`).
    package var defaultNamespace: String
    /// Largest file read, in bytes. Kubernetes stores at most ~1.5 MiB per object.
    package var maxFileSize: Int
    package var yamlLimits: YAMLLimits
    /// Whether to run cross-object analysis (istioctl analyze style warnings).
    package var analyze: Bool

    package static let defaultMaxFileSize = 32 << 20

    package init(defaultNamespace: String = "default", maxFileSize: Int = ConfigLoader.defaultMaxFileSize, yamlLimits: YAMLLimits = YAMLLimits(), analyze: Bool = true) {
        self.defaultNamespace = defaultNamespace
        self.maxFileSize = maxFileSize
        self.yamlLimits = yamlLimits
        self.analyze = analyze
    }

    package static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Loads files and directories (recursively; `.yaml`, `.yml`, `.json`; hidden entries such
    /// as a mounted ConfigMap's `..data` skipped). Named files are read whatever their extension.
    package func load(paths: [String]) -> LoadResult {
        var builder = SnapshotBuilder(loader: self)
        var ioErrors: [Diagnostic] = []
        var files: [String] = []
        for path in paths {
            switch Self.expand(path) {
            case .success(let found): files.append(contentsOf: found)
            case .failure(let problem): ioErrors.append(problem)
            }
        }
        for file in files {
            switch readFile(file) {
            case .success(let bytes):
                builder.add(file: file, bytes: bytes)
            case .failure(let problem):
                if problem.severity == .error, problem.mark == nil {
                    ioErrors.append(problem)
                } else {
                    builder.diagnostics.append(problem)
                }
            }
        }
        return builder.finish(fileCount: files.count, ioErrors: ioErrors)
    }

    /// Loads YAML text that did not come from a file (tests, the Kubernetes watch).
    package func load(text: String, file: String = "<input>") -> LoadResult {
        var builder = SnapshotBuilder(loader: self)
        builder.add(file: file, bytes: Array(text.utf8))
        return builder.finish(fileCount: 1, ioErrors: [])
    }

    /// Decodes and validates one object that arrived as a node (the Kubernetes watch): the
    /// result's snapshot holds it when valid; `origin` names it in diagnostics. No cross-object
    /// analysis: the caller assembles the snapshot.
    package func load(object root: YAMLNode, origin: String) -> LoadResult {
        var builder = SnapshotBuilder(loader: self)
        builder.addObject(root, file: origin, depth: 0)
        return LoadResult(snapshot: builder.snapshot, diagnostics: builder.diagnostics, ioErrors: [], fileCount: 0, skippedCount: builder.skippedCount)
    }

    static func expand(_ path: String) -> Result<[String], Diagnostic> {
        let manager = FileManager.default
        var isDirectory = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(Diagnostic(severity: .error, file: path, mark: nil, message: "no such file or directory"))
        }
        guard isDirectory else { return .success([path]) }
        var found: [String] = []
        var pending = [path]
        while let directory = pending.popLast() {
            guard let entries = try? manager.contentsOfDirectory(atPath: directory) else {
                return .failure(Diagnostic(severity: .error, file: directory, mark: nil, message: "cannot list directory"))
            }
            for entry in entries where !entry.hasPrefix(".") {
                let child = directory.hasSuffix("/") ? directory + entry : directory + "/" + entry
                var childIsDirectory = false
                guard manager.fileExists(atPath: child, isDirectory: &childIsDirectory) else { continue }
                if childIsDirectory {
                    pending.append(child)
                } else if let dot = entry.lastIndex(of: "."), extensions.contains(entry[entry.index(after: dot)...].lowercased()) {
                    found.append(child)
                }
            }
        }
        return .success(found.sorted())
    }

    func readFile(_ file: String) -> Result<[UInt8], Diagnostic> {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(Diagnostic(severity: .error, file: file, mark: nil, message: "cannot open file for reading: \(Self.errorText(errno))"))
        }
        defer { close(descriptor) }
        // Read at most one byte past the limit: a huge file costs neither time nor memory.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= maxFileSize {
            let want = min(chunk.count, maxFileSize + 1 - bytes.count)
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, want) }
            if got < 0 {
                if errno == EINTR { continue }
                return .failure(Diagnostic(severity: .error, file: file, mark: nil, message: "cannot read file: \(Self.errorText(errno))"))
            }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[..<got])
        }
        guard bytes.count <= maxFileSize else {
            var status = stat()
            let size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : bytes.count
            return .failure(Diagnostic(
                severity: .error, file: file, mark: SourceMark(line: 1, column: 1),
                message: "file is \(Self.mebibytes(size)), larger than the \(Self.mebibytes(maxFileSize)) limit (--max-file-size); not read"))
        }
        return .success(bytes)
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    static func mebibytes(_ bytes: Int) -> String {
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10) MiB"
    }
}
