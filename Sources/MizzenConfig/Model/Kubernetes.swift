/// Kubernetes core/v1 `Service`: the registry's view of a service (cluster IP, ports, selector).
package struct KubernetesService: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?

    package struct Spec: ConfigModel {
        package var ports: [Port]?
        package var selector: [String: String]?
        package var clusterIP: String?
        package var clusterIPs: [String]?
        package var type: String?
        package var externalIPs: [String]?
        package var sessionAffinity: String?
        package var loadBalancerIP: String?
        package var loadBalancerSourceRanges: [String]?
        package var externalName: String?
        package var externalTrafficPolicy: String?
        package var healthCheckNodePort: Int32?
        package var publishNotReadyAddresses: Bool?
        package var sessionAffinityConfig: OpaqueValue?
        package var ipFamilies: [String]?
        package var ipFamilyPolicy: String?
        package var allocateLoadBalancerNodePorts: Bool?
        package var loadBalancerClass: String?
        package var internalTrafficPolicy: String?
        package var trafficDistribution: String?
    }

    package struct Port: ConfigModel {
        package var name: String?
        package var `protocol`: String?
        package var appProtocol: String?
        package var port: Int32?
        package var targetPort: IntOrString?
        package var nodePort: Int32?
    }
}

/// Kubernetes core/v1 `ObjectReference` (an endpoint's `targetRef`): typed rather than kept as
/// a node tree, a tenth of the memory with 50,000 endpoints. Only what finds the Pod is kept;
/// the other fields are read (checked) and dropped.
package struct KubernetesObjectReference: ConfigModel {
    package var kind: String?
    package var namespace: String?
    package var name: String?

    enum CodingKeys: String, CodingKey {
        case kind, namespace, name, apiVersion, uid, resourceVersion, fieldPath
    }

    package init(kind: String? = nil, namespace: String? = nil, name: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        for key in [CodingKeys.apiVersion, .uid, .resourceVersion, .fieldPath] {
            _ = try container.decodeIfPresent(String.self, forKey: key)
        }
    }
}

/// Kubernetes core/v1 `Endpoints`.
package struct KubernetesEndpoints: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var subsets: [Subset]?

    package struct Subset: ConfigModel {
        package var addresses: [Address]?
        package var notReadyAddresses: [Address]?
        package var ports: [Port]?
    }

    package struct Address: ConfigModel {
        package var ip: String?
        package var hostname: String?
        package var nodeName: String?
        package var targetRef: KubernetesObjectReference?
    }

    package struct Port: ConfigModel {
        package var name: String?
        package var port: Int32?
        package var `protocol`: String?
        package var appProtocol: String?
    }
}

/// Kubernetes discovery.k8s.io/v1 `EndpointSlice`.
package struct KubernetesEndpointSlice: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var addressType: String?
    package var endpoints: [Endpoint]?
    package var ports: [Port]?

    package struct Endpoint: ConfigModel {
        package var addresses: [String]?
        package var conditions: Conditions?
        package var hostname: String?
        package var targetRef: KubernetesObjectReference?
        package var nodeName: String?
        package var zone: String?
        package var hints: OpaqueValue?
        package var deprecatedTopology: [String: String]?
    }

    package struct Conditions: ConfigModel {
        package var ready: Bool?
        package var serving: Bool?
        package var terminating: Bool?
    }

    package struct Port: ConfigModel {
        package var name: String?
        package var `protocol`: String?
        package var port: Int32?
        package var appProtocol: String?
    }
}

/// Kubernetes core/v1 `Secret` (TLS material for `credentialName`).
package struct KubernetesSecret: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var type: String?
    package var data: [String: String]?
    package var stringData: [String: String]?
    package var immutable: Bool?
}

/// Kubernetes `v1 List`: `items` holds whole objects of any kind.
package struct KubernetesList: ConfigModel {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: OpaqueValue?
    package var items: [OpaqueValue]?
}

/// Kubernetes core/v1 `Pod`: a workload's labels, service account and addresses (the sidecar's
/// view of the pods behind a service, and what `mizzen inject` rewrites).
package struct KubernetesPod: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: PodSpec?
    package var status: Status?

    package struct Status: ConfigModel {
        package var phase: String?
        package var podIP: String?
        package var podIPs: [PodIP]?
        package var hostIP: String?
        package var hostIPs: [PodIP]?
        package var conditions: [Condition]?
        package var message: String?
        package var reason: String?
        package var nominatedNodeName: String?
        package var startTime: String?
        package var qosClass: String?
        package var observedGeneration: Int64?
        package var containerStatuses: OpaqueValue?
        package var initContainerStatuses: OpaqueValue?
        package var ephemeralContainerStatuses: OpaqueValue?
        package var resize: String?
        package var resourceClaimStatuses: OpaqueValue?
        package var allocatedResources: OpaqueValue?
        package var resources: OpaqueValue?
        package var volumeHealth: OpaqueValue?
        package var extendedResourceClaimStatus: OpaqueValue?
        package var nodeAllocatableResourceClaimStatuses: OpaqueValue?
    }

    /// `PodIP` and `HostIP`: `{ip}`.
    package struct PodIP: ConfigModel {
        package var ip: String?
    }

    package struct Condition: ConfigModel {
        package var type: String?
        package var status: String?
        package var observedGeneration: Int64?
        package var lastProbeTime: String?
        package var lastTransitionTime: String?
        package var reason: String?
        package var message: String?
    }

    /// Whether the `Ready` condition is `True` (a pod without conditions counts as not ready).
    package var isReady: Bool {
        status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false
    }

    /// Every address of the pod: `status.podIPs`, else `status.podIP`.
    package var addresses: [String] {
        let listed = (status?.podIPs ?? []).compactMap(\.ip).filter { !$0.isEmpty }
        if !listed.isEmpty { return listed }
        if let single = status?.podIP, !single.isEmpty { return [single] }
        return []
    }
}
