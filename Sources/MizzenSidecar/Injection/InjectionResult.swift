package import MizzenConfig

/// The injected YAML and what happened to each object in it.
package struct InjectionResult: Sendable, Equatable {
    /// Every input document, pod templates injected, joined by `---` lines.
    package var output: String
    /// One note per object (per item of a `List`), in input order.
    package var notes: [InjectionNote]

    package init(output: String, notes: [InjectionNote]) {
        self.output = output
        self.notes = notes
    }
}

/// What the injector did with one object.
package struct InjectionNote: Sendable, Equatable, CustomStringConvertible {
    package enum Outcome: Sendable, Equatable {
        case injected
        case skipped(SkipReason)
        /// Not a kind with a pod template (a Service, a ConfigMap, text that is no object).
        case passedThrough
    }

    package enum SkipReason: Sendable, Equatable, CustomStringConvertible {
        /// `sidecar.istio.io/inject: "false"` as a label or an annotation; `where` names the metadata and the field.
        case injectionDisabled(where: String)
        case hostNetwork
        /// The pod already has a container named `istio-proxy`.
        case alreadyInjected
        /// kube-system, kube-public, kube-node-lease, local-path-storage: Istio never injects there.
        case ignoredNamespace(String)

        package var description: String {
            switch self {
            case .injectionDisabled(let place): return "sidecar injection is disabled (\(place))"
            case .hostNetwork: return "the pod uses the host network"
            case .alreadyInjected: return "the pod already has an istio-proxy container"
            case .ignoredNamespace(let namespace): return "namespace \(namespace) is never injected"
            }
        }
    }

    /// 1-based document index, as in `InjectionError`.
    package var document: Int
    /// Where the object sits in its document: empty for the document itself, `items[2]` in a List.
    package var path: FieldPath
    /// `Deployment default/web`, `Service web`, or the kind alone.
    package var object: String
    package var outcome: Outcome
    /// Things worth knowing about an injected pod: what was kept or ignored, probes left pointing nowhere.
    package var remarks: [String]

    package init(document: Int, path: FieldPath, object: String, outcome: Outcome, remarks: [String] = []) {
        self.document = document
        self.path = path
        self.object = object
        self.outcome = outcome
        self.remarks = remarks
    }

    package var description: String {
        var text = "document \(document)"
        if !path.components.isEmpty { text += " \(path)" }
        text += " (\(object)): "
        switch outcome {
        case .injected: text += "injected"
        case .skipped(let reason): text += "skipped: \(reason)"
        case .passedThrough: text += "unchanged (no pod template)"
        }
        for remark in remarks { text += "; \(remark)" }
        return text
    }
}
