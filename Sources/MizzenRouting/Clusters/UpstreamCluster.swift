/// An upstream cluster compiled for the data plane: one service port, optionally narrowed to a
/// subset, with its endpoints and everything the proxy needs to talk to them, after Istio's
/// merging of DestinationRule, subset and port-level settings (`cluster_traffic_policy.go`).
/// Durations are nanoseconds, defaults applied, nothing left for the data plane to interpret:
/// MizzenProxy reads these values and never an Istio type.
///
/// Immutable and shared by every event loop. A request captures the cluster it was routed to
/// and uses only it until it ends, retries and endpoint picks included, so a reload never
/// changes a cluster under a request.
package final class UpstreamCluster: Sendable {
    /// Istio's name, `outbound|port|subset|host`.
    package let name: String
    package let serviceHost: String
    /// The service as Istio's telemetry names it (cluster metadata `istio.services[0]`): a
    /// Kubernetes Service's name, a ServiceEntry's host; and its namespace. Nil when the
    /// registry does not know the host.
    package let serviceName: String?
    package let serviceNamespace: String?
    package let port: UInt32
    package let subset: String?
    package let subsetLabels: [String: String]
    /// The registry knows the service port; a route to an unknown one fails (503 NC).
    package let serviceKnown: Bool
    package let endpoints: [ClusterEndpoint]
    package let limits: CircuitBreakerLimits
    /// What a connection to an endpoint is made with: a change here means new connections.
    package let connection: ConnectionSettings
    package let loadBalancer: LoadBalancerSpec
    package let outlierDetection: OutlierSettings?
    /// Where the traffic policy came from (`DestinationRule ns/name`), for operators.
    package let policySource: String?
    /// Settings of the policy this data plane does not act on, by field path, for the start-up
    /// report (`connectionPool.http.http2KeepAlive`...).
    package let unsupportedSettings: [String]
    /// Envoy's ORIGINAL_DST cluster: no endpoints of its own, each connection goes where it was
    /// originally sent (a sidecar's `PassthroughCluster`, its inbound clusters). Nil: the
    /// cluster's `endpoints`.
    package let originalDestination: OriginalDestinationPolicy?

    package init(name: String, serviceHost: String, serviceName: String? = nil, serviceNamespace: String? = nil, port: UInt32, subset: String?,
                 subsetLabels: [String: String], serviceKnown: Bool,
                 endpoints: [ClusterEndpoint], limits: CircuitBreakerLimits = .unlimited, connection: ConnectionSettings = .default,
                 loadBalancer: LoadBalancerSpec = .istioDefault, outlierDetection: OutlierSettings? = nil, policySource: String? = nil,
                 unsupportedSettings: [String] = [], originalDestination: OriginalDestinationPolicy? = nil) {
        self.name = name
        self.serviceHost = serviceHost
        self.serviceName = serviceName
        self.serviceNamespace = serviceNamespace
        self.port = port
        self.subset = subset
        self.subsetLabels = subsetLabels
        self.serviceKnown = serviceKnown
        self.endpoints = endpoints
        self.limits = limits
        self.connection = connection
        self.loadBalancer = loadBalancer
        self.outlierDetection = outlierDetection
        self.policySource = policySource
        self.unsupportedSettings = unsupportedSettings
        self.originalDestination = originalDestination
    }
}

/// How an ORIGINAL_DST cluster connects: to the connection's original destination, from
/// `sourceAddress` when set (Istio's inbound clusters bind 127.0.0.6, so the pod's iptables
/// rules let the connection to the application through uncaptured).
package struct OriginalDestinationPolicy: Sendable, Hashable {
    package var sourceAddress: String?
    /// A Sidecar ingress listener's `defaultEndpoint: 0.0.0.0:PORT`: the original address, on
    /// this port.
    package var port: UInt32?

    package init(sourceAddress: String?, port: UInt32? = nil) {
        self.sourceAddress = sourceAddress
        self.port = port
    }

    /// Istio's `InboundPassthroughBindIpv4` / `InboundPassthroughBindIpv6`.
    package static let inboundSourceIPv4 = "127.0.0.6"
    package static let inboundSourceIPv6 = "::6"
}

package struct ClusterEndpoint: Sendable, Hashable {
    package let address: String
    package let port: UInt32
    package var labels: [String: String]
    package var weight: UInt32
    /// The endpoint has a sidecar taking mutual TLS (`security.istio.io/tlsMode: istio`, its
    /// PeerAuthentication not DISABLE): auto mTLS talks TLS to it.
    package var meshTLS = false
    /// The workload's SPIFFE identity (its service account), when the registry knows it.
    package var identity: String?
    /// The endpoint as Envoy names a host (`Address::asString()`): `ip:port`, `[ipv6]:port`.
    /// Made once here: balancers, outlier detection and every access-log line use it.
    package let addressKey: String

    package init(address: String, port: UInt32, labels: [String: String], weight: UInt32) {
        self.address = address
        self.port = port
        self.labels = labels
        self.weight = weight
        addressKey = address.utf8.contains(UInt8(ascii: ":")) && !address.hasPrefix("[") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// The protocol the proxy speaks to a cluster's endpoints.
package enum UpstreamProtocol: String, Sendable, Hashable {
    case http1 = "HTTP/1.1"
    case http2 = "HTTP/2"
}

/// Envoy's circuit-breaker thresholds for a cluster, from `connectionPool` (Istio's defaults:
/// everything unlimited, written here as `Int.max`).
package struct CircuitBreakerLimits: Sendable, Hashable {
    package var maxConnections = Int.max
    /// `http1MaxPendingRequests`: requests waiting for a connection.
    package var maxPendingRequests = Int.max
    /// `http2MaxRequests`: requests in flight to the cluster, whatever the protocol.
    package var maxRequests = Int.max
    package var maxRetries = Int.max

    package static let unlimited = CircuitBreakerLimits()

    package init(maxConnections: Int = .max, maxPendingRequests: Int = .max, maxRequests: Int = .max, maxRetries: Int = .max) {
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.maxRequests = maxRequests
        self.maxRetries = maxRetries
    }
}

/// Socket keep-alive probes towards upstreams (`tcp.tcpKeepalive`), in seconds.
package struct TCPKeepalive: Sendable, Hashable {
    package var time: Int?
    package var interval: Int?
    package var probes: Int?

    package init(time: Int?, interval: Int?, probes: Int?) {
        self.time = time
        self.interval = interval
        self.probes = probes
    }
}

/// How connections to a cluster's endpoints are made and kept: pools are keyed by it, so a
/// reload that changes any of it drains the old connections instead of reusing them.
package struct ConnectionSettings: Sendable, Hashable {
    package var upstreamProtocol: UpstreamProtocol = .http1
    /// `tcp.connectTimeout`; nil: the proxy's default (Istio's 10 s).
    package var connectTimeout: Int64?
    /// `http.idleTimeout` (else `tcp.idleTimeout`): idle pooled connections close after it; for
    /// TCP routes, a tunnel idle that long closes. Nil: the proxy's default.
    package var idleTimeout: Int64?
    package var tcpKeepalive: TCPKeepalive?
    /// Requests per connection before it is closed; nil: unlimited.
    package var maxRequestsPerConnection: Int?
    /// Upstream TLS origination; nil: plain text.
    package var tls: UpstreamTLSSettings?
    /// Istio's automatic mutual TLS: used towards the endpoints marked `meshTLS` (when `tls`
    /// is nil). Always ISTIO_MUTUAL with the workload certificate.
    package var meshTLS: UpstreamTLSSettings?

    package static let `default` = ConnectionSettings()

    package init(upstreamProtocol: UpstreamProtocol = .http1, connectTimeout: Int64? = nil, idleTimeout: Int64? = nil, tcpKeepalive: TCPKeepalive? = nil,
                 maxRequestsPerConnection: Int? = nil, tls: UpstreamTLSSettings? = nil) {
        self.upstreamProtocol = upstreamProtocol
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.tcpKeepalive = tcpKeepalive
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.tls = tls
    }
}

/// DestinationRule `trafficPolicy.tls` for one cluster: files are named, not read (compilation
/// does no I/O); the data plane reads them and builds the client context.
package struct UpstreamTLSSettings: Sendable, Hashable {
    package enum Mode: String, Sendable, Hashable {
        case simple = "SIMPLE"
        case mutual = "MUTUAL"
        /// The workload's own certificate and the mesh root (`--workload-certs`).
        case istioMutual = "ISTIO_MUTUAL"
    }

    package var mode: Mode
    package var clientCertificate: String?
    package var privateKey: String?
    package var caCertificates: String?
    /// A Kubernetes TLS Secret by name (mounted under `--credentials`).
    package var credentialName: String?
    /// SNI to send; nil: the request's host (Istio's auto SNI), or for ISTIO_MUTUAL the
    /// cluster's `outbound_.PORT_.SUBSET_.HOST`.
    package var sni: String?
    package var subjectAltNames: [String]
    package var insecureSkipVerify: Bool
    /// ALPN to offer (`h2` for an HTTP/2 cluster).
    package var alpn: [String]

    package init(mode: Mode, clientCertificate: String? = nil, privateKey: String? = nil, caCertificates: String? = nil, credentialName: String? = nil,
                 sni: String? = nil, subjectAltNames: [String] = [], insecureSkipVerify: Bool = false, alpn: [String] = ["http/1.1"]) {
        self.mode = mode
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.credentialName = credentialName
        self.sni = sni
        self.subjectAltNames = subjectAltNames
        self.insecureSkipVerify = insecureSkipVerify
        self.alpn = alpn
    }

    /// Istio's auto SAN validation: with neither `sni` nor `subjectAltNames` (and not
    /// ISTIO_MUTUAL), the certificate is checked against the host the request was for.
    package var verifiesRequestHost: Bool { mode != .istioMutual && sni == nil && subjectAltNames.isEmpty }
}

/// How a cluster's endpoints are chosen.
package struct LoadBalancerSpec: Sendable, Hashable {
    /// The Envoy load-balancing policy, as Istio's `cluster_traffic_policy.go`
    /// (`applyLoadBalancer`, `ApplyRingHashLoadBalancer`) chooses it.
    package enum Algorithm: Sendable, Hashable {
        /// Power of two choices by active requests (Envoy `LEAST_REQUEST`).
        case leastRequest
        /// Rotation, smooth weighted when weights differ (Envoy `ROUND_ROBIN`).
        case roundRobin
        /// Uniform (Envoy `RANDOM`).
        case random
        /// Consistent hash on a ring of at least this many points (Envoy `RING_HASH`).
        case ringHash(minimumSize: UInt64)
        /// Consistent hash on a Maglev table of this (prime) size (Envoy `MAGLEV`).
        case maglev(tableSize: UInt64)
    }

    package var algorithm: Algorithm
    /// What a consistent-hash cluster hashes; nil: nothing (every pick random, as Envoy's).
    package var hashPolicy: HashPolicy?
    /// `simple` as the DestinationRule wrote it, for `mizzen routes`.
    package var configuredName: String?

    /// No `loadBalancer`: `LEAST_REQUEST`, Istio's default since 1.14.
    package static let istioDefault = LoadBalancerSpec(algorithm: .leastRequest, hashPolicy: nil, configuredName: nil)

    package init(algorithm: Algorithm, hashPolicy: HashPolicy?, configuredName: String?) {
        self.algorithm = algorithm
        self.hashPolicy = hashPolicy
        self.configuredName = configuredName
    }

    /// Envoy's default and the paper's Maglev table size; Envoy's largest (both prime).
    package static let defaultMaglevSize: UInt64 = 65537
    package static let maximumMaglevSize: UInt64 = 5_000_011
    /// Envoy's default `minimum_ring_size`.
    package static let defaultRingSize: UInt64 = 1024

}

/// Passive health checking (`outlierDetection`), with Istio's and Envoy's defaults filled in.
package struct OutlierSettings: Sendable, Hashable {
    package var consecutive5xx: Int
    package var consecutiveGateway: Int
    package var consecutiveLocalOrigin: Int
    package var splitLocalOrigin: Bool
    /// Nanoseconds.
    package var interval: Int64
    package var baseEjection: Int64
    package var maxEjectionPercent: Int
    package var minHealthPercent: Int
    /// Statuses that count as errors for the 5xx counter; nil: 500-599.
    package var errorCodes: Set<UInt>?

    /// Envoy's cap on one ejection (`max_ejection_time`, 300 s).
    package static let maxEjection: Int64 = 300_000_000_000

    package init(consecutive5xx: Int = 5, consecutiveGateway: Int = 0, consecutiveLocalOrigin: Int = 5, splitLocalOrigin: Bool = false,
                 interval: Int64 = 10_000_000_000, baseEjection: Int64 = 30_000_000_000, maxEjectionPercent: Int = 10, minHealthPercent: Int = 0,
                 errorCodes: Set<UInt>? = nil) {
        self.consecutive5xx = consecutive5xx
        self.consecutiveGateway = consecutiveGateway
        self.consecutiveLocalOrigin = consecutiveLocalOrigin
        self.splitLocalOrigin = splitLocalOrigin
        self.interval = interval
        self.baseEjection = baseEjection
        self.maxEjectionPercent = maxEjectionPercent
        self.minHealthPercent = minHealthPercent
        self.errorCodes = errorCodes
    }
}
