import NIOCore
import NIOHTTP1

/// HTTP/1 requests pipelined behind the one in flight: they wait here, in order, while reads go
/// on up to a bound (unlike NIO's pipelining handler, which stopped and restarted reading around
/// every request: two epoll_ctl calls per request). Past the bound the connection's reads stop
/// until the queue drains to half.
struct HTTP1RequestQueue {
    static let maxBytes = 64 * 1024
    static let maxParts = 256

    private var parts = CircularBuffer<HTTPServerRequestPart>(initialCapacity: 4)
    private var bytes = 0
    /// Reads are held until the queue drains.
    private(set) var isFull = false
    /// A parse error met behind pipelined requests: answered once they are.
    private(set) var refusal: ProxyError?

    var isEmpty: Bool { parts.isEmpty }

    /// Whether the next part is a request head (the next request may start).
    var startsWithHead: Bool {
        if case .head? = parts.first { return true }
        return false
    }

    mutating func enqueue(_ part: HTTPServerRequestPart) {
        bytes += Self.size(part)
        parts.append(part)
        if bytes > Self.maxBytes || parts.count > Self.maxParts { isFull = true }
    }

    mutating func popFirst() -> HTTPServerRequestPart? {
        guard let part = parts.popFirst() else { return nil }
        bytes -= Self.size(part)
        if refusal == nil, isFull, bytes <= Self.maxBytes / 2, parts.count <= Self.maxParts / 2 { isFull = false }
        return part
    }

    /// A parse error: the request it cut short is dropped, the refusal waits for the ones
    /// before it, and nothing more is read.
    mutating func refuseAfterQueued(_ error: ProxyError) {
        if let lastHead = parts.lastIndex(where: { if case .head = $0 { return true } else { return false } }) {
            if case .end? = parts.last {} else {
                while parts.endIndex > lastHead { bytes -= Self.size(parts.removeLast()) }
            }
        }
        refusal = error
        isFull = true
    }

    /// The refusal, once every request before it was served.
    mutating func takeRefusal() -> ProxyError? {
        guard parts.isEmpty, let refusal else { return nil }
        self.refusal = nil
        return refusal
    }

    mutating func removeAll() {
        parts.removeAll()
        bytes = 0
    }

    private static func size(_ part: HTTPServerRequestPart) -> Int {
        switch part {
        case .head(let head): 256 + head.uri.utf8.count
        case .body(let buffer): buffer.readableBytes
        case .end: 16
        }
    }
}
