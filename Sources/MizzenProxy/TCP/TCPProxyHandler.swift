import Logging
import MizzenRouting
import MizzenTelemetry
import NIOCore
import NIOPosix

/// Forwards a downstream connection's bytes to an upstream endpoint chosen by a TCP or TLS
/// route: holds what arrives while connecting (for passthrough, the ClientHello that SNI was
/// read from), then joins the two channels with a `GlueHandler` pair and steps aside.
final class TCPProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let loop: LoopState
    private let decision: ConnectionDecision
    /// The snapshot the connection was routed with: its cluster comes from it.
    private let snapshot: ProxySnapshot
    private var buffered: [ByteBuffer] = []
    private var pendingRead = false
    private var connecting = false
    private var idleTimeout: TimeAmount?
    /// The connection's telemetry, once an endpoint was picked.
    private var tally: TCPTally?
    /// Where a captured connection was sent: an ORIGINAL_DST cluster connects there.
    private let originalDestination: SocketAddress?
    /// A sidecar's inbound connection (reported by the destination), and its mTLS peer.
    private let inbound: Bool
    private let meshPeer: MeshPeer?

    init(loop: LoopState, decision: ConnectionDecision, snapshot: ProxySnapshot, originalDestination: SocketAddress? = nil, inbound: Bool = false,
         meshPeer: MeshPeer? = nil) {
        self.loop = loop
        self.decision = decision
        self.snapshot = snapshot
        self.originalDestination = originalDestination
        self.inbound = inbound
        self.meshPeer = meshPeer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { connect(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        connect(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        buffered.append(unwrapInboundIn(data))
    }

    func read(context: ChannelHandlerContext) {
        // Nothing more is read until the upstream is there to take it.
        pendingRead = true
    }

    private func connect(context: ChannelHandlerContext) {
        guard !connecting else { return }
        connecting = true
        let channel = context.channel
        guard let published = snapshot.clusters[decision.destination.cluster] else {
            loop.logger.debug("tcp: no cluster \(decision.destination.cluster)")
            context.close(promise: nil)
            return
        }
        // PassthroughCluster, inbound clusters: to where the connection was sent.
        let cluster = loop.originalDestinations.cluster(published, destination: originalDestination) ?? published
        func refused(_ flag: ResponseFlag, endpoint: Int? = nil) {
            if let tally = loop.telemetry?.tcpConnection(cluster: cluster.cluster, endpoint: endpoint, remoteAddress: channel.remoteAddress,
                                                         localAddress: channel.localAddress, inbound: inbound, meshPeer: meshPeer) {
                tally.responseFlags.insert(flag)
                tally.close()
            }
            context.close(promise: nil)
        }
        guard !cluster.endpoints.isEmpty else {
            loop.logger.debug("tcp: no endpoints for \(decision.destination.cluster)")
            refused(.noHealthyUpstream)
            return
        }
        let remoteIP = channel.remoteAddress?.ipAddress
        let hashKey = cluster.plan.hashPolicy?.key(header: { _ in nil }, cookie: { _ in nil }, sourceAddress: remoteIP, query: { _ in nil })
        guard let index = loop.pickEndpoint(cluster, hashKey: hashKey) else {
            refused(.noHealthyUpstream)
            return
        }
        let endpoint = cluster.endpoints[index]
        if cluster.tlsProblem != nil {
            refused(.upstreamConnectionFailure, endpoint: index)
            return
        }
        // `tcp.maxConnections` caps this cluster's connections (Envoy's TCP proxy overflows by
        // closing the downstream connection).
        let runtime = cluster.runtime
        guard runtime.connections.tryAcquire(limit: cluster.cluster.limits.maxConnections) else {
            loop.logger.debug("tcp: \(cluster.name) overflow (maxConnections)")
            refused(.upstreamOverflow, endpoint: index)
            return
        }
        tally = loop.telemetry?.tcpConnection(cluster: cluster.cluster, endpoint: index, remoteAddress: channel.remoteAddress, localAddress: channel.localAddress,
                                              inbound: inbound, meshPeer: meshPeer)
        // Envoy's TCP proxy idle timeout: the DestinationRule's, else 1 hour.
        idleTimeout = cluster.cluster.connection.idleTimeout.map { TimeAmount.nanoseconds($0) } ?? .hours(1)
        let bootstrap = UpstreamConnector.bootstrap(context.eventLoop, limits: loop.limits, settings: cluster.cluster.connection,
                                                    sourceAddress: cluster.cluster.originalDestination?.sourceAddress, destination: endpoint.address)
            .channelOption(.allowRemoteHalfClosure, value: true)
        let tls = cluster.tls(forEndpoint: index)
        let future = UpstreamConnector.connect(bootstrap, address: endpoint.address, port: Int(endpoint.port), tls: tls,
                                               serverName: tls?.serverName(forHost: cluster.cluster.serviceHost))
        let downstream = context.channel
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                runtime.connections.decrement()
                if let settings = cluster.cluster.outlierDetection, index < cluster.monitors.count {
                    runtime.outliers.record(.localOriginFailure, cluster.monitors[index], endpointCount: cluster.endpoints.count, settings: settings)
                }
                tally?.responseFlags.insert(.upstreamConnectionFailure)
                tally?.close()
                downstream.close(promise: nil)
            case .success(let upstream):
                upstream.closeFuture.whenComplete { _ in runtime.connections.decrement() }
                self.joined(upstream: upstream, context: context)
            }
        }
    }

    private func joined(upstream: any Channel, context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            tally?.responseFlags.insert(.downstreamConnectionTermination)
            tally?.close()
            upstream.close(promise: nil)
            return
        }
        if let tally, loop.telemetry?.wantsUpstreamLocalAddress == true, let address = upstream.localAddress, let ip = address.ipAddress,
           let port = address.port {
            tally.upstreamLocalAddress = ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        tally?.joined()
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair(idleTimeout: idleTimeout, tally: tally)
        do {
            try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
            for buffer in buffered { upstream.write(buffer, promise: nil) }
            upstream.flush()
            buffered.removeAll()
            try context.pipeline.syncOperations.addHandler(downstreamGlue, position: .after(self))
            let downstream = context.channel
            let resume = pendingRead
            pendingRead = false
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            if resume { downstream.read() }
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension TCPProxyHandler: Sendable {}
