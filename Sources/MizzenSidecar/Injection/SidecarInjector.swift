import MizzenConfig

/// `mizzen inject`: `istioctl kube-inject` without a cluster, adding Mizzen's sidecar to the pod
/// templates of a multi-document YAML stream.
///
/// The kinds are Istio's (`pkg/kube/inject/initializer.go`): v1 Pod, ReplicationController and
/// List, apps/v1 Deployment, DaemonSet, ReplicaSet and StatefulSet, batch/v1 Job and CronJob,
/// apps.openshift.io/v1 DeploymentConfig. Every other document is written back unchanged in
/// meaning. Output keeps key order; comments and anchors are not kept.
package struct SidecarInjector: Sendable {
    package let options: InjectionOptions

    package init(options: InjectionOptions = InjectionOptions()) {
        self.options = options
    }

    /// Injects every pod template in `yaml`; `file` names the input in errors.
    package func inject(yaml: String, file: String) throws(InjectionError) -> InjectionResult {
        let stream = YAMLComposer.compose(Array(yaml.utf8))
        if let problem = stream.problems.first {
            throw InjectionError(
                kind: .syntax, file: file, document: Self.documentIndex(of: problem.mark, in: stream), object: nil,
                path: .root, mark: problem.mark, message: problem.message)
        }
        var roots: [YAMLNode?] = []
        var notes: [InjectionNote] = []
        for (index, document) in stream.documents.enumerated() {
            // Empty documents (a stray `---`) carry nothing to apply; they are dropped.
            guard let root = document.root, root.resolvedKind != .null else { continue }
            let injected = try injectObject(root, document: index + 1, path: .root, file: file, notes: &notes)
            roots.append(injected)
        }
        return InjectionResult(output: YAMLEmitter.stream(roots), notes: notes)
    }

    /// The 1-based document a problem at `mark` belongs to. A document with a problem has no
    /// root; one that failed to parse at all is not listed, so it is the one after the last listed.
    private static func documentIndex(of mark: SourceMark, in stream: YAMLStream) -> Int {
        let started = stream.documents.filter { $0.start <= mark }.count
        guard started > 0 else { return 1 }
        return stream.documents[started - 1].root == nil ? started : started + 1
    }

    // MARK: - Objects

    private func injectObject(
        _ object: YAMLNode, document: Int, path: FieldPath, file: String, notes: inout [InjectionNote]
    ) throws(InjectionError) -> YAMLNode {
        guard object.isMapping, let kind = object["kind"]?.scalarValue else {
            notes.append(InjectionNote(document: document, path: path, object: "no Kubernetes kind", outcome: .passedThrough))
            return object
        }
        let apiVersion = object["apiVersion"]?.scalarValue ?? ""
        let metadata = object["metadata"].flatMap { $0.isMapping ? $0 : nil }
        let name = metadata?["name"]?.scalarValue ?? metadata?["generateName"]?.scalarValue ?? ""
        let namespace = metadata?["namespace"]?.scalarValue.flatMap { $0.isEmpty ? nil : $0 }
        let described = Self.describe(kind: kind, namespace: namespace, name: name)
        let reader = ObjectReader(context: ErrorContext(file: file, document: document, object: described))

        let templatePath: [String]
        switch (apiVersion, kind) {
        case ("v1", "List"):
            guard let items = try reader.optionalSequence(object, "items", at: path) else { return object }
            var newItems = items
            for (index, item) in items.enumerated() {
                newItems[index] = try injectObject(item, document: document, path: path / "items" / index, file: file, notes: &notes)
            }
            return object.setting("items", to: object["items"]!.replacingItems(newItems))
        case ("v1", "Pod"):
            templatePath = []
        case ("v1", "ReplicationController"), ("apps/v1", "Deployment"), ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"),
             ("apps/v1", "StatefulSet"), ("batch/v1", "Job"), ("apps.openshift.io/v1", "DeploymentConfig"):
            templatePath = ["spec", "template"]
        case ("batch/v1", "CronJob"):
            // istioctl kube-inject puts the labels and annotations on `jobTemplate.metadata`, where
            // the pods never see them (no tlsMode label, no prometheus annotations); the webhook,
            // which sees the pod, puts them on the pod. Mizzen does what the webhook does.
            templatePath = ["spec", "jobTemplate", "spec", "template"]
        default:
            notes.append(InjectionNote(document: document, path: path, object: described, outcome: .passedThrough))
            return object
        }

        // The metadata between the object and its pod template, innermost first.
        var enclosing: [EnclosingMetadata] = []
        var outer = object
        var outerPath = path
        var spine: [(node: YAMLNode, key: String)] = []
        for key in templatePath {
            if outer.isMapping, let metadataNode = try reader.optionalMapping(outer, "metadata", at: outerPath) {
                enclosing.insert(EnclosingMetadata(
                    labels: try reader.stringMap(metadataNode, "labels", at: outerPath / "metadata"),
                    annotations: try reader.stringMap(metadataNode, "annotations", at: outerPath / "metadata"),
                    path: outerPath / "metadata"), at: 0)
            }
            spine.append((outer, key))
            outer = try reader.requiredMapping(outer, key, at: outerPath)
            outerPath = outerPath / key
        }

        // A Pod's workload is its controller's, as the webhook finds it (`Workload(pod:)`).
        let workload = templatePath.isEmpty ? Workload(pod: object, namespace: namespace) : Workload(kind: kind, name: name, namespace: namespace)
        let injector = PodTemplateInjector(options: options, reader: reader)
        let result = try injector.inject(template: outer, at: outerPath, workload: workload, enclosing: enclosing)
        notes.append(InjectionNote(document: document, path: path, object: described, outcome: result.outcome, remarks: result.remarks))

        // Rebuild the path from the pod template back up to the object.
        var rebuilt = result.template
        for (node, key) in spine.reversed() {
            rebuilt = node.setting(key, to: rebuilt)
        }
        return rebuilt
    }

    private static func describe(kind: String, namespace: String?, name: String) -> String {
        if name.isEmpty { return kind }
        if let namespace { return "\(kind) \(namespace)/\(name)" }
        return "\(kind) \(name)"
    }
}
