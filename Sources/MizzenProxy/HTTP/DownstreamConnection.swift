package import MizzenRouting
package import NIOCore

/// What a request's exchange knows about the connection it arrived on. Immutable, so a record
/// may carry it off the event loop.
package final class DownstreamConnection: Sendable {
    /// The listener that accepted it.
    package let listener: ListenerSpec
    /// The table port the request routes on (the Gateway server's port as configured, before
    /// `--port-map`; or a captured connection's original destination port).
    package let listenerPort: UInt32
    /// The client's IP as text, for `x-forwarded-for` and source-IP hashing.
    package let remoteIP: String?
    package let remoteAddress: SocketAddress?
    package let localAddress: SocketAddress?
    /// The local end as the access log prints it (`%DOWNSTREAM_LOCAL_ADDRESS%`: the original
    /// destination of a captured connection, else the listener's address), made once per
    /// connection: `inet_ntop` per request showed in the profile.
    package let localIP: String?
    package let localPort: Int?
    /// `ip:port` of each end as the access log prints them, made once per connection.
    package let localAddressLog: String?
    package let remoteAddressLog: String?
    /// Where a captured connection was going (SO_ORIGINAL_DST); nil for a gateway listener.
    package let originalDestination: SocketAddress?
    /// TLS server name (SNI) of a terminated TLS connection.
    package let serverName: String?
    /// The server that terminated TLS, when one did.
    package let tlsServer: ServerEntry?
    package let isHTTP2: Bool
    /// Accepted by a sidecar's inbound capture listener: routed by the pod port.
    package let isInbound: Bool
    /// The mesh peer of an inbound mutual TLS connection.
    package let meshPeer: MeshPeer?

    package var isTLS: Bool { tlsServer != nil }
    package var headerPolicy: ListenerSpec.HeaderPolicy { listener.headerPolicy }

    /// `ip:port` of each end, for a consistent-hash policy's generated cookie (made only then).
    var remoteAddressText: String { Self.text(remoteAddress) }
    var localAddressText: String { Self.text(localAddress) }

    private static func joined(_ ip: String?, _ port: Int?) -> String? {
        guard let ip, let port else { return ip }
        return ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private static func text(_ address: SocketAddress?) -> String {
        guard let address else { return "" }
        return "\(address.ipAddress ?? ""):\(address.port ?? 0)"
    }

    package init(listener: ListenerSpec, listenerPort: UInt32, remoteAddress: SocketAddress?, localAddress: SocketAddress?,
                 originalDestination: SocketAddress? = nil, serverName: String?, tlsServer: ServerEntry?, isHTTP2: Bool, meshPeer: MeshPeer? = nil) {
        self.listener = listener
        self.listenerPort = listenerPort
        self.remoteIP = remoteAddress?.ipAddress
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        let local = originalDestination ?? localAddress
        self.localIP = local?.ipAddress
        self.localPort = local?.port
        localAddressLog = Self.joined(localIP, localPort)
        remoteAddressLog = Self.joined(remoteIP, remoteAddress?.port)
        self.originalDestination = originalDestination
        self.serverName = serverName
        self.tlsServer = tlsServer
        self.isHTTP2 = isHTTP2
        self.isInbound = listener.direction == .inbound
        self.meshPeer = meshPeer
    }
}
