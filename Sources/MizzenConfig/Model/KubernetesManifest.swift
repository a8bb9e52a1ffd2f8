/// A Kubernetes object of a gateway's install manifests (its Deployment, RBAC, autoscaling and
/// injector webhook) that `mizzen validate` checks but routing never reads.
///
/// One list of an enum rather than a list per kind: nothing reads these by kind, and the
/// snapshot stays the routing's view with one extra, inert field.
package enum KubernetesManifest: Sendable {
    case namespace(KubernetesNamespace)
    case serviceAccount(KubernetesServiceAccount)
    case configMap(KubernetesConfigMap)
    case role(KubernetesRole)
    case clusterRole(KubernetesClusterRole)
    case roleBinding(KubernetesRoleBinding)
    case clusterRoleBinding(KubernetesRoleBinding)
    case deployment(KubernetesDeployment)
    case podDisruptionBudget(KubernetesPodDisruptionBudget)
    case horizontalPodAutoscaler(KubernetesHorizontalPodAutoscaler)
    case mutatingWebhookConfiguration(MutatingWebhookConfiguration)

    /// The kinds that have no namespace (their `metadata.namespace` is ignored).
    package static let clusterScopedKinds: Set<String> = ["Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"]
}

extension KubernetesValidator {
    /// Dispatches to the validator of the manifest's kind.
    package static func manifest(_ manifest: KubernetesManifest, into problems: inout Problems) {
        switch manifest {
        case .namespace(let object): namespace(object, into: &problems)
        case .serviceAccount(let object): serviceAccount(object, into: &problems)
        case .configMap(let object): configMap(object, into: &problems)
        case .role(let object): role(object, into: &problems)
        case .clusterRole(let object): clusterRole(object, into: &problems)
        case .roleBinding(let object): roleBinding(object, clusterScoped: false, into: &problems)
        case .clusterRoleBinding(let object): roleBinding(object, clusterScoped: true, into: &problems)
        case .deployment(let object): deployment(object, into: &problems)
        case .podDisruptionBudget(let object): podDisruptionBudget(object, into: &problems)
        case .horizontalPodAutoscaler(let object): horizontalPodAutoscaler(object, into: &problems)
        case .mutatingWebhookConfiguration(let object): mutatingWebhookConfiguration(object, into: &problems)
        }
    }
}
