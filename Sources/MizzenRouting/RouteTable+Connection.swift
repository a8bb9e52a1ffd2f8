import MizzenConfig

/// What routing decided for a TCP connection or a passed-through TLS connection.
package struct ConnectionDecision: Sendable {
    package var server: ServerEntry
    package var route: L4Route
    package var destination: WeightedCluster
}

extension RouteTable {
    /// A sidecar's captured connection, by the port and address it was sent to: the inbound
    /// listener of that pod port or the outbound listener of that service port. With
    /// `explicitOnly`, only TCP routes naming the address (a service VIP) take it: those are
    /// decided before any byte is read, as Envoy's filter-chain match on the destination.
    package func decideCapturedConnection(inbound: Bool, port: UInt32, destinationAddress: String?, explicitOnly: Bool, random: UInt64) -> ConnectionDecision? {
        guard let listener = inbound ? inboundListener(port: port) : listener(port: port) else { return nil }
        for server in listener.servers where server.kind == .tcp && !(explicitOnly && server.protocolName == Self.sniffedProtocol) {
            for route in server.tcpRoutes where (!explicitOnly || !route.destinationSubnets.isEmpty) && Self.subnetsAllow(route.destinationSubnets, destinationAddress) {
                if let chosen = Self.pick(route.destinations, random: random) {
                    return ConnectionDecision(server: server, route: route, destination: chosen)
                }
            }
        }
        return nil
    }

    /// A sidecar's outbound TLS connection by its SNI (`tls` routes of `mesh` VirtualServices),
    /// exact name first, then the longest wildcard.
    package func decideCapturedTLS(port: UInt32, serverName: String, destinationAddress: String?, random: UInt64) -> ConnectionDecision? {
        guard let listener = listener(port: port) else { return nil }
        let name = serverName.lowercased()
        for server in listener.servers where server.kind == .tlsPassthrough {
            var best: (route: L4Route, specificity: Int)?
            for route in server.tlsRoutes where Self.subnetsAllow(route.destinationSubnets, destinationAddress) {
                if let rank = ServerNameMatch.bestRank(route.sniHosts, name), rank > (best?.specificity ?? -1) { best = (route, rank) }
            }
            if let best, let chosen = Self.pick(best.route.destinations, random: random) {
                return ConnectionDecision(server: server, route: best.route, destination: chosen)
            }
        }
        return nil
    }

    /// Whether a sidecar's outbound port routes TLS by SNI.
    package func routesTLSBySNI(port: UInt32) -> Bool {
        listener(port: port)?.servers.contains { $0.kind == .tlsPassthrough } ?? false
    }

    static func passthroughDecision(cluster: String) -> ConnectionDecision {
        let server = ServerEntry(gateway: nil, index: 0, name: cluster, kind: .tcp, protocolName: "TCP", hosts: [], serverNames: [], bind: nil, tls: nil,
                                 httpRoutes: nil, tcpRoutes: [], tlsRoutes: [])
        let destination = WeightedCluster(cluster: cluster, weight: 100, destination: Destination(host: cluster), headers: nil)
        let route = L4Route(source: RouteSource(virtualService: ObjectReference(kind: "Cluster", namespace: "", name: cluster), index: 0, name: cluster),
                            sniHosts: [], destinationSubnets: [], port: nil, destinations: [destination])
        return ConnectionDecision(server: server, route: route, destination: destination)
    }

    /// Routes a connection by its listener port, its TLS server name (passthrough servers) and
    /// its destination address (`destinationSubnets`); nil when nothing takes it.
    package func decideConnection(port: UInt32, serverName: String?, destinationAddress: String? = nil, random: UInt64) -> ConnectionDecision? {
        guard let listener = listener(port: port) else { return nil }
        let name = serverName?.lowercased()
        for server in listener.servers {
            switch server.kind {
            case .tlsPassthrough:
                guard let name else { continue }
                // Exact SNI first, then the longest wildcard, as Envoy's filter-chain match does.
                var best: (route: L4Route, specificity: Int)?
                for route in server.tlsRoutes where Self.subnetsAllow(route.destinationSubnets, destinationAddress) {
                    if let rank = ServerNameMatch.bestRank(route.sniHosts, name), rank > (best?.specificity ?? -1) { best = (route, rank) }
                }
                if let best, let chosen = Self.pick(best.route.destinations, random: random) {
                    return ConnectionDecision(server: server, route: best.route, destination: chosen)
                }
            case .tcp, .tlsTerminated:
                if server.kind == .tlsTerminated, let name, ServerNameMatch.bestRank(server.serverNames, name) == nil { continue }
                for route in server.tcpRoutes where Self.subnetsAllow(route.destinationSubnets, destinationAddress) {
                    if let chosen = Self.pick(route.destinations, random: random) {
                        return ConnectionDecision(server: server, route: route, destination: chosen)
                    }
                }
            case .http, .https:
                continue
            }
        }
        return nil
    }

    /// IPv4 CIDR containment (an empty list allows everything; no address, nothing narrower).
    static func subnetsAllow(_ subnets: [String], _ address: String?) -> Bool {
        guard !subnets.isEmpty else { return true }
        guard let address, let value = ipv4(address) else { return false }
        for subnet in subnets {
            let parts = subnet.split(separator: "/")
            guard let base = ipv4(String(parts[0])) else { continue }
            let bits = parts.count == 2 ? Int(parts[1]) ?? 32 : 32
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - UInt32(bits))
            if value & mask == base & mask { return true }
        }
        return false
    }

    static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".")
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt32(part), octet < 256 else { return nil }
            value = value << 8 | octet
        }
        return value
    }
}
