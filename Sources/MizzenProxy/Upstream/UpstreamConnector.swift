#if canImport(Glibc)
import Glibc
#endif
import MizzenRouting
import NIOCore
import NIOPosix
import NIOSSL

/// Opening a connection to an upstream endpoint, for the HTTP pools and the TCP proxy alike.
enum UpstreamConnector {
    /// `sourceAddress`: the local address connections are made from (Istio's inbound clusters
    /// bind 127.0.0.6); nil: the kernel picks.
    static func bootstrap(_ eventLoop: any EventLoop, limits: ProxyLimits, settings: ConnectionSettings, sourceAddress: String? = nil,
                          destination: String? = nil) -> ClientBootstrap {
        let connectTimeout = settings.connectTimeout.map { TimeAmount.nanoseconds($0) } ?? limits.upstreamConnectTimeout
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        if var sourceAddress {
            if destination?.contains(":") == true, sourceAddress == OriginalDestinationPolicy.inboundSourceIPv4 {
                // Istio's IPv6 twin of 127.0.0.6; not an address of the host, so bound freely.
                sourceAddress = OriginalDestinationPolicy.inboundSourceIPv6
                bootstrap = bootstrap.channelOption(.socket(SocketOptionLevel(IPPROTO_IPV6), SocketOptionName(Self.ipv6FreeBind)), value: 1)
            }
            if let local = try? SocketAddress(ipAddress: sourceAddress, port: 0) { bootstrap = bootstrap.bind(to: local) }
        }
        if let keepalive = settings.tcpKeepalive {
            bootstrap = bootstrap.channelOption(.socketOption(.so_keepalive), value: 1)
            if let time = keepalive.time, time > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPIDLE)), value: SocketOptionValue(time))
            }
            if let interval = keepalive.interval, interval > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPINTVL)), value: SocketOptionValue(interval))
            }
            if let probes = keepalive.probes, probes > 0 {
                bootstrap = bootstrap.channelOption(.socket(.init(IPPROTO_TCP), .init(TCP_KEEPCNT)), value: SocketOptionValue(probes))
            }
        }
        return bootstrap
    }

    /// Linux's IPV6_FREEBIND (binding an address the host does not have).
    static let ipv6FreeBind: Int32 = 78

    /// Connects; IP literals (Kubernetes endpoints, STATIC ServiceEntries) skip the resolver.
    /// Failure is always `ProxyError.connectFailure` (503 UF).
    static func connect(_ bootstrap: ClientBootstrap, address: String, port: Int) -> EventLoopFuture<any Channel> {
        let future: EventLoopFuture<any Channel>
        if let socketAddress = try? SocketAddress(ipAddress: address, port: port) {
            future = bootstrap.connect(to: socketAddress)
        } else {
            future = bootstrap.connect(host: address, port: port)
        }
        return future.flatMapErrorThrowing { _ in throw ProxyError.connectFailure }
    }

    /// Connects and, for a TLS cluster, completes the handshake and the certificate check
    /// before the future succeeds; any failure closes the channel and is a connect failure.
    static func connect(_ bootstrap: ClientBootstrap, address: String, port: Int, tls: UpstreamTLS?, serverName: String?) -> EventLoopFuture<any Channel> {
        let connected = connect(bootstrap, address: address, port: port)
        guard let tls else { return connected }
        return connected.flatMap { channel in
            do {
                return try addTLS(tls, serverName: serverName, to: channel).map { channel }.flatMapError { _ in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(ProxyError.connectFailure)
                }
            } catch {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(ProxyError.connectFailure)
            }
        }
    }

    /// Adds TLS origination at the front of a new upstream channel; the returned future
    /// completes when the handshake and the certificate name check are done.
    static func addTLS(_ tls: UpstreamTLS, serverName: String?, to channel: any Channel) throws -> EventLoopFuture<Void> {
        // SNI must be a DNS name; an IP literal is not sent.
        let sni = serverName.flatMap { (try? SocketAddress(ipAddress: $0, port: 0)) == nil ? $0 : nil }
        let handler = try NIOSSLClientHandler(context: tls.context, serverHostname: sni)
        let done = channel.eventLoop.makePromise(of: Void.self)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(handler, position: .first)
        try sync.addHandler(UpstreamHandshakeCheck(requiredNames: tls.requiredNames(serverName: serverName), done: done), position: .after(handler))
        return done.futureResult
    }
}
