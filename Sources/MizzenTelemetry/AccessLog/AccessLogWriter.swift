import Dispatch
package import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Writes access-log lines to a file or standard output off the event loops. Loops hand over
/// whole batches of lines (one lock per batch, not per request); a serial queue writes them.
/// The buffer is bounded: when the disk or the pipe is slower than the traffic, new batches
/// are dropped and their lines counted, and requests never wait for the log.
package final class AccessLogWriter: Sendable {
    private struct State {
        var pending: [[UInt8]] = []
        var pendingBytes = 0
        var pendingLines = 0
        var draining = false
        var written: UInt64 = 0
        var dropped: UInt64 = 0
        var failed: UInt64 = 0
        var fd: Int32
    }

    package let path: String
    private let maxPendingBytes: Int
    private let state: NIOLockedValueBox<State>
    private let queue = DispatchQueue(label: "mizzen.access-log")
    private let logger: Logger

    /// Opens `path` for appending (`-` or `/dev/stdout`: standard output). `maxPendingBytes`
    /// bounds what waits to be written.
    package init(path: String, maxPendingBytes: Int = 4 << 20, logger: Logger) throws(AccessLogOpenError) {
        self.path = path
        self.maxPendingBytes = maxPendingBytes
        self.logger = logger
        let fd = try Self.open(path)
        state = NIOLockedValueBox(State(fd: fd))
    }

    private static func open(_ path: String) throws(AccessLogOpenError) -> Int32 {
        if path == "-" || path == "/dev/stdout" { return 1 }
        if path == "/dev/stderr" { return 2 }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AccessLogOpenError(path: path, errno: errno) }
        return fd
    }

    /// Hands over `bytes` holding `lines` whole lines. Never blocks on I/O.
    package func submit(_ bytes: [UInt8], lines: Int) {
        guard !bytes.isEmpty else { return }
        let startDrain = state.withLockedValue { state -> Bool in
            if state.pendingBytes + bytes.count > maxPendingBytes {
                state.dropped &+= UInt64(lines)
                return false
            }
            state.pending.append(bytes)
            state.pendingBytes += bytes.count
            state.pendingLines += lines
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Lines written, dropped because the buffer was full, and lost to write errors.
    package var counts: (written: UInt64, dropped: UInt64, failed: UInt64) {
        state.withLockedValue { ($0.written, $0.dropped, $0.failed) }
    }

    /// Reopens the file (after a rotation moved it away; Envoy does this on SIGUSR1).
    package func reopen() {
        queue.async {
            guard let fd = try? Self.open(self.path) else { return }
            let old = self.state.withLockedValue { state -> Int32 in
                let old = state.fd
                state.fd = fd
                return old
            }
            if old > 2 { close(old) }
        }
    }

    /// Waits until what was handed over is written, at most `timeout` (a reader that stopped
    /// reading must not hold up shutdown).
    package func flush(timeout: Duration = .seconds(1)) {
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        _ = done.wait(timeout: .now() + .milliseconds(milliseconds))
    }

    private func drain() {
        while true {
            let (batches, lines, fd) = state.withLockedValue { state -> ([[UInt8]], Int, Int32) in
                if state.pending.isEmpty {
                    state.draining = false
                    return ([], 0, state.fd)
                }
                let batches = state.pending
                let lines = state.pendingLines
                state.pending = []
                state.pendingBytes = 0
                state.pendingLines = 0
                return (batches, lines, state.fd)
            }
            if batches.isEmpty { return }
            var ok = true
            for batch in batches where ok {
                ok = Self.writeAll(fd, batch)
            }
            let failedNow = !ok
            state.withLockedValue { state in
                if failedNow { state.failed &+= UInt64(lines) } else { state.written &+= UInt64(lines) }
            }
            if failedNow { logger.warning("access log \(path): write failed (errno \(errno)); lines lost") }
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}

/// The access log file cannot be opened.
package struct AccessLogOpenError: Error, CustomStringConvertible {
    package var path: String
    package var errno: Int32
    package var description: String { "access log \(path): cannot open (\(String(cString: strerror(errno))))" }
}
