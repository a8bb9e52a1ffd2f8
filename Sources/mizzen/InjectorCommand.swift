import ArgumentParser
import Logging
import MizzenApp
import MizzenSidecar

struct Injector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "injector",
        abstract: "Serve the sidecar injection webhook (istiod's on 15017): the sidecar `mizzen inject` adds, as a JSON Patch per pod.",
        discussion: """
        Example: mizzen injector --tls-cert /etc/webhook/tls.crt --tls-key /etc/webhook/tls.key
        HTTPS; POST /inject (and /inject/...) takes an admission.k8s.io/v1 AdmissionReview of a Pod \
        and answers with the patch; GET /healthz/ready is the readiness probe. The \
        MutatingWebhookConfiguration's selectors choose the namespaces; the pod's own \
        sidecar.istio.io/inject "false", host networking and an existing istio-proxy are honoured. \
        A request that cannot be answered with a patch admits the pod without a sidecar (with a \
        warning and a log line), never refuses it. The certificate and key are re-read when their \
        files change or on SIGHUP; SIGTERM drains and stops.
        """
    )

    @Option(help: "Port to serve HTTPS on (0 picks a free port).")
    var port: Int = 15017

    @Option(help: "Address to listen on.")
    var bind: String = "0.0.0.0"

    @Option(name: .customLong("tls-cert"), help: "The webhook's certificate chain (PEM), as the caBundle of the webhook configuration signs it.")
    var tlsCert: String

    @Option(name: .customLong("tls-key"), help: "The certificate's private key (PEM).")
    var tlsKey: String

    @Option(help: "The sidecar's image.")
    var image: String = InjectionOptions().image

    @Option(name: .customLong("mesh-config-map"), help: "ConfigMap holding the sidecar's configuration (mounted at /etc/mizzen/config).")
    var meshConfigMap: String = InjectionOptions().meshConfigMap

    @Flag(name: .customLong("native-sidecars"), help: "Put istio-proxy among the init containers with restartPolicy Always (Kubernetes 1.29+).")
    var nativeSidecars = false

    @Option(help: "Seconds SIGTERM keeps answering (readiness failing) before the port closes.")
    var drainDuration: Double = 5

    @Flag(help: "Do not watch the certificate files (SIGHUP still re-reads them).")
    var noWatch = false

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical. Each review is logged at info.")
    var logLevel: String = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535, got \(port)") }
        guard drainDuration >= 0 else { throw ValidationError("--drain-duration must not be negative") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        var logger = Logger(label: "mizzen.injector") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        var options = InjectionOptions()
        options.image = image
        options.meshConfigMap = meshConfigMap
        options.nativeSidecars = nativeSidecars
        let mode = InjectorMode(host: bind, port: port, certificatePath: tlsCert, keyPath: tlsKey,
                                webhook: AdmissionWebhook(injector: SidecarInjector(options: options)), watchFiles: !noWatch,
                                drainDuration: .milliseconds(Int64(drainDuration * 1000)), logger: logger)
        let status = await mode.run()
        if status != 0 { throw ExitCode(status) }
    }
}
