package import NIOCore
import NIOHTTP1
package import NIOPosix
import NIOSSL

/// HTTP/1.1 over TLS to the Kubernetes API server, on NIO: a GET whose body is collected (list)
/// and a GET whose body is handed over line by line as it arrives (watch). One connection per
/// request, closed after it: a watch holds its connection for minutes anyway, and a list is
/// rare (start, a 410, a failure).
package final class APIClient: Sendable {
    package struct Response: Sendable {
        package var status: Int
        package var body: [UInt8]
    }

    package let access: ClusterAccess
    private let group: MultiThreadedEventLoopGroup
    private let context: NIOSSLContext
    /// Largest list body accepted (the API server's own limit per object is ~1.5 MiB; a list of
    /// 50,000 endpoints is tens of MiB).
    package let maxBodyBytes: Int

    package init(access: ClusterAccess, group: MultiThreadedEventLoopGroup, maxBodyBytes: Int = 512 << 20) throws(ClusterAccessError) {
        self.access = access
        self.group = group
        self.maxBodyBytes = maxBodyBytes
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        if access.insecureSkipVerify {
            configuration.certificateVerification = .none
        } else if let pem = access.certificateAuthority {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem))
            } catch {
                throw ClusterAccessError("the API server's CA certificate cannot be read: \(error)")
            }
        }
        if case .clientCertificate(let certificate, let key) = access.credential {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            } catch {
                throw ClusterAccessError("the client certificate or key cannot be read: \(error)")
            }
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ClusterAccessError("TLS settings for the API server refused: \(error)")
        }
    }

    /// GET `path` (with its query) and the whole body.
    package func get(_ path: String) async throws -> Response {
        var status = 0
        var body: [UInt8] = []
        try await exchange(path, readTimeout: .seconds(60)) { head in
            status = head
        } body: { buffer in
            guard body.count + buffer.readableBytes <= self.maxBodyBytes else {
                throw APIClientError("response to GET \(path) is larger than \(self.maxBodyBytes >> 20) MiB")
            }
            body += buffer.readableBytesView
        }
        return Response(status: status, body: body)
    }

    /// GET `path` and hand each line of the body to `line` as it arrives (a watch: one JSON
    /// event per line). Returns the status; a non-200 answer's body is returned whole instead.
    /// `readTimeout`: the stream is given up when nothing arrives for that long.
    package func stream(_ path: String, readTimeout: TimeAmount, line: (ArraySlice<UInt8>) async throws -> Void) async throws -> Response {
        var status = 0
        var pending: [UInt8] = []
        var errorBody: [UInt8] = []
        try await exchange(path, readTimeout: readTimeout) { head in
            status = head
        } body: { buffer in
            guard status == 200 else {
                if errorBody.count < 1 << 20 { errorBody += buffer.readableBytesView }
                return
            }
            pending += buffer.readableBytesView
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let text = pending[start..<newline]
                if !text.isEmpty { try await line(text) }
                start = newline + 1
            }
            pending.removeFirst(start - pending.startIndex)
            guard pending.count <= self.maxBodyBytes else { throw APIClientError("a watch event is larger than \(self.maxBodyBytes >> 20) MiB") }
        }
        if status == 200, !pending.isEmpty { try await line(pending[...]) }
        return Response(status: status, body: errorBody)
    }

    private func exchange(_ path: String, readTimeout: TimeAmount, head: (Int) -> Void, body: (ByteBuffer) async throws -> Void) async throws {
        let token = try access.bearerToken()
        let host = access.host
        let context = self.context
        let serverName = access.serverName ?? (Self.isIPAddress(host) ? nil : host)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: access.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: readTimeout))
                    try channel.pipeline.syncOperations.addHandler(ReadTimeoutCloser())
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let underlying = channel.channel
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: host.contains(":") ? "[\(host)]:\(access.port)" : "\(host):\(access.port)")
                headers.add(name: "Accept", value: "application/json")
                headers.add(name: "User-Agent", value: "mizzen/0.1 (linux) kubernetes-watch")
                if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
                try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)))
                try await outbound.write(.end(nil))
                for try await part in inbound {
                    switch part {
                    case .head(let response):
                        head(Int(response.status.code))
                    case .body(let buffer):
                        try await body(buffer)
                    case .end:
                        return
                    }
                }
                throw APIClientError("connection closed before the end of the response")
            }
        } onCancel: {
            underlying.close(promise: nil)
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

package struct APIClientError: Error, Sendable, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// Closes the connection when nothing was read for the idle handler's time: a watch whose
/// server went silent (a partition, a stuck proxy) is given up and restarted.
private final class ReadTimeoutCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
