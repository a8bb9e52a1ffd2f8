// rbac.authorization.k8s.io/v1: who may read what. The gateway needs to list and watch the
// Istio and Kubernetes objects it routes by, and to read its TLS Secrets.

/// RBAC `PolicyRule`: verbs on resources of API groups, or on non-resource URLs.
package struct PolicyRule: ConfigModel {
    package var apiGroups: [String]?
    package var resources: [String]?
    package var resourceNames: [String]?
    package var verbs: [String]?
    package var nonResourceURLs: [String]?
}

/// rbac.authorization.k8s.io/v1 `Role` (namespaced).
package struct KubernetesRole: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var rules: [PolicyRule]?
}

/// rbac.authorization.k8s.io/v1 `ClusterRole`.
package struct KubernetesClusterRole: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var rules: [PolicyRule]?
    package var aggregationRule: AggregationRule?

    package struct AggregationRule: ConfigModel {
        package var clusterRoleSelectors: [KubernetesLabelSelector]?
    }
}

/// `RoleBinding` and `ClusterRoleBinding` (the same shape; `clusterScoped` tells them apart).
package struct KubernetesRoleBinding: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var subjects: [Subject]?
    package var roleRef: RoleRef?

    package struct Subject: ConfigModel {
        package var kind: String?
        package var apiGroup: String?
        package var name: String?
        package var namespace: String?
    }

    package struct RoleRef: ConfigModel {
        package var apiGroup: String?
        package var kind: String?
        package var name: String?
    }
}
