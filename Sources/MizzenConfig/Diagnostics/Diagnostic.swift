/// `Kind namespace/name`: how messages name an object.
package struct ObjectReference: Sendable, Hashable, CustomStringConvertible {
    package var kind: String
    package var namespace: String
    package var name: String

    package init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    package var description: String { "\(kind) \(namespace)/\(name)" }
}

/// One problem or notice, with everything needed to find it: file, line, column, object, field.
package struct Diagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Severity: String, Sendable, Comparable {
        case error, warning, notice

        private var rank: Int {
            switch self {
            case .error: return 0
            case .warning: return 1
            case .notice: return 2
            }
        }

        package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
    }

    package var severity: Severity
    package var file: String
    package var mark: SourceMark?
    package var object: ObjectReference?
    package var path: FieldPath?
    package var message: String

    package init(severity: Severity, file: String, mark: SourceMark?, object: ObjectReference? = nil, path: FieldPath? = nil, message: String) {
        self.severity = severity
        self.file = file
        self.mark = mark
        self.object = object
        self.path = path
        self.message = message
    }

    /// `path:line:column: Kind namespace/name: spec.http[0].route[1].weight: must not be negative`;
    /// warnings and notices say so after the position, as compilers do.
    package var description: String {
        var text = file
        if let mark { text += ":\(mark.line):\(mark.column)" }
        text += ": "
        if severity != .error { text += "\(severity.rawValue): " }
        if let object { text += "\(object): " }
        if let path, !path.components.isEmpty { text += "\(path): " }
        text += message
        return text
    }
}
