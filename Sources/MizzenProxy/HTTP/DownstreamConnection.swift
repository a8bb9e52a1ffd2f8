import MizzenRouting
import NIOCore

/// What a request's handler knows about the connection it arrived on.
final class DownstreamConnection {
    /// The listener port as configured (before `--port-map`), which routing keys on.
    let listenerPort: UInt32
    /// The client's IP as text, for `x-forwarded-for` and source-IP hashing.
    let remoteIP: String?
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?
    /// TLS server name (SNI) of a terminated TLS connection.
    let serverName: String?
    /// The server that terminated TLS, when one did.
    let tlsServer: ServerEntry?
    var isTLS: Bool { tlsServer != nil }

    /// `ip:port` of each end, for a consistent-hash policy's generated cookie (made only then).
    var remoteAddressText: String { Self.text(remoteAddress) }
    var localAddressText: String { Self.text(localAddress) }

    private static func text(_ address: SocketAddress?) -> String {
        guard let address else { return "" }
        return "\(address.ipAddress ?? ""):\(address.port ?? 0)"
    }
    let isHTTP2: Bool

    init(listenerPort: UInt32, remoteAddress: SocketAddress?, localAddress: SocketAddress?, serverName: String?, tlsServer: ServerEntry?, isHTTP2: Bool) {
        self.listenerPort = listenerPort
        self.remoteIP = remoteAddress?.ipAddress
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.serverName = serverName
        self.tlsServer = tlsServer
        self.isHTTP2 = isHTTP2
    }
}

@available(*, unavailable)
extension DownstreamConnection: Sendable {}
