/// Who reports a series: `source` (a gateway, a sidecar's outbound side) or `destination` (a
/// sidecar's inbound side). The proxy's own workload labels fill that side's labels; the
/// peer's fill the other.
package enum Reporter: UInt8, Sendable, Hashable {
    case source
    case destination

    package var label: String { self == .source ? "source" : "destination" }
}

/// The metrics one event loop counts: Istio's request and TCP series and Envoy's per-cluster
/// counters. Owned by its loop and touched only there: plain integers, no locks, no atomics
/// (the hot-path rule). A scrape asks every loop for a `MetricsSnapshot` on the loop itself
/// and sums them off the request path.
///
/// Series are found through small integer handles: a peer (destination) is interned once per
/// cluster and endpoint by the caller, and a request's series key is five small fields, so a
/// request costs one hash of a few words, three histogram records and a counter.
package final class LoopMetrics {
    /// Peers by handle.
    private(set) var peers: [DestinationLabels] = []
    private var peerHandles: [DestinationLabels: Int32] = [:]
    private(set) var requestIndex: [RequestSeriesKey: Int] = [:]
    private(set) var requests: [RequestSeries] = []
    private(set) var tcpIndex: [TCPSeriesKey: Int] = [:]
    private(set) var tcp: [TCPSeries] = []
    /// Envoy's cluster counters by cluster handle.
    private(set) var clusterNames: [String] = []
    private var clusterHandles: [String: Int32] = [:]
    private(set) var clusters: [ClusterCounters] = []
    /// Distinct peers this loop keeps before new ones are counted as `unknown`: a label value
    /// taken from a request (the Host header of a request no route matched) must not grow the
    /// series without bound.
    package let maxPeers: Int

    package init(maxPeers: Int = 10_000) {
        self.maxPeers = maxPeers
    }

    /// The handle of a peer, interned on first use.
    package func peer(_ labels: DestinationLabels) -> Int32 {
        if let handle = peerHandles[labels] { return handle }
        if peers.count >= maxPeers, let unknown = peerHandles[DestinationLabels()] { return unknown }
        let handle = Int32(peers.count)
        peers.append(labels)
        peerHandles[labels] = handle
        if peers.count >= maxPeers, peerHandles[DestinationLabels()] == nil {
            peers.append(DestinationLabels())
            peerHandles[DestinationLabels()] = handle + 1
        }
        return handle
    }

    /// The handle of an Envoy cluster's counters.
    package func cluster(_ name: String) -> Int32 {
        if let handle = clusterHandles[name] { return handle }
        let handle = Int32(clusterNames.count)
        clusterNames.append(name)
        clusters.append(ClusterCounters())
        clusterHandles[name] = handle
        return handle
    }

    /// One finished HTTP or gRPC request (`istio_requests_total` and the three histograms;
    /// message counters for gRPC).
    package func recordRequest(_ key: RequestSeriesKey, durationMilliseconds: Double, requestBytes: Int, responseBytes: Int,
                               requestMessages: Int = 0, responseMessages: Int = 0) {
        let index: Int
        if let found = requestIndex[key] {
            index = found
        } else {
            index = requests.count
            requests.append(RequestSeries())
            requestIndex[key] = index
        }
        requests[index].count &+= 1
        requests[index].duration.record(durationMilliseconds)
        requests[index].requestBytes.record(Double(requestBytes))
        requests[index].responseBytes.record(Double(responseBytes))
        requests[index].requestMessages &+= UInt64(max(0, requestMessages))
        requests[index].responseMessages &+= UInt64(max(0, responseMessages))
    }

    /// The TCP series of a connection, to count its opening, bytes and closing against.
    package func tcpSeries(_ key: TCPSeriesKey) -> Int {
        if let found = tcpIndex[key] { return found }
        let index = tcp.count
        tcp.append(TCPSeries())
        tcpIndex[key] = index
        return index
    }

    package func tcpOpened(_ series: Int) { tcp[series].opened &+= 1 }
    package func tcpClosed(_ series: Int) { tcp[series].closed &+= 1 }
    package func tcpBytes(_ series: Int, sent: Int, received: Int) {
        tcp[series].sentBytes &+= UInt64(max(0, sent))
        tcp[series].receivedBytes &+= UInt64(max(0, received))
    }

    /// Envoy's per-cluster counters of one finished request.
    package func clusterRequest(_ cluster: Int32, retries: Int, timedOut: Bool, connectFailures: Int, overflowed: Bool, responseCode: UInt) {
        let index = Int(cluster)
        clusters[index].requests &+= 1
        clusters[index].retries &+= UInt64(max(0, retries))
        if timedOut { clusters[index].timeouts &+= 1 }
        clusters[index].connectFailures &+= UInt64(max(0, connectFailures))
        if overflowed { clusters[index].pendingOverflows &+= 1 }
        if responseCode >= 100 && responseCode < 600 { clusters[index].byClass[Int(responseCode / 100) - 1] &+= 1 }
    }

    /// A copy of everything counted so far, made on the loop, for a scrape.
    package func snapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        for (key, index) in requestIndex {
            snapshot.add(request: requests[index], peer: peers[Int(key.peer)], key: key)
        }
        for (key, index) in tcpIndex {
            snapshot.add(tcp: tcp[index], peer: peers[Int(key.peer)], key: key)
        }
        for (index, name) in clusterNames.enumerated() {
            snapshot.clusters[name, default: ClusterCounters()].merge(clusters[index])
        }
        return snapshot
    }
}

@available(*, unavailable)
extension LoopMetrics: Sendable {}

/// What tells one request series from another, peer aside: a few small values, hashed per
/// request.
package struct RequestSeriesKey: Hashable, Sendable {
    package var reporter: Reporter
    package var peer: Int32
    package var requestProtocol: RequestProtocol
    package var responseCode: UInt16
    /// gRPC status code; -1 when not gRPC or none was sent (the label is then empty).
    package var grpcStatus: Int16
    package var responseFlags: ResponseFlags

    package init(reporter: Reporter, peer: Int32, requestProtocol: RequestProtocol, responseCode: UInt16, grpcStatus: Int16, responseFlags: ResponseFlags) {
        self.reporter = reporter
        self.peer = peer
        self.requestProtocol = requestProtocol
        self.responseCode = responseCode
        self.grpcStatus = grpcStatus
        self.responseFlags = responseFlags
    }
}

package struct TCPSeriesKey: Hashable, Sendable {
    package var reporter: Reporter
    package var peer: Int32
    package var responseFlags: ResponseFlags

    package init(reporter: Reporter, peer: Int32, responseFlags: ResponseFlags) {
        self.reporter = reporter
        self.peer = peer
        self.responseFlags = responseFlags
    }
}

package struct RequestSeries: Sendable, Equatable {
    package var count: UInt64 = 0
    package var duration = Histogram()
    package var requestBytes = Histogram()
    package var responseBytes = Histogram()
    package var requestMessages: UInt64 = 0
    package var responseMessages: UInt64 = 0

    package init() {}

    mutating func merge(_ other: RequestSeries) {
        count &+= other.count
        duration.merge(other.duration)
        requestBytes.merge(other.requestBytes)
        responseBytes.merge(other.responseBytes)
        requestMessages &+= other.requestMessages
        responseMessages &+= other.responseMessages
    }
}

package struct TCPSeries: Sendable, Equatable {
    package var opened: UInt64 = 0
    package var closed: UInt64 = 0
    package var sentBytes: UInt64 = 0
    package var receivedBytes: UInt64 = 0

    package init() {}

    mutating func merge(_ other: TCPSeries) {
        opened &+= other.opened
        closed &+= other.closed
        sentBytes &+= other.sentBytes
        receivedBytes &+= other.receivedBytes
    }
}

/// Envoy's `cluster.<name>.upstream_rq_*` counters.
package struct ClusterCounters: Sendable, Equatable {
    package var requests: UInt64 = 0
    package var retries: UInt64 = 0
    package var timeouts: UInt64 = 0
    package var connectFailures: UInt64 = 0
    package var pendingOverflows: UInt64 = 0
    /// Responses by class, 1xx to 5xx.
    package var byClass: [UInt64] = [0, 0, 0, 0, 0]

    package init() {}

    mutating func merge(_ other: ClusterCounters) {
        requests &+= other.requests
        retries &+= other.retries
        timeouts &+= other.timeouts
        connectFailures &+= other.connectFailures
        pendingOverflows &+= other.pendingOverflows
        for index in byClass.indices { byClass[index] &+= other.byClass[index] }
    }
}
