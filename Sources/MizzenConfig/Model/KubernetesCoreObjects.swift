// The core/v1 kinds a gateway's manifests create beside its Deployment and Service. Mizzen
// validates them (`mizzen validate`) and keeps them out of routing.

/// Kubernetes core/v1 `Namespace`.
package struct KubernetesNamespace: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?

    package struct Spec: ConfigModel {
        package var finalizers: [String]?
    }
}

/// Kubernetes core/v1 `ServiceAccount`.
package struct KubernetesServiceAccount: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var secrets: OpaqueValue?
    package var imagePullSecrets: [LocalObjectReference]?
    package var automountServiceAccountToken: Bool?
}

/// Kubernetes core/v1 `ConfigMap`.
package struct KubernetesConfigMap: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var data: [String: String]?
    package var binaryData: [String: String]?
    package var immutable: Bool?
}
