package import Logging
package import MizzenConfig
package import NIOPosix
import Synchronization

/// How the Kubernetes source watches and settles.
package struct KubernetesSourceSettings: Sendable {
    /// Namespaces to watch; empty: all (cluster-scoped lists and watches).
    package var namespaces: [String] = []
    /// The proxy's own namespace: its Secrets are read for `credentialName` (nil: none).
    package var secretNamespace: String?
    /// Kinds watched besides Secrets.
    package var kinds: [ResourceKind] = ResourceKind.watchedEverywhere
    /// Istio's PILOT_DEBOUNCE_AFTER: a snapshot is made once no change came for this long...
    package var debounceQuiet: Duration = .milliseconds(100)
    /// ...or this long after the first unsettled change (PILOT_DEBOUNCE_MAX), whichever first.
    package var debounceMax: Duration = .seconds(1)
    /// Server-side watch timeout asked for, chosen at random in this range per watch (client-go:
    /// 5 to 10 minutes), so watches restart before any server or proxy cuts them.
    package var watchTimeoutSeconds: ClosedRange<Int> = 300...600
    package var pageSize = 500
    package var initialBackoff: Duration = .milliseconds(500)
    package var maximumBackoff: Duration = .seconds(30)

    package init() {}

    /// `--watch-namespaces a, b`: the names, blanks dropped.
    package static func namespaces(fromList list: String) -> [String] {
        list.split(separator: ",").map { String($0).trimmedWhitespace }.filter { !$0.isEmpty }
    }

    /// Every (kind, namespace) pair to list and watch.
    package var scopes: [WatchScope] {
        var scopes: [WatchScope] = []
        let namespaces: [String?] = self.namespaces.isEmpty ? [nil] : self.namespaces.map { $0 }
        for kind in kinds {
            for namespace in namespaces { scopes.append(WatchScope(kind: kind, namespace: namespace)) }
        }
        if let secretNamespace { scopes.append(WatchScope(kind: .secrets, namespace: secretNamespace)) }
        return scopes
    }
}

/// Configuration from the Kubernetes API server: a list/watch per kind (and namespace) into one
/// store, and a `ConfigSnapshot` emitted after changes settle, the first once every kind has
/// been listed. Serving continues on the last snapshot whatever happens to the connection.
package final class KubernetesSource: Sendable {
    /// One settled state of the cluster's objects.
    package struct Update: Sendable {
        package var snapshot: ConfigSnapshot
        /// Kinds that changed since the previous update (all of them in the first).
        package var changedKinds: Set<ResourceKind>
        package var objectCount: Int
        /// Objects left out because they are invalid (each was logged with its reason).
        package var invalidCount: Int
        /// When the oldest change in it arrived, to measure how long changes take to serve.
        package var firstChange: ContinuousClock.Instant?
    }

    package let updates: AsyncStream<Update>
    package let store: ObjectStore
    package let settings: KubernetesSourceSettings
    package let access: ClusterAccess
    private let continuation: AsyncStream<Update>.Continuation
    private let client: APIClient
    private let loader: ConfigLoader
    private let logger: Logger
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>
    private let tasks = Mutex<[Task<Void, Never>]>([])

    package init(access: ClusterAccess, settings: KubernetesSourceSettings, loader: ConfigLoader, group: MultiThreadedEventLoopGroup, logger: Logger) throws(ClusterAccessError) {
        self.access = access
        self.settings = settings
        self.loader = loader
        self.logger = logger
        client = try APIClient(access: access, group: group)
        store = ObjectStore(scopes: settings.scopes)
        (updates, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Starts every watch and the debouncer.
    package func start() {
        let signal = self.signal
        var started: [Task<Void, Never>] = []
        for scope in settings.scopes {
            let watcher = ResourceWatcher(scope: scope, client: client, store: store, loader: loader, settings: settings, logger: logger,
                                          changed: { signal.yield() })
            started.append(Task { await watcher.run() })
        }
        started.append(Task { await self.debounce() })
        tasks.withLock { $0 += started }
        logger.notice("watching \(access.serverDescription): \(settings.scopes.count) list/watch streams (\(settings.namespaces.isEmpty ? "all namespaces" : settings.namespaces.joined(separator: ",")))")
    }

    package func stop() {
        let running = tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in running { task.cancel() }
        signal.finish()
        continuation.finish()
    }

    /// Istio's debounce: after a change, wait until none came for `debounceQuiet`, or
    /// `debounceMax` passed since the first, then assemble and emit. Nothing is emitted before
    /// every scope has been listed once.
    private func debounce() async {
        var firstChange: ContinuousClock.Instant?
        for await _ in signals {
            let first = firstChange ?? store.lastChange ?? .now
            firstChange = first
            while true {
                let last = store.lastChange ?? first
                let deadline = min(last + settings.debounceQuiet, first + settings.debounceMax)
                if ContinuousClock.now >= deadline { break }
                do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
            }
            guard store.isSynced else { continue }
            let assembly = store.assemble(secretNamespace: settings.secretNamespace)
            firstChange = nil
            continuation.yield(Update(snapshot: assembly.snapshot, changedKinds: assembly.changedKinds, objectCount: assembly.objectCount,
                                      invalidCount: assembly.invalidCount, firstChange: first))
        }
    }
}
