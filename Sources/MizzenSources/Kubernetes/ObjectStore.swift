package import MizzenConfig
import Synchronization

/// What one list/watch covers: a kind, in one namespace or (nil) all of them.
package struct WatchScope: Sendable, Hashable, CustomStringConvertible {
    package var kind: ResourceKind
    package var namespace: String?

    package init(kind: ResourceKind, namespace: String?) {
        self.kind = kind
        self.namespace = namespace
    }

    package var description: String { namespace.map { "\(kind) in \($0)" } ?? "\(kind)" }
}

/// The objects the watches have seen, keyed by kind, namespace and name, each already decoded
/// and validated (once, when it arrived). The source assembles a `ConfigSnapshot` from it after
/// changes settle. Shared by the watch tasks (a lock held for map updates only).
package final class ObjectStore: Sendable {
    /// One object as the API server last gave it.
    package struct Entry: Sendable {
        package var namespace: String
        package var name: String
        package var resourceVersion: String
        /// The object decoded alone: a snapshot holding it, or nothing when it is invalid.
        package var fragment: ConfigSnapshot
        /// Its errors (it is then left out) and warnings.
        package var diagnostics: [Diagnostic]
        package var creationSeconds: Int64
        /// Where the fragment's object was numbered in its kind's order (`loadIndex`): made
        /// again only when that moves.
        var position = -1
        /// Its index in the kind's assembled list (of valid objects).
        var slot = -1

        package var isValid: Bool { fragment.objectCount > 0 }

        package init(namespace: String, name: String, resourceVersion: String, fragment: ConfigSnapshot, diagnostics: [Diagnostic], creationSeconds: Int64) {
            self.namespace = namespace
            self.name = name
            self.resourceVersion = resourceVersion
            self.fragment = fragment
            self.diagnostics = diagnostics
            self.creationSeconds = creationSeconds
        }
    }

    /// What a scope's watch has reached: for `/config_dump` and readiness.
    package struct ScopeStatus: Sendable {
        package var synced = false
        package var resourceVersion = ""
        package var lists = 0
        package var watches = 0
        package var expired = 0
        package var failures = 0
        package var lastProblem: String?
    }

    struct KindObjects {
        var entries: [String: Entry] = [:]
        /// Keys in snapshot order (creation time, name, namespace: Istio's order for ties);
        /// nil after an object is added or removed, made again when assembling.
        var order: [String]?
        /// The valid objects in that order, numbered, as the last assembly made them: nil after
        /// an object is added, removed, or becomes valid or invalid. A change to one kind
        /// assembles that kind again, not the others.
        var assembled: Assembled?
        /// Objects changed in place since `assembled` was made: the next assembly puts them in
        /// their slots rather than assembling the kind again.
        var patches: [String] = []

        mutating func reassemble() {
            assembled = nil
            patches = []
        }
    }

    struct Assembled {
        var objects: ConfigSnapshot
        var count: Int
        var invalid: Int
    }

    struct State {
        var kinds: [ResourceKind: KindObjects] = [:]
        var scopes: [WatchScope: ScopeStatus] = [:]
        var changedKinds: Set<ResourceKind> = []
        var lastChange: ContinuousClock.Instant?
        var changeCount = 0
    }

    private let state: Mutex<State>

    package init(scopes: [WatchScope]) {
        var initial = State()
        for scope in scopes {
            initial.scopes[scope] = ScopeStatus()
            initial.kinds[scope.kind] = KindObjects()
        }
        state = Mutex(initial)
    }

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    // MARK: Updates from the watches

    /// A list's result for `scope`: what it holds replaces what the scope held (objects gone
    /// from the list are deleted, as client-go's `Replace`). True when anything changed.
    @discardableResult
    package func replace(_ scope: WatchScope, with entries: [Entry], resourceVersion: String) -> Bool {
        state.withLock { state in
            var objects = state.kinds[scope.kind] ?? KindObjects()
            var changed = false
            var listed = Set<String>()
            for entry in entries {
                let key = Self.key(entry.namespace, entry.name)
                listed.insert(key)
                if objects.entries[key]?.resourceVersion != entry.resourceVersion {
                    objects.entries[key] = entry
                    changed = true
                }
            }
            for key in objects.entries.keys where !listed.contains(key) {
                if let namespace = scope.namespace, objects.entries[key]?.namespace != namespace { continue }
                objects.entries[key] = nil
                changed = true
            }
            if changed {
                objects.order = nil
                objects.reassemble()
            }
            state.kinds[scope.kind] = objects
            var status = state.scopes[scope] ?? ScopeStatus()
            let firstSync = !status.synced
            status.synced = true
            status.resourceVersion = resourceVersion
            status.lists += 1
            state.scopes[scope] = status
            if changed || firstSync { noteChange(&state, scope.kind) }
            return changed
        }
    }

    package func upsert(_ scope: WatchScope, _ entry: Entry) {
        state.withLock { state in
            let key = Self.key(entry.namespace, entry.name)
            let old = state.kinds[scope.kind]?.entries[key]
            if let old, old.isValid, entry.isValid, old.slot >= 0, state.kinds[scope.kind]?.assembled != nil {
                // A valid object changed: it takes its place (the order keys, creation time,
                // name and namespace, do not change with an object), numbered as before.
                var entry = entry
                entry.fragment.renumber(startingAt: old.position)
                entry.position = old.position
                entry.slot = old.slot
                state.kinds[scope.kind]?.entries[key] = entry
                state.kinds[scope.kind]?.patches.append(key)
            } else {
                state.kinds[scope.kind, default: KindObjects()].entries[key] = entry
                state.kinds[scope.kind]?.reassemble()
                if old == nil { state.kinds[scope.kind]?.order = nil }
            }
            state.scopes[scope]?.resourceVersion = entry.resourceVersion
            noteChange(&state, scope.kind)
        }
    }

    package func delete(_ scope: WatchScope, namespace: String, name: String, resourceVersion: String) {
        state.withLock { state in
            state.scopes[scope]?.resourceVersion = resourceVersion
            guard state.kinds[scope.kind]?.entries.removeValue(forKey: Self.key(namespace, name)) != nil else { return }
            state.kinds[scope.kind]?.order = nil
            state.kinds[scope.kind]?.reassemble()
            noteChange(&state, scope.kind)
        }
    }

    /// A BOOKMARK: the watch is at `resourceVersion`, nothing changed.
    package func bookmark(_ scope: WatchScope, resourceVersion: String) {
        state.withLock { $0.scopes[scope]?.resourceVersion = resourceVersion }
    }

    package func record(_ scope: WatchScope, _ update: (inout ScopeStatus) -> Void) {
        state.withLock { state in
            var status = state.scopes[scope] ?? ScopeStatus()
            update(&status)
            state.scopes[scope] = status
        }
    }

    private func noteChange(_ state: inout State, _ kind: ResourceKind) {
        state.changedKinds.insert(kind)
        state.lastChange = .now
        state.changeCount += 1
    }

    // MARK: Reading

    /// Every scope has been listed once.
    package var isSynced: Bool { state.withLock { $0.scopes.values.allSatisfy(\.synced) } }
    package var lastChange: ContinuousClock.Instant? { state.withLock { $0.lastChange } }
    package var changeCount: Int { state.withLock { $0.changeCount } }
    package var scopes: [WatchScope: ScopeStatus] { state.withLock { $0.scopes } }

    /// What an assembly produced.
    package struct Assembly: Sendable {
        package var snapshot: ConfigSnapshot
        /// Kinds changed since the last assembly.
        package var changedKinds: Set<ResourceKind>
        package var objectCount: Int
        package var invalidCount: Int
    }

    /// The snapshot of every valid object, in a stable order; `secretNamespace`'s Secrets are
    /// kept only when a Gateway or DestinationRule names them (`credentialName`, and the
    /// `NAME-cacert` that may hold its CA). Kinds unchanged since the last assembly are taken
    /// as it made them, and their arrays are shared, not copied.
    package func assemble(secretNamespace: String?) -> Assembly {
        state.withLock { state in
            var snapshot = ConfigSnapshot()
            var objectCount = 0
            var invalidCount = 0
            let secretKind = ResourceKind.secrets
            for kind in state.kinds.keys.sorted(by: { $0.description < $1.description }) where kind != secretKind {
                let part = Self.patched(&state.kinds[kind]!) ?? Self.assemble(&state.kinds[kind]!)
                snapshot.append(contentsOf: part.objects)
                objectCount += part.count
                invalidCount += part.invalid
            }
            if let secretNamespace, let secrets = state.kinds[secretKind] {
                let wanted = Self.credentialNames(snapshot)
                for name in wanted.sorted() {
                    guard let entry = secrets.entries[Self.key(secretNamespace, name)] else { continue }
                    objectCount += 1
                    guard entry.isValid else { invalidCount += 1; continue }
                    snapshot.append(contentsOf: entry.fragment)
                }
            }
            let changed = state.changedKinds
            state.changedKinds = []
            return Assembly(snapshot: snapshot, changedKinds: changed, objectCount: objectCount, invalidCount: invalidCount)
        }
    }

    /// One kind's valid objects in snapshot order, numbered (`loadIndex`, the tie-break of equal
    /// creation times within the kind), kept for the next assembly.
    private static func assemble(_ objects: inout KindObjects) -> Assembled {
        if objects.order == nil {
            objects.order = objects.entries.sorted { left, right in
                let (a, b) = (left.value, right.value)
                if a.creationSeconds != b.creationSeconds { return a.creationSeconds < b.creationSeconds }
                if a.name != b.name { return a.name < b.name }
                return a.namespace < b.namespace
            }.map(\.key)
        }
        var part = Assembled(objects: ConfigSnapshot(), count: 0, invalid: 0)
        for (position, key) in objects.order!.enumerated() {
            guard let isValid = objects.entries[key]?.isValid else { continue }
            part.count += 1
            guard isValid else { part.invalid += 1; continue }
            let slot = part.count - part.invalid - 1
            if objects.entries[key]?.position != position || objects.entries[key]?.slot != slot, var moved = objects.entries.removeValue(forKey: key) {
                // Numbered in the entry, once: renumbering the assembled copies would copy
                // every object still shared with the snapshot being served. Taken out of the
                // map first, so an object no snapshot holds yet is numbered in place.
                if moved.position != position { moved.fragment.renumber(startingAt: position) }
                moved.position = position
                moved.slot = slot
                objects.entries[key] = moved
                part.objects.append(contentsOf: moved.fragment)
            } else if let entry = objects.entries[key] {
                part.objects.append(contentsOf: entry.fragment)
            }
        }
        objects.assembled = part
        objects.patches = []
        return part
    }

    /// The kind as last assembled with the objects changed since put in their slots; nil when
    /// it must be assembled again.
    private static func patched(_ objects: inout KindObjects) -> Assembled? {
        guard var part = objects.assembled else { return nil }
        guard !objects.patches.isEmpty else { return part }
        for key in objects.patches {
            guard let entry = objects.entries[key], entry.slot >= 0 else { return nil }
            part.objects.replace(at: entry.slot, with: entry.fragment)
        }
        objects.assembled = part
        objects.patches = []
        return part
    }

    /// Secret names the snapshot's Gateways and DestinationRules refer to (`ns/name` forms
    /// reduced to the name: only the proxy's namespace is read).
    static func credentialNames(_ snapshot: ConfigSnapshot) -> Set<String> {
        var names = Set<String>()
        func add(_ name: String?) {
            guard let name, !name.isEmpty else { return }
            let bare = name.split(separator: "/").last.map(String.init) ?? name
            names.insert(bare)
            names.insert("\(bare)-cacert")
        }
        for gateway in snapshot.gateways {
            for server in gateway.spec.servers ?? [] {
                add(server.tls?.credentialName)
                for name in server.tls?.credentialNames ?? [] { add(name) }
                add(server.tls?.caCertCredentialName)
            }
        }
        for rule in snapshot.destinationRules {
            let policies = ([rule.spec.trafficPolicy] + (rule.spec.subsets ?? []).map(\.trafficPolicy)).compactMap { $0 }
            for policy in policies {
                add(policy.tls?.credentialName)
                for port in policy.portLevelSettings ?? [] { add(port.tls?.credentialName) }
            }
        }
        return names
    }
}
