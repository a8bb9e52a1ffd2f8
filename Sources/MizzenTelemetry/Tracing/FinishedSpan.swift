import Glibc

/// One key/value pair on a span: a Zipkin tag, an OTLP span attribute or an OTLP resource attribute.
///
/// A struct rather than a `(String, String)` tuple so that spans stay `Sendable` and `Equatable`.
package struct SpanTag: Sendable, Hashable {
    package var key: String
    package var value: String

    package init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// Which side of a call the proxy's span records, in Zipkin's words (OTLP maps them to its own integers).
package enum SpanKind: String, Sendable {
    /// The proxy calling an upstream.
    case client = "CLIENT"
    /// The proxy serving a downstream request; a gateway's ingress span.
    case server = "SERVER"
}

/// A completed span waiting to be reported, independent of the collector's format.
///
/// It holds exactly what Zipkin v2 and OTLP need, so the request path builds one value and the
/// exporter's queue encodes it later, off that path.
package struct FinishedSpan: Sendable, Equatable {
    package var traceID: TraceID
    package var spanID: UInt64
    /// The parent span; nil on a root span.
    package var parentSpanID: UInt64?
    /// The operation name; Envoy uses the request's host unless a route `decorator` names it.
    package var name: String
    package var kind: SpanKind
    /// When the span started, in microseconds since the Unix epoch (Zipkin's `timestamp`).
    package var startMicroseconds: Int64
    /// How long it lasted in microseconds; Zipkin rejects 0, so the initializer raises it to at least 1.
    package var durationMicroseconds: Int64
    /// The service the proxy reports as (`localEndpoint.serviceName`, OTLP `service.name`).
    package var localServiceName: String
    /// The proxy's own address; an IPv6 text is reported as `ipv6`.
    package var localIPv4: String?
    /// The peer's address: the downstream client on a server span, the upstream host on a client span.
    package var remoteIPv4: String?
    package var remotePort: Int?
    /// Tags in the order they were set; when a key repeats, the encoders keep the last value.
    package var tags: [SpanTag]
    /// The B3 debug flag, which asks the collector to keep the span whatever its own sampling says.
    package var debug: Bool

    package init(
        traceID: TraceID,
        spanID: UInt64,
        parentSpanID: UInt64? = nil,
        name: String,
        kind: SpanKind,
        startMicroseconds: Int64,
        durationMicroseconds: Int64,
        localServiceName: String,
        localIPv4: String? = nil,
        remoteIPv4: String? = nil,
        remotePort: Int? = nil,
        tags: [SpanTag] = [],
        debug: Bool = false
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startMicroseconds = startMicroseconds
        self.durationMicroseconds = max(1, durationMicroseconds)
        self.localServiceName = localServiceName
        self.localIPv4 = localIPv4
        self.remoteIPv4 = remoteIPv4
        self.remotePort = remotePort
        self.tags = tags
        self.debug = debug
    }

    /// The finished span of `context`, the proxy's own span as `TraceContext.start` made it.
    package init(
        context: TraceContext,
        name: String,
        kind: SpanKind,
        startMicroseconds: Int64,
        durationMicroseconds: Int64,
        localServiceName: String,
        localIPv4: String? = nil,
        remoteIPv4: String? = nil,
        remotePort: Int? = nil,
        tags: [SpanTag] = []
    ) {
        self.init(
            traceID: context.traceID,
            spanID: context.spanID,
            parentSpanID: context.parentSpanID,
            name: name,
            kind: kind,
            startMicroseconds: startMicroseconds,
            durationMicroseconds: durationMicroseconds,
            localServiceName: localServiceName,
            localIPv4: localIPv4,
            remoteIPv4: remoteIPv4,
            remotePort: remotePort,
            tags: tags,
            debug: context.debug
        )
    }

    /// The wall-clock time in microseconds since the Unix epoch, the clock Zipkin timestamps use.
    ///
    /// Durations should come from a monotonic clock instead; only the start needs wall time.
    package static func epochMicrosecondsNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
    }
}
