internal import FoundationEssentials

/// Turns YAML documents into typed, validated objects and collects every diagnostic.
struct SnapshotBuilder {
    let loader: ConfigLoader
    var snapshot = ConfigSnapshot()
    var diagnostics: [Diagnostic] = []
    var skippedCount = 0
    var loadIndex = 0
    /// Where each object was first defined, for "defined again" warnings (kind/namespace/name).
    var definitions: [ObjectReference: ObjectSource] = [:]

    static let istioGroup = "networking.istio.io"
    static let istioVersions: Set<String> = ["v1", "v1beta1", "v1alpha3"]
    static let securityGroup = "security.istio.io"
    static let securityVersions: Set<String> = ["v1", "v1beta1"]

    init(loader: ConfigLoader) {
        self.loader = loader
    }

    mutating func add(file: String, bytes: [UInt8]) {
        let stream = YAMLComposer.compose(bytes, limits: loader.yamlLimits)
        for problem in stream.problems {
            diagnostics.append(Diagnostic(severity: .error, file: file, mark: problem.mark, message: problem.message))
        }
        for document in stream.documents {
            guard let root = document.root else { continue }
            addObject(root, file: file, depth: 0)
        }
    }

    mutating func addObject(_ root: YAMLNode, file: String, depth: Int) {
        guard case .mapping = root.content else {
            if root.resolvedKind != .null {
                diagnostics.append(Diagnostic(severity: .error, file: file, mark: root.mark, message: "a document must be an object with apiVersion and kind, got \(root.resolvedKind.noun)"))
            }
            return
        }
        let apiVersion = root["apiVersion"]?.scalarValue ?? ""
        let kind = root["kind"]?.scalarValue ?? ""
        let metadata = root["metadata"]
        let name = metadata?["name"]?.scalarValue ?? ""
        let namespace = metadata?["namespace"]?.scalarValue ?? loader.defaultNamespace
        let reference = ObjectReference(kind: kind.isEmpty ? "Object" : kind, namespace: namespace, name: name.isEmpty ? "<unnamed>" : name)
        guard !apiVersion.isEmpty, !kind.isEmpty else {
            let missing = apiVersion.isEmpty ? "apiVersion" : "kind"
            diagnostics.append(Diagnostic(severity: .error, file: file, mark: root.mark, object: kind.isEmpty ? nil : reference, path: FieldPath.root / missing, message: "is required"))
            return
        }
        let source = ObjectSource(file: file, mark: root.mark, node: root)
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.count == 2 ? parts[1] : parts[0]

        if kind.hasSuffix("List"), root["items"] != nil {
            guard depth < 4 else {
                diagnostics.append(Diagnostic(severity: .error, file: file, mark: root.mark, message: "lists nested more than 4 deep"))
                return
            }
            let (list, problems) = ObjectDecoder.decode(KubernetesList.self, from: root)
            report(problems, reference: reference, file: file)
            for item in list?.items ?? [] { addObject(item.node, file: file, depth: depth + 1) }
            return
        }

        if group == Self.istioGroup {
            guard Self.istioVersions.contains(version) else {
                diagnostics.append(Diagnostic(severity: .error, file: file, mark: source.mark(of: FieldPath.root / "apiVersion"), object: reference, path: FieldPath.root / "apiVersion",
                                              message: "unsupported version \"\(version)\" of \(group); use v1, v1beta1 or v1alpha3"))
                return
            }
            switch kind {
            case "Gateway":
                add(IstioResource<Gateway>.self, \.gateways, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, meta, problems in
                    GatewayValidator.validate(spec, name: meta.name ?? "", into: &problems)
                }
            case "VirtualService":
                add(IstioResource<VirtualService>.self, \.virtualServices, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, _, problems in
                    VirtualServiceValidator.validate(spec, namespace: reference.namespace, into: &problems)
                }
            case "DestinationRule":
                add(IstioResource<DestinationRule>.self, \.destinationRules, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, _, problems in
                    DestinationRuleValidator.validate(spec, namespace: reference.namespace, into: &problems)
                }
            case "ServiceEntry":
                add(IstioResource<ServiceEntry>.self, \.serviceEntries, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, meta, problems in
                    ServiceEntryValidator.validate(spec, namespace: reference.namespace, labels: meta.labels ?? [:], into: &problems)
                }
            case "Sidecar":
                add(IstioResource<Sidecar>.self, \.sidecars, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, _, problems in
                    SidecarValidator.validate(spec, into: &problems)
                }
            case "WorkloadEntry":
                add(IstioResource<WorkloadEntry>.self, \.workloadEntries, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: \.spec) { spec, _, problems in
                    WorkloadEntryValidator.validate(spec, FieldPath.root / "spec", servicePorts: nil, allowFQDN: true, into: &problems)
                }
            default:
                skip(reference, apiVersion: apiVersion, file: file, mark: root.mark)
            }
            return
        }

        if group == Self.securityGroup {
            guard Self.securityVersions.contains(version) else {
                diagnostics.append(Diagnostic(severity: .error, file: file, mark: source.mark(of: FieldPath.root / "apiVersion"), object: reference, path: FieldPath.root / "apiVersion",
                                              message: "unsupported version \"\(version)\" of \(group); use v1 or v1beta1"))
                return
            }
            switch kind {
            case "PeerAuthentication":
                add(IstioResource<PeerAuthentication>.self, \.peerAuthentications, root: root, source: source, reference: reference, apiVersion: apiVersion,
                    payload: \.spec) { spec, _, problems in
                    PeerAuthenticationValidator.validate(spec, into: &problems)
                }
            default:
                skip(reference, apiVersion: apiVersion, file: file, mark: root.mark)
            }
            return
        }

        switch (apiVersion, kind) {
        case ("v1", "Service"):
            add(KubernetesService.self, \.services, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: { $0 }) { object, _, problems in
                KubernetesValidator.service(object, into: &problems)
            }
        case ("v1", "Endpoints"):
            add(KubernetesEndpoints.self, \.endpoints, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: { $0 }) { object, _, problems in
                KubernetesValidator.endpoints(object, into: &problems)
            }
        case ("discovery.k8s.io/v1", "EndpointSlice"):
            add(KubernetesEndpointSlice.self, \.endpointSlices, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: { $0 }) { object, _, problems in
                KubernetesValidator.endpointSlice(object, into: &problems)
            }
        case ("v1", "Secret"):
            add(KubernetesSecret.self, \.secrets, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: { $0 }) { object, _, problems in
                KubernetesValidator.secret(object, into: &problems)
            }
        case ("v1", "Pod"):
            add(KubernetesPod.self, \.pods, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: { $0 }) { object, _, problems in
                KubernetesValidator.pod(object, into: &problems)
            }
        case ("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("policy/v1", "PodDisruptionBudget"),
             ("autoscaling/v2", "HorizontalPodAutoscaler"), ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
             ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
             ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
            addManifest(kind: kind, root: root, source: source, reference: reference, apiVersion: apiVersion)
        default:
            skip(reference, apiVersion: apiVersion, file: file, mark: root.mark)
        }
    }

    /// An install manifest: decoded as its kind, validated, kept in `manifests` (never routed).
    /// Cluster-scoped kinds get no namespace in messages and duplicate checks.
    mutating func addManifest(kind: String, root: YAMLNode, source: ObjectSource, reference: ObjectReference, apiVersion: String) {
        var reference = reference
        if KubernetesManifest.clusterScopedKinds.contains(kind) { reference.namespace = "" }
        func add<Object: TopLevelObject>(_ type: Object.Type, _ wrap: (Object) -> KubernetesManifest) {
            self.add(type, \.manifests, root: root, source: source, reference: reference, apiVersion: apiVersion, payload: wrap) { manifest, _, problems in
                KubernetesValidator.manifest(manifest, into: &problems)
            }
        }
        switch kind {
        case "Namespace": add(KubernetesNamespace.self, KubernetesManifest.namespace)
        case "ServiceAccount": add(KubernetesServiceAccount.self, KubernetesManifest.serviceAccount)
        case "ConfigMap": add(KubernetesConfigMap.self, KubernetesManifest.configMap)
        case "Role": add(KubernetesRole.self, KubernetesManifest.role)
        case "ClusterRole": add(KubernetesClusterRole.self, KubernetesManifest.clusterRole)
        case "RoleBinding": add(KubernetesRoleBinding.self, KubernetesManifest.roleBinding)
        case "ClusterRoleBinding": add(KubernetesRoleBinding.self, KubernetesManifest.clusterRoleBinding)
        case "Deployment": add(KubernetesDeployment.self, KubernetesManifest.deployment)
        case "PodDisruptionBudget": add(KubernetesPodDisruptionBudget.self, KubernetesManifest.podDisruptionBudget)
        case "HorizontalPodAutoscaler": add(KubernetesHorizontalPodAutoscaler.self, KubernetesManifest.horizontalPodAutoscaler)
        case "MutatingWebhookConfiguration": add(MutatingWebhookConfiguration.self, KubernetesManifest.mutatingWebhookConfiguration)
        default: skip(reference, apiVersion: apiVersion, file: source.file, mark: root.mark)
        }
    }

    mutating func skip(_ reference: ObjectReference, apiVersion: String, file: String, mark: SourceMark) {
        skippedCount += 1
        diagnostics.append(Diagnostic(severity: .notice, file: file, mark: mark, object: reference,
                                      message: "skipped: \(apiVersion) \(reference.kind) is not a kind Mizzen reads"))
    }

    /// Decodes, checks metadata, validates and (if valid) stores one object. `payload` picks
    /// what the snapshot keeps: the `spec` of an Istio object, the whole Kubernetes object.
    mutating func add<Object: TopLevelObject, Payload>(
        _ type: Object.Type,
        _ keyPath: WritableKeyPath<ConfigSnapshot, [ConfigResource<Payload>]>,
        root: YAMLNode, source: ObjectSource, reference: ObjectReference, apiVersion: String,
        payload: (Object) -> Payload?,
        validate: (Payload, ObjectMeta, inout Problems) -> Void
    ) {
        let (decoded, decodingProblems) = ObjectDecoder.decode(type, from: root)
        var errors = report(decodingProblems, reference: reference, file: source.file)
        var problems = Problems()
        let metadata = decoded?.metadata ?? ObjectMeta()
        checkMetadata(metadata, into: &problems)
        let content = decoded.flatMap(payload)
        if let content {
            validate(content, metadata, &problems)
        } else if decoded != nil, root["spec"] == nil {
            problems.error(FieldPath.root / "spec", "is required")
        }
        errors += report(problems, reference: reference, source: source)
        guard errors == 0, let content else { return }
        store(ConfigResource(reference: reference, apiVersion: apiVersion, metadata: metadata, payload: content, source: source, loadIndex: loadIndex), keyPath)
    }

    mutating func store<Payload>(_ resource: ConfigResource<Payload>, _ keyPath: WritableKeyPath<ConfigSnapshot, [ConfigResource<Payload>]>) {
        loadIndex += 1
        if let earlier = definitions[resource.reference] {
            diagnostics.append(Diagnostic(severity: .warning, file: resource.source.file, mark: resource.source.mark, object: resource.reference,
                                          message: "defined again; replaces the definition at \(earlier.file):\(earlier.mark.line) (as kubectl apply would)"))
            snapshot[keyPath: keyPath].removeAll { $0.reference == resource.reference }
        }
        definitions[resource.reference] = resource.source
        snapshot[keyPath: keyPath].append(resource)
    }

    func checkMetadata(_ metadata: ObjectMeta, into problems: inout Problems) {
        let path = FieldPath.root / "metadata"
        if let name = metadata.name, !name.isEmpty {
            if let problem = Rules.kubernetesNameProblem(name, allowDots: true) { problems.error(path / "name", problem) }
        } else if (metadata.generateName ?? "").isEmpty {
            problems.error(path / "name", "is required")
        }
        if let namespace = metadata.namespace, let problem = Rules.kubernetesNameProblem(namespace, allowDots: false) {
            problems.error(path / "namespace", problem)
        }
        problems.labels(metadata.labels, path / "labels")
        for key in (metadata.annotations ?? [:]).keys.sorted() {
            if let problem = Rules.labelKeyProblem(key) { problems.error(path / "annotations" / key, problem.replacing("label key", with: "annotation key"), atKey: true) }
        }
        if let timestamp = metadata.creationTimestamp, !Timestamp.isRFC3339(timestamp) {
            problems.error(path / "creationTimestamp", "must be an RFC 3339 time such as 2024-05-01T12:00:00Z")
        }
    }

    @discardableResult
    mutating func report(_ problems: [DecodingProblem], reference: ObjectReference, file: String) -> Int {
        var errors = 0
        for problem in problems {
            let severity: Diagnostic.Severity = problem.severity == .error ? .error : .warning
            if severity == .error { errors += 1 }
            diagnostics.append(Diagnostic(severity: severity, file: file, mark: problem.mark, object: reference, path: problem.path, message: problem.message))
        }
        return errors
    }

    mutating func report(_ problems: Problems, reference: ObjectReference, source: ObjectSource) -> Int {
        var errors = 0
        for item in problems.items {
            if item.severity == .error { errors += 1 }
            diagnostics.append(Diagnostic(severity: item.severity, file: source.file, mark: source.mark(of: item.path, atKey: item.atKey),
                                          object: reference, path: item.path, message: item.message))
        }
        return errors
    }

    mutating func finish(fileCount: Int, ioErrors: [Diagnostic]) -> LoadResult {
        if loader.analyze {
            diagnostics.append(contentsOf: ConfigAnalyzer.analyze(snapshot))
        }
        return LoadResult(snapshot: snapshot, diagnostics: diagnostics, ioErrors: ioErrors, fileCount: fileCount, skippedCount: skippedCount)
    }
}

/// RFC 3339 timestamps, as Kubernetes writes `creationTimestamp`.
package enum Timestamp {
    package static func isRFC3339(_ text: String) -> Bool { secondsSinceEpoch(text) != nil }

    /// Seconds since 1970 (fractions ignored), for ordering objects by age.
    package static func secondsSinceEpoch(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else { return nil }
                value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        }
        var offset: Int64 = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            guard index == bytes.count - 1 else { return nil }
        } else {
            guard bytes.count == index + 6, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)) else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
        }
        // Days from civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second - offset
    }
}
