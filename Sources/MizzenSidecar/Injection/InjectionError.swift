package import MizzenConfig

/// Why `mizzen inject` refused its input, with the document, object, field and source position.
///
/// `description`: `web.yaml:14:7: document 2 (Deployment default/web): spec.template.spec.containers: must be a sequence, got a mapping`.
package struct InjectionError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// The text is not YAML (or repeats a key, or its aliases would explode).
        case syntax
        /// A field has the wrong shape: a mapping where a sequence belongs, a list as a label value.
        case wrongType
        /// A field the injector needs is absent (`spec.template` of a Deployment).
        case missingField
        /// An annotation Istio validates holds a value it would refuse (`traffic.sidecar.istio.io/*`,
        /// `status.sidecar.istio.io/port`, `sidecar.istio.io/proxyCPU`, ...).
        case invalidAnnotation
    }

    package let kind: Kind
    package let file: String
    /// 1-based, counting every document of the stream, empty ones included.
    package let document: Int
    /// `Deployment default/web`, or `Deployment web` without a namespace; nil when not known yet.
    package let object: String?
    package let path: FieldPath
    package let mark: SourceMark?
    package let message: String

    package init(kind: Kind, file: String, document: Int, object: String?, path: FieldPath, mark: SourceMark?, message: String) {
        self.kind = kind
        self.file = file
        self.document = document
        self.object = object
        self.path = path
        // Synthesized nodes sit at line 0; they have no position worth printing.
        self.mark = mark.flatMap { $0.line > 0 ? $0 : nil }
        self.message = message
    }

    package var description: String {
        var text = file
        if let mark { text += ":\(mark.line):\(mark.column)" }
        text += ": document \(document)"
        if let object { text += " (\(object))" }
        text += ": "
        if !path.components.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// Where errors found in one object point: the file, the document and the object's name.
struct ErrorContext: Sendable {
    var file: String
    var document: Int
    var object: String?

    func error(_ kind: InjectionError.Kind, _ path: FieldPath, _ node: YAMLNode?, _ message: String) -> InjectionError {
        InjectionError(kind: kind, file: file, document: document, object: object, path: path, mark: node?.mark, message: message)
    }

    func wrongType(_ path: FieldPath, _ node: YAMLNode, expected: String) -> InjectionError {
        error(.wrongType, path, node, "must be \(expected), got \(Self.noun(node))")
    }

    static func noun(_ node: YAMLNode) -> String {
        switch node.resolvedKind {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}
