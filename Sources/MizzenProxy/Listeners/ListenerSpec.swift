/// A listening socket and how the connections it accepts are served: where their destination
/// comes from, which header policy applies, and which way the traffic goes. The gateway makes
/// one per Gateway server port; the sidecar adds capture listeners (15001 outbound, 15006
/// inbound) that take their destination from the connection itself. Both hand accepted
/// connections to the same initializer and the same exchange.
package struct ListenerSpec: Sendable, Hashable, CustomStringConvertible {
    /// How a connection's destination is known.
    package enum Destination: Sendable, Hashable {
        /// Requests route as arriving on this port of the route table (a Gateway server's port;
        /// the socket may be bound elsewhere, `--port-map`).
        case listenerPort(UInt32)
        /// The connection was redirected here (iptables REDIRECT or TPROXY): the port it was
        /// originally sent to (SO_ORIGINAL_DST) routes it.
        case originalDestination
    }

    /// Envoy's forwarding rules for the clients the listener serves (`UpstreamRequestBuilder`).
    package enum HeaderPolicy: Sendable, Hashable {
        /// Clients outside the mesh (an ingress gateway): `x-envoy-*` stripped, the client
        /// appended to `x-forwarded-for`, `x-forwarded-proto` set, a request id made.
        case edge
        /// Clients in the mesh (a sidecar): their headers trusted.
        case mesh
    }

    /// Istio's reporter: a gateway and a sidecar's outbound side report as the source, the
    /// inbound side as the destination.
    package enum Direction: Sendable, Hashable {
        case outbound
        case inbound
    }

    package var name: String
    /// Where to bind.
    package var host: String
    package var port: Int
    package var destination: Destination
    package var headerPolicy: HeaderPolicy
    package var direction: Direction
    /// TPROXY interception: the socket accepts connections to addresses that are not the
    /// host's (IP_TRANSPARENT, needs NET_ADMIN) and a connection's destination is its local
    /// address.
    package var transparent: Bool

    package init(name: String, host: String, port: Int, destination: Destination, headerPolicy: HeaderPolicy = .edge, direction: Direction = .outbound,
                 transparent: Bool = false) {
        self.name = name
        self.host = host
        self.port = port
        self.destination = destination
        self.headerPolicy = headerPolicy
        self.direction = direction
        self.transparent = transparent
    }


    package var description: String {
        switch destination {
        case .listenerPort(let tablePort): "\(name) on \(host):\(port) (gateway port \(tablePort))"
        case .originalDestination: "\(name) on \(host):\(port) (original destination)"
        }
    }
}

/// A sidecar's capture listeners, where iptables sends the pod's traffic (`mizzen iptables -p
/// -z`): Envoy's `virtualOutbound` (15001) and `virtualInbound` (15006). Both take each
/// connection's destination from the connection, and trust the mesh's headers.
package struct CaptureListeners: Sendable, Hashable {
    package var host: String
    package var outboundPort: Int
    package var inboundPort: Int
    /// Also on `[::]` (the pod has IPv6: ip6tables redirects there too).
    package var ipv6: Bool
    /// Inbound interception by TPROXY (istio-iptables `-m TPROXY`) rather than REDIRECT;
    /// outbound is redirected in both modes.
    package var inboundTransparent: Bool

    package init(host: String = "0.0.0.0", outboundPort: Int = 15001, inboundPort: Int = 15006, ipv6: Bool = false, inboundTransparent: Bool = false) {
        self.host = host
        self.outboundPort = outboundPort
        self.inboundPort = inboundPort
        self.ipv6 = ipv6
        self.inboundTransparent = inboundTransparent
    }

    package var specs: [ListenerSpec] {
        let hosts = ipv6 && host == "0.0.0.0" ? [host, "::"] : [host]
        return hosts.flatMap { host in
            [ListenerSpec(name: "virtualOutbound", host: host, port: outboundPort, destination: .originalDestination, headerPolicy: .mesh, direction: .outbound),
             ListenerSpec(name: "virtualInbound", host: host, port: inboundPort, destination: .originalDestination, headerPolicy: .mesh, direction: .inbound,
                          transparent: inboundTransparent)]
        }
    }
}

/// Where a gateway's listener ports are bound: `--port-map 80=8080` lets an unprivileged process
/// serve the Gateway's port 80 on 8080, as Istio's gateway pods do.
package struct ListenerBinding: Sendable {
    package var host: String
    package var portMap: [UInt32: Int]

    package init(host: String, portMap: [UInt32: Int]) {
        self.host = host
        self.portMap = portMap
    }

    package func bindPort(for listenerPort: UInt32) -> Int {
        portMap[listenerPort] ?? Int(listenerPort)
    }

    /// The gateway's listeners: one per port of the table (Envoy names them `0.0.0.0_PORT`),
    /// with the edge header policy.
    package func gatewayListeners(ports: [UInt32]) -> [ListenerSpec] {
        ports.sorted().map { port in
            ListenerSpec(name: "0.0.0.0_\(port)", host: host, port: bindPort(for: port), destination: .listenerPort(port),
                         headerPolicy: .edge, direction: .outbound)
        }
    }
}
