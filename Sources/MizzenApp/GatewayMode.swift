internal import Dispatch
package import Logging
package import MizzenAdmin
package import MizzenConfig
package import MizzenProxy
package import MizzenRouting
package import MizzenSources
package import MizzenTelemetry
import NIOCore
package import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen gateway`: load the configuration, compile the route table for this gateway proxy,
/// bind the listeners the selecting Gateway servers declare, open the admin, stats and status
/// ports, and serve. A change to the configuration files or the TLS credentials (watched), or
/// SIGHUP, reloads and swaps the table in whole. SIGTERM drains as Istio's proxy does: not
/// ready at once, connections told to close, listeners open for `drainDuration`, then exit when
/// no request is in flight (or at the drain timeout).
package struct GatewayMode: Sendable {
    package var paths: [String]
    package var loader: ConfigLoader
    package var proxy: ProxyIdentity
    package var credentialsDirectory: String?
    /// ISTIO_MUTUAL upstream TLS: cert-chain.pem, key.pem, root-cert.pem.
    package var workloadCertificates: String?
    package var binding: ListenerBinding
    /// Set for a sidecar: the two capture listeners replace the Gateway servers' ports.
    package var capture: CaptureListeners?
    /// MeshConfig settings routing depends on (a sidecar's outboundTrafficPolicy).
    package var mesh = MeshSettings()
    /// A sidecar's service account: its workload certificate should name it.
    package var serviceAccount: String?
    package var threads: Int
    package var limits: ProxyLimits
    package var logger: Logger
    /// Metrics identity, access log, tracing.
    package var telemetry: ProxyTelemetry
    package var operations: OperationsSettings

    /// Set: objects come from the Kubernetes API server (list + watch), not from `paths`.
    package var kubernetes: KubernetesOrigin?

    /// Cluster counters and outlier state, kept across reloads.
    let runtimes = ClusterRuntimes()
    /// The configuration warnings of the last build: an update from the API server logs only
    /// the new ones (an EndpointSlice changing every few seconds repeated every one of them).
    let lastWarnings = LoggedWarnings()
    /// The same for the snapshot's problems (a credential that does not load, say): logged
    /// when they appear, not again at every update.
    let lastErrors = LoggedWarnings()

    package init(paths: [String], loader: ConfigLoader, proxy: ProxyIdentity, credentialsDirectory: String?, workloadCertificates: String? = nil,
                 binding: ListenerBinding, threads: Int, limits: ProxyLimits, logger: Logger, telemetry: ProxyTelemetry = .metricsOnly,
                 operations: OperationsSettings = OperationsSettings()) {
        self.paths = paths
        self.loader = loader
        self.proxy = proxy
        self.credentialsDirectory = credentialsDirectory
        self.workloadCertificates = workloadCertificates
        self.binding = binding
        self.threads = threads
        self.limits = limits
        self.logger = logger
        self.telemetry = telemetry
        self.operations = operations
    }

    /// A running gateway: its engine and listeners, for the demo and tests in-process.
    package struct Running: Sendable {
        package var engine: ProxyEngine
        package var listeners: ListenerManager
        package var snapshot: ProxySnapshot
        package var served: ServedConfiguration
        package var status: ServerStatus
        /// The operator servers (admin, stats, status) and their group.
        package var servers: [AdminServer]
        package var serverGroup: MultiThreadedEventLoopGroup?
        /// What the run loop reacts to: signals, file changes, admin requests.
        package var events: AsyncStream<GatewayEvent>
        package var post: AsyncStream<GatewayEvent>.Continuation
        /// The Kubernetes list/watch feeding it, and the loop its connections run on.
        package var kubernetes: KubernetesSource?
        package var kubernetesGroup: MultiThreadedEventLoopGroup?

        /// Stops the operator servers and the data plane.
        package func shutdown() async {
            kubernetes?.stop()
            try? await kubernetesGroup?.shutdownGracefully()
            for server in servers { await server.close() }
            await listeners.closeAll()
            await engine.shutdown()
            try? await serverGroup?.shutdownGracefully()
            telemetry(engine)?.accessLog?.writer.flush()
            if let exporter = engine.telemetry?.tracing?.exporter { await exporter.shutdown() }
        }

        private func telemetry(_ engine: ProxyEngine) -> ProxyTelemetry? { engine.telemetry }
    }

    package enum StartError: Error, CustomStringConvertible {
        case unreadable(String)
        case invalid(String)
        case noListener(String)

        package var description: String {
            switch self {
            case .unreadable(let text): text
            case .invalid(let text): text
            case .noListener(let text): text
            }
        }
    }

    /// Loads and compiles the configuration; problems are logged, invalid objects left out.
    /// `previous` is the snapshot served now: what did not change is kept (see
    /// `ProxySnapshot.build`).
    ///
    /// A reload (`previous` set) is all or nothing, as `nginx -s reload` or an xDS NACK: with
    /// any error the configuration being served stays, so a typo in an edited file does not take
    /// routes away. At start there is nothing to keep: invalid objects are left out.
    func compile(generation: Int, previous: ProxySnapshot?) throws -> (ProxySnapshot, ConfigSnapshot) {
        let result = loader.load(paths: paths)
        for diagnostic in result.ioErrors {
            logger.error("\(diagnostic.description)")
        }
        if !result.ioErrors.isEmpty { throw StartError.unreadable("configuration cannot be read") }
        let errors = result.diagnostics.filter { $0.severity == .error }
        for diagnostic in errors {
            logger.error("\(diagnostic.description)\(previous == nil ? " (object left out)" : "")")
        }
        if previous != nil, !errors.isEmpty {
            throw StartError.invalid("\(errors.count) error\(errors.count == 1 ? "" : "s") in the configuration (above)")
        }
        return (build(objects: result.snapshot, generation: generation, previous: previous), result.snapshot)
    }

    /// Compiles valid objects into the snapshot to publish (what `previous` has and did not
    /// change is kept); problems are logged.
    ///
    /// With `cache` (the API server's updates, after `invalidate` with what changed), what the
    /// last compile made and is still valid is reused.
    func build(objects: ConfigSnapshot, generation: Int, previous: ProxySnapshot?, cache: RouteCompileCache? = nil) -> ProxySnapshot {
        let started = ContinuousClock.now
        let table = cache.map { RouteTable.compile(objects, for: proxy, mesh: mesh, cache: $0) } ?? RouteTable.compile(objects, for: proxy, mesh: mesh)
        let compiled = ContinuousClock.now
        let warnings = table.problems.map { "\($0)" } + PendingFeatures.report(table)
        for line in lastWarnings.replace(with: warnings, onlyNew: cache != nil) { logger.warning("\(line)") }
        let snapshot = ProxySnapshot.build(table: table, generation: generation, previous: previous, runtimes: runtimes,
                                           credentialsDirectory: credentialsDirectory, secrets: credentials(objects),
                                           workloadCertificates: workloadCertificates, trustDomain: mesh.trustDomain)
        for problem in lastErrors.replace(with: snapshot.problems, onlyNew: cache != nil) { logger.error("\(problem)") }
        logger.debug("generation \(generation): \(objects.objectCount) objects compiled in \(Self.milliseconds(compiled - started)) ms\(cache.map { " (\($0.lastReuse))" } ?? ""), snapshot built in \(Self.milliseconds(.now - compiled)) ms")
        if let serviceAccount, let local = snapshot.localPrincipal {
            let expected = EffectivePeerAuthentication.spiffeIdentity(trustDomain: mesh.trustDomain, namespace: proxy.namespace, serviceAccount: serviceAccount)
            if local != expected {
                logger.warning("the workload certificate names \(local), not this pod's identity \(expected) (--service-account \(serviceAccount))")
            }
        }
        return snapshot
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// TLS Secrets of this proxy's namespace among `objects` (from the API server, or from
    /// configuration files), decoded, for `credentialName`; the mounted directory besides.
    func credentials(_ objects: ConfigSnapshot) -> TLSCredentials {
        var secrets: [String: TLSCredentials.SecretData] = [:]
        for secret in objects.secrets where secret.namespace == proxy.namespace {
            var data: TLSCredentials.SecretData = [:]
            for (key, value) in secret.payload.data ?? [:] { data[key] = Base64.decode(value) }
            for (key, value) in secret.payload.stringData ?? [:] { data[key] = Array(value.utf8) }
            secrets[secret.name] = data
        }
        return TLSCredentials(directory: credentialsDirectory, secrets: secrets, fromKubernetes: kubernetes != nil)
    }

    package func start() async throws -> Running {
        let status = ServerStatus(startedAtEpochSeconds: Int64(time(nil)))
        // From the API server the first configuration comes after every kind is listed: until
        // then the proxy has no listener and is not ready (as Envoy before its first LDS).
        let (snapshot, objects) = kubernetes == nil ? try compile(generation: 1, previous: nil)
            : (build(objects: ConfigSnapshot(), generation: 0, previous: nil), ConfigSnapshot())
        let engine = ProxyEngine(threads: threads, limits: limits, initial: snapshot, logger: logger,
                                 telemetry: operations.telemetryEnabled ? telemetry : nil)
        let listeners = ListenerManager(engine: engine)
        let ports = snapshot.table.listeners.map(\.port)
        // From the API server, no listener before the first sync (a sidecar's capture
        // listeners too: until then a captured connection is refused, not passed through on an
        // empty table).
        let specs = kubernetes == nil ? listenerSpecs(snapshot.table) : []
        let problems = await listeners.reconcile(specs)
        for problem in problems { logger.error("\(problem)") }
        let bound = await listeners.boundPorts
        if kubernetes != nil {
            // Listeners come with the first synced configuration.
        } else if ports.isEmpty && capture == nil {
            logger.warning("no Gateway server selects this proxy (\(proxy)); nothing to listen on")
        } else if bound.isEmpty {
            await engine.shutdown()
            throw StartError.noListener("no listener could be bound")
        }
        for spec in specs {
            guard let actual = bound[spec] else { continue }
            guard case .listenerPort(let port) = spec.destination else {
                logger.notice("listening on \(spec.host):\(actual) (\(spec.name): captured \(spec.direction == .inbound ? "inbound" : "outbound") traffic)")
                continue
            }
            let listener = snapshot.table.listener(port: port)
            let kinds = Set(listener?.servers.map(\.kind.rawValue) ?? []).sorted().joined(separator: ",")
            logger.notice("listening on \(binding.host):\(actual) (gateway port \(port), \(kinds))")
        }
        let served = ServedConfiguration(objects: objects, snapshot: snapshot, files: paths)
        let (events, post) = AsyncStream<GatewayEvent>.makeStream()
        var running = Running(engine: engine, listeners: listeners, snapshot: snapshot, served: served, status: status, servers: [],
                              serverGroup: nil, events: events, post: post)
        do {
            try await startOperatorServers(&running)
            if let kubernetes {
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                running.kubernetesGroup = group
                let source = try KubernetesSource(access: kubernetes.access, settings: kubernetes.settings, loader: loader, group: group, logger: logger)
                running.kubernetes = source
                running.served.kubernetes = source
                source.start()
                let post = running.post
                Task {
                    for await update in source.updates { post.yield(.configUpdated(update)) }
                }
                return running
            }
        } catch {
            await running.shutdown()
            throw error
        }
        status.started(generation: 1, listeners: bound.count)
        return running
    }

    /// The admin (127.0.0.1:15000), stats (:15090) and status (:15021) servers, each on its own
    /// port unless turned off; port 0 takes a free one. A port that cannot be bound stops the
    /// start, as Envoy's admin does.
    private func startOperatorServers(_ running: inout Running) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        running.serverGroup = group
        let post = running.post
        let listeners = running.listeners
        let binding = self.binding
        let context = OperatorContext(
            engine: running.engine, served: running.served, status: running.status, telemetry: telemetry, logLevel: operations.logLevel,
            listenerDescriptions: {
                let bound = await listeners.boundPorts
                return bound.sorted { $0.value < $1.value }.map { spec, port in
                    // Envoy's names: `0.0.0.0_8080`, and the capture listeners' own.
                    if case .originalDestination = spec.destination { return (spec.name, "\(spec.host):\(port)") }
                    return ("\(binding.host)_\(port)", "\(binding.host):\(port)")
                }
            },
            drainListeners: { graceful in post.yield(.drainListeners(graceful: graceful)) },
            quit: { post.yield(.quit) },
            commandLine: operations.commandLine)
        var wanted: [(String, String, Int?, [AdminEndpoint])] = [
            ("admin", operations.adminHost, operations.adminPort, OperatorEndpoints.admin(context)),
            ("stats (Prometheus: /stats/prometheus)", operations.statsHost, operations.statsPort, OperatorEndpoints.stats(context)),
            ("status (readiness: /healthz/ready)", operations.statusHost, operations.statusPort, OperatorEndpoints.status(context)),
        ]
        if let agentPort = operations.agentPort {
            wanted.append(("agent (application probes: /app-health/)", operations.statusHost, agentPort,
                           OperatorEndpoints.status(context) + OperatorEndpoints.stats(context)
                               + operations.appProbes.endpoints(podIP: operations.podIP, group: group)))
        }
        for (name, host, port, endpoints) in wanted {
            guard let port else { continue }
            do {
                let server = try await AdminServer.start(name: name, host: host, port: port, endpoints: endpoints, group: group, logger: logger)
                running.servers.append(server)
                logger.notice("\(name) listening on \(host):\(server.port)")
            } catch {
                throw StartError.noListener("\(name) port \(host):\(port): cannot bind: \(error)")
            }
        }
    }

    /// The listeners a table asks for: a gateway's one per Gateway server port, a sidecar's two
    /// capture listeners whatever the table.
    func listenerSpecs(_ table: RouteTable) -> [ListenerSpec] {
        capture?.specs ?? binding.gatewayListeners(ports: table.listeners.map(\.port))
    }

    /// Serves until a stop signal; returns the exit status.
    package func run() async -> Int32 {
        let running: Running
        do {
            running = try await start()
        } catch {
            logger.critical("\(error)")
            return 1
        }
        return await serve(running)
    }

    /// Runs the event loop of a started gateway: reloads, drains, stops.
    package func serve(_ running: Running) async -> Int32 {
        let signals = SignalStream()
        let post = running.post
        let signalTask = Task {
            for await number in signals.stream { post.yield(.signal(number)) }
        }
        var watchTask: Task<Void, Never>?
        var watcher: FileWatcher?
        if operations.watchFiles {
            let watched = paths + [credentialsDirectory, workloadCertificates].compactMap { $0 }
            do {
                let fileWatcher = try FileWatcher(paths: watched)
                watcher = fileWatcher
                watchTask = Task {
                    for await changed in fileWatcher.changes { post.yield(.filesChanged(changed)) }
                }
            } catch {
                logger.warning("configuration files are not watched (\(error)); SIGHUP reloads")
            }
        }
        var generation = running.snapshot.generation
        var current = running.snapshot
        var draining = false
        /// The last objects from the API server (a SIGHUP rebuilds from them).
        var lastObjects: ConfigSnapshot?
        /// What the last update's compile made, reused by the next where unchanged.
        let compileCache = RouteCompileCache()
        loop: for await event in running.events {
            switch event {
            case .signal(SIGHUP), .filesChanged:
                if case .filesChanged(let files) = event {
                    logger.info("changed: \(files.prefix(5).joined(separator: ", "))\(files.count > 5 ? ", ..." : ""); reloading")
                }
                guard !draining else { continue }
                generation += 1
                do {
                    let snapshot: ProxySnapshot
                    let objects: ConfigSnapshot
                    if kubernetes != nil {
                        // Objects come from the API server; a reload re-reads the certificates.
                        guard let last = lastObjects else {
                            generation -= 1
                            continue
                        }
                        (snapshot, objects) = (build(objects: last, generation: generation, previous: current), last)
                    } else {
                        (snapshot, objects) = try compile(generation: generation, previous: current)
                    }
                    await apply(snapshot, running: running)
                    current = snapshot
                    running.served.replace(objects: objects, snapshot: snapshot, files: paths)
                    running.status.reloaded(generation: generation, listeners: await running.listeners.boundPorts.count)
                    logger.notice("configuration reloaded (generation \(generation))")
                } catch {
                    generation -= 1
                    running.status.reloadRejected("\(error)")
                    logger.error("reload rejected, still serving generation \(generation): \(error)")
                }
            case .configUpdated(let update):
                guard !draining else { continue }
                generation += 1
                // What the changed kinds feed is compiled again; the rest is the last compile's.
                compileCache.invalidate(RouteCompileCache.Inputs(update.changedKinds))
                let snapshot = build(objects: update.snapshot, generation: generation, previous: current, cache: compileCache)
                await apply(snapshot, running: running)
                current = snapshot
                lastObjects = update.snapshot
                // The previous table and objects are freed by now: give the pages back (glibc
                // keeps freed memory otherwise, and a compile at this scale frees hundreds of MiB).
                FreedMemory.giveBack()
                running.served.replace(objects: update.snapshot, snapshot: snapshot, files: paths)
                let bound = await running.listeners.boundPorts.count
                let took = update.firstChange.map { " \(Self.milliseconds(ContinuousClock.now - $0)) ms after the first change" } ?? ""
                let invalid = update.invalidCount == 0 ? "" : ", \(update.invalidCount) invalid left out"
                if running.status.state == .preInitializing || running.status.state == .initializing {
                    running.status.started(generation: generation, listeners: bound)
                    logger.notice("synced from the API server: \(update.objectCount) objects\(invalid); serving generation \(generation) on \(bound) listener\(bound == 1 ? "" : "s")")
                } else {
                    running.status.reloaded(generation: generation, listeners: bound)
                    let kinds = update.changedKinds.map(\.kind).sorted().joined(separator: ", ")
                    logger.info("configuration updated from the API server (generation \(generation): \(kinds)\(invalid))\(took)")
                }
            case .signal(SIGUSR1):
                // Envoy's: reopen the access log (after logrotate moved it away).
                telemetry.accessLog?.writer.reopen()
                logger.notice("SIGUSR1: access log reopened")
            case .signal(SIGTERM):
                logger.notice("SIGTERM: draining for \(operations.drainDuration) (readiness fails, connections are told to close)")
                running.status.startDraining()
                running.engine.setDraining(true)
                try? await Task.sleep(for: operations.drainDuration)
                break loop
            case .signal:
                logger.notice("interrupted: stopping")
                running.status.startDraining()
                running.engine.setDraining(true)
                break loop
            case .drainListeners(let graceful):
                logger.notice("drain_listeners\(graceful ? " (graceful: open for \(operations.drainDuration))" : "")")
                draining = true
                running.status.startDraining()
                running.engine.setDraining(true)
                if graceful {
                    let listeners = running.listeners
                    let duration = operations.drainDuration
                    Task {
                        try? await Task.sleep(for: duration)
                        await listeners.closeAll()
                    }
                } else {
                    await running.listeners.closeAll()
                }
            case .quit:
                logger.notice("quitquitquit: exiting")
                signalTask.cancel()
                watchTask?.cancel()
                watcher?.stop()
                await running.shutdown()
                return 0
            }
        }
        signalTask.cancel()
        watchTask?.cancel()
        watcher?.stop()
        await running.listeners.closeAll()
        let deadline = ContinuousClock.now + .milliseconds(Int(limits.drainTimeout.nanoseconds / 1_000_000))
        while ContinuousClock.now < deadline, await running.engine.activeRequests() > 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
        await running.shutdown()
        return 0
    }
}

extension GatewayMode {
    /// Publishes `snapshot` and opens and closes listeners to match it.
    func apply(_ snapshot: ProxySnapshot, running: Running) async {
        running.engine.publish(snapshot)
        let before = await running.listeners.boundPorts
        let specs = listenerSpecs(snapshot.table)
        let problems = await running.listeners.reconcile(specs)
        for problem in problems { logger.error("\(problem)") }
        let after = await running.listeners.boundPorts
        for spec in specs {
            guard before[spec] == nil, let actual = after[spec] else { continue }
            guard case .listenerPort(let port) = spec.destination else {
                logger.notice("listening on \(spec.host):\(actual) (\(spec.name): captured \(spec.direction == .inbound ? "inbound" : "outbound") traffic)")
                continue
            }
            let kinds = Set(snapshot.table.listener(port: port)?.servers.map(\.kind.rawValue) ?? []).sorted().joined(separator: ",")
            logger.notice("listening on \(binding.host):\(actual) (gateway port \(port), \(kinds))")
        }
        for (spec, port) in before where after[spec] == nil {
            logger.notice("listener \(binding.host):\(port) closed (no Gateway server declares it now)")
        }
    }
}

/// glibc's `malloc_trim` (not in Swift's Glibc module): returns freed heap pages to the system.
enum FreedMemory {
    nonisolated(unsafe) private static let trim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    static func giveBack() { _ = trim?(0) }
}

extension RouteCompileCache.Inputs {
    /// The compile inputs the API server's changed kinds are.
    init(_ kinds: Set<ResourceKind>) {
        self = []
        for kind in kinds {
            switch kind {
            case .virtualServices: insert(.virtualServices)
            case .gateways: insert(.gateways)
            case .destinationRules: insert(.destinationRules)
            case .peerAuthentications: insert(.peerAuthentications)
            case .sidecars: insert(.sidecars)
            case .secrets: insert(.secrets)
            case _ where kind.feedsServiceRegistry: insert(.serviceRegistry)
            default: insert(.other)
            }
        }
    }
}

/// Where a proxy's objects come from when not from files: the API server and what to watch.
package struct KubernetesOrigin: Sendable {
    package var access: ClusterAccess
    package var settings: KubernetesSourceSettings

    package init(access: ClusterAccess, settings: KubernetesSourceSettings) {
        self.access = access
        self.settings = settings
    }
}

/// What a running gateway reacts to.
package enum GatewayEvent: Sendable {
    case signal(Int32)
    case filesChanged([String])
    /// The Kubernetes source settled on new objects.
    case configUpdated(KubernetesSource.Update)
    case drainListeners(graceful: Bool)
    case quit
}

/// The operator side of a running proxy: where the admin, stats and status servers listen
/// (nil: off), how long SIGTERM keeps the listeners open, whether files are watched.
package struct OperationsSettings: Sendable {
    package var adminHost = "127.0.0.1"
    package var adminPort: Int? = 15000
    package var statsHost = "0.0.0.0"
    package var statsPort: Int? = 15090
    package var statusHost = "0.0.0.0"
    package var statusPort: Int? = 15021
    /// A sidecar's pilot-agent port (15020): readiness, merged metrics and the application's
    /// rewritten probes (`appProbes`, against `podIP`). Nil: not served (a gateway).
    package var agentPort: Int?
    package var appProbes = AppProbes(probes: [:])
    package var podIP = "127.0.0.1"
    /// Istio's terminationDrainDuration.
    package var drainDuration: Duration = .seconds(5)
    package var watchFiles = true
    /// False: the data plane counts and logs nothing (`--disable-telemetry`, for measuring).
    package var telemetryEnabled = true
    package var logLevel: LogLevelControl?
    package var commandLine: [String] = []

    package init() {}
}

/// SIGINT, SIGTERM, SIGHUP and SIGUSR1 as an async stream (Dispatch signal sources).
/// Unchecked: the sources are only kept alive here, never touched after `init`.
final class SignalStream: @unchecked Sendable {
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM, SIGHUP, SIGUSR1] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}

/// Warnings logged by the last build, to tell which of the next build's are new.
final class LoggedWarnings: Sendable {
    private let lines = Mutex<Set<String>>([])

    /// The lines to log of `warnings`: the ones the last build did not have (all of them
    /// unless `onlyNew`). A warning gone and back is logged again.
    func replace(with warnings: [String], onlyNew: Bool) -> [String] {
        let current = Set(warnings)
        let last = lines.withLock { lines in
            defer { lines = current }
            return lines
        }
        return onlyNew ? warnings.filter { !last.contains($0) } : warnings
    }
}
