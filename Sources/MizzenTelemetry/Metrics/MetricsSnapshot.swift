/// The metrics of every loop summed, by label values: what a scrape writes. Made off the
/// request path (each loop copies its own counters on the loop, then they are merged here).
package struct MetricsSnapshot: Sendable {
    package struct RequestLabels: Hashable, Sendable {
        package var reporter: Reporter
        package var peer: DestinationLabels
        package var requestProtocol: RequestProtocol
        package var responseCode: UInt16
        package var grpcStatus: Int16
        package var responseFlags: ResponseFlags
    }

    package struct TCPLabels: Hashable, Sendable {
        package var reporter: Reporter
        package var peer: DestinationLabels
        package var responseFlags: ResponseFlags
    }

    package var requests: [RequestLabels: RequestSeries] = [:]
    package var tcp: [TCPLabels: TCPSeries] = [:]
    package var clusters: [String: ClusterCounters] = [:]

    package init() {}

    mutating func add(request: RequestSeries, peer: DestinationLabels, key: RequestSeriesKey) {
        let labels = RequestLabels(reporter: key.reporter, peer: peer, requestProtocol: key.requestProtocol, responseCode: key.responseCode,
                                   grpcStatus: key.grpcStatus, responseFlags: key.responseFlags)
        requests[labels, default: RequestSeries()].merge(request)
    }

    mutating func add(tcp series: TCPSeries, peer: DestinationLabels, key: TCPSeriesKey) {
        tcp[TCPLabels(reporter: key.reporter, peer: peer, responseFlags: key.responseFlags), default: TCPSeries()].merge(series)
    }

    /// Adds another loop's snapshot.
    package mutating func merge(_ other: MetricsSnapshot) {
        for (labels, series) in other.requests { requests[labels, default: RequestSeries()].merge(series) }
        for (labels, series) in other.tcp { tcp[labels, default: TCPSeries()].merge(series) }
        for (name, counters) in other.clusters { clusters[name, default: ClusterCounters()].merge(counters) }
    }
}

/// The gauges of one cluster, read from the pools and detectors when scraped (Envoy's
/// `cluster.<name>.upstream_cx_active` and the rest).
package struct ClusterGauges: Sendable, Equatable {
    package var connectionsActive = 0
    package var requestsActive = 0
    package var requestsPending = 0
    package var ejectionsActive = 0
    package var membershipTotal = 0
    package var membershipHealthy = 0

    package init() {}

}
