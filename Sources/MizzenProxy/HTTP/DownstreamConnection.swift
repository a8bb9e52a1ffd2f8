import MizzenRouting
import NIOCore

/// What a request's handler knows about the connection it arrived on.
final class DownstreamConnection {
    /// The listener port as configured (before `--port-map`), which routing keys on.
    let listenerPort: UInt32
    let remoteAddress: SocketAddress?
    /// The client's IP as text, for `x-forwarded-for` and source-IP hashing.
    let remoteIP: String?
    /// TLS server name (SNI) of a terminated TLS connection.
    let serverName: String?
    /// The server that terminated TLS, when one did.
    let tlsServer: ServerEntry?
    var isTLS: Bool { tlsServer != nil }
    let isHTTP2: Bool

    init(listenerPort: UInt32, remoteAddress: SocketAddress?, serverName: String?, tlsServer: ServerEntry?, isHTTP2: Bool) {
        self.listenerPort = listenerPort
        self.remoteAddress = remoteAddress
        self.remoteIP = remoteAddress?.ipAddress
        self.serverName = serverName
        self.tlsServer = tlsServer
        self.isHTTP2 = isHTTP2
    }
}

@available(*, unavailable)
extension DownstreamConnection: Sendable {}
