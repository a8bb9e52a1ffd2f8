/// Kubernetes policy/v1 `PodDisruptionBudget`: how many gateway pods a drain may take at once.
package struct KubernetesPodDisruptionBudget: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?

    package struct Spec: ConfigModel {
        package var minAvailable: IntOrString?
        package var maxUnavailable: IntOrString?
        package var selector: KubernetesLabelSelector?
        package var unhealthyPodEvictionPolicy: String?
    }
}

/// Kubernetes autoscaling/v2 `HorizontalPodAutoscaler`.
package struct KubernetesHorizontalPodAutoscaler: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?

    package struct Spec: ConfigModel {
        package var scaleTargetRef: CrossVersionObjectReference?
        package var minReplicas: Int32?
        package var maxReplicas: Int32?
        package var metrics: [MetricSpec]?
        package var behavior: Behavior?
    }

    package struct CrossVersionObjectReference: ConfigModel {
        package var apiVersion: String?
        package var kind: String?
        package var name: String?
    }

    /// `MetricSpec`: a `type` and the one source it names.
    package struct MetricSpec: ConfigModel {
        package var type: String?
        package var resource: ResourceMetric?
        package var containerResource: ResourceMetric?
        package var pods: ObjectMetric?
        package var object: ObjectMetric?
        package var external: ObjectMetric?
    }

    /// `ResourceMetricSource` and `ContainerResourceMetricSource` (the latter adds `container`).
    package struct ResourceMetric: ConfigModel {
        package var name: String?
        package var container: String?
        package var target: MetricTarget?
    }

    /// `PodsMetricSource`, `ObjectMetricSource` and `ExternalMetricSource` (`describedObject` only for Object).
    package struct ObjectMetric: ConfigModel {
        package var metric: MetricIdentifier?
        package var describedObject: CrossVersionObjectReference?
        package var target: MetricTarget?
    }

    package struct MetricIdentifier: ConfigModel {
        package var name: String?
        package var selector: KubernetesLabelSelector?
    }

    package struct MetricTarget: ConfigModel {
        package var type: String?
        package var value: Quantity?
        package var averageValue: Quantity?
        package var averageUtilization: Int32?
    }

    package struct Behavior: ConfigModel {
        package var scaleUp: ScalingRules?
        package var scaleDown: ScalingRules?
    }

    package struct ScalingRules: ConfigModel {
        package var stabilizationWindowSeconds: Int32?
        package var selectPolicy: String?
        package var policies: [ScalingPolicy]?
        package var tolerance: Quantity?
    }

    package struct ScalingPolicy: ConfigModel {
        package var type: String?
        package var value: Int32?
        package var periodSeconds: Int32?
    }
}
