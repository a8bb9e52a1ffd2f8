import ArgumentParser
import Logging
import MizzenApp
import MizzenConfig
import MizzenRouting
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
        subcommands: [Validate.self, Routes.self]
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

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile the configuration for one proxy and print its route table, or explain where a request goes.",
        discussion: """
        Without --request: the listeners, servers, virtual hosts, routes and clusters. With --request: \
        which server and virtual host matched, every route tried and the first condition that failed, \
        the route taken and its destinations.
        Example: mizzen routes --config Gateways/bookinfo --request 'GET http://bookinfo.example.com:8080/productpage' -H 'end-user: jason'
        """
    )

    @Option(name: .long, help: "Configuration files or directories (repeatable).")
    var config: [String]

    @Option(help: "Compile for the proxy this Gateway (namespace/name) selects: its namespace and selector labels.")
    var gateway: String?

    @Option(help: "Compile for a sidecar in this namespace.")
    var sidecar: String?

    @Option(help: "Labels of the gateway proxy (k=v,...); default istio=ingressgateway.")
    var labels: String?

    @Option(help: "A request to explain: 'METHOD scheme://host[:port]/path?query'.")
    var request: String?

    @Option(name: .customShort("H"), help: "A request header 'name: value' (repeatable).")
    var header: [String] = []

    @Option(help: "The listener port the request arrives on (default: the URL's port, else 80 or 443).")
    var port: UInt32?

    @Option(help: "The TLS server name (default: the URL's host for https).")
    var sni: String?

    @Option(name: [.short, .long], help: "Namespace of objects that name none.")
    var namespace: String = "default"

    @Option(name: [.short, .long], help: "Output format: text or json.")
    var output: String = "text"

    @Option(help: "Seed for the weighted choice among destinations.")
    var seed: UInt64 = 0

    func validate() throws {
        guard output == "text" || output == "json" else { throw ValidationError("--output must be text or json") }
        if gateway != nil, sidecar != nil { throw ValidationError("--gateway and --sidecar exclude each other") }
        if let gateway, gateway.split(separator: "/").count != 2 { throw ValidationError("--gateway must be namespace/name") }
        for line in header where !line.contains(":") { throw ValidationError("-H must be 'name: value', got '\(line)'") }
        if let request, request.split(separator: " ").count != 2 { throw ValidationError("--request must be 'METHOD URL', got '\(request)'") }
    }

    func run() throws {
        let selection: RoutesMode.Selection
        if let gateway {
            let parts = gateway.split(separator: "/").map(String.init)
            selection = .gatewayObject(namespace: parts[0], name: parts[1])
        } else if let sidecar {
            selection = .proxy(.sidecar(namespace: sidecar, labels: parseLabels(labels)))
        } else if let labels {
            selection = .proxy(.gateway(namespace: "istio-system", labels: parseLabels(labels)))
        } else {
            selection = .proxy(.defaultGateway)
        }
        var explained: RoutesMode.Request?
        if let request {
            let parts = request.split(separator: " ").map(String.init)
            let headers = header.map { line -> (name: String, value: String) in
                let colon = line.firstIndex(of: ":")!
                return (String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            }
            explained = RoutesMode.Request(method: parts[0], url: parts[1], headers: headers, port: port, serverName: sni)
        }
        let mode = RoutesMode(paths: config, loader: ConfigLoader(defaultNamespace: namespace, analyze: false), selection: selection,
                              request: explained, json: output == "json", random: seed)
        let (text, status) = mode.run()
        print(text, terminator: "")
        if status != .valid { throw ExitCode(status.rawValue) }
    }

    func parseLabels(_ text: String?) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in (text ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { labels[parts[0]] = parts[1] }
        }
        return labels
    }
}
