package import Logging
package import MizzenSidecar
import MizzenSources
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen injector`: the sidecar injection webhook the API server calls, as istiod serves it on
/// 15017 (behind Service `istiod` port 443). HTTPS with HTTP/1.1; `POST /inject` (and
/// `/inject/...`, the paths Istio's multicluster webhooks use) takes an AdmissionReview and
/// answers with `AdmissionWebhook`'s review; `GET /healthz/ready` is the readiness probe.
///
/// The certificate and key are re-read when their files change (a rotated Secret's `..data`
/// swap) or on SIGHUP; a pair that does not load keeps the one served. SIGTERM fails readiness,
/// keeps serving for the drain duration, then stops once the reviews in flight are answered.
package struct InjectorMode: Sendable {
    package var host: String
    package var port: Int
    package var certificatePath: String
    package var keyPath: String
    package var webhook: AdmissionWebhook
    package var watchFiles: Bool
    package var drainDuration: Duration
    package var logger: Logger

    package init(host: String, port: Int, certificatePath: String, keyPath: String, webhook: AdmissionWebhook, watchFiles: Bool,
                 drainDuration: Duration, logger: Logger) {
        self.host = host
        self.port = port
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.webhook = webhook
        self.watchFiles = watchFiles
        self.drainDuration = drainDuration
        self.logger = logger
    }

    /// Serves until SIGTERM or SIGINT; returns the exit status (1 when it cannot start).
    package func run() async -> Int32 {
        let certificate: ServingCertificate
        do {
            certificate = try ServingCertificate(certificatePath: certificatePath, keyPath: keyPath)
        } catch {
            logger.critical("\(error)")
            return 1
        }
        let signals = SignalStream()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let status = InjectorStatus()
        let webhook = self.webhook
        let logger = self.logger
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // The context of the moment: a rotated certificate serves new connections.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: certificate.context))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(InjectorHTTPHandler(webhook: webhook, status: status, logger: logger))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            logger.critical("cannot listen on \(host):\(port): \(error)")
            try? await group.shutdownGracefully()
            return 1
        }
        logger.notice("listening on \(host):\(server.localAddress?.port ?? port) (HTTPS: POST /inject, GET /healthz/ready; certificate \(certificate.summary))")

        let (events, post) = AsyncStream<GatewayEvent>.makeStream()
        let signalTask = Task {
            for await number in signals.stream { post.yield(.signal(number)) }
        }
        var watcher: FileWatcher?
        var watchTask: Task<Void, Never>?
        if watchFiles {
            do {
                let fileWatcher = try FileWatcher(paths: [certificatePath, keyPath])
                watcher = fileWatcher
                watchTask = Task {
                    for await changed in fileWatcher.changes { post.yield(.filesChanged(changed)) }
                }
            } catch {
                logger.warning("the certificate files are not watched (\(error)); SIGHUP re-reads them")
            }
        }
        loop: for await event in events {
            switch event {
            case .signal(SIGHUP), .filesChanged:
                do {
                    if try certificate.reload() {
                        logger.notice("serving the certificate re-read from \(certificatePath): \(certificate.summary)")
                    }
                } catch {
                    logger.error("\(error); still serving the previous certificate")
                }
            case .signal(SIGTERM):
                logger.notice("SIGTERM: draining for \(drainDuration) (readiness fails, connections are closed after their answer)")
                status.draining.store(true, ordering: .relaxed)
                try? await Task.sleep(for: drainDuration)
                break loop
            case .signal(SIGINT):
                logger.notice("interrupted: stopping")
                status.draining.store(true, ordering: .relaxed)
                break loop
            case .signal, .drainListeners, .quit, .configUpdated:
                continue
            }
        }
        signalTask.cancel()
        watchTask?.cancel()
        watcher?.stop()
        try? await server.close()
        // Reviews being answered get their answer: the API server is waiting on each.
        let deadline = ContinuousClock.now + .seconds(5)
        while status.inFlight.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try? await group.shutdownGracefully()
        return 0
    }
}

/// What every connection of the injector shares: whether it is draining, and how many reviews
/// are being answered.
final class InjectorStatus: Sendable {
    let draining = Atomic<Bool>(false)
    let inFlight = Atomic<Int>(0)
}

/// The webhook's certificate and key, loaded into a TLS context that new connections take.
final class ServingCertificate: Sendable {
    let certificatePath: String
    let keyPath: String
    private let current: Mutex<(context: NIOSSLContext, files: [UInt8], summary: String)>

    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    init(certificatePath: String, keyPath: String) throws(LoadError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        current = Mutex(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    var context: NIOSSLContext { current.withLock { $0.context } }

    /// `serial 5678, not after 2027-01-01 00:00:00 UTC`: which certificate is served, for the log.
    var summary: String { current.withLock { $0.summary } }

    /// Reads the files again; true when they changed and the new pair is served. A pair that
    /// does not load (a key not yet matching its new certificate, halfway through a copy)
    /// throws and leaves the served one.
    func reload() throws(LoadError) -> Bool {
        let loaded = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        return current.withLock { current in
            guard current.files != loaded.files else { return false }
            current = loaded
            return true
        }
    }

    private static func load(certificatePath: String, keyPath: String) throws(LoadError) -> (context: NIOSSLContext, files: [UInt8], summary: String) {
        guard let certificateText = FileText.read(certificatePath) else { throw LoadError(description: "cannot read the certificate \(certificatePath)") }
        guard let keyText = FileText.read(keyPath) else { throw LoadError(description: "cannot read the private key \(keyPath)") }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateText.utf8))
        } catch {
            throw LoadError(description: "\(certificatePath) holds no PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw LoadError(description: "\(certificatePath) holds no PEM certificate") }
        do {
            key = try NIOSSLPrivateKey(bytes: Array(keyText.utf8), format: .pem)
        } catch {
            throw LoadError(description: "\(keyPath) holds no PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        configuration.certificateVerification = .none
        // Envoy's delayed_close_timeout: a closing connection waits at most this long for the
        // client's close_notify (NIOSSL's 5 s kept every closed connection's buffers that long).
        configuration.shutdownTimeout = .seconds(1)
        do {
            // BoringSSL checks here that the key is the certificate's.
            return (try NIOSSLContext(configuration: configuration), Array((certificateText + keyText).utf8), describe(chain[0]))
        } catch {
            throw LoadError(description: "the certificate \(certificatePath) and key \(keyPath) do not make a TLS server (\(error))")
        }
    }
}

extension ServingCertificate {
    static func describe(_ certificate: NIOSSLCertificate) -> String {
        let serial = certificate.serialNumber.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
        var expiry = certificate.notValidAfter
        var parts = tm()
        gmtime_r(&expiry, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let date = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
        return "serial \(serial), not after \(date)"
    }
}

/// Where a request goes, from its head alone.
enum InjectorRoute: Equatable {
    /// `POST /inject`: an AdmissionReview to answer.
    case review
    /// `GET /healthz/ready`.
    case readiness
    /// Answered as it is: 404, 405, 415.
    case refuse(HTTPResponseStatus, String, allow: String?)

    static func route(_ head: HTTPRequestHead) -> InjectorRoute {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        switch path {
        case "/healthz/ready":
            guard head.method == .GET || head.method == .HEAD else {
                return .refuse(.methodNotAllowed, "method \(head.method.rawValue) not allowed, GET required\n", allow: "GET, HEAD")
            }
            return .readiness
        case "/inject", _ where path.hasPrefix("/inject/"):
            // `/inject/cluster/c1/net/n1` and `/inject/:ENV:cluster=c1:ENV:net=n1`: Istio reads
            // the cluster and network of remote clusters from the path; Mizzen's sidecar has
            // neither setting, so the path is accepted and its parameters ignored.
            guard head.method == .POST else {
                return .refuse(.methodNotAllowed, "method \(head.method.rawValue) not allowed, POST required\n", allow: "POST")
            }
            // Istio answers anything but application/json with 415; parameters (charset) are
            // allowed here. The API server always sends application/json, so this refuses no pod.
            let contentType = head.headers.first(name: "content-type") ?? ""
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
            guard mediaType == "application/json" else {
                return .refuse(.unsupportedMediaType, "invalid Content-Type \"\(contentType)\", want application/json\n", allow: nil)
            }
            return .review
        default:
            return .refuse(.notFound, "no such path: POST /inject, GET /healthz/ready\n", allow: nil)
        }
    }
}

extension Substring {
    fileprivate func trimmingASCIISpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}

/// One connection's requests, one at a time (NIO's pipelining handler holds the next until the
/// answer is written). A review's body is kept up to the webhook's limit, the rest read and
/// dropped; the review runs off the event loop.
final class InjectorHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(head: HTTPRequestHead, route: InjectorRoute, body: [UInt8], truncated: Bool)
        case answering
    }

    private let webhook: AdmissionWebhook
    private let status: InjectorStatus
    private let logger: Logger
    private var state = State.idle

    init(webhook: AdmissionWebhook, status: InjectorStatus, logger: Logger) {
        self.webhook = webhook
        self.status = status
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            state = .receiving(head: head, route: InjectorRoute.route(head), body: [], truncated: false)
        case .body(let buffer):
            guard case .receiving(let head, let route, var body, var truncated) = state else { return }
            guard route == .review, !truncated else { return }
            state = .answering  // no copy of `body` held while it grows
            let room = webhook.maxBodyBytes - body.count
            if buffer.readableBytes > room {
                body.append(contentsOf: buffer.readableBytesView.prefix(room))
                truncated = true
            } else {
                body.append(contentsOf: buffer.readableBytesView)
            }
            state = .receiving(head: head, route: route, body: body, truncated: truncated)
        case .end:
            guard case .receiving(let head, let route, let body, let truncated) = state else { return }
            state = .answering
            switch route {
            case .readiness:
                let draining = status.draining.load(ordering: .relaxed)
                write(draining ? .serviceUnavailable : .ok, body: draining ? "draining\n" : "ready\n", contentType: "text/plain; charset=utf-8",
                      head: head, context: context)
            case .refuse(let code, let text, let allow):
                write(code, body: text, contentType: "text/plain; charset=utf-8", extra: allow.map { [("allow", $0)] } ?? [], head: head, context: context)
            case .review:
                status.inFlight.add(1, ordering: .relaxed)
                let webhook = self.webhook
                let promise = context.eventLoop.makePromise(of: AdmissionAnswer.self)
                promise.completeWithTask { webhook.review(body, truncated: truncated) }
                promise.futureResult.assumeIsolated().whenSuccess { answer in
                    switch answer.outcome {
                    case .injected, .skipped: self.logger.info("\(answer.logLine)")
                    case .failedOpen: self.logger.warning("\(answer.logLine)")
                    }
                    self.write(.ok, body: answer.json, contentType: "application/json", head: head, context: context)
                    self.status.inFlight.subtract(1, ordering: .relaxed)
                }
            }
        }
    }

    private func write(_ code: HTTPResponseStatus, body: String, contentType: String, extra: [(String, String)] = [], head: HTTPRequestHead,
                       context: ChannelHandlerContext) {
        state = .idle
        guard context.channel.isActive else { return }
        let keepAlive = head.isKeepAlive && !status.draining.load(ordering: .relaxed)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.utf8.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: code, headers: headers))), promise: nil)
        if head.method != .HEAD, !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed handshake or a reset: nothing to answer on this connection.
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension InjectorHTTPHandler: Sendable {}
