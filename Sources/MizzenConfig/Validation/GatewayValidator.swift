/// Istio's rules for a Gateway (`ValidateGateway` and `validateTLSOptions`).
package enum GatewayValidator {
    package static func validate(_ gateway: Gateway, name: String, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        if !Rules.isDNS1123Label(name) {
            problems.error(FieldPath.root / "metadata" / "name", "a Gateway name must be a DNS-1123 label (no dots): \"\(name.prefix(80))\"")
        }
        guard let servers = gateway.servers, !servers.isEmpty else {
            problems.error(spec / "servers", "must list at least one server")
            return
        }
        var portNames: [String: Int] = [:]
        var serverNames: [String: Int] = [:]
        for (index, server) in servers.enumerated() {
            let path = spec / "servers" / index
            validate(server, path, into: &problems)
            if let portName = server.port?.name, !portName.isEmpty {
                if let earlier = portNames[portName] {
                    problems.error(path / "port" / "name", "port name \"\(portName)\" is already used by spec.servers[\(earlier)]; port names must be unique")
                } else {
                    portNames[portName] = index
                }
            }
            if let serverName = server.name, !serverName.isEmpty {
                if let earlier = serverNames[serverName] {
                    problems.error(path / "name", "server name \"\(serverName)\" is already used by spec.servers[\(earlier)]")
                } else {
                    serverNames[serverName] = index
                }
            }
        }
    }

    static func validate(_ server: Server, _ path: FieldPath, into problems: inout Problems) {
        if let hosts = server.hosts, !hosts.isEmpty {
            for (index, host) in hosts.enumerated() {
                if let problem = serverHostProblem(host) { problems.error(path / "hosts" / index, problem) }
            }
        } else {
            problems.error(path / "hosts", "must list at least one host")
        }
        var parsedProtocol: Rules.PortProtocol?
        var portValid = false
        let isUnix = server.bind?.hasPrefix("unix://") ?? false
        if let port = server.port {
            let portPath = path / "port"
            portValid = true
            if let text = port.protocol {
                parsedProtocol = Rules.PortProtocol(parsing: text)
                if parsedProtocol == nil {
                    problems.error(portPath / "protocol", "unknown protocol \"\(text.prefix(40))\"; expected one of \(Rules.PortProtocol.listing)")
                    portValid = false
                }
            } else {
                problems.error(portPath / "protocol", "is required")
                portValid = false
            }
            if let number = port.number {
                if !(number == 0 && isUnix), let problem = Rules.portProblem(number) {
                    problems.error(portPath / "number", problem)
                    portValid = false
                }
                if isUnix, number != 0 { problems.error(portPath / "number", "must be 0 when the server binds a unix socket") }
            } else {
                problems.error(portPath / "number", "is required")
                portValid = false
            }
            if port.name?.isEmpty ?? true { problems.error(portPath / "name", "is required") }
            if let target = port.targetPort, target > 0 { problems.error(portPath / "targetPort", "has no effect on a Gateway; remove it") }
        } else {
            problems.error(path / "port", "is required")
        }
        if let bind = server.bind, !bind.isEmpty {
            if isUnix {
                if let problem = Rules.unixAddressProblem(String(bind.dropFirst("unix://".count))) { problems.error(path / "bind", problem) }
            } else if !Rules.isIP(bind) {
                problems.error(path / "bind", "must be an IP address or unix:///path, got \"\(bind.prefix(80))\"")
            }
        }
        if let tls = server.tls { validateTLS(tls, path / "tls", into: &problems) }
        guard portValid, let parsedProtocol else { return }
        if parsedProtocol.isTLS, server.tls == nil {
            problems.error(path / "tls", "is required for a \(parsedProtocol.rawValue) server")
        } else if parsedProtocol.isHTTP, let tls = server.tls {
            let mode = tls.mode ?? .passthrough
            let hasCertificates = !(tls.serverCertificate ?? "").isEmpty || !(tls.privateKey ?? "").isEmpty || !(tls.caCertificates ?? "").isEmpty
            if (mode != .passthrough && mode != .autoPassthrough) || hasCertificates {
                problems.error(path / "tls", "a plain-text \(parsedProtocol.rawValue) server may only set tls.httpsRedirect; use protocol HTTPS to terminate TLS")
            }
        } else if !parsedProtocol.isHTTP, !parsedProtocol.isTLS, server.tls != nil {
            problems.error(path / "tls", "only HTTPS and TLS servers may have TLS settings")
        }
        if server.tls?.httpsRedirect == true, !parsedProtocol.isHTTP {
            problems.warning(path / "tls" / "httpsRedirect", "only has an effect on HTTP servers")
        }
    }

    /// A server host: `[namespace/]dnsName`, namespace `*`, `.` or a name; dnsName an FQDN,
    /// `*.`-wildcard, `*` or an IP; never a short name.
    static func serverHostProblem(_ host: String) -> String? {
        var dnsName = host
        if host.contains("/") {
            let parts = host.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty, !parts[1].isEmpty else { return "namespace and host name must both be set in \"namespace/host\"" }
            if parts[0] != "*", parts[0] != ".", !Rules.isDNS1123Label(parts[0]) {
                return "namespace \"\(parts[0].prefix(70))\" must be \"*\", \".\" or a namespace name"
            }
            dnsName = parts[1]
        }
        if dnsName != "*", !dnsName.contains(".") {
            return "short name \"\(dnsName.prefix(70))\" is not allowed; use a fully qualified name such as \(dnsName).example.com"
        }
        if Rules.isPartialWildcard(dnsName) {
            return "partial wildcard \"\(dnsName.prefix(70))\" is not allowed; a wildcard must be the whole first label (\"*.example.com\")"
        }
        if let problem = Rules.wildcardDomainProblem(dnsName), !Rules.isIPv4(dnsName) {
            return problem
        }
        return nil
    }

    static let cipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ]

    /// `validateTLSOptions`: what each mode requires and forbids.
    static func validateTLS(_ tls: ServerTLSSettings, _ path: FieldPath, into problems: inout Problems) {
        let mode = tls.mode ?? .passthrough
        func isSet(_ value: String?) -> Bool { !(value ?? "").isEmpty }
        func isSet(_ value: [String]?) -> Bool { !(value ?? []).isEmpty }
        if let minimum = tls.minProtocolVersion, minimum == .v1_0 || minimum == .v1_1, !isSet(tls.cipherSuites) {
            problems.warning(path / "minProtocolVersion", "TLS versions below 1.2 need cipherSuites that support them; the default suites do not")
        }
        if let minimum = tls.minProtocolVersion, let maximum = tls.maxProtocolVersion, minimum != .auto, maximum != .auto, minimum > maximum {
            problems.error(path / "maxProtocolVersion", "must not be lower than minProtocolVersion \(minimum.rawValue)")
        }
        var seenSuites: Set<String> = []
        for (index, suite) in (tls.cipherSuites ?? []).enumerated() {
            let special = suite.isEmpty || suite == "ALL" || !(suite.utf8.first.map(Rules.isAlphanumeric) ?? false)
            if !special, !cipherSuites.contains(suite) {
                problems.warning(path / "cipherSuites" / index, "unknown cipher suite \"\(suite.prefix(60))\" is ignored")
            } else if !seenSuites.insert(suite).inserted {
                problems.warning(path / "cipherSuites" / index, "duplicate cipher suite \"\(suite.prefix(60))\" is ignored")
            }
        }
        if mode == .istioMutual {
            let fields: [(String, Bool)] = [
                ("serverCertificate", isSet(tls.serverCertificate)), ("privateKey", isSet(tls.privateKey)),
                ("caCertificates", isSet(tls.caCertificates)), ("tlsCertificates", !(tls.tlsCertificates ?? []).isEmpty),
                ("credentialName", isSet(tls.credentialName)), ("credentialNames", isSet(tls.credentialNames)),
            ]
            for (field, present) in fields where present {
                problems.error(path / field, "must not be set with mode ISTIO_MUTUAL, which uses Istio's workload certificates")
            }
            return
        }
        let certificateFields = isSet(tls.caCrl) || isSet(tls.serverCertificate) || isSet(tls.privateKey) || isSet(tls.caCertificates)
            || !(tls.tlsCertificates ?? []).isEmpty || isSet(tls.credentialName) || isSet(tls.credentialNames)
        if mode == .passthrough || mode == .autoPassthrough {
            if certificateFields {
                problems.warning(path / "mode", "\(mode.rawValue) does not terminate TLS; the certificates set here are ignored")
            }
        }
        let sources = [
            isSet(tls.serverCertificate) && isSet(tls.privateKey), isSet(tls.credentialName),
            isSet(tls.credentialNames), !(tls.tlsCertificates ?? []).isEmpty,
        ].filter { $0 }.count
        if sources > 1 {
            problems.error(path, "only one of credentialName, credentialNames, serverCertificate/privateKey or tlsCertificates may be set")
        }
        if let names = tls.credentialNames, names.count > 2 {
            problems.error(path / "credentialNames", "may list at most 2 credentials (one RSA, one ECDSA)")
        }
        if let certificates = tls.tlsCertificates, certificates.count > 2 {
            problems.error(path / "tlsCertificates", "may list at most 2 certificates (one RSA, one ECDSA)")
        }
        let terminating = mode == .simple || mode == .mutual || mode == .optionalMutual
        if terminating, isSet(tls.credentialName) || isSet(tls.credentialNames) {
            return
        }
        if terminating {
            if mode != .simple, !isSet(tls.caCertificates) {
                problems.error(path / "caCertificates", "mode \(mode.rawValue) needs a client CA bundle: set caCertificates or use credentialName")
            }
            if let certificates = tls.tlsCertificates, !certificates.isEmpty {
                for (index, certificate) in certificates.enumerated() {
                    if !isSet(certificate.serverCertificate) { problems.error(path / "tlsCertificates" / index / "serverCertificate", "is required") }
                    if !isSet(certificate.privateKey) { problems.error(path / "tlsCertificates" / index / "privateKey", "is required") }
                }
            } else {
                if !isSet(tls.serverCertificate) {
                    problems.error(path / "serverCertificate", "mode \(mode.rawValue) needs a certificate: set credentialName, or serverCertificate and privateKey")
                }
                if !isSet(tls.privateKey) {
                    problems.error(path / "privateKey", "mode \(mode.rawValue) needs a private key: set credentialName, or serverCertificate and privateKey")
                }
            }
        }
        if isSet(tls.caCrl) {
            if isSet(tls.credentialName) {
                problems.error(path / "caCrl", "is not supported with credentialName; put the CRL in the credential")
            } else if mode == .simple {
                problems.error(path / "caCrl", "is not supported with mode SIMPLE (no client certificates are verified)")
            }
        }
    }
}
