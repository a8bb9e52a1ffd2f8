import MizzenRouting
import NIOCore
import NIOHTTP1

/// A shadow copy of a request sent to a mirror cluster (Envoy's request mirroring): fire and
/// forget. It never holds the primary back: while its upstream is connecting it buffers up to
/// `maxBufferedBytes` of body, and a mirror that cannot keep up (buffer full, upstream not
/// writable, failure) is dropped. Its response is read and discarded. The loop keeps it alive
/// until it ends, independently of the primary exchange. The mirror cluster is the one of the
/// snapshot the primary request was routed with.
final class MirrorExchange: UpstreamClient {
    static let maxBufferedBytes = 64 * 1024

    private let loop: LoopState
    private var lease: UpstreamLease?
    private var waiter: PoolWaiter?
    private var pending = CircularBuffer<HTTPClientRequestPart>(initialCapacity: 4)
    private var pendingBytes = 0
    private var requestEnded = false
    private var done = false
    private var timer: Scheduled<Void>?

    init(loop: LoopState, head: HTTPRequestHead) {
        self.loop = loop
        pending.append(.head(head))
    }

    /// Picks an endpoint of the mirror cluster and connects; gives up quietly on any failure.
    func start(cluster: PublishedCluster, serverName: String?, eventLoop: any EventLoop, timeout: TimeAmount) {
        guard let endpoint = loop.pickEndpoint(cluster, hashKey: nil) else {
            finish()
            return
        }
        loop.mirrorsInFlight[ObjectIdentifier(self)] = self
        timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in self?.abandon() }
        switch loop.upstreams.acquire(cluster, endpoint: endpoint, serverName: serverName, for: self, attempt: 1) {
        case .ready(let lease):
            upstreamReady(lease, attempt: 1)
        case .waiting(let waiter):
            self.waiter = waiter
        case .failed:
            finish()
        }
    }

    /// A part of the primary request, copied.
    func send(_ part: HTTPClientRequestPart) {
        guard !done else { return }
        if case .end = part { requestEnded = true }
        if let lease {
            guard lease.handler.isWritable else {
                abandon()
                return
            }
            lease.handler.write(part)
        } else {
            if case .body(.byteBuffer(let buffer)) = part {
                pendingBytes += buffer.readableBytes
                if pendingBytes > Self.maxBufferedBytes {
                    abandon()
                    return
                }
            }
            pending.append(part)
        }
    }

    func flush() {
        lease?.handler.flush()
    }

    private func abandon() {
        guard !done else { return }
        waiter?.cancel()
        lease?.release(reusable: false)
        lease = nil
        finish()
    }

    private func finish() {
        done = true
        waiter = nil
        pending.removeAll()
        timer?.cancel()
        timer = nil
        loop.mirrorsInFlight[ObjectIdentifier(self)] = nil
    }

    // MARK: UpstreamClient

    func upstreamReady(_ lease: UpstreamLease, attempt: Int) {
        waiter = nil
        guard !done else {
            lease.release(reusable: false)
            return
        }
        self.lease = lease
        while let part = pending.popFirst() { lease.handler.write(part) }
        lease.handler.flush()
    }

    func upstreamUnavailable(_ error: ProxyError, attempt: Int) {
        waiter = nil
        finish()
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        if case .end = part {
            lease?.release(reusable: requestEnded)
            lease = nil
            finish()
        }
    }

    func upstreamFailed(_ error: ProxyError) {
        lease?.release(reusable: false)
        lease = nil
        finish()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {}
    func upstreamReadComplete() {}
    var downstreamIsWritable: Bool { true }
}

@available(*, unavailable)
extension MirrorExchange: Sendable {}
