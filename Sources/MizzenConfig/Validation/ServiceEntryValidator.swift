/// Istio's rules for ServiceEntry and WorkloadEntry (`ValidateServiceEntry`, `ValidateWorkloadEntry`).
package enum ServiceEntryValidator {
    /// `labels` are the object's metadata labels (IP auto-allocation and waypoints read them).
    package static func validate(_ entry: ServiceEntry, namespace: String, labels: [String: String] = [:], into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        let resolution = entry.resolution ?? .none
        if let selector = entry.workloadSelector {
            let labels = selector.labels ?? [:]
            if labels.isEmpty { problems.warning(spec / "workloadSelector", "selects no labels, so it applies to every workload in the namespace") }
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                if key.isEmpty { problems.error(spec / "workloadSelector" / "labels", "label keys must not be empty") }
                if key.contains("*") || value.contains("*") { problems.error(spec / "workloadSelector" / "labels" / key, "wildcards are not supported in selectors") }
            }
            if entry.endpoints != nil { problems.error(spec, "only one of workloadSelector or endpoints may be set") }
        }
        let hosts = entry.hosts ?? []
        if hosts.isEmpty { problems.error(spec / "hosts", "must list at least one host") }
        for (index, host) in hosts.enumerated() {
            let path = spec / "hosts" / index
            if host == "*" {
                problems.error(path, "\"*\" is not allowed; name the hosts")
            } else if let problem = Rules.wildcardDomainProblem(host) {
                problems.error(path, problem)
            } else if resolution != .dynamicDNS, Rules.isPartialWildcard(host) {
                problems.warning(path, "partial wildcard \"\(host)\" is not supported; a wildcard must be the whole first label")
            }
        }
        let addresses = entry.addresses ?? []
        for (index, address) in addresses.enumerated() {
            if let problem = Rules.subnetProblem(address) { problems.error(spec / "addresses" / index, problem) }
        }
        if addresses.contains(where: { $0.contains("/") }), resolution != .none, resolution != .static {
            problems.error(spec / "addresses", "CIDR blocks are only allowed with resolution NONE or STATIC")
        }
        var portNames: [String: Int] = [:]
        var portNumbers: [UInt32: Int] = [:]
        let ports = entry.ports ?? []
        for (index, port) in ports.enumerated() {
            let path = spec / "ports" / index
            if let name = port.name, !name.isEmpty {
                if !Rules.isDNS1123Label(name) { problems.error(path / "name", "must be a DNS-1123 label") }
                if let earlier = portNames[name] { problems.error(path / "name", "port name \"\(name)\" is already used by ports[\(earlier)]") } else { portNames[name] = index }
            } else {
                problems.error(path / "name", "is required")
            }
            problems.port(port.number, path / "number", required: true)
            if let number = port.number {
                if let earlier = portNumbers[number] { problems.error(path / "number", "port \(number) is already used by ports[\(earlier)]") } else { portNumbers[number] = index }
            }
            if let target = port.targetPort, target != 0, let problem = Rules.portProblem(target) { problems.error(path / "targetPort", problem) }
            if let text = port.protocol, !text.isEmpty, Rules.PortProtocol(parsing: text) == nil {
                problems.error(path / "protocol", "unknown protocol \"\(text.prefix(40))\"; expected one of \(Rules.PortProtocol.listing)")
            }
            // Istio gives a ServiceEntry without addresses a virtual IP of its own (auto-allocation,
            // on by default) unless resolution is NONE or the object opts out; without one, a TCP
            // port (or one with no protocol) cannot be told apart from other services on it. The
            // protocol is compared as written, as Istio does (`tcp` does not warn).
            if addresses.isEmpty, !autoAllocatesAddress(resolution: resolution, labels: labels), (port.protocol ?? "").isEmpty || port.protocol == "TCP" {
                problems.warning(path, "needs addresses: a TCP port (or one without protocol) of a ServiceEntry without an address cannot be told apart from other services' traffic, and no address is allocated automatically (\(resolution == .none ? "resolution NONE" : "networking.istio.io/enable-autoallocate-ip: false"))")
            }
        }
        let endpoints = entry.endpoints ?? []
        switch resolution {
        case .none:
            if !endpoints.isEmpty { problems.error(spec / "endpoints", "must be empty with resolution NONE (traffic goes to the original destination)") }
            if entry.workloadSelector != nil { problems.warning(spec / "workloadSelector", "has no effect with resolution NONE") }
        case .static:
            for (index, endpoint) in endpoints.enumerated() {
                WorkloadEntryValidator.validate(endpoint, spec / "endpoints" / index, servicePorts: Set(portNames.keys), allowFQDN: false, into: &problems)
            }
        case .dns, .dnsRoundRobin:
            if endpoints.isEmpty {
                for (index, host) in hosts.enumerated() where Rules.fqdnProblem(host) != nil {
                    problems.error(spec / "hosts" / index, "resolution \(resolution.rawValue) without endpoints resolves the hosts themselves, so each must be a fully qualified name without wildcards")
                    break
                }
            }
            if resolution == .dnsRoundRobin, endpoints.count > 1 {
                problems.error(spec / "endpoints", "resolution DNS_ROUND_ROBIN allows at most one endpoint")
            }
            for (index, endpoint) in endpoints.enumerated() {
                // Istio checks DNS endpoints on their own terms: an IP or a host name to resolve,
                // never a unix socket or an address left to a network gateway.
                let address = endpoint.address ?? ""
                if !Rules.isIP(address), Rules.fqdnProblem(address) != nil || address.contains(":") {
                    problems.error(spec / "endpoints" / index / "address",
                                   "\"\(address.prefix(80))\" is neither an IP address nor a host name (resolution \(resolution.rawValue) resolves host names)")
                    var rest = endpoint
                    rest.address = "0.0.0.0"
                    WorkloadEntryValidator.validate(rest, spec / "endpoints" / index, servicePorts: Set(portNames.keys), allowFQDN: true, into: &problems)
                } else {
                    WorkloadEntryValidator.validate(endpoint, spec / "endpoints" / index, servicePorts: Set(portNames.keys), allowFQDN: true, into: &problems)
                }
            }
            if !addresses.isEmpty, hosts.count > 1,
               ports.contains(where: { $0.protocol.flatMap(Rules.PortProtocol.init(parsing:))?.isTCP ?? false }) {
                problems.warning(spec / "addresses", "one address for several hosts with a TCP-based port (TCP, TLS, HTTPS, MONGO, REDIS, MYSQL): the hosts cannot be told apart on it")
            }
        case .dynamicDNS:
            for (index, host) in hosts.enumerated() where !host.hasPrefix("*") {
                problems.error(spec / "hosts" / index, "resolution DYNAMIC_DNS needs wildcard hosts (\"*.example.com\")")
            }
            if !addresses.isEmpty { problems.error(spec / "addresses", "must be empty with resolution DYNAMIC_DNS") }
            if entry.location == .meshInternal, let waypoint = labels["istio.io/use-waypoint"], !waypoint.isEmpty, waypoint.lowercased() != "none" {
                problems.error(spec / "location", "MESH_INTERNAL with resolution DYNAMIC_DNS is not supported behind a waypoint (istio.io/use-waypoint: \(waypoint.prefix(60)))")
            }
            if !endpoints.isEmpty { problems.error(spec / "endpoints", "must be empty with resolution DYNAMIC_DNS") }
            for (index, port) in ports.enumerated() {
                let parsed = port.protocol.flatMap(Rules.PortProtocol.init(parsing:))
                if ![.http, .tls, .grpc, .http2].contains(parsed) {
                    problems.error(spec / "ports" / index / "protocol", "resolution DYNAMIC_DNS supports HTTP, TLS, GRPC and HTTP2 ports only")
                }
            }
        }
        if resolution != .none, hosts.count > 1,
           let index = ports.firstIndex(where: { port in !(port.protocol.flatMap(Rules.PortProtocol.init(parsing:)).map { $0.isHTTP || $0.isTLS } ?? false) }) {
            problems.error(spec / "ports" / index, "a ServiceEntry with several hosts can only have HTTP or TLS ports (TCP cannot tell the hosts apart)")
        }
        problems.exportTo(entry.exportTo, namespace: namespace, spec / "exportTo", allowNobody: true)
    }

    /// Istio's IP auto-allocation (PILOT_ENABLE_IP_AUTOALLOCATE, on by default) gives an entry
    /// without addresses one, except with resolution NONE or the opt-out label.
    static func autoAllocatesAddress(resolution: ServiceEntry.Resolution, labels: [String: String]) -> Bool {
        // Istio compares the label's value case-insensitively (strings.EqualFold).
        resolution != .none && labels["networking.istio.io/enable-autoallocate-ip"]?.lowercased() != "false"
    }
}

package enum WorkloadEntryValidator {
    package static func validate(_ entry: WorkloadEntry, _ path: FieldPath, servicePorts: Set<String>?, allowFQDN: Bool, into problems: inout Problems) {
        let address = entry.address ?? ""
        if address.isEmpty {
            if (entry.network ?? "").isEmpty {
                problems.error(path / "address", "is required (or network, for an endpoint reached through a gateway)")
                return
            }
            problems.warning(path / "address", "is unset; the endpoint is reached through network \(entry.network ?? "")")
        } else if address.hasPrefix("unix://") {
            if let problem = Rules.unixAddressProblem(String(address.dropFirst("unix://".count))) { problems.error(path / "address", problem) }
            if !(entry.ports ?? [:]).isEmpty { problems.error(path / "ports", "a unix socket endpoint has no ports") }
            if let servicePorts, servicePorts.count != 1 { problems.error(path / "address", "a unix socket endpoint needs exactly one service port") }
        } else if !Rules.isIP(address) {
            if !allowFQDN {
                problems.error(path / "address", "\"\(address.prefix(80))\" must be an IP address with resolution STATIC")
            } else if Rules.fqdnProblem(address) != nil || address.contains(":") {
                problems.error(path / "address", "\"\(address.prefix(80))\" is neither an IP address nor a host name")
            }
        }
        for (name, number) in (entry.ports ?? [:]).sorted(by: { $0.key < $1.key }) {
            let portPath = path / "ports" / name
            if !Rules.isDNS1123Label(name) { problems.error(portPath, "port name must be a DNS-1123 label", atKey: true) }
            if let servicePorts, !servicePorts.contains(name) { problems.error(portPath, "names no port of the ServiceEntry", atKey: true) }
            if let problem = Rules.portProblem(number) { problems.error(portPath, problem) }
        }
        problems.labels(entry.labels, path / "labels")
        if let weight = entry.weight, weight == 0 { problems.warning(path / "weight", "0 means the default weight 1") }
        if let account = entry.serviceAccount, !account.isEmpty, Rules.kubernetesNameProblem(account, allowDots: true) != nil {
            problems.error(path / "serviceAccount", "must be a Kubernetes service account name")
        }
    }
}

/// Checks on the Kubernetes objects Mizzen reads (the API server's rules for the fields it uses).
package enum KubernetesValidator {
    package static func service(_ service: KubernetesService, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        var names: Set<String> = []
        let ports = service.spec?.ports ?? []
        for (index, port) in ports.enumerated() {
            let path = spec / "ports" / index
            if let number = port.port {
                if !(1...65535).contains(number) { problems.error(path / "port", "port number \(number) must be between 1 and 65535") }
            } else {
                problems.error(path / "port", "is required")
            }
            if let name = port.name, !name.isEmpty {
                if Rules.kubernetesNameProblem(name, allowDots: false) != nil { problems.error(path / "name", "must be a lower-case DNS-1123 label") }
                if !names.insert(name).inserted { problems.error(path / "name", "port name \"\(name)\" is used twice") }
            } else if ports.count > 1 {
                problems.error(path / "name", "is required when a Service has several ports")
            }
            if case .int(let target) = port.targetPort, !(1...65535).contains(target) {
                problems.error(path / "targetPort", "port number \(target) must be between 1 and 65535")
            }
            if let proto = port.protocol, !["TCP", "UDP", "SCTP"].contains(proto) {
                problems.error(path / "protocol", "must be TCP, UDP or SCTP")
            }
        }
        if let clusterIP = service.spec?.clusterIP, !clusterIP.isEmpty, clusterIP != "None", !Rules.isIP(clusterIP) {
            problems.error(spec / "clusterIP", "must be an IP address or \"None\"")
        }
    }

    package static func endpoints(_ endpoints: KubernetesEndpoints, into problems: inout Problems) {
        for (subsetIndex, subset) in (endpoints.subsets ?? []).enumerated() {
            let path = FieldPath.root / "subsets" / subsetIndex
            for (field, addresses) in [("addresses", subset.addresses), ("notReadyAddresses", subset.notReadyAddresses)] {
                for (index, address) in (addresses ?? []).enumerated() where !Rules.isIP(address.ip ?? "") {
                    problems.error(path / field / index / "ip", "must be an IP address")
                }
            }
            for (index, port) in (subset.ports ?? []).enumerated() {
                if let number = port.port, !(1...65535).contains(number) { problems.error(path / "ports" / index / "port", "port number \(number) must be between 1 and 65535") }
                if port.port == nil { problems.error(path / "ports" / index / "port", "is required") }
            }
        }
    }

    package static func endpointSlice(_ slice: KubernetesEndpointSlice, into problems: inout Problems) {
        let type = slice.addressType ?? ""
        if !["IPv4", "IPv6", "FQDN"].contains(type) { problems.error(FieldPath.root / "addressType", type.isEmpty ? "is required" : "must be IPv4, IPv6 or FQDN") }
        for (index, endpoint) in (slice.endpoints ?? []).enumerated() {
            let path = FieldPath.root / "endpoints" / index / "addresses"
            if (endpoint.addresses ?? []).isEmpty { problems.error(path, "must list at least one address") }
            for (addressIndex, address) in (endpoint.addresses ?? []).enumerated() {
                let valid = type == "IPv4" ? Rules.isIPv4(address) : type == "IPv6" ? Rules.isIPv6(address) : Rules.fqdnProblem(address) == nil
                if !valid, !type.isEmpty { problems.error(path / addressIndex, "\"\(address.prefix(80))\" is not a valid \(type) address") }
            }
        }
        for (index, port) in (slice.ports ?? []).enumerated() {
            if let number = port.port, !(1...65535).contains(number) { problems.error(FieldPath.root / "ports" / index / "port", "port number \(number) must be between 1 and 65535") }
        }
    }

    package static func secret(_ secret: KubernetesSecret, into problems: inout Problems) {
        for (key, value) in (secret.data ?? [:]).sorted(by: { $0.key < $1.key }) where Base64.decodedCount(value) == nil {
            problems.error(FieldPath.root / "data" / key, "must be base64 (use stringData for plain text)")
        }
    }
}
