import MizzenConfig

/// The workload a pod template belongs to, for the canonical-name default and messages.
struct Workload: Sendable {
    var kind: String
    var name: String
    var namespace: String?
}

/// Metadata outside the pod template that may still switch injection off (the workload's own,
/// a CronJob's jobTemplate), innermost first.
struct EnclosingMetadata {
    var labels: StringMap
    var annotations: StringMap
    var path: FieldPath
}

/// Injects one pod (a Pod object, or a workload's pod template): the mapping holding `metadata`
/// and `spec`, as Istio's webhook and `istioctl kube-inject` change it.
struct PodTemplateInjector {
    let options: InjectionOptions
    let reader: ObjectReader

    /// Namespaces Istio never injects (`pkg/kube/inject/initializer.go IgnoredNamespaces`).
    static let ignoredNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]

    struct Result {
        var template: YAMLNode
        var outcome: InjectionNote.Outcome
        var remarks: [String] = []
    }

    func inject(template: YAMLNode, at path: FieldPath, workload: Workload, enclosing: [EnclosingMetadata]) throws(InjectionError) -> Result {
        let metadataPath = path / "metadata"
        let specPath = path / "spec"
        let metadata = try reader.optionalMapping(template, "metadata", at: path)
        let spec = try reader.optionalMapping(template, "spec", at: path) ?? .mapping([])
        var labels = try reader.stringMap(metadata, "labels", at: metadataPath)
        var annotations = try reader.stringMap(metadata, "annotations", at: metadataPath)

        // MARK: Whether to inject
        if reader.flag(spec, "hostNetwork") {
            // iptables would rewrite the node's rules, not the pod's.
            return Result(template: template, outcome: .skipped(.hostNetwork))
        }
        let own = EnclosingMetadata(labels: labels, annotations: annotations, path: metadataPath)
        for candidate in [own] + enclosing {
            // The label is the current API; when both are set Istio prefers it.
            let (value, field) = candidate.labels[Annotation.inject].map { ($0, "labels") }
                ?? candidate.annotations[Annotation.inject].map { ($0, "annotations") }
                ?? ("", "")
            if value == "false" {
                return Result(template: template, outcome: .skipped(.injectionDisabled(where: "\(candidate.path / field / Annotation.inject)")))
            }
            if value == "true" { break }
        }
        let namespace = try reader.optionalScalar(metadata ?? .mapping([]), "namespace", at: metadataPath) ?? workload.namespace
        if let namespace, Self.ignoredNamespaces.contains(namespace) {
            return Result(template: template, outcome: .skipped(.ignoredNamespace(namespace)))
        }
        let containers = try reader.optionalSequence(spec, "containers", at: specPath) ?? []
        let initContainers = try reader.optionalSequence(spec, "initContainers", at: specPath)
        let containerNames = try names(containers, at: specPath / "containers")
        let initNames = try names(initContainers ?? [], at: specPath / "initContainers")
        if containerNames.contains(SidecarContainers.proxyName) || initNames.contains(SidecarContainers.proxyName) {
            return Result(template: template, outcome: .skipped(.alreadyInjected))
        }

        let settings = try SidecarSettings.make(
            annotations: annotations, path: metadataPath / "annotations", options: options, context: reader.context)
        var remarks: [String] = []
        if annotations[Annotation.proxyConfig] != nil {
            remarks.append("\(Annotation.proxyConfig) is not read by Mizzen's sidecar; left as it is")
        }

        // MARK: Labels
        if (labels[Annotation.tlsModeLabel] ?? "").isEmpty { labels.set(Annotation.tlsModeLabel, "istio") }
        labels.set(Annotation.canonicalNameLabel, canonicalName(labels, workload: workload))
        labels.set(Annotation.canonicalRevisionLabel, firstNonEmpty(
            labels[Annotation.canonicalRevisionLabel], labels["app.kubernetes.io/version"], labels["version"]) ?? "latest")

        // MARK: App probes
        var newContainers = containers
        var newInitContainers = initContainers ?? []
        var probers: [(path: String, prober: GoJSON)] = []
        if settings.rewriteAppProbes && settings.statusPort != 0 {
            let rewriter = AppProbeRewriter(statusPort: settings.statusPort, reader: reader)
            // Init containers first, as Istio lists them (`allContainers`).
            for (index, container) in newInitContainers.enumerated() {
                let rewrite = try rewriter.rewrite(container: container, name: initNames[index], at: specPath / "initContainers" / index)
                newInitContainers[index] = rewrite.container
                probers += rewrite.probers
                remarks += rewrite.remarks
            }
            for (index, container) in newContainers.enumerated() {
                let rewrite = try rewriter.rewrite(container: container, name: containerNames[index], at: specPath / "containers" / index)
                newContainers[index] = rewrite.container
                probers += rewrite.probers
                remarks += rewrite.remarks
            }
        }

        // MARK: Containers and volumes
        let initContainer = SidecarContainers.initContainer(settings)
        let proxy = SidecarContainers.proxyContainer(
            settings, options: options, podLabels: labels, probers: AppProbeRewriter.environmentValue(probers))
        var addedInit: [String] = []
        var addedContainers: [String] = []
        if settings.nativeSidecar {
            // istio-init, then the proxy, then the app's init containers: they run inside the mesh.
            let added = [initContainer, proxy].compactMap { $0 }
            newInitContainers = added + newInitContainers
            addedInit = (initContainer == nil ? [] : [SidecarContainers.initName]) + [SidecarContainers.proxyName]
        } else {
            // istio-init last so the app's init containers run before traffic is captured.
            if let initContainer {
                newInitContainers.append(initContainer)
                addedInit = [SidecarContainers.initName]
            }
            newContainers.append(proxy)
            addedContainers = [SidecarContainers.proxyName]
        }
        let addedVolumes = SidecarContainers.volumes(options: options)
        let volumes = (try reader.optionalSequence(spec, "volumes", at: specPath) ?? []) + addedVolumes

        /// The field's sequence with new items (its tag kept), or a new one.
        func sequence(_ key: String, _ items: [YAMLNode]) -> YAMLNode {
            guard let existing = spec[key], existing.isSequence else { return .sequence(items) }
            return existing.replacingItems(items)
        }
        var newSpec = spec.setting("containers", to: sequence("containers", newContainers))
        if initContainers != nil || !newInitContainers.isEmpty {
            newSpec = newSpec.setting("initContainers", to: sequence("initContainers", newInitContainers))
        }
        newSpec = newSpec.setting("volumes", to: sequence("volumes", volumes))

        // MARK: Annotations
        annotations.set(Annotation.revision, options.revision)
        let appContainers = containerNames.filter { $0 != SidecarContainers.proxyName }
        if let first = appContainers.first {
            if annotations[Annotation.defaultLogsContainer] == nil { annotations.set(Annotation.defaultLogsContainer, first) }
            if annotations[Annotation.defaultContainer] == nil { annotations.set(Annotation.defaultContainer, first) }
        }
        if let remark = applyPrometheus(&annotations) { remarks.append(remark) }
        let status = GoJSON.object([
            ("initContainers", .strings(addedInit)),
            ("containers", .strings(addedContainers)),
            ("volumes", .strings([SidecarContainers.workloadCertsVolume, SidecarContainers.meshConfigVolume])),
            ("imagePullSecrets", .null),
            ("revision", .string(options.revision)),
        ])
        annotations.set(Annotation.status, status.text)

        var newMetadata = metadata ?? .mapping([])
        newMetadata = newMetadata.setting("labels", to: labels.node(updating: metadata?["labels"]))
        newMetadata = newMetadata.setting("annotations", to: annotations.node(updating: metadata?["annotations"]))
        let newTemplate = template.setting("metadata", to: newMetadata, atStart: true).setting("spec", to: newSpec)
        return Result(template: newTemplate, outcome: .injected, remarks: remarks)
    }

    /// Each container's `name`, which must be there.
    private func names(_ containers: [YAMLNode], at path: FieldPath) throws(InjectionError) -> [String] {
        var names: [String] = []
        for (index, container) in containers.enumerated() {
            let entry = try reader.mapping(container, at: path / index)
            guard let name = try reader.optionalScalar(entry, "name", at: path / index) else {
                throw reader.context.error(.missingField, path / index / "name", entry, "is required")
            }
            names.append(name)
        }
        return names
    }

    /// `service.istio.io/canonical-name`: the label itself, `app.kubernetes.io/name`, `app` or the
    /// workload's name, cut to 63 characters and stripped of `-`, `_` and `.` at either end.
    private func canonicalName(_ labels: StringMap, workload: Workload) -> String {
        let name = firstNonEmpty(labels[Annotation.canonicalNameLabel], labels["app.kubernetes.io/name"], labels["app"]) ?? workload.name
        let cut = String(decoding: name.utf8.prefix(63), as: UTF8.self)
        let trimmed = cut.drop { "-_.".contains($0) }
        return String(trimmed.reversed().drop { "-_.".contains($0) }.reversed())
    }

    private func firstNonEmpty(_ values: String?...) -> String? {
        values.lazy.compactMap { $0 }.first { !$0.isEmpty }
    }

    /// Points Prometheus at the sidecar's metrics, as Istio's metrics merging does
    /// (`applyPrometheusMerge`), with one difference: Istio points at pilot-agent's 15020, which
    /// serves Envoy's and the app's metrics merged; Mizzen has no agent, so scrapes go straight to
    /// the proxy's own `:15090/stats/prometheus`. Without merging, an app that declares its own
    /// `prometheus.io/port` or `path` would lose its metrics, so its annotations are left alone.
    private func applyPrometheus(_ annotations: inout StringMap) -> String? {
        if let scrape = annotations[Annotation.prometheusScrape], parseGoBoolean(scrape) == false { return nil }
        if let merge = annotations[Annotation.prometheusMergeMetrics], parseGoBoolean(merge) == false { return nil }
        let port = annotations[Annotation.prometheusPort]
        let path = annotations[Annotation.prometheusPath]
        if port != nil && port != "15090" || path != nil && path != "/stats/prometheus" {
            return "the app's prometheus.io annotations are kept; Mizzen does not merge app metrics into the sidecar's"
        }
        annotations.set(Annotation.prometheusScrape, "true")
        annotations.set(Annotation.prometheusPort, "15090")
        annotations.set(Annotation.prometheusPath, "/stats/prometheus")
        return nil
    }
}
