/// One kind of object the proxy lists and watches: its API group and version, the plural in
/// its path, and whether it lives in namespaces.
package struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    package var group: String
    package var version: String
    package var plural: String
    package var kind: String
    /// Where its objects come from, as diagnostics name it: one string shared by all of them.
    package let sourceName: String

    package init(group: String, version: String, plural: String, kind: String) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.sourceName = "kubernetes \(plural)"
    }

    package var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    package var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// `/api/v1/[namespaces/NS/]services`, `/apis/GROUP/VERSION/[namespaces/NS/]PLURAL`.
    package func path(namespace: String?) -> String {
        let base = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if let namespace { return "\(base)/namespaces/\(namespace)/\(plural)" }
        return "\(base)/\(plural)"
    }

    /// Whether the store keeps each object's JSON text (for `/config_dump`). Not for Secrets
    /// (never shown), nor for EndpointSlices and Pods: numerous and large (the bench's 1,000
    /// slices of 50 endpoints are 9 MiB of text), their endpoints are shown by `/clusters`.
    package var keepsObjectText: Bool {
        ![ResourceKind.secrets, .endpointSlices, .pods].contains(self)
    }

    /// Kinds the service registry is made of: a change to any of them makes it anew.
    package var feedsServiceRegistry: Bool {
        [ResourceKind.services, .endpointSlices, .pods, .serviceEntries, .workloadEntries].contains(self)
    }

    package static let gateways = ResourceKind(group: "networking.istio.io", version: "v1", plural: "gateways", kind: "Gateway")
    package static let virtualServices = ResourceKind(group: "networking.istio.io", version: "v1", plural: "virtualservices", kind: "VirtualService")
    package static let destinationRules = ResourceKind(group: "networking.istio.io", version: "v1", plural: "destinationrules", kind: "DestinationRule")
    package static let serviceEntries = ResourceKind(group: "networking.istio.io", version: "v1", plural: "serviceentries", kind: "ServiceEntry")
    package static let workloadEntries = ResourceKind(group: "networking.istio.io", version: "v1", plural: "workloadentries", kind: "WorkloadEntry")
    package static let sidecars = ResourceKind(group: "networking.istio.io", version: "v1", plural: "sidecars", kind: "Sidecar")
    package static let peerAuthentications = ResourceKind(group: "security.istio.io", version: "v1", plural: "peerauthentications", kind: "PeerAuthentication")
    package static let services = ResourceKind(group: "", version: "v1", plural: "services", kind: "Service")
    package static let endpointSlices = ResourceKind(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice")
    package static let pods = ResourceKind(group: "", version: "v1", plural: "pods", kind: "Pod")
    package static let secrets = ResourceKind(group: "", version: "v1", plural: "secrets", kind: "Secret")

    /// What a gateway or a sidecar watches in every namespace it is given. Secrets are watched
    /// in the proxy's own namespace only (Istio's gateway: `credentialName` Secrets live beside
    /// it, and its Role reads no others).
    package static let watchedEverywhere: [ResourceKind] = [
        .gateways, .virtualServices, .destinationRules, .serviceEntries, .workloadEntries, .sidecars,
        .peerAuthentications, .services, .endpointSlices, .pods,
    ]
}
