/// One side of a request as Istio's stats filter labels it (`source_*` or `destination_*`):
/// the workload, its namespace and identity, its app and version labels, its canonical service
/// and revision, and its cluster. A value Istio does not know is the literal `unknown`, except
/// the canonical revision, which is `latest` (ISTIO-OPS §1.2).
package struct WorkloadLabels: Sendable, Hashable {
    package var workload: String
    package var namespace: String
    package var principal: String
    package var app: String
    package var version: String
    package var canonicalService: String
    package var canonicalRevision: String
    package var cluster: String

    package init(workload: String = "unknown", namespace: String = "unknown", principal: String = "unknown", app: String = "unknown",
                 version: String = "unknown", canonicalService: String = "unknown", canonicalRevision: String = "latest",
                 cluster: String = "unknown") {
        self.workload = workload
        self.namespace = namespace
        self.principal = principal
        self.app = app
        self.version = version
        self.canonicalService = canonicalService
        self.canonicalRevision = canonicalRevision
        self.cluster = cluster
    }

    package static let unknown = WorkloadLabels()

    /// A workload described by its pod labels, the way Istio's injector derives the canonical
    /// labels: name from `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app`,
    /// then the workload name; revision from `service.istio.io/canonical-revision`,
    /// `app.kubernetes.io/version`, `version`, then `latest`.
    package static func fromPodLabels(_ labels: [String: String], workload: String?, namespace: String?, principal: String? = nil,
                                      cluster: String? = nil) -> WorkloadLabels {
        let app = labels["app"] ?? labels["app.kubernetes.io/name"]
        let version = labels["version"] ?? labels["app.kubernetes.io/version"]
        let canonicalService = labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels["app"] ?? workload
        let canonicalRevision = labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels["version"]
        return WorkloadLabels(workload: workload ?? "unknown", namespace: namespace ?? "unknown", principal: principal ?? "unknown",
                              app: app ?? "unknown", version: version ?? "unknown", canonicalService: canonicalService ?? "unknown",
                              canonicalRevision: canonicalRevision ?? "latest", cluster: cluster ?? "unknown")
    }
}

/// The destination of a request as the metrics name it: the peer workload and the service
/// (`destination_service`, `_name`, `_namespace`). Interned per event loop, so a request
/// carries only an index to it.
package struct DestinationLabels: Sendable, Hashable {
    package var workload: WorkloadLabels
    package var service: String
    package var serviceName: String
    package var serviceNamespace: String
    /// `connection_security_policy` of a destination-side report (`mutual_tls`, `none`); nil:
    /// the proxy's default (`unknown` on the client side).
    package var connectionSecurityPolicy: String?
    /// This proxy's own identity on that connection (its certificate's SAN), when known.
    package var localPrincipal: String?

    package init(workload: WorkloadLabels = .unknown, service: String = "unknown", serviceName: String = "unknown", serviceNamespace: String = "unknown",
                 connectionSecurityPolicy: String? = nil, localPrincipal: String? = nil) {
        self.workload = workload
        self.service = service
        self.serviceName = serviceName
        self.serviceNamespace = serviceNamespace
        self.connectionSecurityPolicy = connectionSecurityPolicy
        self.localPrincipal = localPrincipal
    }

    /// Istio's special destinations (`BlackHoleCluster`, `PassthroughCluster`) and hosts no
    /// cluster names: the service is the host, its name the host's first DNS label.
    package static func host(_ host: String) -> DestinationLabels {
        let name = host.split(separator: ".", maxSplits: 1).first.map(String.init) ?? host
        return DestinationLabels(service: host, serviceName: name.isEmpty ? "unknown" : name)
    }
}

/// `request_protocol`: `http`, `grpc` or `tcp`.
package enum RequestProtocol: UInt8, Sendable, Hashable {
    case http
    case grpc
    case tcp

    package var label: String {
        switch self {
        case .http: "http"
        case .grpc: "grpc"
        case .tcp: "tcp"
        }
    }
}

/// What every series of this proxy shares: who reports (`source` for a gateway or a sidecar's
/// outbound side, `destination` for a sidecar's inbound side) and this proxy's own workload.
package struct MetricsIdentity: Sendable {
    package var source: WorkloadLabels
    /// `connection_security_policy` of client-side reports: always `unknown` (ISTIO-OPS §1.2).
    package var connectionSecurityPolicy: String = "unknown"

    package init(source: WorkloadLabels) {
        self.source = source
    }
}
