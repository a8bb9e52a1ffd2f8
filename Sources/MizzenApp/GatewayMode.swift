internal import Dispatch
package import Logging
package import MizzenConfig
package import MizzenProxy
package import MizzenRouting
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen gateway`: load the configuration, compile the route table for this gateway proxy,
/// bind the listeners the selecting Gateway servers declare, and serve until SIGTERM/SIGINT,
/// then drain. SIGHUP reloads the configuration and swaps the table in whole.
package struct GatewayMode: Sendable {
    package var paths: [String]
    package var loader: ConfigLoader
    package var proxy: ProxyIdentity
    package var credentialsDirectory: String?
    /// ISTIO_MUTUAL upstream TLS: cert-chain.pem, key.pem, root-cert.pem.
    package var workloadCertificates: String?
    package var binding: ListenerBinding
    package var threads: Int
    package var limits: ProxyLimits
    package var logger: Logger

    /// Cluster counters and outlier state, kept across reloads.
    let runtimes = ClusterRuntimes()

    package init(paths: [String], loader: ConfigLoader, proxy: ProxyIdentity, credentialsDirectory: String?, workloadCertificates: String? = nil,
                 binding: ListenerBinding, threads: Int, limits: ProxyLimits, logger: Logger) {
        self.paths = paths
        self.loader = loader
        self.proxy = proxy
        self.credentialsDirectory = credentialsDirectory
        self.workloadCertificates = workloadCertificates
        self.binding = binding
        self.threads = threads
        self.limits = limits
        self.logger = logger
    }

    /// A running gateway: its engine and listeners, for the demo and tests in-process.
    package struct Running: Sendable {
        package var engine: ProxyEngine
        package var listeners: ListenerManager
        package var snapshot: ProxySnapshot
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
    func compile(generation: Int, previous: ProxySnapshot?) throws -> ProxySnapshot {
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
        let table = RouteTable.compile(result.snapshot, for: proxy)
        for problem in table.problems { logger.warning("\(problem)") }
        for line in PendingFeatures.report(table) { logger.warning("\(line)") }
        let snapshot = ProxySnapshot.build(table: table, generation: generation, previous: previous, runtimes: runtimes,
                                           credentialsDirectory: credentialsDirectory, workloadCertificates: workloadCertificates)
        for problem in snapshot.problems { logger.error("\(problem)") }
        return snapshot
    }

    package func start() async throws -> Running {
        let snapshot = try compile(generation: 1, previous: nil)
        let engine = ProxyEngine(threads: threads, limits: limits, initial: snapshot, logger: logger)
        let listeners = ListenerManager(engine: engine)
        let ports = snapshot.table.listeners.map(\.port)
        let specs = binding.gatewayListeners(ports: ports)
        let problems = await listeners.reconcile(specs)
        for problem in problems { logger.error("\(problem)") }
        let bound = await listeners.boundPorts
        if ports.isEmpty {
            logger.warning("no Gateway server selects this proxy (\(proxy)); nothing to listen on")
        } else if bound.isEmpty {
            await engine.shutdown()
            throw StartError.noListener("no listener could be bound")
        }
        for spec in specs {
            guard let actual = bound[spec], case .listenerPort(let port) = spec.destination else { continue }
            let listener = snapshot.table.listener(port: port)
            let kinds = Set(listener?.servers.map(\.kind.rawValue) ?? []).sorted().joined(separator: ",")
            logger.notice("listening on \(binding.host):\(actual) (gateway port \(port), \(kinds))")
        }
        return Running(engine: engine, listeners: listeners, snapshot: snapshot)
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
        let signals = SignalStream()
        var generation = 1
        var current = running.snapshot
        for await signal in signals.stream {
            if signal == SIGHUP {
                generation += 1
                do {
                    let snapshot = try compile(generation: generation, previous: current)
                    running.engine.publish(snapshot)
                    current = snapshot
                    let problems = await running.listeners.reconcile(binding.gatewayListeners(ports: snapshot.table.listeners.map(\.port)))
                    for problem in problems { logger.error("\(problem)") }
                    logger.notice("configuration reloaded (generation \(generation))")
                } catch {
                    logger.error("reload failed, still serving the previous configuration: \(error)")
                }
                continue
            }
            logger.notice("signal \(signal): draining")
            break
        }
        await running.listeners.closeAll()
        let deadline = ContinuousClock.now + .milliseconds(Int(limits.drainTimeout.nanoseconds / 1_000_000))
        while ContinuousClock.now < deadline, await running.engine.activeRequests() > 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
        await running.engine.shutdown()
        return 0
    }
}

/// SIGINT, SIGTERM and SIGHUP as an async stream (Dispatch signal sources).
/// Unchecked: the sources are only kept alive here, never touched after `init`.
final class SignalStream: @unchecked Sendable {
    let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}
