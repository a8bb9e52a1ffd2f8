/// Where an object came from: its file, its position, and its YAML (to place later messages).
package struct ObjectSource: Sendable {
    package var file: String
    package var mark: SourceMark
    package var node: YAMLNode
    /// Objects from the API server keep their JSON text here and a bare `node` (the tree was
    /// needed only to place diagnostics, at decoding): a tenth of the memory.
    package var json: String? = nil

    package init(file: String, mark: SourceMark, node: YAMLNode, json: String? = nil) {
        self.file = file
        self.mark = mark
        self.node = node
        self.json = json
    }

    package func mark(of path: FieldPath, atKey: Bool = false) -> SourceMark {
        SourceLocator.mark(of: path, in: node, atKey: atKey)
    }
}

/// One loaded object: its identity, metadata, typed payload and source.
///
/// For Istio kinds the payload is the `spec`; for Kubernetes kinds, the whole object.
///
/// A value, stored in one shared box (copied on write): a copy is one reference count, not the
/// two dozen of its strings, arrays and dictionaries. Snapshots, the Kubernetes store and the
/// compiler copy 10,000s of them per change.
package struct ConfigResource<Payload: Sendable>: Sendable {
    private final class Storage: @unchecked Sendable {
        // Mutated only through `mutable()`, when this box is not shared.
        var reference: ObjectReference
        var apiVersion: String
        var metadata: ObjectMeta
        var payload: Payload
        var source: ObjectSource
        var loadIndex: Int
        /// `metadata.creationTimestamp` read once (the compiler orders by it at every compile).
        var creationSeconds: Int64?

        init(reference: ObjectReference, apiVersion: String, metadata: ObjectMeta, payload: Payload, source: ObjectSource, loadIndex: Int) {
            self.reference = reference
            self.apiVersion = apiVersion
            self.metadata = metadata
            self.creationSeconds = metadata.creationTimestamp.flatMap(Timestamp.secondsSinceEpoch)
            self.payload = payload
            self.source = source
            self.loadIndex = loadIndex
        }

        func copy() -> Storage {
            Storage(reference: reference, apiVersion: apiVersion, metadata: metadata, payload: payload, source: source, loadIndex: loadIndex)
        }
    }

    private var storage: Storage

    init(reference: ObjectReference, apiVersion: String, metadata: ObjectMeta, payload: Payload, source: ObjectSource, loadIndex: Int) {
        storage = Storage(reference: reference, apiVersion: apiVersion, metadata: metadata, payload: payload, source: source, loadIndex: loadIndex)
    }

    private mutating func mutable() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    package var reference: ObjectReference {
        _read { yield storage.reference }
        set { mutable().reference = newValue }
    }
    package var apiVersion: String {
        _read { yield storage.apiVersion }
        set { mutable().apiVersion = newValue }
    }
    package var metadata: ObjectMeta {
        _read { yield storage.metadata }
        set {
            let storage = mutable()
            storage.metadata = newValue
            storage.creationSeconds = newValue.creationTimestamp.flatMap(Timestamp.secondsSinceEpoch)
        }
    }
    /// `metadata.resourceVersion`, read without copying the metadata (the compiler's caches
    /// look it up for every object at every compile).
    package var resourceVersion: String? { storage.metadata.resourceVersion }
    /// `metadata.creationTimestamp` in seconds since the epoch; nil when absent or unreadable.
    package var creationSeconds: Int64? { storage.creationSeconds }
    package var payload: Payload {
        _read { yield storage.payload }
        set { mutable().payload = newValue }
    }
    package var source: ObjectSource {
        _read { yield storage.source }
        set { mutable().source = newValue }
    }
    /// Position in the load order; breaks ties when creation times are equal or absent.
    package var loadIndex: Int {
        _read { yield storage.loadIndex }
        set { mutable().loadIndex = newValue }
    }

    package var name: String { storage.reference.name }
    package var namespace: String { storage.reference.namespace }
    package var spec: Payload {
        _read { yield storage.payload }
    }
    package var labels: [String: String] { storage.metadata.labels ?? [:] }
}

/// Every object of one consistent moment: the unit a config source emits and routing compiles.
package struct ConfigSnapshot: Sendable {
    package var gateways: [ConfigResource<Gateway>] = []
    package var virtualServices: [ConfigResource<VirtualService>] = []
    package var destinationRules: [ConfigResource<DestinationRule>] = []
    package var serviceEntries: [ConfigResource<ServiceEntry>] = []
    package var workloadEntries: [ConfigResource<WorkloadEntry>] = []
    package var services: [ConfigResource<KubernetesService>] = []
    package var endpoints: [ConfigResource<KubernetesEndpoints>] = []
    package var endpointSlices: [ConfigResource<KubernetesEndpointSlice>] = []
    package var secrets: [ConfigResource<KubernetesSecret>] = []
    package var pods: [ConfigResource<KubernetesPod>] = []
    package var peerAuthentications: [ConfigResource<PeerAuthentication>] = []
    package var sidecars: [ConfigResource<Sidecar>] = []
    /// Install manifests (Deployments, RBAC, webhooks...): validated, counted, never routed.
    package var manifests: [ConfigResource<KubernetesManifest>] = []

    package init() {}

    /// Numbers every object in its order here (`loadIndex`: the tie-break of equal creation
    /// times), as a load of files in this order would have.
    package mutating func renumber(startingAt start: Int = 0) {
        var next = start
        func number<P>(_ list: inout [ConfigResource<P>]) {
            for index in list.indices {
                // Set only when it differs: an object shared with another snapshot is copied
                // when written.
                if list[index].loadIndex != next { list[index].loadIndex = next }
                next += 1
            }
        }
        number(&gateways)
        number(&virtualServices)
        number(&destinationRules)
        number(&serviceEntries)
        number(&workloadEntries)
        number(&services)
        number(&endpoints)
        number(&endpointSlices)
        number(&secrets)
        number(&peerAuthentications)
        number(&sidecars)
        number(&pods)
    }

    /// Every object's source passed through `transform`.
    package mutating func mapSources(_ transform: (ObjectSource) -> ObjectSource) {
        func map<P>(_ list: inout [ConfigResource<P>]) {
            for index in list.indices { list[index].source = transform(list[index].source) }
        }
        map(&gateways)
        map(&virtualServices)
        map(&destinationRules)
        map(&serviceEntries)
        map(&workloadEntries)
        map(&services)
        map(&endpoints)
        map(&endpointSlices)
        map(&secrets)
        map(&pods)
        map(&peerAuthentications)
        map(&sidecars)
        map(&manifests)
    }

    /// Appends every object of `other` (the Kubernetes store assembling one snapshot from the
    /// objects it decoded one by one, then from its kinds). An empty list takes the other's
    /// array as it is: shared, not copied.
    package mutating func append(contentsOf other: ConfigSnapshot) {
        func join<P>(_ list: inout [ConfigResource<P>], _ more: [ConfigResource<P>]) {
            if list.isEmpty { list = more } else if !more.isEmpty { list += more }
        }
        join(&gateways, other.gateways)
        join(&virtualServices, other.virtualServices)
        join(&destinationRules, other.destinationRules)
        join(&serviceEntries, other.serviceEntries)
        join(&workloadEntries, other.workloadEntries)
        join(&services, other.services)
        join(&endpoints, other.endpoints)
        join(&endpointSlices, other.endpointSlices)
        join(&secrets, other.secrets)
        join(&peerAuthentications, other.peerAuthentications)
        join(&sidecars, other.sidecars)
        join(&pods, other.pods)
        join(&manifests, other.manifests)
    }

    /// Puts the object `other` holds (of one kind) at `index` of that kind's list (the
    /// Kubernetes store putting a changed object in its place).
    package mutating func replace(at index: Int, with other: ConfigSnapshot) {
        func put<P>(_ list: inout [ConfigResource<P>], _ from: [ConfigResource<P>]) {
            if let object = from.first, index < list.count { list[index] = object }
        }
        put(&gateways, other.gateways)
        put(&virtualServices, other.virtualServices)
        put(&destinationRules, other.destinationRules)
        put(&serviceEntries, other.serviceEntries)
        put(&workloadEntries, other.workloadEntries)
        put(&services, other.services)
        put(&endpoints, other.endpoints)
        put(&endpointSlices, other.endpointSlices)
        put(&secrets, other.secrets)
        put(&peerAuthentications, other.peerAuthentications)
        put(&sidecars, other.sidecars)
        put(&pods, other.pods)
        put(&manifests, other.manifests)
    }

    package var objectCount: Int {
        gateways.count + virtualServices.count + destinationRules.count + serviceEntries.count
            + workloadEntries.count + services.count + endpoints.count + endpointSlices.count + secrets.count + pods.count
            + peerAuthentications.count + sidecars.count + manifests.count
    }
}
