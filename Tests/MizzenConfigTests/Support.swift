@testable import MizzenConfig

/// Loads YAML text as the file `case.yaml`, without cross-object analysis unless asked.
func load(_ yaml: String, namespace: String = "default", analyze: Bool = false) -> LoadResult {
    ConfigLoader(defaultNamespace: namespace, analyze: analyze).load(text: yaml, file: "case.yaml")
}

/// The rendered `field: message` of every error, for assertions and failure output.
func errorLines(_ result: LoadResult) -> [String] {
    result.diagnostics.filter { $0.severity == .error }.map { "\($0.path?.description ?? ""): \($0.message)" }
}

func warningLines(_ result: LoadResult) -> [String] {
    result.diagnostics.filter { $0.severity == .warning }.map { "\($0.path?.description ?? ""): \($0.message)" }
}

/// One invalid configuration and the error it must produce (field path and exact message).
struct InvalidCase: CustomStringConvertible, Sendable {
    var name: String
    var yaml: String
    var field: String
    var message: String

    init(_ name: String, field: String, message: String, _ yaml: String) {
        self.name = name
        self.field = field
        self.message = message
        self.yaml = yaml
    }

    var description: String { name }
}

/// One valid configuration that looks suspicious but that Istio accepts.
struct ValidCase: CustomStringConvertible, Sendable {
    var name: String
    var yaml: String

    init(_ name: String, _ yaml: String) {
        self.name = name
        self.yaml = yaml
    }

    var description: String { name }
}
