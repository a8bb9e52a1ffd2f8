/// Where an object came from: its file, its position, and its YAML (to place later messages).
package struct ObjectSource: Sendable {
    package var file: String
    package var mark: SourceMark
    package var node: YAMLNode

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
    package var peerAuthentications: [ConfigResource<PeerAuthentication>] = []
    package var sidecars: [ConfigResource<Sidecar>] = []

    package init() {}

    package var objectCount: Int {
        gateways.count + virtualServices.count + destinationRules.count + serviceEntries.count
            + workloadEntries.count + services.count + endpoints.count + endpointSlices.count + secrets.count + peerAuthentications.count + sidecars.count
    }
}
