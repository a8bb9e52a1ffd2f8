import MizzenRouting
import MizzenTelemetry
import NIOCore

/// One proxied TCP connection's telemetry: the bytes each way as they pass (counted into the
/// loop's metrics at once, no lock), its flags, and at the close its `istio_tcp_*` closing and
/// access-log line (Envoy's TCP proxy logs one line per connection). Lives on the loop of the
/// connection; the glue handlers of both sides hold it.
final class TCPTally {
    private let telemetry: LoopTelemetry
    let cluster: UpstreamCluster
    /// Who reports the connection: the listener's side.
    let reporter: Reporter
    let endpoint: Int?
    let peer: Int32
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?
    let remoteIP: String?
    let localIP: String?
    let start: NIODeadline
    let startWallClockNanoseconds: Int64
    var responseFlags = ResponseFlags()
    /// Bytes from the downstream (sent upstream) and to it.
    private(set) var receivedBytes = 0
    private(set) var sentBytes = 0
    private(set) var end: NIODeadline?
    var upstreamLocalAddress: String?
    /// The metric series the connection's bytes go to, once it reached its upstream.
    private(set) var series: Int?
    private var closed = false

    init(telemetry: LoopTelemetry, cluster: UpstreamCluster, reporter: Reporter, endpoint: Int?, peer: Int32, remoteAddress: SocketAddress?, localAddress: SocketAddress?, start: NIODeadline,
         startWallClockNanoseconds: Int64) {
        self.telemetry = telemetry
        self.cluster = cluster
        self.reporter = reporter
        self.endpoint = endpoint
        self.peer = peer
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        remoteIP = remoteAddress?.ipAddress
        localIP = localAddress?.ipAddress
        self.start = start
        self.startWallClockNanoseconds = startWallClockNanoseconds
    }

    func joined() {
        series = telemetry.tcpJoined(self)
    }

    /// Bytes read from the downstream (`fromDownstream`) or from the upstream.
    func passed(_ count: Int, fromDownstream: Bool) {
        if fromDownstream {
            receivedBytes += count
            if let series { telemetry.tcpBytes(series: series, sent: 0, received: count) }
        } else {
            sentBytes += count
            if let series { telemetry.tcpBytes(series: series, sent: count, received: 0) }
        }
    }

    /// The connection is over (the first close of either side ends it); later calls do nothing.
    func close() {
        guard !closed else { return }
        closed = true
        end = .now()
        telemetry.tcpClosed(self)
    }
}

@available(*, unavailable)
extension TCPTally: Sendable {}
