/// Kubernetes apps/v1 `Deployment`: the gateway's and the injector's pods.
package struct KubernetesDeployment: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?

    package struct Spec: ConfigModel {
        package var replicas: Int32?
        package var selector: KubernetesLabelSelector?
        package var template: PodTemplateSpec?
        package var strategy: Strategy?
        package var minReadySeconds: Int32?
        package var revisionHistoryLimit: Int32?
        package var paused: Bool?
        package var progressDeadlineSeconds: Int32?
    }

    package struct Strategy: ConfigModel {
        package var type: String?
        package var rollingUpdate: RollingUpdate?
    }

    package struct RollingUpdate: ConfigModel {
        package var maxUnavailable: IntOrString?
        package var maxSurge: IntOrString?
    }
}

/// core/v1 `PodTemplateSpec`: the metadata and spec of the pods a controller creates.
package struct PodTemplateSpec: ConfigModel {
    package var metadata: ObjectMeta?
    package var spec: PodSpec?
}
