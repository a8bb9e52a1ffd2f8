package import MizzenConfig

/// A port of a service, as Kubernetes or a ServiceEntry declares it.
package struct ServicePortSpec: Sendable, Hashable {
    package var number: UInt32
    package var name: String?
    package var protocolName: String?
    /// The port endpoints listen on unless an endpoint says otherwise.
    package var targetPort: UInt32?
}

/// One backend instance of a service.
package struct ServiceInstance: Sendable, Hashable {
    package var address: String
    package var labels: [String: String]
    /// Endpoint port per service port name (ServiceEntry endpoint `ports`, Endpoints subsets).
    package var portsByName: [String: UInt32]
    /// Endpoint port per service port number, when the source keys by number.
    package var portsByNumber: [UInt32: UInt32]
    package var weight: UInt32
    package var locality: String?
    /// The workload's service account (WorkloadEntry `serviceAccount`), for its SPIFFE identity.
    package var serviceAccount: String? = nil

    /// The port this instance serves `port` on: the endpoint's own mapping, else the service
    /// port's targetPort, else the service port number.
    package func endpointPort(for port: ServicePortSpec) -> UInt32 {
        if let name = port.name, let mapped = portsByName[name] { return mapped }
        if let mapped = portsByNumber[port.number] { return mapped }
        return port.targetPort ?? port.number
    }
}

/// A service known to the registry: its host name, addresses, ports and instances.
package struct RegistryService: Sendable, Equatable {
    package enum Origin: Sendable, Hashable {
        case kubernetes
        case serviceEntry(resolution: ServiceEntry.Resolution)
    }

    package var hostname: String
    package var namespace: String
    package var addresses: [String]
    package var ports: [ServicePortSpec]
    package var instances: [ServiceInstance]
    package var origin: Origin
    package var source: ObjectReference
    /// Namespaces that may see the service (`exportTo`); nil means every namespace.
    package var exportTo: Set<String>?
    /// The workloads that serve it: a Kubernetes Service's `selector`, a ServiceEntry's
    /// `workloadSelector.labels` (a sidecar's inbound ports come from the services selecting
    /// its pod). Nil: none declared.
    package var selector: [String: String]? = nil
    /// A ServiceEntry `location: MESH_EXTERNAL` (its default): never auto mutual TLS.
    package var meshExternal = false
    /// ServiceEntry `subjectAltNames`: identities its endpoints may present.
    package var subjectAltNames: [String] = []

    package func port(_ number: UInt32) -> ServicePortSpec? { ports.first { $0.number == number } }

    package func isVisible(from namespace: String) -> Bool {
        guard let exportTo else { return true }
        return exportTo.contains("*") || exportTo.contains(namespace)
    }
}

/// Every service of a snapshot by host name: Kubernetes Services (with Endpoints and
/// EndpointSlices) and ServiceEntries (with inline endpoints or selected WorkloadEntries).
package struct ServiceRegistry: Sendable {
    package private(set) var services: [String: RegistryService] = [:]
    /// Wildcard ServiceEntry hosts, longest first.
    package private(set) var wildcardHosts: [String] = []
    /// What each Kubernetes service was made of: the resourceVersions of its Service, its
    /// Endpoints and EndpointSlices, and of every Pod. A registry made again after a change
    /// takes from the last one the services whose versions are the same (see `init(_:reusing:)`).
    /// (A hash of the versions, with how many objects: 64 bits compared per service, not a
    /// string made per object.)
    private var versions: [String: ObjectVersions] = [:]
    /// Kubernetes services taken from the registry this one reused: each equal to its service
    /// of the same name there (made from objects of the same versions, with its instances).
    package private(set) var reusedHosts: Set<String> = []

    /// The registry of `snapshot`; Kubernetes services whose objects have the same
    /// resourceVersions as when `previous` was made are taken from it, not made again (one
    /// EndpointSlice changed among 1,000 makes one service).
    package init(_ snapshot: ConfigSnapshot, reusing previous: ServiceRegistry? = nil) {
        // Each Kubernetes service's objects, by host name.
        var slicesByHost: [String: [ConfigResource<KubernetesEndpointSlice>]] = [:]
        for slice in snapshot.endpointSlices {
            guard let serviceName = slice.labels["kubernetes.io/service-name"] else { continue }
            slicesByHost["\(serviceName).\(slice.namespace).svc.cluster.local", default: []].append(slice)
        }
        var endpointsByHost: [String: ConfigResource<KubernetesEndpoints>] = [:]
        for endpoints in snapshot.endpoints { endpointsByHost["\(endpoints.name).\(endpoints.namespace).svc.cluster.local"] = endpoints }
        // Pods give endpoints their labels: their versions are part of every service's.
        var podHasher = Hasher()
        var podsKnown = true
        for pod in snapshot.pods {
            guard let version = pod.resourceVersion, !version.isEmpty else { podsKnown = false; break }
            podHasher.combine(pod.namespace)
            podHasher.combine(pod.name)
            podHasher.combine(version)
        }
        podHasher.combine(snapshot.pods.count)
        let podsVersion = podHasher.finalize()
        var rebuild: Set<String> = []
        services.reserveCapacity(snapshot.services.count + snapshot.serviceEntries.count)
        versions.reserveCapacity(snapshot.services.count)
        for service in snapshot.services {
            let hostname = "\(service.name).\(service.namespace).svc.cluster.local"
            // Every object with a resourceVersion (from the API server), or nothing is kept.
            var known = podsKnown && !(service.resourceVersion ?? "").isEmpty
            var version = Hasher()
            var objects = 1
            version.combine(service.resourceVersion ?? "")
            version.combine(podsVersion)
            if let endpoints = endpointsByHost[hostname] {
                known = known && !(endpoints.resourceVersion ?? "").isEmpty
                version.combine("endpoints")
                version.combine(endpoints.resourceVersion ?? "")
                objects += 1
            }
            for slice in slicesByHost[hostname] ?? [] {
                known = known && !(slice.resourceVersion ?? "").isEmpty
                version.combine(slice.name)
                version.combine(slice.resourceVersion ?? "")
                objects += 1
            }
            let versionKey = ObjectVersions(hash: version.finalize(), count: objects)
            if known { versions[hostname] = versionKey }
            // Made of the same objects as last time: the service as it was, instances and all.
            if known, let previous, previous.versions[hostname] == versionKey, let kept = previous.services[hostname], kept.origin == .kubernetes {
                services[hostname] = kept
                reusedHosts.insert(hostname)
                continue
            }
            rebuild.insert(hostname)
            let spec = service.payload.spec
            let ports = (spec?.ports ?? []).compactMap { port -> ServicePortSpec? in
                guard let number = port.port, number > 0 else { return nil }
                var target: UInt32?
                if case .int(let value) = port.targetPort, value > 0 { target = UInt32(value) }
                return ServicePortSpec(number: UInt32(number), name: port.name, protocolName: port.appProtocol ?? port.name.map(Self.protocolFromName), targetPort: target)
            }
            var addresses: [String] = []
            if let ips = spec?.clusterIPs, !ips.isEmpty { addresses = ips } else if let ip = spec?.clusterIP { addresses = [ip] }
            addresses.removeAll { $0 == "None" || $0.isEmpty }
            services[hostname] = RegistryService(hostname: hostname, namespace: service.namespace, addresses: addresses, ports: ports,
                                                 instances: [], origin: .kubernetes, source: service.reference, exportTo: nil,
                                                 selector: spec?.selector)
        }
        // Pods give Kubernetes endpoints their labels (subsets select by them) and service
        // accounts (mesh identities), found by the endpoint's targetRef, else by address.
        var podsByName: [String: PodFacts] = [:]
        var podsByAddress: [String: PodFacts] = [:]
        for pod in snapshot.pods {
            let facts = PodFacts(labels: pod.labels,
                                 serviceAccount: pod.payload.spec?.serviceAccountName ?? pod.payload.spec?.serviceAccount ?? "default")
            podsByName["\(pod.namespace)/\(pod.name)"] = facts
            var addresses = (pod.payload.status?.podIPs ?? []).compactMap(\.ip)
            if let ip = pod.payload.status?.podIP, !addresses.contains(ip) { addresses.append(ip) }
            if pod.payload.spec?.hostNetwork == true { addresses = [] }
            for address in addresses { podsByAddress[address] = facts }
        }
        func pod(_ targetRef: KubernetesObjectReference?, namespace: String, address: String) -> PodFacts? {
            if let reference = targetRef, reference.kind ?? "Pod" == "Pod", let name = reference.name, !podsByName.isEmpty,
               let facts = podsByName["\(reference.namespace ?? namespace)/\(name)"] {
                return facts
            }
            return podsByAddress.isEmpty ? nil : podsByAddress[address]
        }
        for endpoints in snapshot.endpoints {
            let hostname = "\(endpoints.name).\(endpoints.namespace).svc.cluster.local"
            guard services[hostname] != nil, rebuild.contains(hostname) else { continue }
            for subset in endpoints.payload.subsets ?? [] {
                var byName: [String: UInt32] = [:]
                var byNumber: [UInt32: UInt32] = [:]
                for port in subset.ports ?? [] {
                    guard let number = port.port, number > 0 else { continue }
                    if let name = port.name { byName[name] = UInt32(number) }
                    if let servicePort = services[hostname]?.ports.first(where: { $0.name == port.name }) { byNumber[servicePort.number] = UInt32(number) }
                }
                for address in subset.addresses ?? [] {
                    guard let ip = address.ip else { continue }
                    let facts = pod(address.targetRef, namespace: endpoints.namespace, address: ip)
                    services[hostname]?.instances.append(ServiceInstance(address: ip, labels: facts?.labels ?? [:], portsByName: byName, portsByNumber: byNumber,
                                                                         weight: 1, locality: nil, serviceAccount: facts?.serviceAccount))
                }
            }
        }
        // The same endpoint in two slices of a service (a slice being replaced) counts once.
        // Instances are told apart by address first: only one seen before is compared whole
        // (hashing every instance with its labels was a third of making a 50,000-endpoint registry).
        for (hostname, slices) in slicesByHost where rebuild.contains(hostname) && services[hostname] != nil {
            var instances: [ServiceInstance] = []
            var addresses = Set<String>()
            for slice in slices {
                var byName: [String: UInt32] = [:]
                for port in slice.payload.ports ?? [] {
                    if let number = port.port, number > 0 { byName[port.name ?? ""] = UInt32(number) }
                }
                for endpoint in slice.payload.endpoints ?? [] where endpoint.conditions?.ready != false {
                    for address in endpoint.addresses ?? [] {
                        let facts = pod(endpoint.targetRef, namespace: slice.namespace, address: address)
                        let instance = ServiceInstance(address: address, labels: facts?.labels ?? [:], portsByName: byName, portsByNumber: [:], weight: 1,
                                                       locality: endpoint.zone, serviceAccount: facts?.serviceAccount)
                        if addresses.insert(address).inserted || !instances.contains(instance) { instances.append(instance) }
                    }
                }
            }
            services[hostname]?.instances.append(contentsOf: instances)
        }
        for entry in snapshot.serviceEntries {
            let spec = entry.spec
            let resolution = spec.resolution ?? .none
            let ports = (spec.ports ?? []).compactMap { port -> ServicePortSpec? in
                guard let number = port.number else { return nil }
                return ServicePortSpec(number: number, name: port.name, protocolName: port.protocol, targetPort: port.targetPort)
            }
            var instances: [ServiceInstance] = (spec.endpoints ?? []).map { Self.instance($0) }
            if let selector = spec.workloadSelector?.labels {
                for workload in snapshot.workloadEntries where workload.namespace == entry.namespace
                    && selector.allSatisfy({ (workload.spec.labels ?? [:])[$0.key] == $0.value }) {
                    instances.append(Self.instance(workload.spec))
                }
            }
            let exportTo = spec.exportTo.map { entries in Set(entries.map { $0 == "." ? entry.namespace : $0 }) }
            for host in spec.hosts ?? [] {
                let hostname = Self.expand(host, namespace: entry.namespace)
                var hostInstances = instances
                if (resolution == .dns || resolution == .dnsRoundRobin), hostInstances.isEmpty, !hostname.hasPrefix("*") {
                    // DNS resolution of the host itself when no endpoints are listed.
                    hostInstances = [ServiceInstance(address: hostname, labels: [:], portsByName: [:], portsByNumber: [:], weight: 1, locality: nil)]
                }
                let service = RegistryService(hostname: hostname, namespace: entry.namespace, addresses: spec.addresses ?? [], ports: ports,
                                              instances: hostInstances, origin: .serviceEntry(resolution: resolution), source: entry.reference, exportTo: exportTo,
                                              selector: spec.workloadSelector?.labels, meshExternal: (spec.location ?? .meshExternal) == .meshExternal,
                                              subjectAltNames: spec.subjectAltNames ?? [])
                if let existing = services[hostname], existing.origin == .kubernetes {
                    // A ServiceEntry naming a Kubernetes service only decorates it.
                    continue
                } else if services[hostname] != nil {
                    services[hostname]?.instances.append(contentsOf: hostInstances)
                } else {
                    services[hostname] = service
                }
                if hostname.hasPrefix("*") { wildcardHosts.append(hostname) }
            }
        }
        wildcardHosts.sort { $0.count > $1.count }
    }

    static func instance(_ workload: WorkloadEntry) -> ServiceInstance {
        ServiceInstance(address: workload.address ?? "", labels: workload.labels ?? [:], portsByName: workload.ports ?? [:],
                        portsByNumber: [:], weight: max(workload.weight ?? 1, 1), locality: workload.locality, serviceAccount: workload.serviceAccount)
    }

    /// The protocol a Kubernetes port name implies (`http-web`, `grpc`, `tcp-db`).
    static func protocolFromName(_ name: String) -> String {
        let prefix = name.split(separator: "-", maxSplits: 1).first.map(String.init) ?? name
        return prefix.uppercased()
    }

    /// Short names expand with the namespace of the object that wrote them.
    package static func expand(_ host: String, namespace: String) -> String {
        ConfigAnalyzer.expand(host, namespace: namespace)
    }

    /// The service for a host: exact name first, then the most specific wildcard ServiceEntry.
    package func service(for host: String) -> RegistryService? {
        if let exact = services[host] { return exact }
        for wildcard in wildcardHosts where HostName.matches(wildcard, host) { return services[wildcard] }
        return nil
    }

    package var allServices: [RegistryService] {
        services.values.sorted { $0.hostname < $1.hostname }
    }
}

/// The objects a Kubernetes service was made of: a hash of their names and versions, and how
/// many there were.
struct ObjectVersions: Equatable, Sendable {
    var hash: Int
    var count: Int
}

/// What a Pod tells about the endpoints it backs.
struct PodFacts {
    var labels: [String: String]
    var serviceAccount: String
}
