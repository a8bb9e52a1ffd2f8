import ArgumentParser
import Logging
import MizzenApp
import MizzenConfig
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@main
enum Entry {
    /// Runs the command; usage errors exit 2 (not ArgumentParser's 64), as `validate` documents.
    static func main() {
        do {
            var command = try Mizzen.parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            if Mizzen.exitCode(for: error) == .success { Mizzen.exit(withError: error) }
            FileHandle.standardError.write(Data((Mizzen.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
    }
}

struct Mizzen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mizzen",
        abstract: "An Istio-compatible ingress gateway and sidecar proxy.",
        discussion: "Reads Istio's own YAML (Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry) and Kubernetes Services, Endpoints, EndpointSlices and Secrets.",
        subcommands: [Validate.self]
    )
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check Istio and Kubernetes YAML as Istio would, and report every problem with its file, line and field.",
        discussion: """
        Exit status: 0 when valid (warnings allowed), 1 when any object is invalid, 2 when a path \
        cannot be read or the command line is wrong.
        """
    )

    @Argument(help: "Files or directories (searched recursively for .yaml, .yml and .json).")
    var paths: [String]

    @Option(name: [.short, .long], help: "Namespace of objects that name none.")
    var namespace: String = "default"

    @Option(name: [.short, .long], help: "Report format: text or json.")
    var output: String = "text"

    @Option(help: "Largest file read, in MiB.")
    var maxFileSize: Int = ConfigLoader.defaultMaxFileSize >> 20

    @Flag(help: "Also list the objects of other kinds that were skipped.")
    var notices = false

    @Flag(help: "Skip the cross-object checks (missing gateways, services, subsets).")
    var noAnalysis = false

    @Flag(help: "After the report, print an outline of the valid objects: gateways, servers, routes, subsets.")
    var summary = false

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "warning"

    func validate() throws {
        guard ValidateMode.OutputFormat(rawValue: output) != nil else {
            throw ValidationError("--output must be text or json")
        }
        guard maxFileSize > 0, maxFileSize <= 4096 else {
            throw ValidationError("--max-file-size must be between 1 and 4096 (MiB)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let problem = Rules.kubernetesNameProblem(namespace, allowDots: false) {
            throw ValidationError("--namespace \(problem)")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "mizzen.validate")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
        let loader = ConfigLoader(defaultNamespace: namespace, maxFileSize: maxFileSize << 20, analyze: !noAnalysis)
        let mode = ValidateMode(paths: paths, loader: loader, format: ValidateMode.OutputFormat(rawValue: output) ?? .text, showNotices: notices, showSummary: summary)
        let (text, status) = mode.run(logger: logger)
        print(text, terminator: "")
        if status != .valid { throw ExitCode(status.rawValue) }
    }
}
