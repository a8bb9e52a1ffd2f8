import Logging
import MizzenRouting
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// Where a request's response goes.
enum Downstream {
    /// An HTTP/1 connection: the `ForwardingHandler`'s own pipeline context.
    case http1(ChannelHandlerContext)
    /// A stream of an HTTP/2 connection served by `HTTP2ServerConnectionHandler`.
    case http2(HTTP2ServerStream)
}

/// The downstream side of an HTTP/2 connection, after `NIOHTTP2Handler` (which parses frames,
/// runs the connection and stream state machines, HPACK, header validation and the DoS
/// limits): a table of active streams, each served by a `ForwardingHandler` called directly.
///
/// NIOHTTP2's multiplexer makes a child channel per stream (a channel, a pipeline, an
/// HTTP/2-to-HTTP/1 codec, activation and close promises) and copies every part between them;
/// here a request costs one stream object. What the child channel did for us is done here:
/// request heads from header blocks, responses to frames, flow control (the stream's window is
/// given back as its body is consumed, and held while the exchange holds reads; the connection
/// window is kept open), writability (bytes written and not yet on the socket), and a reset
/// when the exchange gives up on a stream.
final class HTTP2ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let loop: LoopState
    private let connection: DownstreamConnection
    /// The receive window kept open for each stream and for the connection (the
    /// SETTINGS_INITIAL_WINDOW_SIZE this connection advertised).
    let windowSize: Int
    private var context: ChannelHandlerContext?
    private var streams: [HTTP2StreamID: HTTP2ServerStream] = [:]
    /// Streams that received frames in the current read burst (told when it ends).
    private var readBurst: [HTTP2ServerStream] = []
    private(set) var isWritable = true
    /// Request body bytes the streams hold unsent (their exchange holds reads). Past
    /// `ProxyLimits.http2ConnectionBufferBytes` the connection's receive window is not given
    /// back, so a client cannot make the proxy buffer a window's worth on every stream.
    fileprivate var heldBytes = 0
    /// The connection's receive window as NIOHTTP2 last reported it.
    private var connectionWindow: Int?
    /// The highest stream the client opened (for GOAWAY).
    private var lastStreamID = HTTP2StreamID(0)
    /// Envoy's connection idle timeout (GOAWAY, then close) once no stream has been open for
    /// `idleTimeout`. The timer stays armed for the connection's life and checks `idleSince`
    /// when it fires, so a client sending one request at a time (gRPC unary) costs no timer
    /// scheduling per request.
    private var idleTimer: Scheduled<Void>?
    /// GOAWAY went out because the proxy is draining.
    private var sentDrainGoAway = false
    /// When the last stream left the table; nil while a stream is open.
    private var idleSince: NIODeadline? = .now()

    init(loop: LoopState, connection: DownstreamConnection, windowSize: Int) {
        self.loop = loop
        self.connection = connection
        self.windowSize = windowSize
    }

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
        armIdleTimer()
        loop.http2Connections[ObjectIdentifier(self)] = self
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loop.http2Connections.removeValue(forKey: ObjectIdentifier(self))
        idleTimer?.cancel()
        idleTimer = nil
        closeAllStreams()
        self.context = nil
    }

    private func armIdleTimer(in delay: TimeAmount? = nil) {
        guard let context, idleTimer == nil, loop.limits.idleTimeout.nanoseconds > 0 else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay ?? loop.limits.idleTimeout) { [weak self] in
            self?.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard let context else { return }
        let timeout = loop.limits.idleTimeout
        guard let idleSince else {
            armIdleTimer()
            return
        }
        let idle = NIODeadline.now() - idleSince
        if idle < timeout {
            armIdleTimer(in: timeout - idle)
            return
        }
        loop.logger.debug("http2: connection idle for \(loop.limits.idleTimeout), closing")
        context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))),
                      promise: nil)
        context.flush()
        context.close(promise: nil)
    }

    /// A stream left the table: with none left, the connection is idle from now (and, once
    /// draining, closes).
    private func streamRemoved() {
        if streams.isEmpty { idleSince = .now() }
        if loop.draining { drain() }
    }

    /// The proxy is draining: GOAWAY with the last stream taken (those open finish; the client
    /// opens new ones on a new connection), and the connection closes once its streams are done.
    func drain() {
        guard let context else { return }
        if !sentDrainGoAway {
            sentDrainGoAway = true
            context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))),
                          promise: nil)
            context.flush()
        }
        if streams.isEmpty { context.close(promise: nil) }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            receivedHeaders(headers, streamID: frame.streamID, context: context)
        case .data(let payload):
            receivedData(payload, streamID: frame.streamID)
        default:
            // SETTINGS, PING, WINDOW_UPDATE, RST_STREAM, GOAWAY, PRIORITY: NIOHTTP2Handler has
            // acted on them; the stream closures they cause arrive as `StreamClosedEvent`.
            break
        }
    }

    private func receivedHeaders(_ headers: HTTP2Frame.FramePayload.Headers, streamID: HTTP2StreamID, context: ChannelHandlerContext) {
        if let stream = streams[streamID] {
            // A second header block on a stream is its trailers (NIOHTTP2Handler's state
            // machine allows nothing else from a client: trailers, ending the stream).
            noteRead(stream)
            stream.handler?.receive(.end(Self.regularHeaders(headers.headers)))
            return
        }
        let head: HTTPRequestHead
        do {
            head = try Self.requestHead(headers.headers, endStream: headers.endStream)
        } catch {
            // A malformed request is a stream error of type PROTOCOL_ERROR (RFC 9113 §8.1.1).
            loop.logger.debug("http2: malformed request on stream \(streamID): \(error)")
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .rstStream(.protocolError))), promise: nil)
            context.flush()
            return
        }
        let stream = HTTP2ServerStream(id: streamID, connection: self)
        let handler = ForwardingHandler(loop: loop, connection: connection, guardHandler: nil)
        handler.attach(stream, eventLoop: context.eventLoop)
        stream.handler = handler
        streams[streamID] = stream
        if streamID > lastStreamID { lastStreamID = streamID }
        idleSince = nil
        noteRead(stream)
        handler.receive(.head(head))
        if headers.endStream { stream.handler?.receive(.end(nil)) }
    }

    private func receivedData(_ payload: HTTP2Frame.FramePayload.Data, streamID: HTTP2StreamID) {
        // DATA for a stream no longer in the table (reset by us, its exchange over) is dropped;
        // the connection window still counts it and is reopened below.
        guard let stream = streams[streamID], case .byteBuffer(let buffer) = payload.data else { return }
        noteRead(stream)
        if buffer.readableBytes > 0 { stream.handler?.receive(.body(buffer)) }
        if payload.endStream {
            stream.handler?.receive(.end(nil))
        } else {
            // Padding counts against the window as well (RFC 9113 §6.1).
            stream.consumed(buffer.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0))
        }
    }

    private func noteRead(_ stream: HTTP2ServerStream) {
        guard !stream.inReadBurst else { return }
        stream.inReadBurst = true
        readBurst.append(stream)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !readBurst.isEmpty else { return }
        var burst = readBurst
        readBurst = []
        for stream in burst {
            stream.inReadBurst = false
            stream.handler?.downstreamReadComplete()
        }
        burst.removeAll(keepingCapacity: true)
        if readBurst.isEmpty { readBurst = burst }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            // No reason: both sides ended the stream (the client's END_STREAM included).
            streams.removeValue(forKey: closed.streamID)?.closed(normally: closed.reason == nil)
            streamRemoved()
        case let window as NIOHTTP2WindowUpdatedEvent:
            // The connection's receive window: reopened to its size once half is used, as
            // NIOHTTP2's multiplexer does, unless the streams hold too much unsent (streams'
            // windows are given back as their bytes are consumed).
            if window.streamID == .rootStream, let inbound = window.inboundWindowSize {
                connectionWindow = inbound
                reopenConnectionWindowIfDue()
            }
        case is NIOHTTP2StreamCreatedEvent, is NIOHTTP2BulkStreamWindowChangeEvent:
            break
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        for stream in Array(streams.values) { stream.connectionWritabilityChanged() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAllStreams()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors: NIOHTTP2Handler has already reset the stream (its StreamClosedEvent
        // follows) or sent GOAWAY. A write to a stream closed meanwhile fails here too.
        if !(error is NIOHTTP2Errors.StreamError) {
            loop.logger.debug("http2: \(error)")
        }
    }

    private func closeAllStreams() {
        let all = streams
        streams = [:]
        for stream in all.values { stream.closed(normally: false) }
    }

    /// Gives the connection's receive window back when half of it is used, unless the streams
    /// hold more than the connection may buffer.
    fileprivate func reopenConnectionWindowIfDue() {
        guard let context, let inbound = connectionWindow, inbound <= windowSize / 2, heldBytes <= loop.limits.http2ConnectionBufferBytes else { return }
        connectionWindow = windowSize
        context.write(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: windowSize - inbound))), promise: nil)
        context.flush()
    }

    // MARK: Outbound, for the streams

    fileprivate func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    fileprivate func flush() {
        context?.flush()
    }

    fileprivate func makePromise() -> EventLoopPromise<Void>? {
        context?.eventLoop.makePromise()
    }

    /// The stream reset itself: it leaves the table now (its StreamClosedEvent finds nothing).
    fileprivate func remove(_ stream: HTTP2ServerStream) {
        if streams[stream.id] === stream {
            streams.removeValue(forKey: stream.id)
            streamRemoved()
        }
    }

    // MARK: Header blocks

    /// The request head of a header block, as NIOHTTP2's HTTP/1 codec builds it: the pseudo
    /// headers become method and target, `:authority` the `host` header (unless the client
    /// sent one, which RFC 9113 §8.3.1 allows instead), and a body without `content-length`
    /// is marked chunked for an HTTP/1 upstream.
    static func requestHead(_ block: HPACKHeaders, endStream: Bool) throws -> HTTPRequestHead {
        var method: String?
        var path: String?
        var scheme: String?
        var authority: String?
        var regular: [(String, String)] = []
        regular.reserveCapacity(block.count + 1)
        var hasHost = false
        var hasContentLength = false
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                guard isValidPseudoHeaderValue(value) else { throw MalformedRequest.invalidPseudoHeaderValue(name) }
                switch name {
                case ":method": if method != nil { throw MalformedRequest.duplicatePseudoHeader(name) }; method = value
                case ":path": if path != nil { throw MalformedRequest.duplicatePseudoHeader(name) }; path = value
                case ":scheme": if scheme != nil { throw MalformedRequest.duplicatePseudoHeader(name) }; scheme = value
                case ":authority": if authority != nil { throw MalformedRequest.duplicatePseudoHeader(name) }; authority = value
                default: throw MalformedRequest.unsupportedPseudoHeader(name)
                }
            } else {
                if name == "host" {
                    hasHost = true
                } else if name == "content-length" {
                    hasContentLength = true
                }
                regular.append((name, value))
            }
        }
        guard let method else { throw MalformedRequest.missingPseudoHeader(":method") }
        let httpMethod = HTTPMethod(rawValue: method)
        let uri: String
        if httpMethod == .CONNECT {
            // CONNECT carries only :authority (RFC 9113 §8.5); refused later like HTTP/1's.
            guard let authority, path == nil, scheme == nil else { throw MalformedRequest.invalidConnect }
            uri = authority
        } else {
            guard let path else { throw MalformedRequest.missingPseudoHeader(":path") }
            guard scheme != nil else { throw MalformedRequest.missingPseudoHeader(":scheme") }
            guard authority != nil || hasHost else { throw MalformedRequest.missingPseudoHeader(":authority") }
            uri = path
        }
        var fields: [(String, String)] = []
        fields.reserveCapacity(regular.count + 2)
        if !hasHost, let authority { fields.append(("host", authority)) }
        switch httpMethod {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE:
            break
        default:
            if !hasContentLength { fields.append(endStream ? ("content-length", "0") : ("transfer-encoding", "chunked")) }
        }
        fields.append(contentsOf: regular)
        return HTTPRequestHead(version: .http2, method: httpMethod, uri: uri, headers: HTTPHeaders(fields))
    }

    /// Pseudo-header values: no control characters, spaces or DEL (they would end or split an
    /// HTTP/1 request line when the request goes on to an HTTP/1 upstream).
    static func isValidPseudoHeaderValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
    }

    static func regularHeaders(_ block: HPACKHeaders) -> HTTPHeaders {
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count)
        for (name, value, _) in block where name.utf8.first != UInt8(ascii: ":") {
            fields.append((name, value))
        }
        return HTTPHeaders(fields)
    }

    /// A response (or trailer) header block from HTTP/1-style headers: names lower-cased,
    /// HTTP/1's connection-specific fields left out (RFC 9113 §8.2.2).
    static func headerBlock(_ headers: HTTPHeaders, status: HTTPResponseStatus?) -> HPACKHeaders {
        var block = HPACKHeaders()
        block.reserveCapacity(headers.count + 1)
        if let status { block.add(name: ":status", value: String(status.code)) }
        for (name, value) in headers {
            let lowered = RequestAttributes.lowercasedName(name)
            switch lowered {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                continue
            default:
                block.add(name: lowered, value: value)
            }
        }
        return block
    }

    enum MalformedRequest: Error, CustomStringConvertible {
        case missingPseudoHeader(String)
        case duplicatePseudoHeader(String)
        case unsupportedPseudoHeader(String)
        case invalidPseudoHeaderValue(String)
        case invalidConnect

        var description: String {
            switch self {
            case .missingPseudoHeader(let name): return "missing \(name)"
            case .duplicatePseudoHeader(let name): return "duplicate \(name)"
            case .unsupportedPseudoHeader(let name): return "unsupported pseudo-header \(name)"
            case .invalidPseudoHeaderValue(let name): return "invalid value of \(name)"
            case .invalidConnect: return "CONNECT with :path or :scheme, or without :authority"
            }
        }
    }
}

@available(*, unavailable)
extension HTTP2ServerConnectionHandler: Sendable {}

/// One request stream of an HTTP/2 connection: turns its `ForwardingHandler`'s response parts
/// into frames and keeps the stream's flow-control and writability accounts.
final class HTTP2ServerStream {
    let id: HTTP2StreamID
    /// Strong: a stream leaves the connection's table when it closes, which ends the cycle;
    /// a write's completion may still reach a stream after that.
    private let connection: HTTP2ServerConnectionHandler
    /// The exchange; dropped when the stream closes (the two hold each other until then).
    var handler: ForwardingHandler?
    fileprivate var inReadBurst = false
    private var isClosed = false
    /// Request body bytes consumed and not yet given back to the client's window.
    private var unacknowledged = 0
    /// Of those, the bytes consumed while the exchange held reads (counted in the connection's
    /// `heldBytes`).
    private var held = 0
    /// Response bytes written, and of those the ones known to be on the socket: the difference
    /// is what NIOHTTP2 still holds (DATA beyond the client's window). The stream is not
    /// writable above the high watermark, until the low one.
    private var writtenBytes = 0
    private var sentBytes = 0
    private var bufferedBytes: Int { writtenBytes - sentBytes }
    private var belowWatermark = true
    /// The last HEADERS or DATA frame written, held until the next part or flush: when the
    /// response ends right after it, the frame carries END_STREAM (a response is then HEADERS
    /// and DATA, not HEADERS, DATA and an empty DATA; a bodiless one is one HEADERS frame).
    private var heldFrame: HTTP2Frame.FramePayload?
    static let highWatermark = 64 * 1024
    static let lowWatermark = 32 * 1024

    fileprivate init(id: HTTP2StreamID, connection: HTTP2ServerConnectionHandler) {
        self.id = id
        self.connection = connection
    }

    var isWritable: Bool { belowWatermark && connection.isWritable }
    var allocator: ByteBufferAllocator { connection.allocator }

    func write(_ part: HTTPServerResponsePart) {
        guard !isClosed else { return }
        switch part {
        case .head(let head):
            writeHeld(endStream: false)
            let block = HTTP2ServerConnectionHandler.headerBlock(head.headers, status: head.status)
            heldFrame = .headers(.init(headers: block))
        case .body(let body):
            writeHeld(endStream: false)
            heldFrame = .data(.init(data: body))
        case .end(let trailers?):
            writeHeld(endStream: false)
            let block = HTTP2ServerConnectionHandler.headerBlock(trailers, status: nil)
            connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: block, endStream: true))), promise: nil)
        case .end(nil):
            if heldFrame != nil {
                writeHeld(endStream: true)
            } else {
                let empty = connection.allocator.buffer(capacity: 0)
                connection.write(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(empty), endStream: true))), promise: nil)
            }
        }
    }

    func flush() {
        writeHeld(endStream: false)
        connection.flush()
    }

    /// Writes the frame held back (see `heldFrame`), ending the stream with it when asked.
    private func writeHeld(endStream: Bool) {
        guard let payload = heldFrame else { return }
        heldFrame = nil
        switch payload {
        case .headers(var headers):
            headers.endStream = endStream
            connection.write(HTTP2Frame(streamID: id, payload: .headers(headers)), promise: nil)
        case .data(var data):
            data.endStream = endStream
            writtenBytes += data.data.readableBytes
            if belowWatermark && bufferedBytes > Self.highWatermark { belowWatermark = false }
            // A stream's frames reach the socket in order, so one write's completion accounts
            // for every byte written before it: a completion is asked for only once the unsent
            // bytes pass the low watermark (most responses never do, and save a promise).
            var promise: EventLoopPromise<Void>?
            if bufferedBytes > Self.lowWatermark {
                promise = connection.makePromise()
                let mark = writtenBytes
                promise?.futureResult.assumeIsolated().whenComplete { _ in self.sent(upTo: mark) }
            }
            connection.write(HTTP2Frame(streamID: id, payload: .data(data)), promise: promise)
        default:
            connection.write(HTTP2Frame(streamID: id, payload: payload), promise: nil)
        }
    }

    /// The exchange answered whole while the request is still arriving: RST_STREAM NO_ERROR
    /// asks the client to stop sending (RFC 9113 §8.1), the response stands.
    func stopRequest() {
        reset(code: .noError)
    }

    /// The exchange gave up on the stream: RST_STREAM (CANCEL, or `code`) if it is still open,
    /// then the stream is closed at once (as a child channel's close would).
    func reset(code: HTTP2ErrorCode = .cancel) {
        guard !isClosed else { return }
        heldFrame = nil
        connection.write(HTTP2Frame(streamID: id, payload: .rstStream(code)), promise: nil)
        connection.flush()
        connection.remove(self)
        closed(normally: false)
    }

    /// `normally`: both sides ended the stream; otherwise it was reset or its connection went.
    fileprivate func closed(normally: Bool) {
        guard !isClosed else { return }
        isClosed = true
        heldFrame = nil
        releaseHeld()
        let handler = self.handler
        self.handler = nil
        handler?.downstreamClosed(normally: normally)
    }

    /// Request body bytes the exchange took: their window goes back to the client once half
    /// of it is used, unless the exchange holds reads (its upstream is not ready or not
    /// writable); then it waits for `resumeReading`.
    fileprivate func consumed(_ bytes: Int) {
        unacknowledged += bytes
        if handler?.holdsDownstreamReads() == true {
            held += bytes
            connection.heldBytes += bytes
            return
        }
        giveBackWindowIfDue()
    }

    func resumeReading() {
        releaseHeld()
        giveBackWindowIfDue()
    }

    private func releaseHeld() {
        guard held > 0 else { return }
        connection.heldBytes -= held
        held = 0
        connection.reopenConnectionWindowIfDue()
    }

    private func giveBackWindowIfDue() {
        guard !isClosed, unacknowledged >= connection.windowSize / 2 else { return }
        let increment = unacknowledged
        unacknowledged = 0
        connection.write(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: increment)), promise: nil)
        connection.flush()
    }

    private func sent(upTo mark: Int) {
        sentBytes = max(sentBytes, mark)
        guard !belowWatermark, bufferedBytes <= Self.lowWatermark else { return }
        belowWatermark = true
        if connection.isWritable { handler?.downstreamWritabilityChanged(isWritable: true) }
    }

    fileprivate func connectionWritabilityChanged() {
        handler?.downstreamWritabilityChanged(isWritable: isWritable)
    }
}

@available(*, unavailable)
extension HTTP2ServerStream: Sendable {}
