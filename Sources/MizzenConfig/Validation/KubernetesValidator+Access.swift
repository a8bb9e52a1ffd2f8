/// The API server's checks of Namespaces, ServiceAccounts, ConfigMaps and RBAC objects
/// (`pkg/apis/core/validation`, `pkg/apis/rbac/validation`), plus warnings for the typos that
/// RBAC accepts silently and that leave the gateway unable to watch what it needs.
extension KubernetesValidator {
    package static func namespace(_ namespace: KubernetesNamespace, into problems: inout Problems) {
        if let name = namespace.metadata?.name, !name.isEmpty, let problem = Rules.kubernetesNameProblem(name, allowDots: false) {
            problems.error(FieldPath.root / "metadata" / "name", problem)
        }
        clusterScoped(namespace.metadata, kind: "Namespace", into: &problems)
        for (index, finalizer) in (namespace.spec?.finalizers ?? []).enumerated() {
            if let problem = KubernetesRules.qualifiedNameProblem(finalizer) { problems.error(FieldPath.root / "spec" / "finalizers" / index, problem) }
        }
    }

    package static func serviceAccount(_ account: KubernetesServiceAccount, into problems: inout Problems) {
        for (index, secret) in (account.imagePullSecrets ?? []).enumerated() {
            problems.kubernetesName(secret.name, FieldPath.root / "imagePullSecrets" / index / "name", required: true)
        }
    }

    /// The API server's limit on a ConfigMap's data (etcd's object size, less headroom).
    static let configMapSizeLimit = 1024 * 1024

    package static func configMap(_ map: KubernetesConfigMap, into problems: inout Problems) {
        var size = 0
        for (key, value) in (map.data ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = KubernetesRules.configKeyProblem(key) { problems.error(FieldPath.root / "data" / key, problem, atKey: true) }
            size += value.utf8.count
        }
        for (key, value) in (map.binaryData ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = FieldPath.root / "binaryData" / key
            if let problem = KubernetesRules.configKeyProblem(key) { problems.error(path, problem, atKey: true) }
            if map.data?[key] != nil { problems.error(path, "Duplicate value: \"\(key)\" (also a key of data)", atKey: true) }
            if let count = Base64.decodedCount(value) { size += count } else { problems.error(path, "must be base64") }
        }
        if size > configMapSizeLimit { problems.error(FieldPath.root, "Too long: must have at most \(configMapSizeLimit) bytes") }
    }

    // MARK: RBAC

    /// The verbs the API server and its authorizers know; RBAC accepts any word, so a typo
    /// ("lsit") is only a rule that never matches.
    static let knownVerbs: Set<String> = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*",
                                          "use", "bind", "escalate", "impersonate", "approve", "sign", "proxy", "attest"]

    package static func role(_ role: KubernetesRole, into problems: inout Problems) {
        for (index, rule) in (role.rules ?? []).enumerated() {
            policyRule(rule, FieldPath.root / "rules" / index, namespaced: true, into: &problems)
        }
    }

    package static func clusterRole(_ role: KubernetesClusterRole, into problems: inout Problems) {
        clusterScoped(role.metadata, kind: "ClusterRole", into: &problems)
        for (index, rule) in (role.rules ?? []).enumerated() {
            policyRule(rule, FieldPath.root / "rules" / index, namespaced: false, into: &problems)
        }
        for (index, selector) in (role.aggregationRule?.clusterRoleSelectors ?? []).enumerated() {
            problems.labelSelector(selector, FieldPath.root / "aggregationRule" / "clusterRoleSelectors" / index)
        }
    }

    /// `ValidatePolicyRule`, in Kubernetes' words.
    static func policyRule(_ rule: PolicyRule, _ path: FieldPath, namespaced: Bool, into problems: inout Problems) {
        let verbs = rule.verbs ?? []
        if verbs.isEmpty { problems.error(path / "verbs", "verbs must contain at least one value") }
        for (index, verb) in verbs.enumerated() where !knownVerbs.contains(verb) {
            problems.warning(path / "verbs" / index, "\"\(verb.prefix(40))\" is not a Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection, ...): the rule grants nothing for it")
        }
        if let urls = rule.nonResourceURLs, !urls.isEmpty {
            if namespaced { problems.error(path / "nonResourceURLs", "namespaced rules cannot apply to non-resource URLs") }
            if !(rule.apiGroups ?? []).isEmpty || !(rule.resources ?? []).isEmpty || !(rule.resourceNames ?? []).isEmpty {
                problems.error(path / "nonResourceURLs", "rules cannot apply to both regular resources and non-resource URLs")
            }
            return
        }
        if (rule.apiGroups ?? []).isEmpty { problems.error(path / "apiGroups", "resource rules must supply at least one api group") }
        let resources = rule.resources ?? []
        if resources.isEmpty { problems.error(path / "resources", "resource rules must supply at least one resource") }
        for (index, resource) in resources.enumerated() where resource != resource.lowercased() {
            problems.warning(path / "resources" / index, "\"\(resource.prefix(40))\" has upper-case letters: resources are lower-case plurals (\"\(resource.lowercased())\"), so the rule grants nothing for it")
        }
    }

    package static func roleBinding(_ binding: KubernetesRoleBinding, clusterScoped isClusterScoped: Bool, into problems: inout Problems) {
        if isClusterScoped { clusterScoped(binding.metadata, kind: "ClusterRoleBinding", into: &problems) }
        let roleRef = FieldPath.root / "roleRef"
        if let reference = binding.roleRef {
            if let group = reference.apiGroup { problems.unsupported(group, ["rbac.authorization.k8s.io"], roleRef / "apiGroup") } else { problems.error(roleRef / "apiGroup", "is required") }
            if let kind = reference.kind {
                problems.unsupported(kind, isClusterScoped ? ["ClusterRole"] : ["Role", "ClusterRole"], roleRef / "kind")
            } else {
                problems.error(roleRef / "kind", "is required")
            }
            problems.kubernetesName(reference.name, roleRef / "name", required: true)
        } else {
            problems.error(roleRef, "is required")
        }
        for (index, subject) in (binding.subjects ?? []).enumerated() {
            let path = FieldPath.root / "subjects" / index
            guard let name = subject.name, !name.isEmpty else {
                problems.error(path / "name", "is required")
                continue
            }
            switch subject.kind {
            case "ServiceAccount":
                problems.unsupported(subject.apiGroup, [""], path / "apiGroup")
                problems.kubernetesName(name, path / "name")
                if let namespace = subject.namespace, !namespace.isEmpty {
                    problems.kubernetesName(namespace, path / "namespace", allowDots: false)
                } else if isClusterScoped {
                    problems.error(path / "namespace", "is required")
                }
            case "User", "Group":
                if let group = subject.apiGroup { problems.unsupported(group, ["rbac.authorization.k8s.io"], path / "apiGroup") } else { problems.error(path / "apiGroup", "is required") }
                if subject.kind == "Group", subject.namespace != nil { problems.error(path / "namespace", "may not be set for a Group") }
            case nil:
                problems.error(path / "kind", "is required")
            case let other:
                problems.unsupported(other, ["ServiceAccount", "User", "Group"], path / "kind")
            }
        }
    }

    /// A cluster-scoped object's `metadata.namespace` is dropped by the API server: say so.
    static func clusterScoped(_ metadata: ObjectMeta?, kind: String, into problems: inout Problems) {
        if let namespace = metadata?.namespace, !namespace.isEmpty {
            problems.warning(FieldPath.root / "metadata" / "namespace", "is ignored: a \(kind) is cluster-scoped")
        }
    }
}
