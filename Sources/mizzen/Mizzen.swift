import ArgumentParser
import Logging
import MizzenApp
import MizzenConfig
import MizzenProxy
import NIOCore
import MizzenRouting
import MizzenSidecar
import MizzenSources
import MizzenTelemetry

#if canImport(Glibc)
import Glibc
#endif

@main
enum Entry {
    /// Runs the command; usage errors exit 2 (not ArgumentParser's 64), as `validate` documents.
    static func main() async {
        do {
            var command = try Mizzen.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            if Mizzen.exitCode(for: error) == .success { Mizzen.exit(withError: error) }
            // Glibc's write, not FileHandle: the binary does not link Foundation (about 6 MiB
            // of resident memory for three calls).
            let message = Array((Mizzen.fullMessage(for: error) + "\n").utf8)
            _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            exit(2)
        }
    }
}

struct Mizzen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mizzen",
        abstract: "An Istio-compatible ingress gateway and sidecar proxy.",
        discussion: "Reads Istio's own YAML (Gateway, VirtualService, DestinationRule, ServiceEntry, WorkloadEntry) and Kubernetes Services, Endpoints, EndpointSlices and Secrets.",
        subcommands: [Validate.self, Routes.self, Gateway.self, Sidecar.self, Iptables.self, Inject.self, Injector.self, Demo.self]
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
                return (String(line[..<colon].trimmingASCIISpaces()), String(line[line.index(after: colon)...].trimmingASCIISpaces()))
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

/// Options shared by the commands that run the proxy.
struct ProxyOptions: ParsableArguments {
    @Option(help: "Address the listeners bind to.")
    var bind: String = "0.0.0.0"

    @Option(name: .customLong("port-map"), help: "Gateway port to local port, e.g. 80=8080,443=8443 (run unprivileged; 0 picks a free port).")
    var portMap: String?

    @Option(help: "Event loops (threads); default: one per core.")
    var concurrency: Int?

    @Option(help: "Path normalisation before matching: none, base, merge-slashes, decode-and-merge-slashes.")
    var pathNormalization: String = PathNormalization.mergeSlashes.rawValue

    @Option(help: "Largest request header section in bytes (431 beyond).")
    var maxRequestHeadersBytes: Int = ProxyLimits().maxRequestHeadersBytes

    @Option(help: "Most request headers (431 beyond).")
    var maxRequestHeaders: Int = ProxyLimits().maxRequestHeadersCount

    @Option(help: "Largest request body in bytes (413 beyond); default unlimited.")
    var maxRequestBodyBytes: Int?

    @Option(help: "Seconds a request's header section may take to arrive (408 beyond).")
    var requestHeadersTimeout: Double = 10

    @Option(help: "Seconds a request may go without activity in either direction (408 or 504 beyond).")
    var streamIdleTimeout: Double = 300

    @Option(help: "Seconds an idle downstream connection is kept.")
    var idleTimeout: Double = 3600

    @Option(help: "Seconds to connect to an upstream.")
    var connectTimeout: Double = 10

    @Option(help: "Seconds a new connection has to show what it carries: first bytes, TLS ClientHello and handshake (closed beyond).")
    var connectionSetupTimeout: Double = 15

    @Option(help: "Seconds an HTTP/1 connection closed by an answer keeps reading (and dropping) what the client still sends.")
    var lingerTimeout: Double = 1

    @Option(help: "HTTP/2: request body bytes a connection's streams may hold unsent before its window stops being given back.")
    var http2ConnectionBufferBytes: Int = ProxyLimits().http2ConnectionBufferBytes

    @Option(help: "Requests waiting for an upstream connection, per endpoint and event loop (503 overflow beyond).")
    var maxPendingRequests: Int = ProxyLimits().maxPendingRequestsPerPool

    @Option(help: "HTTP/2 concurrent streams per connection.")
    var http2MaxConcurrentStreams: Int = ProxyLimits().http2MaxConcurrentStreams

    @Option(help: "HTTP/2 stream resets a client may send per 30 s before GOAWAY.")
    var http2MaxResets: Int = ProxyLimits().http2MaxResetsPerWindow

    @Option(help: "Seconds to drain requests in flight on SIGTERM.")
    var drainTimeout: Double = 5

    @Option(help: "Request bodies up to this many bytes are kept so a retry can replay them; larger ones are not retried.")
    var maxRetryBufferBytes: Int = ProxyLimits().maxRetryBufferBytes

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "notice"

    func validate() throws {
        guard PathNormalization(rawValue: pathNormalization) != nil else {
            throw ValidationError("--path-normalization must be one of \(PathNormalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        _ = try parsedPortMap()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if maxPendingRequests < 1 { throw ValidationError("--max-pending-requests must be at least 1") }
        if http2ConnectionBufferBytes < 65_536 { throw ValidationError("--http2-connection-buffer-bytes must be at least 65536") }
    }

    func parsedPortMap() throws -> [UInt32: Int] {
        var map: [UInt32: Int] = [:]
        for pair in (portMap ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=")
            guard parts.count == 2, let from = UInt32(parts[0]), let to = Int(parts[1]), to >= 0, to < 65536 else {
                throw ValidationError("--port-map entries are GATEWAYPORT=LOCALPORT, got '\(pair)'")
            }
            map[from] = to
        }
        return map
    }

    var limits: ProxyLimits {
        var limits = ProxyLimits()
        limits.pathNormalization = PathNormalization(rawValue: pathNormalization) ?? .mergeSlashes
        limits.maxRequestHeadersBytes = maxRequestHeadersBytes
        limits.maxRequestHeadersCount = maxRequestHeaders
        limits.maxRequestBodyBytes = maxRequestBodyBytes
        limits.requestHeadersTimeout = .nanoseconds(Int64(requestHeadersTimeout * 1e9))
        limits.idleTimeout = .nanoseconds(Int64(idleTimeout * 1e9))
        limits.streamIdleTimeout = .nanoseconds(Int64(streamIdleTimeout * 1e9))
        limits.upstreamConnectTimeout = .nanoseconds(Int64(connectTimeout * 1e9))
        limits.connectionSetupTimeout = .nanoseconds(Int64(connectionSetupTimeout * 1e9))
        limits.lingerTimeout = .nanoseconds(Int64(lingerTimeout * 1e9))
        limits.http2ConnectionBufferBytes = http2ConnectionBufferBytes
        limits.maxPendingRequestsPerPool = maxPendingRequests
        limits.http2MaxConcurrentStreams = http2MaxConcurrentStreams
        limits.http2MaxResetsPerWindow = http2MaxResets
        limits.drainTimeout = .nanoseconds(Int64(drainTimeout * 1e9))
        limits.maxRetryBufferBytes = max(0, maxRetryBufferBytes)
        return limits
    }

    var threads: Int { concurrency ?? System.coreCount }

    /// The process's one log level, changeable at `/logging`.
    func makeLogLevelControl() -> LogLevelControl {
        LogLevelControl(Logger.Level(rawValue: logLevel) ?? .notice)
    }

    func makeLogger(_ label: String, control: LogLevelControl) -> Logger {
        Logger(label: label) { control.handler(label: $0) }
    }
}

/// Options of the operator side: admin, stats and status ports, drain, access log, tracing,
/// this proxy's workload identity in the metrics.
struct OperationsOptions: ParsableArguments {
    @Option(help: "Admin port (Envoy's /config_dump, /clusters, /stats, /graph ...); 0 picks a free port, --admin-port=-1 turns it off.")
    var adminPort: Int = 15000

    @Option(help: "Address the admin port binds to.")
    var adminBind: String = "127.0.0.1"

    @Option(help: "Prometheus port (/stats/prometheus); 0 picks a free port, --stats-port=-1 turns it off.")
    var statsPort: Int = 15090

    @Option(help: "Readiness port (/healthz/ready); 0 picks a free port, --status-port=-1 turns it off.")
    var statusPort: Int = 15021

    @Option(help: "Address the stats and status ports bind to.")
    var operatorBind: String = "0.0.0.0"

    @Option(help: "Seconds SIGTERM keeps the listeners open while connections are told to close (Istio's terminationDrainDuration).")
    var drainDuration: Double = 5

    @Flag(help: "Do not watch the configuration and credential files (SIGHUP still reloads).")
    var noWatch = false

    @Option(help: "Access log: a file path, or - for standard output; off when not given (Istio's default).")
    var accessLog: String?

    @Option(help: "Access log encoding: TEXT or JSON.")
    var accessLogEncoding: String = "TEXT"

    @Option(help: "Access log format with Envoy's %COMMAND% operators (for JSON, an object of them); default Istio's.")
    var accessLogFormat: String?

    @Option(help: "Bytes of access-log lines that may wait for a slow disk or pipe; past it lines are dropped (and counted).")
    var accessLogBufferBytes: Int = 4 << 20

    @Flag(help: "Count no metrics and write no access log or spans (to measure what telemetry costs).")
    var disableTelemetry = false

    @Option(help: "Percentage of requests without a sampling decision that are traced (Istio's default 1); with --zipkin or --otlp.")
    var traceSampling: Double = 1

    @Option(help: "Zipkin collector HOST:PORT: spans are POSTed to /api/v2/spans.")
    var zipkin: String?

    @Option(help: "OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces.")
    var otlp: String?

    @Option(help: "This proxy's workload name in the metrics (source_workload) and traces.")
    var workloadName: String = "istio-ingressgateway"

    @Option(help: "This proxy's cluster in the metrics (source_cluster).")
    var clusterID: String = "Kubernetes"

    func validate() throws {
        for (name, port) in [("--admin-port", adminPort), ("--stats-port", statsPort), ("--status-port", statusPort)] where port < -1 || port > 65535 {
            throw ValidationError("\(name) must be -1 (off), 0 (any) or a port")
        }
        guard accessLogBufferBytes >= 4096 else { throw ValidationError("--access-log-buffer-bytes must be at least 4096") }
        guard drainDuration >= 0 else { throw ValidationError("--drain-duration must not be negative") }
        guard AccessLogFormat.Encoding(rawValue: accessLogEncoding.uppercased()) != nil else {
            throw ValidationError("--access-log-encoding must be TEXT or JSON")
        }
        guard traceSampling >= 0, traceSampling <= 100 else { throw ValidationError("--trace-sampling must be between 0 and 100") }
        if zipkin != nil, otlp != nil { throw ValidationError("--zipkin and --otlp exclude each other") }
        if let zipkin { _ = try Self.hostPort(zipkin, option: "--zipkin") }
        if let otlp { _ = try Self.url(otlp) }
        do {
            _ = try AccessLogFormat(encoding: AccessLogFormat.Encoding(rawValue: accessLogEncoding.uppercased()) ?? .text, format: accessLogFormat)
        } catch {
            throw ValidationError("--access-log-format: \(error.message)")
        }
    }

    static func hostPort(_ text: String, option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), port > 0, port < 65536,
              colon != text.startIndex else {
            throw ValidationError("\(option) must be HOST:PORT, got '\(text)'")
        }
        return (String(text[..<colon]), port)
    }

    /// `http://host:port/path` (https is not spoken by the exporter).
    static func url(_ text: String) throws -> (String, Int, String) {
        guard text.hasPrefix("http://") else { throw ValidationError("--otlp must be an http:// URL, got '\(text)'") }
        let rest = text.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/v1/traces" : String(rest[slash...])
        if authority.contains(":") {
            let (host, port) = try hostPort(authority, option: "--otlp")
            return (host, port, path)
        }
        return (authority, 4318, path)
    }

    func settings(control: LogLevelControl) -> OperationsSettings {
        var settings = OperationsSettings()
        settings.adminHost = adminBind
        settings.adminPort = adminPort < 0 ? nil : adminPort
        settings.statsHost = operatorBind
        settings.statsPort = statsPort < 0 ? nil : statsPort
        settings.statusHost = operatorBind
        settings.statusPort = statusPort < 0 ? nil : statusPort
        settings.drainDuration = .milliseconds(Int64(drainDuration * 1000))
        settings.watchFiles = !noWatch
        settings.telemetryEnabled = !disableTelemetry
        settings.logLevel = control
        settings.commandLine = CommandLine.arguments
        return settings
    }

    /// Metrics identity, access log and tracing for a gateway in `namespace` with pod `labels`.
    func telemetry(namespace: String, labels: [String: String], logger: Logger) throws -> ProxyTelemetry {
        var podLabels = labels
        if podLabels["app"] == nil { podLabels["app"] = workloadName }
        let source = WorkloadLabels.fromPodLabels(podLabels, workload: workloadName, namespace: namespace, cluster: clusterID)
        var accessLogSetup: ProxyTelemetry.AccessLog?
        if let accessLog {
            let format = try AccessLogFormat(encoding: AccessLogFormat.Encoding(rawValue: accessLogEncoding.uppercased()) ?? .text, format: accessLogFormat)
            accessLogSetup = ProxyTelemetry.AccessLog(format: format, writer: try AccessLogWriter(path: accessLog, maxPendingBytes: accessLogBufferBytes,
                                                                                                 logger: logger))
        }
        let serviceName = "\(workloadName).\(namespace)"
        let tags = [SpanTag("istio.canonical_service", source.canonicalService), SpanTag("istio.canonical_revision", source.canonicalRevision),
                    SpanTag("istio.namespace", namespace), SpanTag("istio.mesh_id", "cluster.local"), SpanTag("istio.cluster_id", clusterID)]
        var exporter: SpanExporter?
        let resource = [SpanTag("service.name", serviceName)] + tags
        if let zipkin {
            let (host, port) = try Self.hostPort(zipkin, option: "--zipkin")
            exporter = SpanExporter(target: .zipkin(host: host, port: port, path: "/api/v2/spans"), resource: resource, logger: logger)
        } else if let otlp {
            let (host, port, path) = try Self.url(otlp)
            exporter = SpanExporter(target: .otlp(host: host, port: port, path: path), resource: resource, logger: logger)
        }
        // Without a collector there is no tracer, as an Envoy without a tracing provider:
        // incoming trace headers pass as they are, x-request-id is still made.
        let tracing = exporter.map { ProxyTelemetry.Tracing(samplingPercent: traceSampling, exporter: $0, serviceName: serviceName, tags: tags) }
        return ProxyTelemetry(identity: MetricsIdentity(source: source), reporter: .source, accessLog: accessLogSetup, tracing: tracing)
    }
}

struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the ingress gateway: listeners from the Gateway servers that select it, routes from the VirtualServices bound to them.",
        discussion: """
        Example: mizzen gateway --config Gateways/bookinfo --port-map 80=8080
        Metrics on :15090/stats/prometheus, readiness on :15021/healthz/ready, admin on 127.0.0.1:15000.
        SIGTERM drains (readiness fails, connections are told to close, listeners stay open for \
        --drain-duration) and stops; SIGINT stops after the requests in flight; a change to the \
        configuration or credential files, or SIGHUP, reloads.
        """
    )

    @OptionGroup var source: SourceOptions

    @Option(help: "Directory of mounted TLS Secrets for credentialName: DIR/NAME/tls.crt, tls.key, ca.crt.")
    var credentials: String?

    @Option(name: .customLong("workload-certs"), help: "Directory with this proxy's mesh certificate for ISTIO_MUTUAL upstreams: cert-chain.pem, key.pem, root-cert.pem.")
    var workloadCerts: String?

    @Option(name: [.short, .long], help: "Namespace of this gateway proxy (and of objects that name none).")
    var namespace: String = "istio-system"

    @Option(help: "Labels of this gateway proxy (k=v,...); default istio=ingressgateway.")
    var labels: String = "istio=ingressgateway"

    @OptionGroup var proxy: ProxyOptions

    @OptionGroup var operations: OperationsOptions

    func run() async throws {
        let labelMap = try labelOption(labels, name: "--labels")
        let control = proxy.makeLogLevelControl()
        let logger = proxy.makeLogger("mizzen.gateway", control: control)
        let telemetry: ProxyTelemetry
        do {
            telemetry = try operations.telemetry(namespace: namespace, labels: labelMap, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        let origin = try source.origin(proxyNamespace: namespace, readsSecrets: true)
        var mode = GatewayMode(paths: source.config, loader: ConfigLoader(defaultNamespace: "default", analyze: false),
                               proxy: .gateway(namespace: namespace, labels: labelMap), credentialsDirectory: credentials,
                               workloadCertificates: workloadCerts,
                               binding: ListenerBinding(host: proxy.bind, portMap: try proxy.parsedPortMap()),
                               threads: proxy.threads, limits: proxy.limits, logger: logger, telemetry: telemetry,
                               operations: operations.settings(control: control))
        mode.kubernetes = origin
        let status = await mode.run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct Sidecar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the in-pod sidecar: capture listeners for the traffic iptables redirects (see `mizzen iptables`), routes from the VirtualServices bound to mesh.",
        discussion: """
        Example: mizzen sidecar --config /etc/mizzen --namespace default --pod-labels app=reviews,version=v1
        Outbound connections arrive on --outbound-port (15001), inbound ones on --inbound-port \
        (15006); each is routed by the address it was sent to. Run it as the uid iptables exempts \
        (-u, 1337) so its own connections are not captured again.
        """
    )

    @OptionGroup var source: SourceOptions

    @Option(name: [.short, .long], help: "Namespace of this pod (and of objects that name none). Env: POD_NAMESPACE.")
    var namespace: String?

    @Option(name: .customLong("pod-labels"), help: "Labels of this pod (k=v,...): the services selecting them give the inbound ports.")
    var podLabels: String = ""

    @Option(name: .customLong("service-account"), help: "Service account of this pod (its SPIFFE identity). Env: SERVICE_ACCOUNT.")
    var serviceAccount: String?

    @Option(name: .customLong("workload-certs"), help: "Directory with this pod's mesh certificate: cert-chain.pem, key.pem, root-cert.pem.")
    var workloadCerts: String?

    @Option(name: .customLong("outbound-port"), help: "Outbound capture port (istio-iptables -p).")
    var outboundPort: Int = 15001

    @Option(name: .customLong("inbound-port"), help: "Inbound capture port (istio-iptables -z).")
    var inboundPort: Int = 15006

    @Option(name: .customLong("outbound-traffic-policy"), help: "ALLOW_ANY (unknown destinations pass through) or REGISTRY_ONLY (they are refused).")
    var outboundTrafficPolicy: String = "ALLOW_ANY"

    @Option(name: .customLong("agent-port"), help: "pilot-agent's port: /healthz/ready, /stats/prometheus and the application's rewritten probes /app-health/... (-1: off).")
    var agentPort: Int = 15020

    @Option(name: .customLong("pod-ip"), help: "The pod's address, where the rewritten probes reach the application. Env: INSTANCE_IP; default 127.0.0.1.")
    var podIP: String?

    @Option(help: "Capture IPv6 too (listeners on [::]): auto (when the pod has an IPv6 address), on or off.")
    var ipv6: String = "auto"

    @Option(name: .customLong("interception-mode"), help: "How inbound traffic is captured (istio-iptables -m): REDIRECT or TPROXY (needs NET_ADMIN). Env: ISTIO_META_INTERCEPTION_MODE.")
    var interceptionMode: String?

    @Option(name: .customLong("trust-domain"), help: "Mesh trust domain: identities are spiffe://TRUST_DOMAIN/ns/NS/sa/SA. Env: TRUST_DOMAIN.")
    var trustDomain: String?

    @OptionGroup var proxy: ProxyOptions

    @OptionGroup var operations: OperationsOptions

    func run() async throws {
        let environment = ProcessEnvironment.values
        let namespace = self.namespace ?? environment["POD_NAMESPACE"] ?? "default"
        let labelMap = try labelOption(podLabels, name: "--pod-labels")
        guard let policy = MeshSettings.OutboundTrafficPolicy(rawValue: outboundTrafficPolicy.uppercased()) else {
            throw ValidationError("--outbound-traffic-policy is ALLOW_ANY or REGISTRY_ONLY, got '\(outboundTrafficPolicy)'")
        }
        for (name, port) in [("--outbound-port", outboundPort), ("--inbound-port", inboundPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(name) must be 0-65535, got \(port)")
        }
        guard (-1...65535).contains(agentPort) else { throw ValidationError("--agent-port must be -1 (off), 0 (any) or a port") }
        let interception = (interceptionMode ?? environment["ISTIO_META_INTERCEPTION_MODE"] ?? "REDIRECT").uppercased()
        guard interception == "REDIRECT" || interception == "TPROXY" else { throw ValidationError("--interception-mode is REDIRECT or TPROXY, got '\(interception)'") }
        let captureIPv6: Bool
        switch ipv6.lowercased() {
        case "auto": captureIPv6 = SidecarMode.podHasIPv6()
        case "on", "true": captureIPv6 = true
        case "off", "false": captureIPv6 = false
        default: throw ValidationError("--ipv6 is auto, on or off, got '\(ipv6)'")
        }
        var probes = AppProbes(probes: [:])
        if let json = environment["ISTIO_KUBE_APP_PROBERS"], !json.isEmpty {
            do {
                probes = try AppProbes.parse(json)
            } catch {
                throw ValidationError("ISTIO_KUBE_APP_PROBERS: \(error)")
            }
        }
        let control = proxy.makeLogLevelControl()
        let logger = proxy.makeLogger("mizzen.sidecar", control: control)
        let telemetry: ProxyTelemetry
        do {
            telemetry = try operations.telemetry(namespace: namespace, labels: labelMap, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        var settings = operations.settings(control: control)
        settings.agentPort = agentPort < 0 ? nil : agentPort
        settings.appProbes = probes
        settings.podIP = podIP ?? environment["INSTANCE_IP"] ?? "127.0.0.1"
        let mesh = MeshSettings(outboundTrafficPolicy: policy, trustDomain: trustDomain ?? environment["TRUST_DOMAIN"] ?? "cluster.local")
        let origin = try source.origin(proxyNamespace: namespace, readsSecrets: false)
        var mode = SidecarMode.make(paths: source.config, loader: ConfigLoader(defaultNamespace: namespace, analyze: false), namespace: namespace,
                                    podLabels: labelMap, serviceAccount: serviceAccount ?? environment["SERVICE_ACCOUNT"],
                                    workloadCertificates: workloadCerts ?? environment["OUTPUT_CERTS"],
                                    capture: CaptureListeners(host: proxy.bind, outboundPort: outboundPort, inboundPort: inboundPort, ipv6: captureIPv6,
                                                              inboundTransparent: interception == "TPROXY"),
                                    mesh: mesh, threads: proxy.threads, limits: proxy.limits, logger: logger,
                                    telemetry: telemetry, operations: settings)
        mode.kubernetes = origin
        let status = await mode.run()
        if status != 0 { throw ExitCode(status) }
    }
}

struct Iptables: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install istio-init's traffic capture rules (istio-iptables flags and environment variables).",
        discussion: """
        Example (the arguments Istio's injector renders): mizzen iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020
        --dry-run prints the rules in iptables-save form; --cleanup-only removes them. Needs NET_ADMIN in the pod's network namespace.
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "istio-iptables flags (-p -z -u -g -m -b -d -i -x -q -o -k -c, --dry-run, --cleanup-only, ...).")
    var arguments: [String] = []

    func run() throws {
        let mode = IptablesMode(arguments: arguments, environment: ProcessEnvironment.values)
        let status = mode.run(output: { print($0) }, errors: { text in
            let bytes = Array((text + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        })
        if status != 0 { throw ExitCode(status) }
    }
}

struct Inject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract: "Add the sidecar to the pods of Kubernetes manifests (istioctl kube-inject, offline).",
        discussion: """
        Example: kubectl apply -f <(mizzen inject -f deployment.yaml)
        Adds the istio-init container (mizzen iptables with the arguments Istio's injector renders from the \
        traffic.sidecar.istio.io/* annotations) and the istio-proxy container (mizzen sidecar, uid 1337) to \
        Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and Pods; honours \
        sidecar.istio.io/inject: "false"; rewrites HTTP, TCP and gRPC probes to the sidecar's port 15020. \
        Other documents pass through. What was done to each object goes to standard error.
        """,
        aliases: ["kube-inject"]
    )

    @Option(name: [.short, .customLong("filename")], help: "Manifest file, or - for standard input.")
    var file: String

    @Option(name: [.short, .long], help: "Write the result here instead of standard output.")
    var output: String?

    @Option(help: "The sidecar's image.")
    var image: String = InjectionOptions().image

    @Option(name: .customLong("mesh-config-map"), help: "ConfigMap holding the sidecar's configuration (mounted at /etc/mizzen/config).")
    var meshConfigMap: String = InjectionOptions().meshConfigMap

    @Flag(name: .customLong("native-sidecars"), help: "Put istio-proxy among the init containers with restartPolicy Always (Kubernetes 1.29+).")
    var nativeSidecars = false

    func run() throws {
        let text: String
        if file == "-" {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(0, &chunk, chunk.count)
                if count <= 0 { break }
                bytes += chunk[0..<count]
            }
            text = String(decoding: bytes, as: UTF8.self)
        } else {
            guard let bytes = FileText.read(file) else { throw ValidationError("cannot read \(file)") }
            text = bytes
        }
        var options = InjectionOptions()
        options.image = image
        options.meshConfigMap = meshConfigMap
        options.nativeSidecars = nativeSidecars
        let result: InjectionResult
        do {
            result = try SidecarInjector(options: options).inject(yaml: text, file: file == "-" ? "<stdin>" : file)
        } catch {
            let message = Array("mizzen inject: \(error)\n".utf8)
            _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
        for note in result.notes {
            let line = Array("\(note)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        if let output {
            guard FileText.write(result.output, to: output) else { throw ValidationError("cannot write \(output)") }
        } else {
            print(result.output, terminator: "")
        }
    }
}

/// `k=v,k=v` labels of an option; an entry without `=` is a usage error naming the option.
func labelOption(_ text: String, name: String) throws -> [String: String] {
    var labels: [String: String] = [:]
    for pair in text.split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ValidationError("\(name) entries are k=v, got '\(pair)'") }
        labels[parts[0]] = parts[1]
    }
    return labels
}

/// The process environment, read once (the istio-iptables and sidecar env forms).
/// Where a proxy's objects come from: files, or the Kubernetes API server.
struct SourceOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration files or directories (repeatable; --source files).")
    var config: [String] = []

    @Option(help: "Where objects come from: files (--config, watched) or kubernetes (list + watch of the API server).")
    var source: String = "files"

    @Option(help: "kubeconfig for --source kubernetes; default: the pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config.")
    var kubeconfig: String?

    @Option(name: .customLong("watch-namespaces"), help: "Namespaces to watch, comma-separated (--source kubernetes); default all.")
    var watchNamespaces: String?

    @Option(name: .customLong("debounce-after"), help: "Milliseconds without a change before a new configuration is made (Istio's PILOT_DEBOUNCE_AFTER).")
    var debounceAfter: Int = 100

    @Option(name: .customLong("debounce-max"), help: "Milliseconds after the first change by which a new configuration is made however busy (PILOT_DEBOUNCE_MAX).")
    var debounceMax: Int = 1000

    @Option(name: .customLong("watch-timeout"), help: "Seconds a watch asks the server to run before it is restarted: MIN-MAX (client-go: 300-600).")
    var watchTimeout: String = "300-600"

    func validate() throws {
        switch source {
        case "files":
            guard !config.isEmpty else { throw ValidationError("--config is required (or --source kubernetes)") }
        case "kubernetes":
            guard config.isEmpty else { throw ValidationError("--config and --source kubernetes exclude each other: objects come from the API server") }
        default:
            throw ValidationError("--source is files or kubernetes, got '\(source)'")
        }
        guard debounceAfter > 0, debounceMax >= debounceAfter else { throw ValidationError("--debounce-after must be positive and at most --debounce-max") }
        _ = try watchTimeoutRange()
    }

    func watchTimeoutRange() throws -> ClosedRange<Int> {
        let parts = watchTimeout.split(separator: "-").map { Int($0) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 1, high >= low else {
            throw ValidationError("--watch-timeout is MIN-MAX seconds, e.g. 300-600; got '\(watchTimeout)'")
        }
        return low...high
    }

    /// Nil for files; for kubernetes, the API server and what to watch (the proxy's own
    /// namespace's Secrets when `readsSecrets`).
    func origin(proxyNamespace: String, readsSecrets: Bool) throws -> KubernetesOrigin? {
        guard source == "kubernetes" else { return nil }
        let environment = ProcessEnvironment.values
        let access: ClusterAccess
        do {
            access = try ClusterAccess.discover(kubeconfig: kubeconfig, environment: environment)
        } catch {
            throw ValidationError("--source kubernetes: \(error)")
        }
        var settings = KubernetesSourceSettings()
        settings.namespaces = KubernetesSourceSettings.namespaces(fromList: watchNamespaces ?? "")
        settings.secretNamespace = readsSecrets ? proxyNamespace : nil
        settings.debounceQuiet = .milliseconds(debounceAfter)
        settings.debounceMax = .milliseconds(debounceMax)
        settings.watchTimeoutSeconds = try watchTimeoutRange()
        return KubernetesOrigin(access: access, settings: settings)
    }
}

enum ProcessEnvironment {
    static var values: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Bookinfo on this machine: stand-in services on loopback and a gateway serving Gateways/bookinfo.",
        discussion: "Prints the curl lines that show the routing (reviews v2 for end-user jason, v1 for everyone else)."
    )

    @Option(name: .long, help: "The Bookinfo configuration (files or directories).")
    var config: [String] = ["Gateways/bookinfo"]

    @Option(help: "Local port for the Gateway's port 8080.")
    var port: Int = 8080

    @OptionGroup var proxy: ProxyOptions

    @OptionGroup var operations: OperationsOptions

    func run() async throws {
        var portMap = try proxy.parsedPortMap()
        portMap[8080] = portMap[8080] ?? port
        let control = proxy.makeLogLevelControl()
        let logger = proxy.makeLogger("mizzen.demo", control: control)
        let telemetry: ProxyTelemetry
        do {
            telemetry = try operations.telemetry(namespace: "istio-system", labels: ["istio": "ingressgateway"], logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        var settings = operations.settings(control: control)
        // The demo runs on a workstation: every port on loopback unless --bind says otherwise.
        if settings.statsHost == "0.0.0.0" { settings.statsHost = "127.0.0.1" }
        if settings.statusHost == "0.0.0.0" { settings.statusHost = "127.0.0.1" }
        let gateway = GatewayMode(paths: config, loader: ConfigLoader(defaultNamespace: "default", analyze: false),
                                  proxy: .defaultGateway, credentialsDirectory: nil,
                                  binding: ListenerBinding(host: proxy.bind == "0.0.0.0" ? "127.0.0.1" : proxy.bind, portMap: portMap),
                                  threads: proxy.threads, limits: proxy.limits, logger: logger, telemetry: telemetry, operations: settings)
        let status = await DemoMode(gateway: gateway, gatewayPort: portMap[8080] ?? port).run()
        if status != 0 { throw ExitCode(status) }
    }
}
