import Logging
import MizzenRouting
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
    private var buffered: [ByteBuffer] = []
    private var pendingRead = false
    private var connecting = false

    init(loop: LoopState, decision: ConnectionDecision) {
        self.loop = loop
        self.decision = decision
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
        let table = loop.configuration.table
        guard let cluster = table.clusters[decision.destination.cluster], !cluster.endpoints.isEmpty else {
            loop.logger.debug("tcp: no endpoints for \(decision.destination.cluster)")
            context.close(promise: nil)
            return
        }
        let remoteIP = context.channel.remoteAddress?.ipAddress
        let settings = loop.configuration.upstreamSettings[cluster.name]
        guard let endpoint = loop.pickEndpoint(cluster, settings: settings, http2: false, hashKey: { policy in
            policy.key(header: { _ in nil }, cookie: { _ in nil }, sourceAddress: remoteIP, query: { _ in nil })
        }) else {
            context.close(promise: nil)
            return
        }
        // `tcp.maxConnections` caps this cluster's connections (Envoy's TCP proxy overflows by
        // closing the downstream connection).
        if let settings, !settings.runtime.connections.tryAcquire(limit: settings.breakers.maxConnections) {
            loop.logger.debug("tcp: \(cluster.name) overflow (maxConnections)")
            context.close(promise: nil)
            return
        }
        if settings?.tlsFailed == true {
            settings?.runtime.connections.decrement()
            context.close(promise: nil)
            return
        }
        let bootstrap = UpstreamConnector.bootstrap(context.eventLoop, limits: loop.limits, settings: settings)
            .channelOption(.allowRemoteHalfClosure, value: true)
        var future = UpstreamConnector.connect(bootstrap, address: endpoint.address, port: Int(endpoint.port))
        if let tls = settings?.tls {
            future = future.flatMap { upstream in
                do {
                    return try UpstreamConnector.addTLS(tls, serverName: tls.serverName ?? cluster.serviceHost, to: upstream).map { upstream }
                } catch {
                    upstream.close(promise: nil)
                    return upstream.eventLoop.makeFailedFuture(ProxyError.connectFailure)
                }
            }
        }
        let downstream = context.channel
        let endpointKey = OutlierDetector.key(endpoint.address, endpoint.port)
        let endpointCount = cluster.endpoints.count
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                if let settings {
                    settings.runtime.connections.decrement()
                    if let outlier = settings.outlier {
                        settings.runtime.outliers.record(.localOriginFailure, endpoint: endpointKey, endpointCount: endpointCount, settings: outlier)
                    }
                }
                downstream.close(promise: nil)
            case .success(let upstream):
                if let settings {
                    upstream.closeFuture.whenComplete { _ in settings.runtime.connections.decrement() }
                }
                self.joined(upstream: upstream, context: context)
            }
        }
    }

    private func joined(upstream: any Channel, context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            upstream.close(promise: nil)
            return
        }
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair()
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
