package import MizzenRouting
package import NIOCore

/// Every limit and timeout of the data plane. Defaults follow Envoy's (and Istio's gateway
/// settings where Istio changes them); each is a command-line flag of `mizzen gateway`.
package struct ProxyLimits: Sendable {
    /// Total size of a request's header section, request line included (Envoy
    /// `max_request_headers_kb`: 60 KiB). Over it: 431.
    package var maxRequestHeadersBytes: Int = 60 * 1024
    /// Number of request headers (Envoy `max_headers_count`: 100). Over it: 431.
    package var maxRequestHeadersCount: Int = 100
    /// Request bodies over this size are refused with 413; nil: unlimited (Envoy buffers nothing
    /// by default, so there is no limit unless a feature buffers).
    package var maxRequestBodyBytes: Int? = nil
    /// Time allowed for a request's whole header section to arrive, from the first byte
    /// (Envoy `request_headers_timeout`; slowloris). Over it: 408 and close.
    package var requestHeadersTimeout: TimeAmount = .seconds(10)
    /// A downstream connection with no request in flight is closed after this (Envoy
    /// `idle_timeout`, 1 h; Istio's gateway keeps Envoy's default): HTTP/1 closes, HTTP/2 sends
    /// GOAWAY and closes.
    package var idleTimeout: TimeAmount = .seconds(3600)
    /// A new connection must have shown what it carries by then: the first bytes of plain HTTP,
    /// a TLS ClientHello and a completed handshake (Envoy's `listener_filters_timeout` and
    /// Istio's gateway `transport_socket_connect_timeout`, both 15 s). Over it: closed.
    package var connectionSetupTimeout: TimeAmount = .seconds(15)
    /// An answer that closes an HTTP/1 connection stops writing, then reads and drops what the
    /// client still sends for at most this long before closing (nginx's lingering close;
    /// Envoy's delayed close is 1 s), so the client reads the answer instead of a reset.
    package var lingerTimeout: TimeAmount = .seconds(1)
    /// A stream (request) with no activity in either direction is reset (Envoy
    /// `stream_idle_timeout`, 5 min).
    package var streamIdleTimeout: TimeAmount = .seconds(300)
    /// Connecting to an upstream (Istio `connectTimeout` default 10 s).
    package var upstreamConnectTimeout: TimeAmount = .seconds(10)
    /// HTTP/2: concurrent streams per downstream connection (Envoy 2^31-1; Istio gateway 100
    /// via `SETTINGS_MAX_CONCURRENT_STREAMS` is common; we advertise 100).
    package var http2MaxConcurrentStreams: Int = 100
    /// HTTP/2: largest frame payload we accept (the protocol's default, 16 KiB).
    package var http2MaxFrameSize: Int = 16_384
    /// HTTP/2: HPACK dynamic table size and the largest decoded header list (an HPACK bomb
    /// expands past it and is refused).
    package var http2MaxHeaderListSize: Int = 60 * 1024
    /// HTTP/2: RST_STREAM frames a client may send per 30 s window before the connection is
    /// closed with GOAWAY (CVE-2023-44487, rapid reset).
    package var http2MaxResetsPerWindow: Int = 200
    /// HTTP/2: request body bytes a connection's streams may hold unsent (their upstream not
    /// ready or not writable) before the connection's receive window stops being given back
    /// (Envoy's `per_connection_buffer_limit_bytes`, 1 MiB): a client then waits, whatever its
    /// number of streams.
    package var http2ConnectionBufferBytes: Int = 1 << 20
    /// Requests waiting for a connection, per upstream pool and event loop; past it a request
    /// overflows (503 UO) even when the cluster sets no `http1MaxPendingRequests` (Istio's
    /// default is unlimited; memory is not).
    package var maxPendingRequestsPerPool: Int = 4096
    /// Idle upstream connections kept per endpoint and event loop.
    package var maxIdleUpstreamConnections: Int = 64
    /// Idle upstream connections are closed after this.
    package var upstreamIdleTimeout: TimeAmount = .seconds(60)
    /// Request bodies up to this size are kept for replay so the request can be retried; a
    /// larger body streams on and is not retried (Envoy's per-request buffer limit).
    package var maxRetryBufferBytes: Int = 64 * 1024
    /// How long graceful drain waits for requests in flight.
    package var drainTimeout: TimeAmount = .seconds(5)
    /// Path normalisation before matching (and forwarding).
    package var pathNormalization: PathNormalization = .mergeSlashes

    package init() {}
}
