/// admissionregistration.k8s.io/v1 `MutatingWebhookConfiguration`: how the API server calls the
/// sidecar injector on pod creation.
package struct MutatingWebhookConfiguration: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var webhooks: [Webhook]?

    package struct Webhook: ConfigModel {
        package var name: String?
        package var clientConfig: ClientConfig?
        package var rules: [Rule]?
        package var failurePolicy: String?
        package var matchPolicy: String?
        package var namespaceSelector: KubernetesLabelSelector?
        package var objectSelector: KubernetesLabelSelector?
        package var sideEffects: String?
        package var timeoutSeconds: Int32?
        package var admissionReviewVersions: [String]?
        package var reinvocationPolicy: String?
        package var matchConditions: [MatchCondition]?
    }

    package struct ClientConfig: ConfigModel {
        package var url: String?
        package var service: ServiceReference?
        package var caBundle: String?
    }

    package struct ServiceReference: ConfigModel {
        package var namespace: String?
        package var name: String?
        package var path: String?
        package var port: Int32?
    }

    /// `RuleWithOperations`.
    package struct Rule: ConfigModel {
        package var operations: [String]?
        package var apiGroups: [String]?
        package var apiVersions: [String]?
        package var resources: [String]?
        package var scope: String?
    }

    package struct MatchCondition: ConfigModel {
        package var name: String?
        package var expression: String?
    }
}
