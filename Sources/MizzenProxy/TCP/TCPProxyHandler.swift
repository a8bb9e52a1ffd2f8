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
        guard let endpoint = loop.pickEndpoint(cluster, http2: false, hashKey: { policy in
            policy.key(header: { _ in nil }, cookie: { _ in nil }, sourceAddress: remoteIP, query: { _ in nil })
        }) else {
            context.close(promise: nil)
            return
        }
        let bootstrap = UpstreamConnector.bootstrap(context.eventLoop, limits: loop.limits)
            .channelOption(.allowRemoteHalfClosure, value: true)
        let future = UpstreamConnector.connect(bootstrap, address: endpoint.address, port: Int(endpoint.port))
        let downstream = context.channel
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                downstream.close(promise: nil)
            case .success(let upstream):
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
