import NIOCore
import NIOPosix

/// The bound server sockets, one per `ListenerSpec`.
package actor ListenerManager {
    private let engine: ProxyEngine
    private var channels: [ListenerSpec: any Channel] = [:]

    package init(engine: ProxyEngine) {
        self.engine = engine
    }

    /// The ports actually bound, by spec (port 0 binds an ephemeral port).
    package var boundPorts: [ListenerSpec: Int] {
        channels.mapValues { $0.localAddress?.port ?? 0 }
    }

    /// Binds the listeners not bound yet and closes those no longer wanted. A listener that
    /// cannot be bound is reported and the others still served.
    package func reconcile(_ specs: [ListenerSpec]) async -> [String] {
        var problems: [String] = []
        let wanted = Set(specs)
        for (spec, channel) in channels where !wanted.contains(spec) {
            try? await channel.close()
            channels[spec] = nil
        }
        for spec in specs where channels[spec] == nil {
            let engine = self.engine
            var bootstrap = ServerBootstrap(group: engine.group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            if spec.host.contains(":") {
                // `[::]` beside `0.0.0.0` on one port: the IPv6 socket takes IPv6 only.
                bootstrap = bootstrap.serverChannelOption(.socket(SocketOptionLevel(IPPROTO_IPV6), SocketOptionName(IPV6_V6ONLY)), value: 1)
            }
            if spec.transparent {
                // IP_TRANSPARENT (19) / IPV6_TRANSPARENT (75): TPROXY delivers connections to
                // addresses that are not the host's.
                bootstrap = spec.host.contains(":")
                    ? bootstrap.serverChannelOption(.socket(SocketOptionLevel(IPPROTO_IPV6), SocketOptionName(75)), value: 1)
                    : bootstrap.serverChannelOption(.socket(SocketOptionLevel(IPPROTO_IP), SocketOptionName(19)), value: 1)
            }
            bootstrap = bootstrap
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try ConnectionInitializer.initialize(channel: channel, spec: spec, engine: engine)
                    }
                }
            do {
                channels[spec] = try await bootstrap.bind(host: spec.host, port: spec.port).get()
            } catch {
                problems.append("listener \(spec): cannot bind: \(error)")
            }
        }
        return problems
    }

    /// Stops accepting: closes every listening socket (connections already accepted go on).
    package func closeAll() async {
        for (_, channel) in channels { try? await channel.close() }
        channels.removeAll()
    }
}
