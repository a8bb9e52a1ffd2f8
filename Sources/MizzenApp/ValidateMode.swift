internal import Dispatch
package import Logging
package import MizzenConfig

/// `mizzen validate`: load, validate, report; the exit status says what was found.
package struct ValidateMode: Sendable {
    package enum OutputFormat: String, Sendable, CaseIterable {
        case text, json
    }

    package enum ExitStatus: Int32, Sendable {
        /// Valid (warnings allowed).
        case valid = 0
        /// At least one error in the configuration.
        case invalid = 1
        /// A path could not be read, or the command line was wrong.
        case usage = 2
    }

    package var paths: [String]
    package var loader: ConfigLoader
    package var format: OutputFormat
    package var showNotices: Bool
    package var showSummary: Bool

    package init(paths: [String], loader: ConfigLoader, format: OutputFormat, showNotices: Bool, showSummary: Bool = false) {
        self.paths = paths
        self.loader = loader
        self.format = format
        self.showNotices = showNotices
        self.showSummary = showSummary
    }

    /// Runs the validation and returns the report text and the exit status.
    package func run(logger: Logger = Logger(label: "mizzen.validate")) -> (output: String, status: ExitStatus) {
        let started = DispatchTime.now().uptimeNanoseconds
        logger.debug("loading", metadata: ["paths": .array(paths.map { .string($0) }), "namespace": .string(loader.defaultNamespace)])
        let result = loader.load(paths: paths)
        logger.info("loaded", metadata: [
            "files": .stringConvertible(result.fileCount),
            "objects": .stringConvertible(result.snapshot.objectCount),
            "errors": .stringConvertible(result.errorCount),
            "warnings": .stringConvertible(result.warningCount),
            "milliseconds": .stringConvertible((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000),
        ])
        let status: ExitStatus = !result.ioErrors.isEmpty ? .usage : (result.errorCount > 0 ? .invalid : .valid)
        switch format {
        case .text:
            var text = ValidationReport.text(result, showNotices: showNotices)
            if showSummary { text += "\n" + ConfigSummary.text(result.snapshot) }
            return (text, status)
        case .json: return (ValidationReport.json(result, status: status), status)
        }
    }
}

/// Renders a `LoadResult` for people (one line per problem, compiler style) or for tools (JSON).
package enum ValidationReport {
    package static func text(_ result: LoadResult, showNotices: Bool) -> String {
        var lines: [String] = []
        for diagnostic in result.ioErrors { lines.append(diagnostic.description) }
        for diagnostic in result.diagnostics where diagnostic.severity != .notice || showNotices {
            lines.append(diagnostic.description)
        }
        let errors = result.errorCount + result.ioErrors.count
        let objects = result.snapshot.objectCount
        var summary = "\(result.fileCount) file\(result.fileCount == 1 ? "" : "s"), \(objects) valid object\(objects == 1 ? "" : "s"): "
        summary += "\(errors) error\(errors == 1 ? "" : "s"), \(result.warningCount) warning\(result.warningCount == 1 ? "" : "s")"
        if result.skippedCount > 0 {
            summary += ", \(result.skippedCount) object\(result.skippedCount == 1 ? "" : "s") of other kinds skipped"
            if !showNotices { summary += " (--notices lists them)" }
        }
        lines.append(summary)
        return lines.joined(separator: "\n") + "\n"
    }

    package static func json(_ result: LoadResult, status: ValidateMode.ExitStatus) -> String {
        func entry(_ diagnostic: Diagnostic) -> [String: Any] {
            var object: [String: Any] = ["severity": diagnostic.severity.rawValue, "file": diagnostic.file, "message": diagnostic.message]
            if let mark = diagnostic.mark {
                object["line"] = mark.line
                object["column"] = mark.column
            }
            if let reference = diagnostic.object {
                object["kind"] = reference.kind
                object["namespace"] = reference.namespace
                object["name"] = reference.name
            }
            if let path = diagnostic.path, !path.components.isEmpty { object["field"] = path.description }
            return object
        }
        let document: [String: Any] = [
            "valid": status == .valid,
            "exitCode": Int(status.rawValue),
            "files": result.fileCount,
            "objects": result.snapshot.objectCount,
            "errors": result.errorCount + result.ioErrors.count,
            "warnings": result.warningCount,
            "skipped": result.skippedCount,
            "diagnostics": (result.ioErrors + result.diagnostics).map(entry),
        ]
        return JSONText.serialize(document, escapingSlashes: true) + "\n"
    }
}
