/// `networking.istio.io` Sidecar spec: what one workload's sidecar imports (egress hosts), how
/// it takes inbound traffic (ingress listeners) and where unknown destinations go.
package struct Sidecar: ConfigModel {
    package var workloadSelector: WorkloadSelector?
    package var ingress: [IngressListener]?
    package var egress: [EgressListener]?
    package var outboundTrafficPolicy: OutboundTrafficPolicy?
    package var inboundConnectionPool: ConnectionPoolSettings?

    package enum CaptureMode: String, ConfigEnum {
        case `default` = "DEFAULT"
        case iptables = "IPTABLES"
        case none = "NONE"
    }

    package struct IngressListener: ConfigModel {
        package var port: GatewayPort?
        package var bind: String?
        package var captureMode: CaptureMode?
        /// `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT`, `unix://PATH`; unset: the
        /// original destination.
        package var defaultEndpoint: String?
        package var tls: ServerTLSSettings?
        package var connectionPool: ConnectionPoolSettings?
    }

    package struct EgressListener: ConfigModel {
        package var port: GatewayPort?
        package var bind: String?
        package var captureMode: CaptureMode?
        /// `namespace/dnsName`: `*`, `.` or a namespace; `~` excludes.
        package var hosts: [String]?
    }

    package struct OutboundTrafficPolicy: ConfigModel {
        /// Present without a mode means REGISTRY_ONLY (the enum's zero value).
        package var mode: Mode?
        package var egressProxy: Destination?

        package enum Mode: String, ConfigEnum {
            case registryOnly = "REGISTRY_ONLY"
            case allowAny = "ALLOW_ANY"
            case allowAnyDynamicDNS = "ALLOW_ANY_DYNAMIC_DNS"
        }
    }
}
