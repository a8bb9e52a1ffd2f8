/// `networking.istio.io` DestinationRule spec: subsets and the traffic policy towards a host.
package struct DestinationRule: ConfigModel {
    package var host: String?
    package var trafficPolicy: TrafficPolicy?
    package var subsets: [Subset]?
    package var exportTo: [String]?
    package var workloadSelector: LabelSelector?
}

/// `istio.type.v1beta1.WorkloadSelector`: `{matchLabels: {...}}`.
package struct LabelSelector: ConfigModel {
    package var matchLabels: [String: String]?
}

package struct Subset: ConfigModel {
    package var name: String?
    package var labels: [String: String]?
    package var trafficPolicy: TrafficPolicy?
}

package struct TrafficPolicy: ConfigModel {
    package var loadBalancer: LoadBalancerSettings?
    package var connectionPool: ConnectionPoolSettings?
    package var outlierDetection: OutlierDetection?
    package var tls: ClientTLSSettings?
    package var portLevelSettings: [PortTrafficPolicy]?
    package var tunnel: TunnelSettings?
    package var proxyProtocol: ProxyProtocol?
    package var retryBudget: RetryBudget?

    package struct PortTrafficPolicy: ConfigModel {
        package var port: PortSelector?
        package var loadBalancer: LoadBalancerSettings?
        package var connectionPool: ConnectionPoolSettings?
        package var outlierDetection: OutlierDetection?
        package var tls: ClientTLSSettings?
    }

    package struct TunnelSettings: ConfigModel {
        package var `protocol`: String?
        package var targetHost: String?
        package var targetPort: UInt32?
    }

    package struct ProxyProtocol: ConfigModel {
        package var version: Version?

        package enum Version: String, ConfigEnum {
            case v1 = "V1"
            case v2 = "V2"
        }
    }

    package struct RetryBudget: ConfigModel {
        package var percent: Double?
        package var minRetryConcurrency: UInt32?
        package var budgetInterval: IstioDuration?
    }
}

package struct LoadBalancerSettings: ConfigModel {
    package var simple: SimpleLB?
    package var consistentHash: ConsistentHashLB?
    package var localityLbSetting: LocalityLoadBalancerSetting?
    package var zoneAwareLbSetting: ZoneAwareLoadBalancerSetting?
    package var warmupDurationSecs: IstioDuration?
    package var warmup: WarmupConfiguration?

    package enum SimpleLB: String, ConfigEnum {
        case unspecified = "UNSPECIFIED"
        case leastConn = "LEAST_CONN"
        case random = "RANDOM"
        case passthrough = "PASSTHROUGH"
        case roundRobin = "ROUND_ROBIN"
        case leastRequest = "LEAST_REQUEST"
    }

    package struct ConsistentHashLB: ConfigModel {
        package var httpHeaderName: String?
        package var httpCookie: HTTPCookie?
        package var useSourceIp: Bool?
        package var httpQueryParameterName: String?
        package var ringHash: RingHash?
        package var maglev: MagLev?
        package var minimumRingSize: UInt64?

        package struct HTTPCookie: ConfigModel {
            package var name: String?
            package var path: String?
            package var ttl: IstioDuration?
            package var attributes: [Attribute]?

            package struct Attribute: ConfigModel {
                package var name: String?
                package var value: String?
            }
        }

        package struct RingHash: ConfigModel {
            package var minimumRingSize: UInt64?
        }

        package struct MagLev: ConfigModel {
            package var tableSize: UInt64?
        }
    }

    package struct WarmupConfiguration: ConfigModel {
        package var duration: IstioDuration?
        package var minimumPercent: Double?
        package var aggression: Double?
    }
}

package struct LocalityLoadBalancerSetting: ConfigModel {
    package var distribute: [Distribute]?
    package var failover: [Failover]?
    package var failoverPriority: [String]?
    package var enabled: Bool?

    package struct Distribute: ConfigModel {
        package var from: String?
        package var to: [String: UInt32]?
    }

    package struct Failover: ConfigModel {
        package var from: String?
        package var to: String?
    }
}

package struct ZoneAwareLoadBalancerSetting: ConfigModel {
    package var enabled: Bool?
    package var failover: [LocalityLoadBalancerSetting.Failover]?
    package var failoverPriority: [String]?
    package var minClusterSize: UInt64?
}

package struct ConnectionPoolSettings: ConfigModel {
    package var tcp: TCPSettings?
    package var http: HTTPSettings?

    package struct TCPSettings: ConfigModel {
        package var maxConnections: Int32?
        package var connectTimeout: IstioDuration?
        package var tcpKeepalive: TCPKeepalive?
        package var maxConnectionDuration: IstioDuration?
        package var idleTimeout: IstioDuration?

        package struct TCPKeepalive: ConfigModel {
            package var probes: UInt32?
            package var time: IstioDuration?
            package var interval: IstioDuration?
        }
    }

    package struct HTTPSettings: ConfigModel {
        package var http1MaxPendingRequests: Int32?
        package var http2MaxRequests: Int32?
        package var maxRequestsPerConnection: Int32?
        package var maxRetries: Int32?
        package var idleTimeout: IstioDuration?
        package var h2UpgradePolicy: H2UpgradePolicy?
        package var useClientProtocol: Bool?
        package var maxConcurrentStreams: Int32?
        package var http2KeepAlive: ConnectionKeepalive?

        package enum H2UpgradePolicy: String, ConfigEnum {
            case `default` = "DEFAULT"
            case doNotUpgrade = "DO_NOT_UPGRADE"
            case upgrade = "UPGRADE"
        }

        package struct ConnectionKeepalive: ConfigModel {
            package var interval: IstioDuration?
            package var timeout: IstioDuration?
        }
    }
}

package struct OutlierDetection: ConfigModel {
    package var consecutiveErrors: Int32?
    package var splitExternalLocalOriginErrors: Bool?
    package var consecutiveLocalOriginFailures: UInt32?
    package var consecutiveGatewayErrors: UInt32?
    package var consecutive5xxErrors: UInt32?
    package var interval: IstioDuration?
    package var baseEjectionTime: IstioDuration?
    package var maxEjectionPercent: Int32?
    package var minHealthPercent: Int32?
    package var outlierDetectionHttpErrorCodes: [UInt32]?
}

/// Upstream (client-side) TLS towards the destination.
package struct ClientTLSSettings: ConfigModel {
    package var mode: Mode?
    package var clientCertificate: String?
    package var privateKey: String?
    package var caCertificates: String?
    package var credentialName: String?
    package var subjectAltNames: [String]?
    package var sni: String?
    package var insecureSkipVerify: Bool?
    package var caCrl: String?

    package enum Mode: String, ConfigEnum {
        case disable = "DISABLE"
        case simple = "SIMPLE"
        case mutual = "MUTUAL"
        case istioMutual = "ISTIO_MUTUAL"
    }
}
