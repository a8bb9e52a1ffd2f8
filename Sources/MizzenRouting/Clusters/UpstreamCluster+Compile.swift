import MizzenConfig

extension UpstreamCluster {
    /// The cluster of one service port (and subset) under the traffic policy in force for it.
    /// `protocolName` is the service port's protocol (its `appProtocol`, or the protocol its
    /// name declares).
    static func compile(name: String, serviceHost: String, service: (name: String, namespace: String)? = nil, port: UInt32, subset: String?, subsetLabels: [String: String], serviceKnown: Bool,
                        endpoints: [ClusterEndpoint], protocolName: String?, policy: ClusterPolicy,
                        originalDestination: OriginalDestinationPolicy? = nil, mesh: MeshTLSSettings? = nil) -> UpstreamCluster {
        let pool = policy.connectionPool
        let http2 = speaksHTTP2(protocolName: protocolName, pool: pool)
        var unsupported: [String] = []
        if pool?.tcp?.maxConnectionDuration != nil { unsupported.append("connectionPool.tcp.maxConnectionDuration") }
        if pool?.http?.http2KeepAlive != nil { unsupported.append("connectionPool.http.http2KeepAlive") }
        if pool?.http?.useClientProtocol == true { unsupported.append("connectionPool.http.useClientProtocol") }
        if pool?.http?.maxConcurrentStreams != nil { unsupported.append("connectionPool.http.maxConcurrentStreams (one HTTP/2 connection per endpoint)") }
        if policy.tls?.caCrl != nil { unsupported.append("tls.caCrl") }
        if policy.loadBalancer?.localityLbSetting != nil { unsupported.append("loadBalancer.localityLbSetting") }
        if policy.loadBalancer?.warmup != nil || policy.loadBalancer?.warmupDurationSecs != nil { unsupported.append("loadBalancer.warmup") }
        return UpstreamCluster(
            name: name, serviceHost: serviceHost, serviceName: service?.name, serviceNamespace: service?.namespace, port: port, subset: subset, subsetLabels: subsetLabels, serviceKnown: serviceKnown,
            endpoints: endpoints, limits: limits(pool), connection: connection(pool, tls: policy.tls, http2: http2, serviceHost: serviceHost, port: port, subset: subset,
                                                                       mesh: mesh, tcp: SidecarPortProtocol(protocolName) == .tcp),
            loadBalancer: loadBalancer(policy.loadBalancer), outlierDetection: policy.outlierDetection.map(outlier),
            policySource: policy.destinationRule.map { "\($0)" }, unsupportedSettings: unsupported, originalDestination: originalDestination)
    }

    /// HTTP/2 to the upstream for ports whose protocol says so (named or `appProtocol` http2,
    /// grpc, h2c), or when the DestinationRule asks for `h2UpgradePolicy: UPGRADE`.
    static func speaksHTTP2(protocolName: String?, pool: ConnectionPoolSettings?) -> Bool {
        if let name = protocolName?.lowercased(), name.hasPrefix("http2") || name.hasPrefix("grpc") || name == "h2c" || name == "kubernetes.io/h2c" {
            return true
        }
        return pool?.http?.h2UpgradePolicy == .upgrade
    }

    static func limits(_ pool: ConnectionPoolSettings?) -> CircuitBreakerLimits {
        var limits = CircuitBreakerLimits.unlimited
        guard let pool else { return limits }
        if let value = pool.tcp?.maxConnections, value > 0 { limits.maxConnections = Int(value) }
        if let value = pool.http?.http1MaxPendingRequests, value > 0 { limits.maxPendingRequests = Int(value) }
        if let value = pool.http?.http2MaxRequests, value > 0 { limits.maxRequests = Int(value) }
        if let value = pool.http?.maxRetries, value > 0 { limits.maxRetries = Int(value) }
        return limits
    }

    /// ALPN of Istio's mesh mTLS (`istio.alpn` and cluster_tls.go): the upstream protocol's
    /// `istio-*` name, `istio`, then the plain one; TCP offers `istio` alone (no metadata
    /// exchange: `istio-peer-exchange` would commit to its preamble).
    static func meshALPN(http2: Bool, tcp: Bool) -> [String] {
        if tcp { return ["istio"] }
        return http2 ? ["istio-h2", "istio", "h2"] : ["istio-http/1.1", "istio", "http/1.1"]
    }

    static func connection(_ pool: ConnectionPoolSettings?, tls: ClientTLSSettings?, http2: Bool, serviceHost: String, port: UInt32,
                           subset: String?, mesh: MeshTLSSettings? = nil, tcp: Bool = false) -> ConnectionSettings {
        var settings = ConnectionSettings(upstreamProtocol: http2 ? .http2 : .http1)
        settings.connectTimeout = pool?.tcp?.connectTimeout.flatMap { $0.nanoseconds > 0 ? $0.nanoseconds : nil }
        settings.idleTimeout = (pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout).map(\.nanoseconds)
        if let alive = pool?.tcp?.tcpKeepalive {
            settings.tcpKeepalive = TCPKeepalive(time: alive.time.map { Int($0.nanoseconds / 1_000_000_000) },
                                                 interval: alive.interval.map { Int($0.nanoseconds / 1_000_000_000) },
                                                 probes: alive.probes.map(Int.init))
        }
        if let value = pool?.http?.maxRequestsPerConnection, value > 0 { settings.maxRequestsPerConnection = Int(value) }
        if let tls, let mode = tls.mode, mode != .disable {
            let compiledMode: UpstreamTLSSettings.Mode = switch mode {
            case .mutual: .mutual
            case .istioMutual: .istioMutual
            default: .simple
            }
            var sni = tls.sni.flatMap { $0.isEmpty ? nil : $0 }
            if compiledMode == .istioMutual, sni == nil {
                // Istio's SNI for mesh mTLS names the cluster: outbound_.PORT_.SUBSET_.HOST.
                sni = "outbound_.\(port)_.\(subset ?? "")_.\(serviceHost)"
            }
            let istio = compiledMode == .istioMutual
            settings.tls = UpstreamTLSSettings(
                mode: compiledMode, clientCertificate: tls.clientCertificate, privateKey: tls.privateKey, caCertificates: tls.caCertificates,
                credentialName: tls.credentialName, sni: sni,
                // ISTIO_MUTUAL without SANs checks the service's accounts (empty: any mesh identity).
                subjectAltNames: tls.subjectAltNames ?? (istio ? mesh?.subjectAltNames ?? [] : []),
                insecureSkipVerify: tls.insecureSkipVerify == true, alpn: istio ? meshALPN(http2: http2, tcp: tcp) : (http2 ? ["h2"] : ["http/1.1"]))
        } else if tls == nil, let mesh, mesh.automatic {
            settings.meshTLS = UpstreamTLSSettings(mode: .istioMutual, sni: "outbound_.\(port)_.\(subset ?? "")_.\(serviceHost)",
                                                   subjectAltNames: mesh.subjectAltNames, alpn: meshALPN(http2: http2, tcp: tcp))
        }
        return settings
    }

    /// The algorithm for a cluster's merged settings.
    ///
    /// - No settings, `UNSPECIFIED`: `LEAST_REQUEST`, Istio's default since 1.14
    ///   (`defaultLBAlgorithm()`); before that it was `ROUND_ROBIN`.
    /// - `LEAST_CONN`: deprecated in Istio and translated to `LEAST_REQUEST`, as Envoy has no
    ///   least-connections policy.
    /// - `PASSTHROUGH`: Istio makes the cluster `ORIGINAL_DST`, forwarding to the address the
    ///   downstream connection was originally sent to. A gateway terminates connections addressed
    ///   to itself, so there is no such address to honour; the endpoints are rotated instead.
    /// - `consistentHash` overrides `simple` (Istio applies it last): `maglev` when set, else the
    ///   ring, sized by `ringHash.minimumRingSize` or the deprecated `minimumRingSize` (0 meaning
    ///   unset, as in Istio).
    static func loadBalancer(_ settings: LoadBalancerSettings?) -> LoadBalancerSpec {
        guard let settings else { return .istioDefault }
        let name = settings.simple?.rawValue
        if let hash = settings.consistentHash {
            let policy = HashPolicy(hash)
            if let maglev = hash.maglev {
                return LoadBalancerSpec(algorithm: .maglev(tableSize: LoadBalancerSpec.maglevTableSize(maglev.tableSize)), hashPolicy: policy, configuredName: name)
            }
            let size = [hash.ringHash?.minimumRingSize, hash.minimumRingSize].lazy.compactMap { $0 }.first { $0 != 0 }
            return LoadBalancerSpec(algorithm: .ringHash(minimumSize: size ?? LoadBalancerSpec.defaultRingSize), hashPolicy: policy, configuredName: name)
        }
        let algorithm: LoadBalancerSpec.Algorithm = switch settings.simple {
        case nil, .unspecified, .leastRequest, .leastConn: .leastRequest
        case .roundRobin, .passthrough: .roundRobin
        case .random: .random
        }
        return LoadBalancerSpec(algorithm: algorithm, hashPolicy: nil, configuredName: name)
    }

    static func outlier(_ policy: OutlierDetection) -> OutlierSettings {
        var settings = OutlierSettings()
        settings.consecutive5xx = policy.consecutive5xxErrors.map(Int.init) ?? settings.consecutive5xx
        if let gateway = policy.consecutiveGatewayErrors {
            settings.consecutiveGateway = Int(gateway)
        } else if let legacy = policy.consecutiveErrors, legacy > 0 {
            settings.consecutiveGateway = Int(legacy)
        }
        settings.splitLocalOrigin = policy.splitExternalLocalOriginErrors ?? settings.splitLocalOrigin
        settings.consecutiveLocalOrigin = policy.consecutiveLocalOriginFailures.map(Int.init) ?? settings.consecutiveLocalOrigin
        settings.interval = max(policy.interval?.nanoseconds ?? settings.interval, 1_000_000)
        settings.baseEjection = max(policy.baseEjectionTime?.nanoseconds ?? settings.baseEjection, 1_000_000)
        settings.maxEjectionPercent = policy.maxEjectionPercent.map(Int.init) ?? settings.maxEjectionPercent
        settings.minHealthPercent = policy.minHealthPercent.map(Int.init) ?? settings.minHealthPercent
        settings.errorCodes = policy.outlierDetectionHttpErrorCodes.flatMap { $0.isEmpty ? nil : Set($0.map(UInt.init)) }
        return settings
    }
}

extension LoadBalancerSpec {
    /// The table size to build for a configured `maglev.tableSize`: the default when unset or 0
    /// (Istio then leaves Envoy's default), else the value itself when prime. Validation rejects
    /// composite and too-large sizes but, as Istio, lets 1 through; the next prime up (capped at
    /// Envoy's maximum) keeps every permutation a full cycle rather than failing the cluster.
    package static func maglevTableSize(_ configured: UInt64?) -> UInt64 {
        guard let configured, configured != 0 else { return defaultMaglevSize }
        if configured >= maximumMaglevSize { return maximumMaglevSize }
        var candidate = max(configured, 2)
        while !Rules.isPrime(candidate) { candidate += 1 }
        return candidate
    }
}

/// What routing found for a cluster's mesh mutual TLS: automatic (towards the endpoints with a
/// sidecar) or asked for by ISTIO_MUTUAL, and the identities its endpoints may present (their
/// service accounts' SPIFFE names and the ServiceEntry's `subjectAltNames`; none known: any
/// certificate of the mesh's root is accepted, as Envoy with an empty SAN list).
struct MeshTLSSettings: Sendable {
    var automatic: Bool
    var subjectAltNames: [String]
}
