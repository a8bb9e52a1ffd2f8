import MizzenRouting
package import MizzenTelemetry
import NIOCore
import NIOHTTP1

/// One event loop's side of telemetry: its metrics, its batch of access-log lines, the metric
/// handles of the clusters it has seen. Takes every finished exchange's record and every
/// TCP connection's bytes; touched only on its loop.
final class LoopTelemetry {
    let shared: ProxyTelemetry
    let metrics = LoopMetrics()
    private let eventLoop: any EventLoop
    /// Metric handles per cluster object (the object is held, so its identity is not reused
    /// while the entry exists); dropped on publish when the cluster is gone or replaced. The
    /// counts live in `metrics`, by label values, and survive that.
    private var handles: [ObjectIdentifier: ClusterHandle] = [:]
    /// Peers of requests no cluster served, by the Host header (bounded by `metrics.maxPeers`).
    private var hostPeers: [String: Int32] = [:]
    /// Inbound peers by cluster and client identity (`inboundPeer`).
    private var inboundPeers: [InboundPeerKey: Int32] = [:]

    struct InboundPeerKey: Hashable {
        var cluster: ObjectIdentifier
        var principal: String?
        var local: String?
    }
    private var logBuffer: LogBytes
    private var logLines = 0
    private var logFlushScheduled = false
    /// The access log's date text of the current second.
    private var timeCache = UTCTime.SecondCache()
    /// Request ids of locally answered requests.
    private var random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    /// The access-log format reads the upstream connection's local address.
    let wantsUpstreamLocalAddress: Bool

    final class ClusterHandle {
        let cluster: UpstreamCluster
        let envoyCluster: Int32
        /// Peer handle per endpoint index, made on first use (-1: not yet); the last entry is
        /// the cluster without an endpoint (no healthy upstream, unknown service).
        var peers: [Int32]

        init(cluster: UpstreamCluster, envoyCluster: Int32) {
            self.cluster = cluster
            self.envoyCluster = envoyCluster
            peers = Array(repeating: -1, count: cluster.endpoints.count + 1)
        }
    }

    deinit {
        logBuffer.deallocate()
    }

    init(shared: ProxyTelemetry, eventLoop: any EventLoop) {
        self.shared = shared
        self.eventLoop = eventLoop
        logBuffer = LogBytes(capacity: shared.accessLog == nil ? 256 : 64 * 1024)
        wantsUpstreamLocalAddress = shared.accessLog?.format.fields.contains(.upstreamLocalAddress) ?? false
    }

    /// Drops the handles of clusters no longer published as they were.
    func publish(_ snapshot: ProxySnapshot) {
        if snapshot.localPrincipal != localPrincipal {
            // Peers carry the identity: all are made again.
            localPrincipal = snapshot.localPrincipal
            handles = [:]
        }
        handles = handles.filter { snapshot.clusters[$0.value.cluster.name]?.cluster === $0.value.cluster }
        inboundPeers = inboundPeers.filter { handles[$0.key.cluster] != nil }
    }

    /// This proxy's SPIFFE identity, when it has a workload certificate.
    private var localPrincipal: String?

    private func handle(_ cluster: UpstreamCluster) -> ClusterHandle {
        if let handle = handles[ObjectIdentifier(cluster)] { return handle }
        let handle = ClusterHandle(cluster: cluster, envoyCluster: metrics.cluster(cluster.name))
        handles[ObjectIdentifier(cluster)] = handle
        return handle
    }

    /// The peer of a request or connection to `endpoint` of `handle`'s cluster.
    private func peer(_ handle: ClusterHandle, endpoint: Int?) -> Int32 {
        let slot = endpoint.map { $0 < handle.cluster.endpoints.count ? $0 : handle.peers.count - 1 } ?? handle.peers.count - 1
        if handle.peers[slot] >= 0 { return handle.peers[slot] }
        let cluster = handle.cluster
        var labels = DestinationLabels.host(cluster.serviceHost)
        if let name = cluster.serviceName { labels.serviceName = name }
        if let namespace = cluster.serviceNamespace { labels.serviceNamespace = namespace }
        if slot < cluster.endpoints.count {
            // The client side's fallback: the endpoint's labels (Istio reads the endpoint's
            // metadata when no peer metadata was exchanged).
            let endpoint = cluster.endpoints[slot]
            labels.workload = WorkloadLabels.fromPodLabels(endpoint.labels, workload: nil, namespace: cluster.serviceNamespace)
            // Over mesh mTLS both identities are known: this proxy's certificate's and the
            // endpoint's service account (`source_principal`, `destination_principal`).
            let mutual = cluster.connection.tls?.mode == .istioMutual || (cluster.connection.meshTLS != nil && endpoint.meshTLS)
            if mutual, let localPrincipal {
                labels.localPrincipal = localPrincipal
                if let identity = endpoint.identity { labels.workload.principal = identity }
            }
        }
        let peer = metrics.peer(labels)
        handle.peers[slot] = peer
        return peer
    }

    private func hostPeer(_ head: HTTPRequestHead?) -> Int32 {
        let host = head.flatMap { $0.headers.first(name: "host") }.map { ExchangePlanner.hostWithoutPort($0).lowercased() } ?? "unknown"
        if let peer = hostPeers[host] { return peer }
        let peer = metrics.peer(host == "unknown" ? DestinationLabels() : DestinationLabels.host(host))
        if hostPeers.count < metrics.maxPeers { hostPeers[host] = peer }
        return peer
    }

    // MARK: Requests

    /// The source side of an inbound request or connection (`reporter="destination"`): the
    /// client's identity from its mTLS certificate (`spiffe://TD/ns/NS/sa/SA`), else unknown
    /// with `connection_security_policy="none"`. Interned per cluster and identity.
    private func inboundPeer(_ handle: ClusterHandle, meshPeer: MeshPeer?) -> Int32 {
        let key = InboundPeerKey(cluster: ObjectIdentifier(handle.cluster), principal: meshPeer?.principal, local: meshPeer?.localPrincipal)
        if let peer = inboundPeers[key] { return peer }
        let cluster = handle.cluster
        var labels = DestinationLabels.host(cluster.serviceHost)
        if let name = cluster.serviceName { labels.serviceName = name }
        if let namespace = cluster.serviceNamespace { labels.serviceNamespace = namespace }
        if let meshPeer {
            var workload = WorkloadLabels.unknown
            workload.principal = meshPeer.principal
            let parts = meshPeer.principal.split(separator: "/")
            if let index = parts.firstIndex(of: "ns"), index + 1 < parts.count { workload.namespace = String(parts[index + 1]) }
            labels.workload = workload
            labels.connectionSecurityPolicy = "mutual_tls"
            labels.localPrincipal = meshPeer.localPrincipal
        } else {
            labels.connectionSecurityPolicy = "none"
        }
        let peer = metrics.peer(labels)
        if inboundPeers.count < metrics.maxPeers { inboundPeers[key] = peer }
        return peer
    }

    func exchangeFinished(_ record: ExchangeRecord) {
        let handle = record.cluster.map { self.handle($0) }
        let peer: Int32
        if let handle, let connection = record.connection, connection.isInbound {
            peer = inboundPeer(handle, meshPeer: connection.meshPeer)
        } else {
            peer = handle.map { self.peer($0, endpoint: record.upstreamEndpoint) } ?? hostPeer(record.request)
        }
        var grpcStatus: Int16 = -1
        if record.isGRPC {
            let value = record.responseTrailers?.first(name: "grpc-status") ?? record.responseHeaders?.first(name: "grpc-status")
            grpcStatus = value.flatMap { Int16($0) } ?? -1
        }
        let reporter = record.connection?.isInbound == true ? Reporter.destination : shared.reporter
        let key = RequestSeriesKey(reporter: reporter, peer: peer, requestProtocol: record.isGRPC ? .grpc : .http,
                                   responseCode: UInt16(clamping: record.responseCode), grpcStatus: grpcStatus,
                                   responseFlags: record.responseFlags)
        let duration = record.duration.map { Double($0.nanoseconds) / 1_000_000 } ?? 0
        metrics.recordRequest(key, durationMilliseconds: duration.rounded(.down),
                              requestBytes: record.requestBodyBytes + Self.headerBytes(record.request),
                              responseBytes: record.responseBodyBytes + Self.headerBytes(record.responseHeaders, status: record.responseCode),
                              requestMessages: record.requestMessages.messages, responseMessages: record.responseMessages.messages)
        if let handle {
            let flags = record.responseFlags
            metrics.clusterRequest(handle.envoyCluster, retries: max(0, record.attempts - 1), timedOut: flags.contains(.upstreamRequestTimeout),
                                   connectFailures: flags.contains(.upstreamConnectionFailure) ? 1 : 0,
                                   overflowed: flags.contains(.upstreamOverflow), responseCode: record.responseCode)
        }
        guard shared.accessLog != nil || record.trace?.sampled == true else { return }
        // Envoy gives every request an id before routing; a request answered locally (404,
        // redirect, fault) has none yet: made here, only when something prints it (the copy
        // too: most records are only counted).
        if record.requestID == nil {
            var copy = record
            copy.requestID = record.request?.headers.first(name: "x-request-id") ?? HeaderRules.requestID(using: &random)
            logAndTrace(copy)
        } else {
            logAndTrace(record)
        }
    }

    private func logAndTrace(_ record: ExchangeRecord) {
        if let accessLog = shared.accessLog {
            accessLog.format.write(to: &logBuffer, timeCache: &timeCache) { record.value($0) }
            logged()
        }
        if let trace = record.trace, trace.sampled == true, let tracing = shared.tracing, let exporter = tracing.exporter {
            exporter.submit(record.span(trace, tracing: tracing))
        }
    }

    /// A line was added to the batch: it goes to the writer when this loop's current work is
    /// done (one hand-over per loop wake-up, not per request), or at once past 64 KiB.
    private func logged() {
        logLines += 1
        if logBuffer.count >= 64 * 1024 {
            flushLog()
            return
        }
        guard !logFlushScheduled else { return }
        logFlushScheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { self.flushLog() }
    }

    private func flushLog() {
        logFlushScheduled = false
        guard !logBuffer.isEmpty, let accessLog = shared.accessLog else { return }
        accessLog.writer.submit(logBuffer.take(), lines: logLines)
        logLines = 0
    }

    /// The size of a head as it goes on the wire in HTTP/1 form (Istio's request and response
    /// sizes count headers too).
    static func headerBytes(_ head: HTTPRequestHead?) -> Int {
        guard let head else { return 0 }
        var size = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        for (name, value) in head.headers { size += name.utf8.count + value.utf8.count + 4 }
        return size + 2
    }

    static func headerBytes(_ headers: HTTPHeaders?, status: UInt) -> Int {
        guard let headers else { return 0 }
        var size = 17
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        return size + 2
    }

    // MARK: TCP


    /// A TCP connection to `endpoint` of `cluster` (nil endpoint: none could be picked) opens:
    /// counted now; its bytes as they pass; its close by the tally.
    func tcpConnection(cluster: UpstreamCluster, endpoint: Int?, remoteAddress: SocketAddress?, localAddress: SocketAddress?, inbound: Bool = false,
                       meshPeer: MeshPeer? = nil) -> TCPTally {
        let handle = handle(cluster)
        let peer = inbound ? inboundPeer(handle, meshPeer: meshPeer) : peer(handle, endpoint: endpoint)
        // A sidecar's inbound side reports as the destination, as for requests.
        return TCPTally(telemetry: self, cluster: cluster, reporter: inbound ? .destination : shared.reporter, endpoint: endpoint, peer: peer, remoteAddress: remoteAddress, localAddress: localAddress,
                        start: .now(), startWallClockNanoseconds: ForwardingHandler.wallClockNanoseconds())
    }

    /// The connection reached its upstream: counted open, in the series without flags (Istio's
    /// first report).
    func tcpJoined(_ tally: TCPTally) -> Int {
        let series = metrics.tcpSeries(TCPSeriesKey(reporter: tally.reporter, peer: tally.peer, responseFlags: ResponseFlags()))
        metrics.tcpOpened(series)
        return series
    }

    func tcpBytes(series: Int, sent: Int, received: Int) {
        metrics.tcpBytes(series, sent: sent, received: received)
    }

    /// The connection closed (or never reached an upstream: then it is counted open and closed
    /// with its flags).
    func tcpClosed(_ tally: TCPTally) {
        let series = metrics.tcpSeries(TCPSeriesKey(reporter: tally.reporter, peer: tally.peer, responseFlags: tally.responseFlags))
        if tally.series == nil { metrics.tcpOpened(series) }
        metrics.tcpClosed(series)
        if let accessLog = shared.accessLog {
            accessLog.format.write(to: &logBuffer, timeCache: &timeCache) { tally.value($0) }
            logged()
        }
    }
}

@available(*, unavailable)
extension LoopTelemetry: Sendable {}
