import Dispatch
import Glibc
package import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Reports finished spans to a Zipkin or OTLP/HTTP collector in batches, off the request path.
///
/// `submit` only appends to a bounded queue under a lock, so a slow or absent collector costs the
/// proxy dropped spans, never latency. A serial dispatch queue drains the queue every flush
/// interval, or as soon as a full batch waits, and POSTs each batch with a small blocking HTTP/1.1
/// client: blocking I/O on a dedicated queue keeps the exporter out of the event loops and needs
/// no second HTTP stack. Like Envoy's Zipkin reporter it does not retry a failed batch.
package final class SpanExporter: Sendable {
    /// Where spans go and in which format; Istio's defaults are port 9411 `/api/v2/spans` and 4318 `/v1/traces`.
    package enum Target: Sendable, Hashable {
        /// Zipkin v2 JSON.
        case zipkin(host: String, port: Int, path: String)
        /// OTLP/HTTP with a JSON body.
        case otlp(host: String, port: Int, path: String)
    }

    private struct State: Sendable {
        var pending: CircularBuffer<FinishedSpan>
        var exported = 0
        var dropped = 0
        var failed = 0
        /// Set while a drain for a full batch is queued, so `submit` queues at most one at a time.
        var drainRequested = false
        var isStopping = false
        /// When the last export warning was logged (uptime), for the 10 s rate limit.
        var lastWarningNanoseconds: UInt64?
        /// Failed batches not warned about since the last warning.
        var unreportedFailures = 0
    }

    private let target: Target
    private let resource: [SpanTag]
    private let maxQueuedSpans: Int
    private let batchSize: Int
    private let flushIntervalMilliseconds: Int
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    private let drainQueue = DispatchQueue(label: "mizzen.tracing.exporter")

    /// Socket timeout for connect, send and receive; a collector slower than this loses the batch.
    private static let ioTimeoutSeconds = 2
    /// How long `shutdown` waits for the last spans to go out.
    private static let shutdownBudget = DispatchTimeInterval.seconds(2)
    /// At most one export warning per this interval, so a collector outage does not flood the log.
    private static let warningIntervalNanoseconds: UInt64 = 10_000_000_000

    /// Creates the exporter and starts its flush timer.
    ///
    /// - Parameters:
    ///   - resource: OTLP resource attributes (`service.name`, `k8s.namespace.name`, …); unused for Zipkin.
    ///   - maxQueuedSpans: spans held at most; more are dropped and counted, bounding memory during an outage.
    ///   - batchSize: spans per POST, and the queue length that triggers an early flush.
    ///   - milliseconds: time between two regular flushes.
    package init(
        target: Target,
        resource: [SpanTag],
        maxQueuedSpans: Int = 4096,
        batchSize: Int = 256,
        flushInterval milliseconds: Int = 1000,
        logger: Logger
    ) {
        self.target = target
        self.resource = resource
        self.maxQueuedSpans = max(1, maxQueuedSpans)
        self.batchSize = max(1, batchSize)
        self.flushIntervalMilliseconds = max(10, milliseconds)
        self.logger = logger
        let initialCapacity = min(self.maxQueuedSpans, self.batchSize)
        self.state = NIOLockedValueBox(State(pending: CircularBuffer(initialCapacity: initialCapacity)))
        scheduleFlush()
    }

    /// Queues a span for export without blocking; when the queue is full or the exporter stopped, counts it dropped.
    package func submit(_ span: FinishedSpan) {
        let batchReady = state.withLockedValue { state -> Bool in
            guard !state.isStopping, state.pending.count < maxQueuedSpans else {
                state.dropped += 1
                return false
            }
            state.pending.append(span)
            guard state.pending.count >= batchSize, !state.drainRequested else { return false }
            state.drainRequested = true
            return true
        }
        if batchReady {
            drainQueue.async { [weak self] in self?.drain(until: nil) }
        }
    }

    /// Spans waiting now, and since the start: exported (2xx), dropped (queue full, stopped), failed (collector error).
    package var counts: (queued: Int, exported: Int, dropped: Int, failed: Int) {
        state.withLockedValue { ($0.pending.count, $0.exported, $0.dropped, $0.failed) }
    }

    /// Stops accepting spans and sends what is queued, returning within about 2 s.
    ///
    /// Spans still queued when the budget runs out are counted as dropped (once the POST in flight ends).
    package func shutdown() {
        let finished = DispatchSemaphore(value: 0)
        beginShutdown { finished.signal() }
        _ = finished.wait(timeout: .now() + Self.shutdownBudget)
    }

    /// ``shutdown()`` without blocking a thread of the caller's executor.
    package func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            beginShutdown { continuation.resume() }
        }
    }

    /// Stops intake and runs a last drain; `completion` runs once, when the drain ends or the budget is spent.
    private func beginShutdown(_ completion: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.isStopping = true }
        let once = NIOLockedValueBox<(@Sendable () -> Void)?>(completion)
        let complete: @Sendable () -> Void = {
            once.withLockedValue { pending in
                defer { pending = nil }
                return pending
            }?()
        }
        let deadline = DispatchTime.now() + Self.shutdownBudget
        drainQueue.async { [self] in
            drain(until: deadline)
            complete()
        }
        DispatchQueue.global().asyncAfter(deadline: deadline, execute: complete)
    }

    private func scheduleFlush() {
        drainQueue.asyncAfter(deadline: .now() + .milliseconds(flushIntervalMilliseconds)) { [weak self] in
            guard let self, !self.state.withLockedValue({ $0.isStopping }) else { return }
            self.drain(until: nil)
            self.scheduleFlush()
        }
    }

    /// Sends batches until the queue is empty; past `deadline`, what is left is dropped instead.
    ///
    /// Runs only on `drainQueue`, so batches go out one at a time and in order.
    private func drain(until deadline: DispatchTime?) {
        while true {
            let batch = state.withLockedValue { state -> [FinishedSpan] in
                state.drainRequested = false
                if let deadline, DispatchTime.now() >= deadline {
                    state.dropped += state.pending.count
                    state.pending.removeAll(keepingCapacity: true)
                    return []
                }
                let count = min(batchSize, state.pending.count)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            export(batch)
        }
    }

    private func export(_ batch: [FinishedSpan]) {
        let host: String
        let port: Int
        let path: String
        let body: [UInt8]
        switch target {
        case .zipkin(let zipkinHost, let zipkinPort, let zipkinPath):
            (host, port, path) = (zipkinHost, zipkinPort, zipkinPath)
            body = ZipkinV2.encode(batch)
        case .otlp(let otlpHost, let otlpPort, let otlpPath):
            (host, port, path) = (otlpHost, otlpPort, otlpPath)
            body = OTLPJSON.encode(batch, resource: resource)
        }
        let failure: CollectorPost.Failure?
        let outcome = CollectorPost.send(
            host: host,
            port: port,
            path: path,
            body: body,
            timeoutSeconds: Self.ioTimeoutSeconds
        )
        switch outcome {
        case .success(let status) where (200..<300).contains(status):
            failure = nil
        case .success(let status):
            failure = .status(status)
        case .failure(let error):
            failure = error
        }
        guard let failure else {
            state.withLockedValue { $0.exported += batch.count }
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let suppressed = state.withLockedValue { state -> Int? in
            state.failed += batch.count
            if let last = state.lastWarningNanoseconds, now &- last < Self.warningIntervalNanoseconds {
                state.unreportedFailures += 1
                return nil
            }
            state.lastWarningNanoseconds = now
            defer { state.unreportedFailures = 0 }
            return state.unreportedFailures
        }
        if let suppressed {
            logger.warning(
                "span export failed",
                metadata: [
                    "collector": "\(host):\(port)\(path)",
                    "error": "\(failure)",
                    "spans": "\(batch.count)",
                    "suppressed_failures": "\(suppressed)",
                ]
            )
        }
    }
}

/// One `POST` to a collector over a blocking POSIX socket, answered by the response's status code.
///
/// Reads only the status line and then closes: the request says `Connection: close`, and the
/// body of a collector's answer says nothing the counters need.
private enum CollectorPost {
    /// Why a batch did not reach the collector; the text goes to the rate-limited warning.
    enum Failure: Error, CustomStringConvertible {
        case invalidTarget
        case resolve(String)
        case connect(Int32)
        case send(Int32)
        case receive(Int32)
        case malformedResponse
        case status(Int)

        var description: String {
            switch self {
            case .invalidTarget: "invalid collector host or path"
            case .resolve(let reason): "cannot resolve collector: \(reason)"
            case .connect(let code): "connect: \(Self.describe(code))"
            case .send(let code): "send: \(Self.describe(code))"
            case .receive(let code): "receive: \(Self.describe(code))"
            case .malformedResponse: "malformed HTTP response"
            case .status(let status): "HTTP status \(status)"
            }
        }

        /// `strerror` text; a timed-out socket call reports EAGAIN, which deserves its real name.
        private static func describe(_ code: Int32) -> String {
            if code == EAGAIN || code == EWOULDBLOCK || code == EINPROGRESS { return "timed out" }
            guard let text = strerror(code) else { return "errno \(code)" }
            return String(cString: text)
        }
    }

    static func send(
        host: String,
        port: Int,
        path: String,
        body: [UInt8],
        timeoutSeconds: Int
    ) -> Result<Int, Failure> {
        // The target comes from configuration, but a CR, LF or space would still split the request line.
        guard (1...65535).contains(port), !host.isEmpty, path.hasPrefix("/"),
            !host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }),
            !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
        else { return .failure(.invalidTarget) }

        let socket: Int32
        switch connect(host: host, port: port, timeoutSeconds: timeoutSeconds) {
        case .success(let connected): socket = connected
        case .failure(let failure): return .failure(failure)
        }
        defer { close(socket) }

        let authority = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
        var request = Array(
            ("POST \(path) HTTP/1.1\r\n" + "Host: \(authority)\r\n" + "User-Agent: mizzen\r\n"
                + "Content-Type: application/json\r\n" + "Content-Length: \(body.count)\r\n"
                + "Connection: close\r\n\r\n").utf8
        )
        request.append(contentsOf: body)
        if let code = sendAll(request, on: socket) {
            return .failure(.send(code))
        }
        return readStatus(from: socket)
    }

    /// Connects to the first address of `host` that answers; on Linux `SO_SNDTIMEO` also bounds `connect`.
    private static func connect(host: String, port: Int, timeoutSeconds: Int) -> Result<Int32, Failure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var addresses: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &addresses)
        guard resolved == 0, let first = addresses else {
            let reason = gai_strerror(resolved).map { String(cString: $0) } ?? "error \(resolved)"
            return .failure(.resolve(reason))
        }
        defer { freeaddrinfo(first) }

        var lastFailure = Failure.connect(ECONNREFUSED)
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let socket = Glibc.socket(
                address.pointee.ai_family,
                address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                address.pointee.ai_protocol
            )
            guard socket >= 0 else {
                lastFailure = .connect(errno)
                continue
            }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            let length = socklen_t(MemoryLayout<timeval>.size)
            guard setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, length) == 0,
                setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, length) == 0
            else {
                lastFailure = .connect(errno)
                close(socket)
                continue
            }
            if Glibc.connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                return .success(socket)
            }
            lastFailure = .connect(errno)
            close(socket)
        }
        return .failure(lastFailure)
    }

    /// Writes all of `bytes`, returning the errno that stopped it, if any.
    ///
    /// `MSG_NOSIGNAL` because a collector that closed early must cost a failed batch, not SIGPIPE.
    private static func sendAll(_ bytes: [UInt8], on socket: Int32) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.send(socket, base + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return written == 0 ? EPIPE : errno
                }
            }
            return nil
        }
    }

    /// Reads until the end of the status line (`HTTP/1.x NNN …\r\n`) and returns its code.
    private static func readStatus(from socket: Int32) -> Result<Int, Failure> {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while !received.contains(UInt8(ascii: "\n")) {
            guard received.count < 4096 else { return .failure(.malformedResponse) }
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: chunk[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else if count == 0 {
                break
            } else {
                return .failure(.receive(errno))
            }
        }
        // "HTTP/1.1 202 Accepted": the code sits at bytes 9...11, after the version and one space.
        let prefix = Array("HTTP/1.".utf8)
        guard received.count >= 12, received.starts(with: prefix), received[8] == UInt8(ascii: " ") else {
            return .failure(.malformedResponse)
        }
        var status = 0
        for byte in received[9..<12] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return .failure(.malformedResponse) }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return .success(status)
    }
}
