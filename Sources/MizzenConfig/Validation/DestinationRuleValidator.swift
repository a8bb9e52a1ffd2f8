/// Istio's rules for a DestinationRule (`ValidateDestinationRule` and the traffic-policy helpers).
package enum DestinationRuleValidator {
    package static func validate(_ rule: DestinationRule, namespace: String, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        if let host = rule.host {
            if host.contains("/") {
                problems.error(spec / "host", "must be a host name; \"namespace/name\" is not allowed here")
            } else if let problem = Rules.wildcardDomainProblem(host) {
                problems.error(spec / "host", problem)
            }
        } else {
            problems.error(spec / "host", "is required")
        }
        if let policy = rule.trafficPolicy { trafficPolicy(policy, spec / "trafficPolicy", namespace: namespace, into: &problems) }
        var subsetNames: [String: Int] = [:]
        for (index, subset) in (rule.subsets ?? []).enumerated() {
            let path = spec / "subsets" / index
            if let name = subset.name, !name.isEmpty {
                if !Rules.isDNS1123Label(name) { problems.error(path / "name", "must be a DNS-1123 label") }
                if let earlier = subsetNames[name] {
                    problems.error(path / "name", "subset \"\(name)\" is already defined by subsets[\(earlier)]")
                } else {
                    subsetNames[name] = index
                }
            } else {
                problems.error(path / "name", "is required")
            }
            problems.labels(subset.labels, path / "labels")
            if let policy = subset.trafficPolicy { trafficPolicy(policy, path / "trafficPolicy", namespace: namespace, into: &problems) }
        }
        problems.exportTo(rule.exportTo, namespace: namespace, spec / "exportTo", allowNobody: false)
        if let selector = rule.workloadSelector {
            let labels = selector.matchLabels ?? [:]
            if labels.isEmpty { problems.warning(spec / "workloadSelector", "selects no labels, so it applies to every workload in the namespace") }
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                let path = spec / "workloadSelector" / "matchLabels" / key
                if key.isEmpty { problems.error(spec / "workloadSelector" / "matchLabels", "label keys must not be empty") }
                if key.contains("*") || value.contains("*") { problems.error(path, "wildcards are not supported in selectors") }
            }
            let exports = rule.exportTo ?? []
            if !exports.isEmpty, exports != ["."], exports != [namespace] {
                problems.error(spec / "exportTo", "a DestinationRule with workloadSelector may only be exported to its own namespace (\".\")")
            }
        }
    }

    static func trafficPolicy(_ policy: TrafficPolicy, _ path: FieldPath, namespace: String, into problems: inout Problems) {
        if policy.loadBalancer == nil, policy.connectionPool == nil, policy.outlierDetection == nil, policy.tls == nil,
           (policy.portLevelSettings ?? []).isEmpty, policy.tunnel == nil, policy.proxyProtocol == nil, policy.retryBudget == nil {
            problems.error(path, "must set at least one field")
            return
        }
        if policy.tunnel != nil, policy.proxyProtocol != nil {
            problems.error(path, "only one of tunnel or proxyProtocol may be set")
        }
        if let outlier = policy.outlierDetection { outlierDetection(outlier, path / "outlierDetection", into: &problems) }
        if let pool = policy.connectionPool { connectionPool(pool, path / "connectionPool", into: &problems) }
        if let balancer = policy.loadBalancer { loadBalancer(balancer, outlier: policy.outlierDetection, path / "loadBalancer", into: &problems) }
        if let tls = policy.tls { clientTLS(tls, path / "tls", namespace: namespace, into: &problems) }
        var ports: [UInt32: Int] = [:]
        for (index, portPolicy) in (policy.portLevelSettings ?? []).enumerated() {
            let portPath = path / "portLevelSettings" / index
            if let number = portPolicy.port?.number {
                if let problem = Rules.portProblem(number) { problems.error(portPath / "port" / "number", problem) }
                if let earlier = ports[number] {
                    problems.warning(portPath / "port" / "number", "port \(number) already has settings in portLevelSettings[\(earlier)]; the first wins")
                } else {
                    ports[number] = index
                }
            } else {
                problems.error(portPath / "port", "is required")
            }
            if portPolicy.loadBalancer == nil, portPolicy.connectionPool == nil, portPolicy.outlierDetection == nil, portPolicy.tls == nil {
                problems.error(portPath, "must set at least one of loadBalancer, connectionPool, outlierDetection or tls")
            }
            if let outlier = portPolicy.outlierDetection { outlierDetection(outlier, portPath / "outlierDetection", into: &problems) }
            if let pool = portPolicy.connectionPool { connectionPool(pool, portPath / "connectionPool", into: &problems) }
            if let balancer = portPolicy.loadBalancer { loadBalancer(balancer, outlier: portPolicy.outlierDetection, portPath / "loadBalancer", into: &problems) }
            if let tls = portPolicy.tls { clientTLS(tls, portPath / "tls", namespace: namespace, into: &problems) }
        }
        if let tunnel = policy.tunnel {
            let tunnelPath = path / "tunnel"
            if let proto = tunnel.protocol, !proto.isEmpty, proto != "CONNECT", proto != "POST" {
                problems.error(tunnelPath / "protocol", "must be \"CONNECT\" or \"POST\"")
            }
            if let host = tunnel.targetHost {
                if Rules.fqdnProblem(host) != nil, !Rules.isIP(host) { problems.error(tunnelPath / "targetHost", "must be a fully qualified name or an IP address") }
            } else {
                problems.error(tunnelPath / "targetHost", "is required")
            }
            problems.port(tunnel.targetPort, tunnelPath / "targetPort", required: true)
        }
        if let budget = policy.retryBudget {
            if let percent = budget.percent, !(0...100).contains(percent) { problems.error(path / "retryBudget" / "percent", "must be between 0 and 100") }
            if let interval = budget.budgetInterval, interval.nanoseconds < 0 { problems.error(path / "retryBudget" / "budgetInterval", "must not be negative") }
        }
    }

    static func connectionPool(_ pool: ConnectionPoolSettings, _ path: FieldPath, into problems: inout Problems) {
        guard pool.tcp != nil || pool.http != nil else {
            problems.error(path, "must set tcp or http")
            return
        }
        if let http = pool.http {
            let httpPath = path / "http"
            problems.nonNegative(http.http1MaxPendingRequests, httpPath / "http1MaxPendingRequests")
            problems.nonNegative(http.http2MaxRequests, httpPath / "http2MaxRequests")
            problems.nonNegative(http.maxRequestsPerConnection, httpPath / "maxRequestsPerConnection")
            problems.nonNegative(http.maxRetries, httpPath / "maxRetries")
            problems.nonNegative(http.maxConcurrentStreams, httpPath / "maxConcurrentStreams")
            problems.duration(http.idleTimeout, httpPath / "idleTimeout")
            if http.h2UpgradePolicy == .upgrade, http.useClientProtocol == true {
                problems.error(httpPath / "useClientProtocol", "must not be true when h2UpgradePolicy is UPGRADE")
            }
            if let keepalive = http.http2KeepAlive {
                if let interval = keepalive.interval { problems.duration(interval, httpPath / "http2KeepAlive" / "interval") } else { problems.error(httpPath / "http2KeepAlive" / "interval", "is required") }
                if let timeout = keepalive.timeout { problems.duration(timeout, httpPath / "http2KeepAlive" / "timeout") } else { problems.error(httpPath / "http2KeepAlive" / "timeout", "is required") }
            }
        }
        if let tcp = pool.tcp {
            let tcpPath = path / "tcp"
            problems.nonNegative(tcp.maxConnections, tcpPath / "maxConnections")
            problems.duration(tcp.connectTimeout, tcpPath / "connectTimeout")
            problems.duration(tcp.maxConnectionDuration, tcpPath / "maxConnectionDuration")
            // `idleTimeout: 0s` turns the idle timeout off, so zero is allowed here.
            if let idle = tcp.idleTimeout, idle.nanoseconds / 1_000_000 != 0 { problems.duration(idle, tcpPath / "idleTimeout") }
            if let idle = tcp.idleTimeout, idle.nanoseconds < 0 { problems.error(tcpPath / "idleTimeout", "must not be negative") }
            problems.duration(tcp.tcpKeepalive?.time, tcpPath / "tcpKeepalive" / "time")
            problems.duration(tcp.tcpKeepalive?.interval, tcpPath / "tcpKeepalive" / "interval")
        }
    }

    static func outlierDetection(_ outlier: OutlierDetection, _ path: FieldPath, into problems: inout Problems) {
        problems.duration(outlier.baseEjectionTime, path / "baseEjectionTime")
        problems.duration(outlier.interval, path / "interval")
        if let errors = outlier.consecutiveErrors, errors != 0 {
            problems.warning(path / "consecutiveErrors", "is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors")
        }
        if outlier.splitExternalLocalOriginErrors != true, (outlier.consecutiveLocalOriginFailures ?? 0) > 0 {
            problems.error(path / "consecutiveLocalOriginFailures", "has no effect unless splitExternalLocalOriginErrors is true")
        }
        problems.percentRange(outlier.maxEjectionPercent, path / "maxEjectionPercent")
        problems.percentRange(outlier.minHealthPercent, path / "minHealthPercent")
        for (index, code) in (outlier.outlierDetectionHttpErrorCodes ?? []).enumerated() where !(100...599).contains(code) {
            problems.error(path / "outlierDetectionHttpErrorCodes" / index, "HTTP status \(code) must be between 100 and 599")
        }
    }

    static func loadBalancer(_ balancer: LoadBalancerSettings, outlier: OutlierDetection?, _ path: FieldPath, into problems: inout Problems) {
        if balancer.simple != nil, balancer.consistentHash != nil {
            problems.error(path, "only one of simple or consistentHash may be set")
        }
        if balancer.simple == .leastConn { problems.warning(path / "simple", "LEAST_CONN is deprecated; use LEAST_REQUEST") }
        if let hash = balancer.consistentHash {
            let hashPath = path / "consistentHash"
            let keys = [hash.httpHeaderName != nil, hash.httpCookie != nil, hash.useSourceIp != nil, hash.httpQueryParameterName != nil].filter { $0 }.count
            if keys > 1 { problems.error(hashPath, "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set") }
            if keys == 0 { problems.error(hashPath, "needs a hash key: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName") }
            if let header = hash.httpHeaderName, !Rules.isHeaderToken(header) { problems.error(hashPath / "httpHeaderName", "must be a header name") }
            if let parameter = hash.httpQueryParameterName, parameter.isEmpty { problems.error(hashPath / "httpQueryParameterName", "must not be empty") }
            if let cookie = hash.httpCookie {
                if (cookie.name ?? "").isEmpty { problems.error(hashPath / "httpCookie" / "name", "is required") }
                if let ttl = cookie.ttl, ttl.nanoseconds < 0 { problems.error(hashPath / "httpCookie" / "ttl", "must not be negative") }
                var names: Set<String> = []
                for (index, attribute) in (cookie.attributes ?? []).enumerated() {
                    let name = attribute.name ?? ""
                    if name.isEmpty { problems.error(hashPath / "httpCookie" / "attributes" / index / "name", "is required") }
                    else if !names.insert(name).inserted { problems.error(hashPath / "httpCookie" / "attributes" / index / "name", "duplicate cookie attribute \"\(name)\"") }
                }
            }
            if let size = hash.minimumRingSize, size != 0 {
                problems.warning(hashPath / "minimumRingSize", "is deprecated; use ringHash.minimumRingSize")
                if hash.ringHash != nil || hash.maglev != nil {
                    problems.error(hashPath / "minimumRingSize", "must not be set with ringHash or maglev")
                }
            }
            if hash.ringHash != nil, hash.maglev != nil { problems.error(hashPath, "only one of ringHash or maglev may be set") }
            if let maglev = hash.maglev {
                let size = maglev.tableSize ?? 0
                if size == 0 {
                    problems.error(hashPath / "maglev" / "tableSize", "is required")
                } else if size >= 5_000_011 {
                    problems.error(hashPath / "maglev" / "tableSize", "must be less than 5000011")
                } else if size != 1, !Rules.isPrime(size) {
                    // Istio's own primality check lets 1 through; Envoy's Maglev does not
                    // (MizzenRouting builds the next prime, 2).
                    problems.error(hashPath / "maglev" / "tableSize", "\(size) is not a prime number (Maglev needs a prime table size, such as 65537)")
                }
            }
        }
        if balancer.localityLbSetting != nil, balancer.zoneAwareLbSetting != nil {
            problems.error(path, "only one of localityLbSetting or zoneAwareLbSetting may be set")
        }
        if let locality = balancer.localityLbSetting { localitySetting(locality, outlier: outlier, path / "localityLbSetting", into: &problems) }
        if balancer.warmupDurationSecs != nil, balancer.warmup != nil { problems.error(path, "only one of warmupDurationSecs or warmup may be set") }
        if let warmup = balancer.warmup {
            if let duration = warmup.duration { problems.duration(duration, path / "warmup" / "duration") } else { problems.error(path / "warmup" / "duration", "is required") }
            if let minimum = warmup.minimumPercent, !(0...100).contains(minimum) { problems.error(path / "warmup" / "minimumPercent", "must be between 0 and 100") }
            if let aggression = warmup.aggression, aggression <= 0 { problems.error(path / "warmup" / "aggression", "must be greater than 0") }
        }
    }

    static func localitySetting(_ setting: LocalityLoadBalancerSetting, outlier: OutlierDetection?, _ path: FieldPath, into problems: inout Problems) {
        let distribute = setting.distribute ?? [], failover = setting.failover ?? [], priority = setting.failoverPriority ?? []
        if !distribute.isEmpty, !failover.isEmpty {
            problems.error(path, "only one of distribute or failover may be set")
            return
        }
        for (index, entry) in distribute.enumerated() {
            let weights = entry.to ?? [:]
            if weights.values.contains(where: { $0 == 0 || $0 > 100 }) {
                problems.error(path / "distribute" / index / "to", "locality weights must be between 1 and 100")
            } else if weights.values.reduce(0, { $0 + Int($1) }) != 100 {
                problems.error(path / "distribute" / index / "to", "locality weights must total 100")
            }
        }
        if !failover.isEmpty || !priority.isEmpty, outlier == nil {
            problems.warning(path, "failover needs outlierDetection in the same traffic policy")
        }
        for (index, entry) in failover.enumerated() {
            let from = entry.from ?? "", to = entry.to ?? ""
            if from == to { problems.error(path / "failover" / index, "from and to must name different regions") }
            if from.contains("/") || to.contains("/") { problems.error(path / "failover" / index, "failover names regions only (no zone or subzone)") }
            if from.contains("*") || to.contains("*") { problems.error(path / "failover" / index, "failover regions must not contain '*'") }
        }
    }

    /// `agent.ValidateTLS` for client-side TLS.
    static func clientTLS(_ tls: ClientTLSSettings, _ path: FieldPath, namespace: String, into problems: inout Problems) {
        func isSet(_ value: String?) -> Bool { !(value ?? "").isEmpty }
        let mode = tls.mode ?? .disable
        if let credential = tls.credentialName, credential.hasPrefix("configmap://") {
            let rest = credential.dropFirst("configmap://".count).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            if rest.count != 2 || rest[0].isEmpty || rest[1].isEmpty {
                problems.error(path / "credentialName", "must have the form configmap://<namespace>/<name>")
            } else if rest[0] != namespace {
                problems.error(path / "credentialName", "a configmap:// credential must be in the DestinationRule's namespace \(namespace)")
            }
        }
        if tls.insecureSkipVerify == true {
            if mode == .simple, isSet(tls.caCertificates) || isSet(tls.credentialName) || !(tls.subjectAltNames ?? []).isEmpty {
                problems.error(path / "insecureSkipVerify", "cannot be true with caCertificates, credentialName or subjectAltNames")
            }
            if mode == .mutual, isSet(tls.caCertificates) || !(tls.subjectAltNames ?? []).isEmpty {
                problems.error(path / "insecureSkipVerify", "cannot be true with caCertificates or subjectAltNames")
            }
        }
        if mode == .simple || mode == .mutual, isSet(tls.credentialName) {
            if isSet(tls.clientCertificate) || isSet(tls.caCertificates) || isSet(tls.privateKey) || isSet(tls.caCrl) {
                problems.error(path / "credentialName", "must not be set with clientCertificate, privateKey, caCertificates or caCrl")
            }
            return
        }
        if mode == .mutual {
            if !isSet(tls.clientCertificate) { problems.error(path / "clientCertificate", "mode MUTUAL needs a client certificate (or credentialName)") }
            if !isSet(tls.privateKey) { problems.error(path / "privateKey", "mode MUTUAL needs a private key (or credentialName)") }
        }
        if mode == .istioMutual {
            for (field, present) in [("clientCertificate", isSet(tls.clientCertificate)), ("privateKey", isSet(tls.privateKey)), ("caCertificates", isSet(tls.caCertificates)), ("credentialName", isSet(tls.credentialName))] where present {
                problems.warning(path / field, "is ignored with mode ISTIO_MUTUAL, which uses Istio's workload certificates")
            }
        }
    }
}
