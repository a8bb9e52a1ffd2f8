import MizzenTelemetry
import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// The exchange's shells without sockets: an HTTP/1 pipeline (guard, codec, `ForwardingHandler`)
/// and the HTTP/2 stream table on `EmbeddedChannel`s, with a configuration whose routes answer
/// locally (direct responses, redirects, 404), so no upstream is needed. Checked: the bytes or
/// frames that go out, pipelined requests answered in order, one record per request, and how
/// the connection ends.
struct ForwardingHandlerTests {
    static let yaml = ProxyFixtures.gateway + "\n" + """
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: local, namespace: default}
    spec:
      hosts: [local.test]
      gateways: [gw]
      http:
      - match: [{uri: {prefix: /old}}]
        redirect: {uri: /new}
      - match: [{uri: {exact: /hello}}]
        directResponse: {status: 200, body: {string: "hello"}}
    """

    /// A loop state on `eventLoop` serving `yaml`, recording finished exchanges.
    final class Harness {
        let channel: EmbeddedChannel
        let loop: LoopState
        var records: [ExchangeRecord] = []

        init(http2: Bool = false, maxRequestBodyBytes: Int? = nil) throws {
            let snapshot = ProxyFixtures.snapshot(ForwardingHandlerTests.yaml)
            channel = EmbeddedChannel()
            var limits = ProxyLimits()
            limits.lingerTimeout = .milliseconds(100)
            limits.maxRequestBodyBytes = maxRequestBodyBytes
            loop = LoopState(eventLoop: channel.embeddedEventLoop, snapshot: snapshot, limits: limits, logger: Logger(label: "test"))
            loop.exchangeFinished = { [unowned self] record in self.records.append(record) }
            let listener = ListenerSpec(name: "test", host: "127.0.0.1", port: 0, destination: .listenerPort(80))
            let connection = DownstreamConnection(listener: listener, listenerPort: 80, remoteAddress: try SocketAddress(ipAddress: "192.0.2.7", port: 5555),
                                                  localAddress: nil, serverName: nil, tlsServer: nil, isHTTP2: http2)
            let sync = channel.pipeline.syncOperations
            if http2 {
                try sync.addHandler(HTTP2ServerConnectionHandler(loop: loop, connection: connection, windowSize: 1 << 20))
            } else {
                let guardHandler = HTTP1ConnectionGuard(headersTimeout: .seconds(10), idleTimeout: .seconds(60), lingerTimeout: .milliseconds(100), isTLS: false)
                try sync.addHandler(guardHandler)
                try sync.addHandler(HTTPResponseEncoder())
                try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
                try sync.addHandler(ForwardingHandler(loop: loop, connection: connection, guardHandler: guardHandler))
            }
            try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        }

        /// Sends raw bytes; returns every byte written back so far.
        func send(_ text: String) throws -> String {
            try channel.writeInbound(ByteBuffer(string: text))
            channel.embeddedEventLoop.run()
            var out = ""
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                out += buffer.readString(length: buffer.readableBytes) ?? ""
            }
            return out
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithOneRecordEach() throws {
        let harness = try Harness()
        let out = try harness.send("GET /hello HTTP/1.1\r\nHost: local.test\r\n\r\nGET /old/x?q=1 HTTP/1.1\r\nHost: local.test\r\n\r\nGET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n")
        // Status lines, wherever they start (a body runs straight into the next response).
        let statuses = out.split(separator: "HTTP/1.1 ", omittingEmptySubsequences: true).map { $0.prefix(3) }
        #expect(statuses == ["200", "301", "404"], "\(out)")
        #expect(out.contains("hello"))
        #expect(out.lowercased().contains("location: http://local.test/new?q=1"), "\(out)")
        #expect(harness.records.map(\.responseCode) == [200, 301, 404])
        #expect(harness.records.map(\.responseFlags.description) == ["-", "-", "NR"])
        #expect(harness.records.map(\.responseCodeDetails) == ["direct_response", "redirect", "route_not_found"])
        #expect(harness.channel.isActive, "keep-alive: the connection stays open")
        #expect(harness.loop.activeRequests == 0)
    }

    /// `Connection: close` is answered, then the connection closes. (The lingering part, a
    /// half-close and reading on, needs a socket: EmbeddedChannel refuses an output-only close,
    /// and the guard then closes outright. FaultToleranceTests' 431-while-sending test covers it
    /// through the binary.)
    @Test func connectionCloseIsAnsweredThenTheConnectionCloses() throws {
        let harness = try Harness()
        let out = try harness.send("GET /hello HTTP/1.1\r\nHost: local.test\r\nConnection: close\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 200 OK"))
        #expect(out.lowercased().contains("connection: close"))
        harness.channel.embeddedEventLoop.run()
        #expect(!harness.channel.isActive, "closed after the answer")
        #expect(harness.records.count == 1)
    }

    @Test func anUnparsableRequestGetsARaw400AndTheConnectionCloses() throws {
        let harness = try Harness()
        let out = try harness.send("GET /hello HTTP/1.1\r\nHost local.test\r\n\r\n")
        #expect(out.hasPrefix("HTTP/1.1 400 Bad Request"), "\(out)")
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(150))
        #expect(!harness.channel.isActive)
    }

    /// Refused by the proxy's own checks (no Host) or by the parser (two lengths): either
    /// way a raw 400, and one record with DPE.
    @Test(arguments: ["GET /hello HTTP/1.1\r\n\r\n", "GET /hello HTTP/1.1\r\nHost: local.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"])
    func aMalformedHeadIsRefusedAndRecordedAsDPE(_ request: String) throws {
        let harness = try Harness()
        let out = try harness.send(request)
        #expect(out.hasPrefix("HTTP/1.1 400 Bad Request"), "\(out)")
        #expect(harness.records.map(\.responseFlags.description) == ["DPE"])
        #expect(harness.records.first?.responseCode == 400)
    }

    @Test func aClientGoneMidRequestFinishesItsExchangeOnceAsDC() throws {
        let harness = try Harness()
        _ = try harness.send("POST /hello HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 10\r\n\r\nabc")
        // The 404 went out; the rest of the body never comes.
        _ = try? harness.channel.close().wait()
        harness.channel.embeddedEventLoop.run()
        #expect(harness.records.count == 1)
        #expect(harness.records.first?.responseFlags.description == "NR,DC")
        #expect(harness.loop.activeRequests == 0)
    }

    // MARK: HTTP/2

    static func headers(_ path: String, host: String) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: HPACKHeaders([(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", host)]), endStream: true))
    }

    func frames(_ channel: EmbeddedChannel) throws -> [HTTP2Frame] {
        var frames: [HTTP2Frame] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(frame) }
        return frames
    }

    @Test func anHTTP2StreamIsAnsweredWithHeadersAndDataEndingTheStream() throws {
        let harness = try Harness(http2: true)
        try harness.channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.headers("/hello", host: "local.test")))
        harness.channel.embeddedEventLoop.run()
        let out = try frames(harness.channel)
        guard out.count == 2, case .headers(let head) = out[0].payload, case .data(let data) = out[1].payload else {
            Issue.record("expected HEADERS and DATA, got \(out)")
            return
        }
        #expect(head.headers.first(name: ":status") == "200")
        #expect(!head.endStream)
        #expect(data.endStream, "the last DATA frame carries END_STREAM")
        #expect(harness.records.map(\.responseCode) == [200])
        #expect(harness.records.first?.downstreamProtocol == .http2)
    }

    /// An answer complete before the request is (a direct response at the head), then more body
    /// than the proxy reads: the response stands and RST_STREAM NO_ERROR asks the client to stop
    /// sending (RFC 9113 §8.1), not CANCEL.
    @Test func anAnswerBeforeTheRequestEndedStopsTheStreamWithNoError() throws {
        let harness = try Harness(http2: true, maxRequestBodyBytes: 4)
        let post = HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "POST"), (":path", "/hello"), (":scheme", "http"),
                                                                                 (":authority", "local.test")]), endStream: false))
        try harness.channel.writeInbound(HTTP2Frame(streamID: 1, payload: post))
        try harness.channel.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "0123456789"))))))
        harness.channel.embeddedEventLoop.run()
        let out = try frames(harness.channel).filter { $0.streamID == 1 }
        guard out.count == 3, case .headers(let head) = out[0].payload, case .data(let data) = out[1].payload,
              case .rstStream(let code) = out[2].payload else {
            Issue.record("expected HEADERS, DATA and RST_STREAM, got \(out)")
            return
        }
        #expect(head.headers.first(name: ":status") == "200")
        #expect(data.endStream)
        #expect(code == .noError)
        #expect(harness.records.map(\.responseCode) == [200])
    }

    @Test func aMalformedHTTP2RequestIsResetWithProtocolError() throws {
        let harness = try Harness(http2: true)
        let missingPath = HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "x")]),
                                                                endStream: true))
        try harness.channel.writeInbound(HTTP2Frame(streamID: 1, payload: missingPath))
        let out = try frames(harness.channel)
        guard out.count == 1, case .rstStream(let code) = out[0].payload else {
            Issue.record("expected one RST_STREAM, got \(out)")
            return
        }
        #expect(code == .protocolError)
        #expect(harness.records.isEmpty, "a stream refused by the codec is no exchange")
    }
}
