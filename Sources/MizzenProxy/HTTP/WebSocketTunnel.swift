import NIOCore
import NIOHTTP1

/// The hand-off of an upgraded HTTP/1 connection (WebSocket) to a byte tunnel: the 101 goes to
/// the client, then both connections lose their HTTP codecs and are joined by a `GlueHandler`
/// pair (bytes the codecs had buffered are forwarded); the tunnel closes after `idleTimeout`
/// without bytes either way.
enum WebSocketTunnel {
    static func start(head: HTTPResponseHead, lease: UpstreamLease, context: ChannelHandlerContext, idleTimeout: TimeAmount,
                      wrap: (HTTPServerResponsePart) -> NIOAny) {
        var headers = head.headers
        headers.remove(name: "transfer-encoding")
        context.writeAndFlush(wrap(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        let downstreamChannel = context.channel
        let upstream = lease.channel
        lease.detach()
        do {
            let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair(idleTimeout: idleTimeout)
            let upstreamPipeline = upstream.pipeline.syncOperations
            _ = upstreamPipeline.removeHandler(name: "upstream")
            try upstreamPipeline.addHandler(upstreamGlue)
            _ = upstreamPipeline.removeHandler(name: "http-request-encoder")
            _ = upstreamPipeline.removeHandler(name: "http-response-decoder")
            let downstreamPipeline = downstreamChannel.pipeline.syncOperations
            try downstreamPipeline.addHandler(downstreamGlue)
            _ = downstreamPipeline.removeHandler(name: "http-response-encoder")
            _ = downstreamPipeline.removeHandler(context: context)
            _ = downstreamPipeline.removeHandler(name: "http-request-decoder")
        } catch {
            downstreamChannel.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}
