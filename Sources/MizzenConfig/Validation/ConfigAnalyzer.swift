/// Cross-object checks in the manner of `istioctl analyze`: references to gateways, services and
/// subsets that the loaded configuration does not define. Always warnings: the missing object may
/// live elsewhere (another file, the cluster).
package enum ConfigAnalyzer {
    package static func analyze(_ snapshot: ConfigSnapshot) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        func warn<P>(_ resource: ConfigResource<P>, _ path: FieldPath, _ message: String) {
            diagnostics.append(Diagnostic(severity: .warning, file: resource.source.file, mark: resource.source.mark(of: path),
                                          object: resource.reference, path: path, message: message))
        }

        let gateways = Dictionary(snapshot.gateways.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { first, _ in first })
        var serviceHosts: Set<String> = []
        var wildcardServiceHosts: [String] = []
        for service in snapshot.services { serviceHosts.insert("\(service.name).\(service.namespace).svc.cluster.local") }
        for entry in snapshot.serviceEntries {
            for host in entry.spec.hosts ?? [] {
                let full = expand(host, namespace: entry.namespace)
                if full.hasPrefix("*") { wildcardServiceHosts.append(full) } else { serviceHosts.insert(full) }
            }
        }
        let knowsServices = !snapshot.services.isEmpty || !snapshot.serviceEntries.isEmpty
        func serviceExists(_ host: String) -> Bool {
            serviceHosts.contains(host) || wildcardServiceHosts.contains { HostName.matches($0, host) }
                || (host.hasPrefix("*") && serviceHosts.contains { HostName.matches(host, $0) })
        }
        // Exact hosts by hash, wildcard hosts in a list: 10,000 routes over 1,000 hosts checked
        // against every rule one by one took a fifth of the whole load.
        var subsetsByHost: [String: Set<String>] = [:]
        var wildcardSubsets: [(host: String, subsets: Set<String>)] = []
        for rule in snapshot.destinationRules {
            guard let host = rule.spec.host else { continue }
            let full = expand(host, namespace: rule.namespace)
            let names = Set((rule.spec.subsets ?? []).compactMap(\.name))
            if full.hasPrefix("*") { wildcardSubsets.append((full, names)) } else { subsetsByHost[full, default: []].formUnion(names) }
            if knowsServices, !serviceExists(full) {
                warn(rule, FieldPath.root / "spec" / "host", "host \"\(full)\" matches no Service or ServiceEntry that was loaded")
            }
        }

        func checkDestination<P>(_ destination: Destination?, _ path: FieldPath, in resource: ConfigResource<P>) {
            guard let destination, let host = destination.host else { return }
            let full = expand(host, namespace: resource.namespace)
            if knowsServices, !serviceExists(full) {
                warn(resource, path / "host", "host \"\(full)\" matches no Service or ServiceEntry that was loaded")
            }
            if let subset = destination.subset {
                var candidates = wildcardSubsets.filter { HostName.matches($0.host, full) }.map(\.subsets)
                if let exact = subsetsByHost[full] { candidates.append(exact) }
                if full.hasPrefix("*") { candidates += subsetsByHost.filter { HostName.matches(full, $0.key) }.map(\.value) }
                if !candidates.contains(where: { $0.contains(subset) }) {
                    let ruled = !candidates.isEmpty
                    warn(resource, path / "subset", ruled
                        ? "subset \"\(subset)\" is not defined by the DestinationRule for \"\(full)\""
                        : "subset \"\(subset)\" needs a DestinationRule for \"\(full)\", and none was loaded")
                }
            }
        }

        for vs in snapshot.virtualServices {
            let spec = FieldPath.root / "spec"
            for (index, name) in (vs.spec.gateways ?? []).enumerated() where name != "mesh" {
                let key = gatewayKey(name, namespace: vs.namespace)
                guard let gateway = gateways[key] else {
                    warn(vs, spec / "gateways" / index, "gateway \"\(key)\" is not defined by any loaded Gateway")
                    continue
                }
                let serverHosts = (gateway.spec.servers ?? []).flatMap { $0.hosts ?? [] }.map { host in
                    host.split(separator: "/", maxSplits: 1).last.map(String.init) ?? host
                }
                let vsHosts = vs.spec.hosts ?? []
                if !vsHosts.isEmpty, !vsHosts.contains(where: { host in serverHosts.contains { HostName.matches($0, host) } }) {
                    warn(vs, spec / "gateways" / index, "none of the hosts (\(vsHosts.joined(separator: ", "))) is served by gateway \"\(key)\"")
                }
            }
            for (routeIndex, route) in (vs.spec.http ?? []).enumerated() {
                let path = spec / "http" / routeIndex
                for (index, destination) in (route.route ?? []).enumerated() {
                    checkDestination(destination.destination, path / "route" / index / "destination", in: vs)
                }
                checkDestination(route.mirror, path / "mirror", in: vs)
                for (index, mirror) in (route.mirrors ?? []).enumerated() {
                    checkDestination(mirror.destination, path / "mirrors" / index / "destination", in: vs)
                }
            }
            for (routeIndex, route) in (vs.spec.tcp ?? []).enumerated() {
                for (index, destination) in (route.route ?? []).enumerated() {
                    checkDestination(destination.destination, spec / "tcp" / routeIndex / "route" / index / "destination", in: vs)
                }
            }
            for (routeIndex, route) in (vs.spec.tls ?? []).enumerated() {
                for (index, destination) in (route.route ?? []).enumerated() {
                    checkDestination(destination.destination, spec / "tls" / routeIndex / "route" / index / "destination", in: vs)
                }
            }
        }
        return diagnostics
    }

    /// Short names (no dot) expand with the object's namespace (`reviews` → `reviews.default.svc.cluster.local`).
    package static func expand(_ host: String, namespace: String) -> String {
        if host == "*" || host.contains(".") || Rules.isIP(host) { return host.lowercased() }
        return "\(host).\(namespace).svc.cluster.local".lowercased()
    }

    /// `name` → `vsNamespace/name`; `ns/name` as is; legacy `name.ns.svc.cluster.local` → `ns/name`.
    package static func gatewayKey(_ reference: String, namespace: String) -> String {
        if reference.contains("/") {
            let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
            return parts[0] == "." ? "\(namespace)/\(parts[1])" : reference
        }
        let labels = reference.split(separator: ".").map(String.init)
        if labels.count >= 2 { return "\(labels[1])/\(labels[0])" }
        return "\(namespace)/\(reference)"
    }
}
