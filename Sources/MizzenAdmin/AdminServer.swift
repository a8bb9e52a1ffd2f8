package import Logging
package import NIOCore
package import NIOHTTP1
import NIOPosix

/// A request to an operator endpoint: method, path, decoded query parameters.
package struct AdminRequest: Sendable {
    package var method: HTTPMethod
    package var path: String
    /// `?a=1&b` gives `["a": "1", "b": ""]`.
    package var query: [String: String]
    /// The request's headers as sent (application probes pass them on).
    package var headers: HTTPHeaders

    package init(method: HTTPMethod, uri: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.method = method
        self.headers = headers
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map(String.init) ?? "/"
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[Self.percentDecoded(kv[0])] = kv.count > 1 ? Self.percentDecoded(kv[1]) : ""
            }
        }
        self.query = query
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What an operator endpoint answers.
package struct AdminResponse: Sendable {
    package var status: HTTPResponseStatus
    package var contentType: String
    package var body: String
    /// A body already in bytes (a large exposition), sent instead of `body`.
    package var bytes: ByteBuffer?

    package init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    package init(status: HTTPResponseStatus = .ok, contentType: String, bytes: ByteBuffer) {
        self.status = status
        self.contentType = contentType
        body = ""
        self.bytes = bytes
    }

    package static func text(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, body: body)
    }

    package static func json(_ body: String, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: body)
    }
}

/// One endpoint: the methods it takes (Envoy's admin wants POST for what changes state), a
/// line of help for the index page, and the handler. A path ending in `/` (other than `/`
/// itself) also takes every path below it (`/app-health/`).
package struct AdminEndpoint: Sendable {
    package var path: String
    package var methods: [HTTPMethod]
    package var help: String
    package var handler: @Sendable (AdminRequest) async -> AdminResponse

    package init(_ path: String, methods: [HTTPMethod] = [.GET], help: String, handler: @escaping @Sendable (AdminRequest) async -> AdminResponse) {
        self.path = path
        self.methods = methods
        self.help = help
        self.handler = handler
    }
}

/// A small HTTP/1.1 server for operators: the admin interface, the Prometheus endpoint, the
/// readiness probe. Control traffic, not data: handlers are async and run off the data
/// plane's loops (the server has a loop of its own, so a scrape is answered under load).
package final class AdminServer: Sendable {
    package let name: String
    private let endpoints: [String: AdminEndpoint]
    private let channel: any Channel
    private let logger: Logger

    /// The port bound (the requested one, or the one the system picked for 0).
    package var port: Int { channel.localAddress?.port ?? 0 }

    /// Binds `host:port` and serves `endpoints`; `GET /` lists them (Envoy's admin home).
    package static func start(name: String, host: String, port: Int, endpoints: [AdminEndpoint], group: any EventLoopGroup,
                              logger: Logger) async throws -> AdminServer {
        var table: [String: AdminEndpoint] = [:]
        for endpoint in endpoints { table[endpoint.path] = endpoint }
        if table["/"] == nil {
            let listing = endpoints.sorted { $0.path < $1.path }.map { "  \($0.path)\($0.methods.contains(.POST) && !$0.methods.contains(.GET) ? " (POST)" : ""): \($0.help)" }
            let body = "\(name) endpoints:\n" + listing.joined(separator: "\n") + "\n"
            table["/"] = AdminEndpoint("/", help: "this list") { _ in .text(body) }
        }
        let routes = table
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(endpoints: routes, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
        return AdminServer(name: name, endpoints: routes, channel: channel, logger: logger)
    }

    private init(name: String, endpoints: [String: AdminEndpoint], channel: any Channel, logger: Logger) {
        self.name = name
        self.endpoints = endpoints
        self.channel = channel
        self.logger = logger
    }

    package func close() async {
        try? await channel.close()
    }
}

/// The server's per-connection handler: one request at a time, answered when its handler
/// returns.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: [String: AdminEndpoint]
    private let logger: Logger
    private var head: HTTPRequestHead?

    init(endpoints: [String: AdminEndpoint], logger: Logger) {
        self.endpoints = endpoints
        self.logger = logger
    }

    static func respond(_ request: AdminRequest, endpoints: [String: AdminEndpoint]) async -> AdminResponse {
        let prefixed = endpoints.values.filter { $0.path.count > 1 && $0.path.hasSuffix("/") && request.path.hasPrefix($0.path) }
            .max { $0.path.count < $1.path.count }
        guard let endpoint = endpoints[request.path] ?? prefixed else {
            return .text("invalid path. admin commands are:\n" + endpoints.keys.sorted().joined(separator: "\n") + "\n", status: .notFound)
        }
        var methods = endpoint.methods
        if methods.contains(.GET) { methods.append(.HEAD) }
        guard methods.contains(request.method) else {
            return .text("Method \(request.method.rawValue) not allowed, \(endpoint.methods.map(\.rawValue).sorted().joined(separator: " or ")) required.\n",
                         status: .methodNotAllowed)
        }
        return await endpoint.handler(request)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let request = AdminRequest(method: head.method, uri: head.uri, headers: head.headers)
            let keepAlive = head.isKeepAlive
            let version = head.version
            let endpoints = self.endpoints
            let promise = context.eventLoop.makePromise(of: AdminResponse.self)
            promise.completeWithTask { await Self.respond(request, endpoints: endpoints) }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.write(response, version: version, keepAlive: keepAlive, isHEAD: request.method == .HEAD, context: context)
            }
        }
    }

    private func write(_ response: AdminResponse, version: HTTPVersion, keepAlive: Bool, isHEAD: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.bytes?.readableBytes ?? response.body.utf8.count))
        headers.add(name: "cache-control", value: "no-cache, max-age=0")
        headers.add(name: "x-content-type-options", value: "nosniff")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if !isHEAD, let bytes = response.bytes, bytes.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        } else if !isHEAD, !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension AdminHTTPHandler: Sendable {}
