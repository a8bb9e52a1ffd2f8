package import Logging
import Synchronization

/// One log level for every logger of the process, changeable while it runs (Envoy's
/// `POST /logging?level=`). Loggers made with `handler(label:)` read it at each check: a
/// relaxed atomic load, as cheap as the stored level it replaces.
package final class LogLevelControl: Sendable {
    private let level: Atomic<Int>

    package init(_ level: Logger.Level) {
        self.level = Atomic(Self.index(level))
    }

    package var current: Logger.Level {
        get { Logger.Level.allCases[level.load(ordering: .relaxed)] }
        set { level.store(Self.index(newValue), ordering: .relaxed) }
    }

    private static func index(_ level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 0
    }

    /// A standard-error log handler whose level is this control's.
    package func handler(label: String) -> any LogHandler {
        ControlledLogHandler(inner: StreamLogHandler.standardError(label: label), control: self)
    }
}

/// Swift-log's stream handler with its level taken from a shared control.
struct ControlledLogHandler: LogHandler {
    var inner: StreamLogHandler
    let control: LogLevelControl

    var logLevel: Logger.Level {
        get { control.current }
        set { control.current = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
