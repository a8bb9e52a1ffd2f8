import Logging
package import MizzenAdmin
import MizzenConfig
import MizzenProxy
import NIOConcurrencyHelpers
package import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// pilot-agent's application probes on the status port (15020): the injector rewrote the
/// pod's HTTP, TCP and gRPC probes to `/app-health/<container>/livez|readyz|startupz` and put
/// the originals in `ISTIO_KUBE_APP_PROBERS`; the sidecar carries them out against the pod's
/// address from 127.0.0.6 (which the capture rules let through), so kubelet's probes keep
/// working when inbound traffic is captured or STRICT mTLS (istio/istio
/// pilot/cmd/pilot-agent/status/server.go).
package struct AppProbes: Sendable {
    package enum Action: Sendable, Equatable {
        case httpGet(port: Int, path: String, https: Bool, host: String?, headers: [String: String])
        case tcpSocket(port: Int)
        /// `grpc.health.v1.Health/Check` over plain-text HTTP/2: SERVING passes.
        case grpc(port: Int, service: String)
    }

    package struct Probe: Sendable, Equatable {
        package var action: Action
        /// 0: no timeout of its own (the server's 60 s bound applies).
        package var timeoutSeconds: Int
    }

    package let probes: [String: Probe]

    package init(probes: [String: Probe]) {
        self.probes = probes
    }

    package struct ParseError: Error, CustomStringConvertible {
        package var description: String
    }

    /// `ISTIO_KUBE_APP_PROBERS` (JSON), with pilot-agent's checks and messages.
    package static func parse(_ json: String) throws(ParseError) -> AppProbes {
        let stream = YAMLComposer.compose(Array(json.utf8))
        guard stream.problems.isEmpty, let root = stream.documents.first?.root, case .mapping(let pairs) = root.content else {
            throw ParseError(description: "failed to decode app prober err = not a JSON object, json string = \(json)")
        }
        var probes: [String: Probe] = [:]
        for pair in pairs {
            guard let path = pair.key.scalarValue, isProbePath(path) else {
                throw ParseError(description: "invalid path, must be in form of regex pattern ^/(app-health|app-lifecycle)/[^/]+/(livez|readyz|startupz|prestopz|poststartz)$: \(pair.key.scalarValue ?? "?")")
            }
            let value = pair.value
            let timeout = value["timeoutSeconds"]?.scalarValue.flatMap { Int($0) } ?? 0
            let kinds = ["httpGet", "tcpSocket", "grpc"].filter { value[$0] != nil }
            guard kinds.count == 1, let kind = kinds.first, let action = value[kind] else {
                throw ParseError(description: "invalid prober type, must be one of type httpGet, tcpSocket or gRPC")
            }
            guard let port = action["port"]?.scalarValue.flatMap({ Int($0) }), (1...65535).contains(port) else {
                throw ParseError(description: "invalid prober config for \(path), the port must be int type")
            }
            switch kind {
            case "httpGet":
                var headers: [String: String] = [:]
                if case .sequence(let items)? = action["httpHeaders"]?.content {
                    for item in items {
                        if let name = item["name"]?.scalarValue { headers[name] = item["value"]?.scalarValue ?? "" }
                    }
                }
                var requestPath = action["path"]?.scalarValue ?? "/"
                if !requestPath.hasPrefix("/") { requestPath = "/" + requestPath }
                probes[path] = Probe(action: .httpGet(port: port, path: requestPath, https: action["scheme"]?.scalarValue?.uppercased() == "HTTPS",
                                                      host: action["host"]?.scalarValue, headers: headers), timeoutSeconds: timeout)
            case "tcpSocket":
                probes[path] = Probe(action: .tcpSocket(port: port), timeoutSeconds: timeout)
            default:
                probes[path] = Probe(action: .grpc(port: port, service: action["service"]?.scalarValue ?? ""), timeoutSeconds: timeout)
            }
        }
        return AppProbes(probes: probes)
    }

    static func isProbePath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "app-health" || parts[1] == "app-lifecycle", !parts[2].isEmpty else { return false }
        return ["livez", "readyz", "startupz", "prestopz", "poststartz"].contains(String(parts[3]))
    }

    /// The endpoints serving them: `podIP` is where the application listens (INSTANCE_IP).
    package func endpoints(podIP: String, group: any EventLoopGroup) -> [AdminEndpoint] {
        let probes = self.probes
        let handler: @Sendable (AdminRequest) async -> AdminResponse = { request in
            guard let probe = probes[request.path] else {
                return .text("app prober config does not exists for \(request.path)", status: .badRequest)
            }
            return await AppProber.run(probe, podIP: podIP, incoming: request.headers, group: group)
        }
        return [AdminEndpoint("/app-health/", help: "the application's rewritten probes (ISTIO_KUBE_APP_PROBERS)", handler: handler),
                AdminEndpoint("/app-lifecycle/", help: "the application's rewritten lifecycle hooks", handler: handler)]
    }
}

/// One probe against the application: a TCP connect, or an HTTP GET whose status (and up to
/// 10 KiB of body) is passed back; a transport error is 500, a redirect 200.
enum AppProber {
    static func run(_ probe: AppProbes.Probe, podIP: String, incoming: HTTPHeaders, group: any EventLoopGroup) async -> AdminResponse {
        let timeout: TimeAmount = probe.timeoutSeconds > 0 ? .seconds(Int64(probe.timeoutSeconds)) : .seconds(60)
        let source = podIP.contains(":") ? "::6" : "127.0.0.6"
        switch probe.action {
        case .grpc(let port, let service):
            return await GRPCHealthProbe.check(host: podIP, port: port, service: service, source: source, timeout: timeout, group: group,
                                               userAgent: incoming.first(name: "user-agent"))
        case .tcpSocket(let port):
            do {
                let channel = try await bootstrap(group, source: source, timeout: timeout).connect(host: podIP, port: port).get()
                try? await channel.close()
                return .text("")
            } catch {
                return .text("tcp probe to \(podIP):\(port) failed: \(error)\n", status: .internalServerError)
            }
        case .httpGet(let port, let path, let https, let host, let headers):
            var requestHeaders = HTTPHeaders()
            for (name, value) in incoming where name.lowercased() != "host" && name.lowercased() != "connection" && name.lowercased() != "content-length" {
                requestHeaders.add(name: name, value: value)
            }
            for (name, value) in headers where name.lowercased() != "host" { requestHeaders.replaceOrAdd(name: name, value: value) }
            let hostHeader = headers.first { $0.key.lowercased() == "host" }?.value ?? host ?? (podIP.contains(":") ? "[\(podIP)]:\(port)" : "\(podIP):\(port)")
            requestHeaders.replaceOrAdd(name: "host", value: hostHeader)
            requestHeaders.replaceOrAdd(name: "connection", value: "close")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: requestHeaders)
            let promise = group.next().makePromise(of: (HTTPResponseStatus, ByteBuffer).self)
            let collector = ProbeResponseCollector(promise: promise)
            do {
                let channel = try await bootstrap(group, source: source, timeout: timeout).channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if https {
                            var configuration = TLSConfiguration.makeClientConfiguration()
                            configuration.certificateVerification = .none
                            let context = try NIOSSLContext(configuration: configuration)
                            try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                        }
                        try sync.addHTTPClientHandlers()
                        try sync.addHandler(collector)
                    }
                }.connect(host: podIP, port: port).get()
                channel.writeAndFlush(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
                defer { timer.cancel() }
                let (status, body) = try await promise.futureResult.get()
                try? await channel.close()
                if (300..<400).contains(Int(status.code)) { return .text("") }
                return AdminResponse(status: status, contentType: "text/plain; charset=utf-8", bytes: body)
            } catch {
                // Completed on its loop (a connect failure never reached the collector).
                promise.futureResult.eventLoop.execute { promise.fail(error) }
                return .text("http probe to \(podIP):\(port)\(path) failed: \(error)\n", status: .internalServerError)
            }
        }
    }

    static func bootstrap(_ group: any EventLoopGroup, source: String, timeout: TimeAmount) -> ClientBootstrap {
        var bootstrap = ClientBootstrap(group: group).connectTimeout(timeout)
        if let local = try? SocketAddress(ipAddress: source, port: 0) { bootstrap = bootstrap.bind(to: local) }
        return bootstrap
    }
}

/// Collects a probe's response: its status and the first 10 KiB of its body.
final class ProbeResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<(HTTPResponseStatus, ByteBuffer)>
    private let state = NIOLockedValueBox<(HTTPResponseStatus?, ByteBuffer)>((nil, ByteBuffer()))

    init(promise: EventLoopPromise<(HTTPResponseStatus, ByteBuffer)>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            state.withLockedValue { $0.0 = head.status }
        case .body(var body):
            state.withLockedValue { value in
                let room = max(0, 10240 - value.1.readableBytes)
                if room > 0, let slice = body.readSlice(length: min(room, body.readableBytes)) { value.1.writeImmutableBuffer(slice) }
            }
        case .end:
            let (status, body) = state.withLockedValue { $0 }
            promise.succeed((status ?? .internalServerError, body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// pilot-agent's gRPC probe: `grpc.health.v1.Health/Check{service}` over plain-text HTTP/2 from
/// 127.0.0.6; SERVING is 200, anything else (another status, an error, no answer in time) 500.
enum GRPCHealthProbe {
    static func check(host: String, port: Int, service: String, source: String, timeout: TimeAmount, group: any EventLoopGroup,
                      userAgent: String?) async -> AdminResponse {
        let promise = group.next().makePromise(of: (HTTPResponseStatus, ByteBuffer).self)
        do {
            let channel = try await AppProber.bootstrap(group, source: source, timeout: timeout).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration(),
                        streamConfiguration: NIOHTTP2Handler.StreamConfiguration()) { stream in stream.close() }
                }
            }.connect(host: host, port: port).get()
            let collector = ProbeResponseCollector(promise: promise)
            let streamChannel = try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<any Channel> in
                let stream = channel.eventLoop.makePromise(of: (any Channel).self)
                do {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
                    multiplexer.createStreamChannel(promise: stream) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                            try stream.pipeline.syncOperations.addHandler(collector)
                        }
                    }
                } catch {
                    stream.fail(error)
                }
                return stream.futureResult
            }.get()
            var headers = HTTPHeaders()
            headers.add(name: "host", value: host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
            headers.add(name: "content-type", value: "application/grpc")
            headers.add(name: "te", value: "trailers")
            if let userAgent { headers.add(name: "user-agent", value: userAgent) }
            var body = ByteBuffer()
            let message = service.isEmpty ? [] : [0x0a] + varint(service.utf8.count) + Array(service.utf8)
            body.writeInteger(UInt8(0))
            body.writeInteger(UInt32(message.count))
            body.writeBytes(message)
            streamChannel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/grpc.health.v1.Health/Check",
                                                                           headers: headers)), promise: nil)
            streamChannel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            streamChannel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
            defer { timer.cancel() }
            let (_, response) = try await promise.futureResult.get()
            try? await channel.close()
            return servingStatus(response) == 1 ? .text("") : .text("gRPC health check of \(host):\(port) \"\(service)\": not SERVING\n", status: .internalServerError)
        } catch {
            promise.futureResult.eventLoop.execute { promise.fail(error) }
            return .text("gRPC health check of \(host):\(port) failed: \(error)\n", status: .internalServerError)
        }
    }

    static func varint(_ value: Int) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7f)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value > 0
        return bytes
    }

    /// `HealthCheckResponse.status` (field 1, a varint) of the first gRPC message; nil when
    /// there is none. An empty message is status 0 (UNKNOWN).
    static func servingStatus(_ body: ByteBuffer) -> Int? {
        var body = body
        guard body.readInteger(as: UInt8.self) == 0, let length = body.readInteger(as: UInt32.self), let message = body.readBytes(length: Int(length)) else {
            return nil
        }
        var index = 0
        while index < message.count {
            let key = message[index]
            index += 1
            guard key == 0x08 else { return 0 }
            var value = 0, shift = 0
            while index < message.count {
                let byte = message[index]
                index += 1
                value |= Int(byte & 0x7f) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            return value
        }
        return 0
    }
}
