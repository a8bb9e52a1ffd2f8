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
package struct ConfigResource<Payload: Sendable>: Sendable {
    package var reference: ObjectReference
    package var apiVersion: String
    package var metadata: ObjectMeta
    package var payload: Payload
    package var source: ObjectSource
    /// Position in the load order; breaks ties when creation times are equal or absent.
    package var loadIndex: Int

    package var name: String { reference.name }
    package var namespace: String { reference.namespace }
    package var spec: Payload { payload }
    package var labels: [String: String] { metadata.labels ?? [:] }
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
    package mutating func renumber() {
        var next = 0
        func number<P>(_ list: inout [ConfigResource<P>]) {
            for index in list.indices {
                list[index].loadIndex = next
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
    /// objects it decoded one by one).
    package mutating func append(contentsOf other: ConfigSnapshot) {
        gateways += other.gateways
        virtualServices += other.virtualServices
        destinationRules += other.destinationRules
        serviceEntries += other.serviceEntries
        workloadEntries += other.workloadEntries
        services += other.services
        endpoints += other.endpoints
        endpointSlices += other.endpointSlices
        secrets += other.secrets
        peerAuthentications += other.peerAuthentications
        sidecars += other.sidecars
        pods += other.pods
    }

    package var objectCount: Int {
        gateways.count + virtualServices.count + destinationRules.count + serviceEntries.count
            + workloadEntries.count + services.count + endpoints.count + endpointSlices.count + secrets.count + pods.count
            + peerAuthentications.count + sidecars.count + manifests.count
    }
}
