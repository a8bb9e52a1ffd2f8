package import Logging
package import MizzenTelemetry

/// What the data plane reports and where: Istio's metrics (always counted; read by a scrape),
/// the access log (off unless a path is given, as Istio's default profile), and tracing.
/// Shared by every loop, immutable.
package final class ProxyTelemetry: Sendable {
    package let identity: MetricsIdentity
    /// Gateways and a sidecar's outbound side report `source`.
    package let reporter: Reporter
    package let accessLog: AccessLog?
    package let tracing: Tracing?

    package struct AccessLog: Sendable {
        package var format: AccessLogFormat
        package var writer: AccessLogWriter

        package init(format: AccessLogFormat, writer: AccessLogWriter) {
            self.format = format
            self.writer = writer
        }
    }

    /// Trace propagation and sampling; spans go to `exporter` (nil: propagate only).
    package struct Tracing: Sendable {
        /// Percentage of requests without a sampling decision that start a sampled trace.
        package var samplingPercent: Double
        package var exporter: SpanExporter?
        /// The span's local service name (Istio: `<workload>.<namespace>`).
        package var serviceName: String
        /// Istio's span tags for this proxy (`istio.canonical_service`, `istio.namespace`...).
        package var tags: [SpanTag]

        package init(samplingPercent: Double, exporter: SpanExporter?, serviceName: String, tags: [SpanTag]) {
            self.samplingPercent = samplingPercent
            self.exporter = exporter
            self.serviceName = serviceName
            self.tags = tags
        }
    }

    package init(identity: MetricsIdentity, reporter: Reporter = .source, accessLog: AccessLog? = nil, tracing: Tracing? = nil) {
        self.identity = identity
        self.reporter = reporter
        self.accessLog = accessLog
        self.tracing = tracing
    }

    /// Metrics only, this proxy unnamed (tests, the demo).
    package static let metricsOnly = ProxyTelemetry(identity: MetricsIdentity(source: WorkloadLabels()))
}
