/// Istio's rules for a Sidecar (`ValidateSidecar`, istio/istio pkg/config/validation), with
/// Istio's texts where it has them.
package enum SidecarValidator {
    package static func validate(_ sidecar: Sidecar, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        if let selector = sidecar.workloadSelector {
            let labels = selector.labels ?? [:]
            if labels.isEmpty {
                problems.warning(spec / "workloadSelector", "sidecar: workload selector specified without labels, will be applied to all services in namespace")
            }
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                if key.isEmpty { problems.error(spec / "workloadSelector" / "labels", "empty key is not supported in selector: \"\(key)=\(value)\"") }
                if key.contains("*") || value.contains("*") {
                    problems.error(spec / "workloadSelector" / "labels" / key, "wildcard is not supported in selector: \"\(key)=\(value)\"")
                }
            }
        }
        if sidecar.egress == nil, sidecar.ingress == nil, sidecar.outboundTrafficPolicy == nil, sidecar.inboundConnectionPool == nil {
            problems.error(spec, "sidecar: empty configuration provided")
            return
        }
        var ingressPorts: Set<UInt32> = []
        for (index, listener) in (sidecar.ingress ?? []).enumerated() {
            let path = spec / "ingress" / index
            guard let port = listener.port else {
                problems.error(path / "port", "sidecar: port is required for ingress listeners")
                continue
            }
            self.port(port, path / "port", into: &problems)
            if let number = port.number, !ingressPorts.insert(number).inserted {
                problems.error(path / "port" / "number", "sidecar: ports on IP bound listeners must be unique")
            }
            if let bind = listener.bind, !bind.isEmpty, !isIP(bind) { problems.error(path / "bind", "\(bind) is not a valid IP") }
            if let endpoint = listener.defaultEndpoint, !endpoint.isEmpty { defaultEndpoint(endpoint, path / "defaultEndpoint", into: &problems) }
            if let tls = listener.tls {
                if tls.subjectAltNames != nil { problems.error(path / "tls" / "subjectAltNames", "sidecar: subjectAltNames is not supported in ingress tls") }
                if tls.httpsRedirect == true { problems.error(path / "tls" / "httpsRedirect", "sidecar: httpsRedirect is not supported") }
                if tls.credentialName != nil { problems.error(path / "tls" / "credentialName", "sidecar: credentialName is not currently supported") }
                if let mode = tls.mode, mode == .istioMutual || mode == .autoPassthrough {
                    problems.error(path / "tls" / "mode", "configuration is invalid: cannot set mode to \(mode.rawValue) in sidecar ingress tls")
                }
                if let name = port.protocol, let parsed = Rules.PortProtocol(parsing: name), !parsed.isTLS {
                    problems.error(path / "tls", "server cannot have TLS settings for non HTTPS/TLS ports")
                }
            }
        }
        var egressPorts: Set<UInt32> = []
        var portless = 0
        let egress = sidecar.egress ?? []
        for (index, listener) in egress.enumerated() {
            let path = spec / "egress" / index
            if let port = listener.port, (port.number ?? 0) != 0 {
                self.port(port, path / "port", into: &problems)
                if let number = port.number, !egressPorts.insert(number).inserted {
                    problems.error(path / "port" / "number", "sidecar: ports on IP bound listeners must be unique")
                }
            } else {
                portless += 1
                if portless > 1 { problems.error(path, "sidecar: egress can have only one listener with empty port") }
                if index != egress.count - 1 { problems.error(path, "sidecar: the egress listener with empty port should be the last listener in the list") }
            }
            if let bind = listener.bind, !bind.isEmpty, !bind.hasPrefix("unix://"), !isIP(bind) { problems.error(path / "bind", "\(bind) is not a valid IP") }
            let hosts = listener.hosts ?? []
            if hosts.isEmpty { problems.error(path / "hosts", "sidecar: egress listener must contain at least one host") }
            for (hostIndex, host) in hosts.enumerated() {
                if let problem = egressHostProblem(host) { problems.error(path / "hosts" / hostIndex, problem) }
            }
        }
        if let policy = sidecar.outboundTrafficPolicy {
            if policy.mode == .allowAnyDynamicDNS {
                problems.error(spec / "outboundTrafficPolicy" / "mode", "sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource")
            }
            if let proxy = policy.egressProxy {
                if (policy.mode ?? .registryOnly) != .allowAny {
                    problems.error(spec / "outboundTrafficPolicy" / "egressProxy", "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode")
                }
                if proxy.port == nil { problems.error(spec / "outboundTrafficPolicy" / "egressProxy" / "port", "sidecar: egress_proxy port must be non-nil") }
            }
        }
    }

    static func port(_ port: GatewayPort, _ path: FieldPath, into problems: inout Problems) {
        if let target = port.targetPort, target > 0 { problems.error(path / "targetPort", "targetPort has no impact on Sidecars") }
        if let name = port.name, !name.isEmpty, !Rules.isDNS1123Label(name) { problems.error(path / "name", "invalid port name: \(name)") }
        if let name = port.protocol, !name.isEmpty, Rules.PortProtocol(parsing: name) == nil { problems.error(path / "protocol", "unsupported protocol: \(name)") }
        if let number = port.number, !(1...65535).contains(number) { problems.error(path / "number", "port number \(number) must be in the range 1..65535") }
    }

    static func defaultEndpoint(_ endpoint: String, _ path: FieldPath, into problems: inout Problems) {
        if endpoint.hasPrefix("unix://") {
            let file = String(endpoint.dropFirst(7))
            if file.isEmpty { problems.error(path, "unix address must not be empty") } else if !file.hasPrefix("@"), !file.hasPrefix("/") || file.hasSuffix("/") {
                problems.error(path, "\(file) is not an absolute path to a file")
            }
            return
        }
        guard let colon = endpoint.lastIndex(of: ":") else {
            problems.error(path, "address \(endpoint): missing port in address")
            return
        }
        var host = String(endpoint[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = String(endpoint[endpoint.index(after: colon)...])
        guard ["", "127.0.0.1", "0.0.0.0", "::1", "::"].contains(host) else {
            problems.error(path, "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset")
            return
        }
        guard let port = Int(portText) else {
            problems.error(path, "sidecar: defaultEndpoint port (\(portText)) is not a number")
            return
        }
        if !(1...65535).contains(port) { problems.error(path, "port number \(port) must be in the range 1..65535") }
    }

    /// `namespace/dnsName` (`ValidateNamespaceSlashWildcardHostname`).
    static func egressHostProblem(_ host: String) -> String? {
        let parts = host.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return "host must be of form namespace/dnsName" }
        var namespace = parts[0]
        let name = parts[1]
        if namespace.isEmpty || name.isEmpty { return "config namespace and dnsName in host entry cannot be empty" }
        if namespace.hasPrefix("~") { namespace = String(namespace.dropFirst()) }
        if !namespace.isEmpty, namespace != "*", namespace != ".", !Rules.isDNS1123Label(namespace) { return "invalid namespace value \"\(namespace)\" in sidecar" }
        if name == "*" { return nil }
        if !name.contains(".") { return "short names (non FQDN) are not allowed" }
        return Rules.wildcardDomainProblem(name)
    }

    static func isIP(_ text: String) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) { return true }
        return text.contains(":") && text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }
}
