package import MizzenConfig

/// One Pod, as the injection webhook receives it from the API server.
extension SidecarInjector {
    /// What became of one pod: the pod (changed or not) and the note `mizzen inject` would print.
    package struct PodInjection: Sendable {
        package var pod: YAMLNode
        package var note: InjectionNote
    }

    /// Injects one Pod object exactly as `inject(yaml:file:)` injects a `kind: Pod` document.
    ///
    /// `namespace` is the request's: a pod a controller creates may name none, and the ignored
    /// namespaces are still never injected. The pod's own `metadata.namespace` wins; it is not
    /// added when absent (the API server sets it, and Istio's patch does not carry it either).
    package func inject(pod: YAMLNode, namespace: String?, source: String) throws(InjectionError) -> PodInjection {
        let workload = Workload(pod: pod, namespace: namespace)
        let described = Self.describe(pod: pod, namespace: workload.namespace)
        let reader = ObjectReader(context: ErrorContext(file: source, document: 1, object: described))
        let podMapping = try reader.mapping(pod, at: .root)
        let result = try PodTemplateInjector(options: options, reader: reader)
            .inject(template: podMapping, at: .root, workload: workload, enclosing: [])
        return PodInjection(pod: result.template,
                            note: InjectionNote(document: 1, path: .root, object: described, outcome: result.outcome, remarks: result.remarks))
    }

    /// `Pod default/reviews-v1-5b4f8c7d9-`: the pod's name, or the prefix of the one to be
    /// generated, for messages.
    static func describe(pod: YAMLNode, namespace: String?) -> String {
        let metadata = pod["metadata"]
        let name = metadata?["name"]?.scalarValue.flatMap { $0.isEmpty ? nil : $0 } ?? metadata?["generateName"]?.scalarValue ?? ""
        guard !name.isEmpty else { return "Pod" }
        if let namespace { return "Pod \(namespace)/\(name)" }
        return "Pod \(name)"
    }
}

extension Workload {
    /// The workload a pod belongs to, found as Istio's webhook finds it
    /// (`pkg/kube/inject/webhook.go GetDeployMetaFromPod`): a pod whose name is generated belongs
    /// to its controller, and a ReplicaSet whose name ends in the pod's `pod-template-hash` label
    /// to the Deployment named before it. A CronJob's Job (`<cronjob>-<minutes>`) belongs to the
    /// CronJob, a DeploymentConfig's ReplicationController to the DeploymentConfig. Otherwise the
    /// pod is its own workload.
    ///
    /// Only the names matter here: the canonical-name label falls back to the workload's name.
    init(pod: YAMLNode, namespace: String?) {
        let metadata = pod["metadata"].flatMap { $0.isMapping ? $0 : nil }
        let podNamespace = metadata?["namespace"]?.scalarValue.flatMap { $0.isEmpty ? nil : $0 }
        let name = metadata?["name"]?.scalarValue ?? ""
        let generateName = metadata?["generateName"]?.scalarValue ?? ""
        let labels = metadata?["labels"]
        self.init(kind: "Pod", name: name, namespace: podNamespace ?? namespace)
        guard !generateName.isEmpty else { return }
        let controller = metadata?["ownerReferences"]?.items?.first { reference in
            reference["controller"].map { $0.resolvedKind == .bool && $0.scalarValue?.lowercased() == "true" } ?? false
        }
        guard let controller, let ownerKind = controller["kind"]?.scalarValue, let ownerName = controller["name"]?.scalarValue,
              !ownerName.isEmpty else {
            if self.name.isEmpty { self.name = generateName }
            return
        }
        kind = ownerKind
        self.name = ownerName
        let hash = labels?["pod-template-hash"]?.scalarValue ?? ""
        let rolloutHash = labels?["rollouts-pod-template-hash"]?.scalarValue ?? ""
        let deploymentConfig = labels?["deploymentconfig"]?.scalarValue ?? ""
        if ownerKind == "ReplicaSet", !hash.isEmpty, ownerName.hasSuffix(hash) {
            self.name = Self.trimming("-" + hash, from: ownerName)
            kind = "Deployment"
        } else if ownerKind == "ReplicaSet", !rolloutHash.isEmpty, ownerName.hasSuffix(rolloutHash) {
            self.name = Self.trimming("-" + rolloutHash, from: ownerName)
            kind = "Rollout"
        } else if ownerKind == "ReplicationController", !deploymentConfig.isEmpty {
            self.name = deploymentConfig
            kind = "DeploymentConfig"
        } else if ownerKind == "Job", let dash = ownerName.lastIndex(of: "-"), dash > ownerName.startIndex {
            // The CronJob controller names its Jobs `<cronjob>-<scheduled time in minutes>`.
            let suffix = ownerName[ownerName.index(after: dash)...]
            if !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
                self.name = String(ownerName[..<dash])
                kind = "CronJob"
            }
        }
    }

    private static func trimming(_ suffix: String, from name: String) -> String {
        name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name
    }
}
