/// `networking.istio.io` ServiceEntry spec: a service the mesh's registry does not hold by itself.
package struct ServiceEntry: ConfigModel {
    package var hosts: [String]?
    package var addresses: [String]?
    package var ports: [ServicePort]?
    package var location: Location?
    package var resolution: Resolution?
    package var endpoints: [WorkloadEntry]?
    package var workloadSelector: WorkloadSelector?
    package var exportTo: [String]?
    package var subjectAltNames: [String]?

    package enum Location: String, ConfigEnum {
        case meshExternal = "MESH_EXTERNAL"
        case meshInternal = "MESH_INTERNAL"
    }

    package enum Resolution: String, ConfigEnum {
        case none = "NONE"
        case `static` = "STATIC"
        case dns = "DNS"
        case dnsRoundRobin = "DNS_ROUND_ROBIN"
        case dynamicDNS = "DYNAMIC_DNS"
    }
}

package struct ServicePort: ConfigModel {
    package var number: UInt32?
    package var `protocol`: String?
    package var name: String?
    package var targetPort: UInt32?
}

/// `networking.istio.io` WorkloadEntry spec, also the shape of a ServiceEntry endpoint.
package struct WorkloadEntry: ConfigModel {
    package var address: String?
    package var ports: [String: UInt32]?
    package var labels: [String: String]?
    package var network: String?
    package var locality: String?
    package var weight: UInt32?
    package var serviceAccount: String?
}

/// `istio.networking.v1alpha3.WorkloadSelector`: `{labels: {...}}` (not `matchLabels`).
package struct WorkloadSelector: ConfigModel {
    package var labels: [String: String]?
}
