#if canImport(Glibc)
import Glibc
#endif
import Logging
import MizzenConfig
import MizzenProxy
import MizzenRouting
import NIOCore
import MizzenAdmin
import NIOHTTP1
import NIOPosix

/// `mizzen demo`: Bookinfo on one machine. Small stand-ins for productpage, details, reviews
/// v1/v2/v3 and ratings listen on loopback where Gateways/bookinfo's ServiceEntries and
/// WorkloadEntries point, and a gateway serves Gateways/bookinfo. productpage asks reviews for
/// its part of the page through the gateway, passing `end-user` on, as the real one does through
/// its sidecar, so `/productpage` shows which reviews version routing chose.
package struct DemoMode: Sendable {
    /// A stand-in service instance: name, version, loopback port.
    package struct StandIn: Sendable {
        package var service: String
        package var version: String
        package var port: Int
    }

    package static let standIns: [StandIn] = [
        StandIn(service: "productpage", version: "v1", port: 19080),
        StandIn(service: "details", version: "v1", port: 19081),
        StandIn(service: "reviews", version: "v1", port: 19082),
        StandIn(service: "reviews", version: "v2", port: 19083),
        StandIn(service: "reviews", version: "v3", port: 19084),
        StandIn(service: "ratings", version: "v1", port: 19085),
    ]

    package var gateway: GatewayMode
    /// Port the demo's gateway listens on for Gateway port 8080.
    package var gatewayPort: Int

    package init(gateway: GatewayMode, gatewayPort: Int) {
        self.gateway = gateway
        self.gatewayPort = gatewayPort
    }

    package func run() async -> Int32 {
        let logger = gateway.logger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var servers: [any Channel] = []
        for standIn in Self.standIns {
            do {
                servers.append(try await Self.startStandIn(standIn, group: group, gatewayPort: gatewayPort))
            } catch {
                logger.critical("demo: cannot start the \(standIn.service) \(standIn.version) stand-in on 127.0.0.1:\(standIn.port): \(error) (is another demo running?)")
                try? await group.shutdownGracefully()
                return 1
            }
        }
        let running: GatewayMode.Running
        do {
            running = try await gateway.start()
        } catch {
            logger.critical("\(error)")
            try? await group.shutdownGracefully()
            return 1
        }
        let base = "http://127.0.0.1:\(gatewayPort)"
        let ports = Dictionary(running.servers.map { ($0.name.split(separator: " ").first.map(String.init) ?? $0.name, $0.port) }, uniquingKeysWith: { a, _ in a })
        var where_ = ""
        if let admin = ports["admin"] {
            where_ += "  admin:    http://127.0.0.1:\(admin)/  (config_dump, clusters, routes, stats)\n"
            where_ += "  graph:    http://127.0.0.1:\(admin)/graph  (the service graph; ?format=json)\n"
        }
        if let stats = ports["stats"] { where_ += "  metrics:  http://127.0.0.1:\(stats)/stats/prometheus  (istio_requests_total, ...)\n" }
        if let status = ports["status"] { where_ += "  ready:    http://127.0.0.1:\(status)/healthz/ready\n" }
        let banner = Array("""
        Bookinfo is up: stand-ins on 127.0.0.1:19080-19085, the gateway on \(base) (Gateways/bookinfo).

        Try (productpage asks reviews through the gateway; jason is routed to reviews v2, everyone else to v1):
          curl \(base)/productpage
          curl -H 'end-user: jason' \(base)/productpage
              (fault injection: ratings answers jason after a 7 s delay, the reviews route gives up
               after 6 s, so jason's page shows the reviews error after 6 s; others are served at once)
          curl -H 'Host: reviews.default.svc.cluster.local' -H 'end-user: jason' \(base)/reviews/0
          curl --http2-prior-knowledge \(base)/productpage
          curl -i \(base)/no-such-page          # 404 NR: no route
        Other Istio tasks (run instead: mizzen demo --config Gateways/bookinfo --config Gateways/bookinfo-tasks/FILE):
          reviews-50-v3.yaml (traffic shifting), reviews-v3.yaml, ratings-test-abort.yaml (HTTP 500 for jason),
          circuit-breaking.yaml (maxConnections 1, http1MaxPendingRequests 1 on productpage)
          mizzen routes --config Gateways/bookinfo --request 'GET http://reviews.default.svc.cluster.local:8080/reviews/0' -H 'end-user: jason'

        Where to look (README "Monitoring"; add --access-log - for Istio's access log on standard output):
        \(where_)
        Ctrl-C stops. Editing a file under the configuration reloads it.

        """.utf8)
        _ = banner.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        let status = await gateway.serve(running)
        for server in servers { try? await server.close() }
        try? await group.shutdownGracefully()
        return status
    }

    static func startStandIn(_ standIn: StandIn, group: MultiThreadedEventLoopGroup, gatewayPort: Int) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StandInHandler(standIn: standIn, gatewayPort: gatewayPort))
                }
            }
            .bind(host: "127.0.0.1", port: standIn.port).get()
    }
}

/// One stand-in service: answers every request with its name, version and what it saw;
/// productpage's `/productpage` also includes what reviews answered through the gateway.
final class StandInHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let standIn: DemoMode.StandIn
    private let gatewayPort: Int
    private var head: HTTPRequestHead?

    init(standIn: DemoMode.StandIn, gatewayPort: Int) {
        self.standIn = standIn
        self.gatewayPort = gatewayPort
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            let user = head.headers.first(name: "end-user")
            var text = "\(standIn.service) \(standIn.version) (mizzen demo stand-in): \(head.method.rawValue) \(head.uri)"
            if let user { text += " end-user=\(user)" }
            text += "\n"
            if standIn.service == "productpage" && head.uri.hasPrefix("/productpage") {
                // productpage asks reviews (through the gateway, as its sidecar would).
                let page = text
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                Self.fetch(eventLoop: context.eventLoop, gatewayPort: gatewayPort, host: "reviews.default.svc.cluster.local", path: "/reviews/0",
                           user: user, timeout: .seconds(30)).whenComplete { result in
                    let (handler, context) = bound.value
                    switch result {
                    case .success(let reviews) where reviews.hasPrefix("HTTP "):
                        handler.respond(context: context, head: head, text: page + "reviews: Error fetching product reviews! Sorry, product reviews are currently unavailable for this book. (\(String(reviews.drop(while: \.isNewline).reversed().drop(while: \.isNewline).reversed())))\n")
                    case .success(let reviews): handler.respond(context: context, head: head, text: page + "reviews: " + reviews)
                    case .failure(let error): handler.respond(context: context, head: head, text: page + "reviews: unavailable (\(error))\n")
                    }
                }
            } else if standIn.service == "reviews" && standIn.version != "v1" && head.uri.hasPrefix("/reviews") {
                // reviews v2 and v3 ask ratings, with Bookinfo's 10 s timeout.
                let page = text
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                Self.fetch(eventLoop: context.eventLoop, gatewayPort: gatewayPort, host: "ratings.default.svc.cluster.local", path: "/ratings/0",
                           user: user, timeout: .seconds(10)).whenComplete { result in
                    let (handler, context) = bound.value
                    switch result {
                    case .success(let ratings): handler.respond(context: context, head: head, text: page + "  ratings: " + ratings)
                    case .failure(let error): handler.respond(context: context, head: head, text: page + "  ratings: Ratings service is currently unavailable (\(error))\n")
                    }
                }
            } else {
                respond(context: context, head: head, text: text)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, text: String) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        headers.add(name: "content-length", value: String(text.utf8.count))
        headers.add(name: "x-demo-service", value: "\(standIn.service)-\(standIn.version)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        self.head = nil
    }

    /// GET `path` from `host` through the gateway, `end-user` passed on; fails after `timeout`.
    static func fetch(eventLoop: any EventLoop, gatewayPort: Int, host: String, path: String, user: String?, timeout: TimeAmount) -> EventLoopFuture<String> {
        let promise = eventLoop.makePromise(of: String.self)
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(DemoError.timedOut(timeout))
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(BodyCollector(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: gatewayPort)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    var headers = HTTPHeaders()
                    headers.add(name: "host", value: host)
                    headers.add(name: "connection", value: "close")
                    if let user { headers.add(name: "end-user", value: user) }
                    channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                }
            }
        return promise.futureResult
    }
}

enum DemoError: Error, CustomStringConvertible {
    case timedOut(TimeAmount)

    var description: String {
        switch self {
        case .timedOut(let amount): "no answer within \(amount.nanoseconds / 1_000_000_000) s"
        }
    }
}

@available(*, unavailable)
extension StandInHandler: Sendable {}

/// Collects a response body into a string for the stand-in's page.
final class BodyCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<String>
    private var body = ""

    init(promise: EventLoopPromise<String>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.status != .ok:
            body += "HTTP \(head.status.code) "
        case .head:
            break
        case .body(let buffer):
            body += String(buffer: buffer)
        case .end:
            promise.succeed(body)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension BodyCollector: Sendable {}
