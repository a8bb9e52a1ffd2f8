import NIOCore
import NIOPosix

/// Where a listener port is actually bound: `--port-map 80=8080` lets an unprivileged process
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
}

/// The bound server sockets, one per listener port of the current route table.
package actor ListenerManager {
    private let engine: ProxyEngine
    private let binding: ListenerBinding
    private var channels: [UInt32: any Channel] = [:]

    package init(engine: ProxyEngine, binding: ListenerBinding) {
        self.engine = engine
        self.binding = binding
    }

    /// The ports actually bound, by listener port (port 0 in a port map binds an ephemeral port).
    package var boundPorts: [UInt32: Int] {
        channels.mapValues { $0.localAddress?.port ?? 0 }
    }

    /// Binds the listener ports not bound yet and closes those no longer configured. A port
    /// that cannot be bound is reported and the others still served.
    package func reconcile(listenerPorts: [UInt32]) async -> [String] {
        var problems: [String] = []
        let wanted = Set(listenerPorts)
        for (port, channel) in channels where !wanted.contains(port) {
            try? await channel.close()
            channels[port] = nil
        }
        for port in listenerPorts.sorted() where channels[port] == nil {
            let engine = self.engine
            let bootstrap = ServerBootstrap(group: engine.group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try ConnectionInitializer.initialize(channel: channel, listenerPort: port, engine: engine)
                    }
                }
            let bindPort = binding.bindPort(for: port)
            do {
                let channel = try await bootstrap.bind(host: binding.host, port: bindPort).get()
                channels[port] = channel
            } catch {
                problems.append("listener port \(port): cannot bind \(binding.host):\(bindPort): \(error)")
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
