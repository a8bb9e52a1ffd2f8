/// The API server's checks of a `MutatingWebhookConfiguration`
/// (`pkg/apis/admissionregistration/validation`), in Kubernetes' words.
extension KubernetesValidator {
    package static func mutatingWebhookConfiguration(_ configuration: MutatingWebhookConfiguration, into problems: inout Problems) {
        clusterScoped(configuration.metadata, kind: "MutatingWebhookConfiguration", into: &problems)
        var names: Set<String> = []
        for (index, webhook) in (configuration.webhooks ?? []).enumerated() {
            let path = FieldPath.root / "webhooks" / index
            if let name = webhook.name, !name.isEmpty {
                if let problem = Rules.kubernetesNameProblem(name, allowDots: true) {
                    problems.error(path / "name", problem)
                } else if name.split(separator: ".").count < 3 {
                    problems.error(path / "name", "should be a domain with at least three segments separated by dots")
                }
                if !names.insert(name).inserted { problems.error(path / "name", "Duplicate value: \"\(name)\"") }
            } else {
                problems.error(path / "name", "is required")
            }
            self.webhook(webhook, path, into: &problems)
        }
    }

    static func webhook(_ webhook: MutatingWebhookConfiguration.Webhook, _ path: FieldPath, into problems: inout Problems) {
        let versions = webhook.admissionReviewVersions ?? []
        if versions.isEmpty {
            problems.error(path / "admissionReviewVersions", "must specify one of v1, v1beta1")
        } else if !versions.contains("v1") {
            if versions.contains("v1beta1") {
                problems.warning(path / "admissionReviewVersions", "does not include v1: only servers that still answer AdmissionReview v1beta1 can serve it")
            } else {
                problems.error(path / "admissionReviewVersions", "must include at least one of v1, v1beta1")
            }
        }
        for (index, version) in versions.enumerated() where !Rules.isDNS1123Label(version) || version != version.lowercased() {
            problems.error(path / "admissionReviewVersions" / index, "must be a lower-case DNS-1123 label such as v1")
        }
        if let sideEffects = webhook.sideEffects {
            problems.unsupported(sideEffects, ["None", "NoneOnDryRun"], path / "sideEffects")
        } else {
            problems.error(path / "sideEffects", "is required")
        }
        problems.unsupported(webhook.failurePolicy, ["Ignore", "Fail"], path / "failurePolicy")
        problems.unsupported(webhook.matchPolicy, ["Exact", "Equivalent"], path / "matchPolicy")
        problems.unsupported(webhook.reinvocationPolicy, ["Never", "IfNeeded"], path / "reinvocationPolicy")
        if let timeout = webhook.timeoutSeconds, !(1...30).contains(timeout) {
            problems.error(path / "timeoutSeconds", "the timeout value must be between 1 and 30 seconds")
        }
        clientConfig(webhook.clientConfig, path / "clientConfig", into: &problems)
        for (index, rule) in (webhook.rules ?? []).enumerated() {
            self.rule(rule, path / "rules" / index, into: &problems)
        }
        problems.labelSelector(webhook.namespaceSelector, path / "namespaceSelector")
        problems.labelSelector(webhook.objectSelector, path / "objectSelector")
        var conditionNames: Set<String> = []
        for (index, condition) in (webhook.matchConditions ?? []).enumerated() {
            let at = path / "matchConditions" / index
            if let name = condition.name, !name.isEmpty {
                if let problem = KubernetesRules.qualifiedNameProblem(name) { problems.error(at / "name", problem) }
                if !conditionNames.insert(name).inserted { problems.error(at / "name", "Duplicate value: \"\(name)\"") }
            } else {
                problems.error(at / "name", "is required")
            }
            if (condition.expression ?? "").isEmpty { problems.error(at / "expression", "is required") }
        }
    }

    /// Exactly one of `url` (https, no user, query or fragment) and `service`; `caBundle` base64.
    static func clientConfig(_ config: MutatingWebhookConfiguration.ClientConfig?, _ path: FieldPath, into problems: inout Problems) {
        guard let config else {
            problems.error(path, "is required")
            return
        }
        switch (config.url, config.service) {
        case (nil, nil), (.some, .some):
            problems.error(path, "exactly one of url or service is required")
        case (let url?, nil):
            if let problem = webhookURLProblem(url) { problems.error(path / "url", problem) }
        case (nil, let service?):
            problems.kubernetesName(service.name, path / "service" / "name", allowDots: false, required: true)
            problems.kubernetesName(service.namespace, path / "service" / "namespace", allowDots: false, required: true)
            if let servicePath = service.path, !servicePath.isEmpty {
                if !servicePath.hasPrefix("/") {
                    problems.error(path / "service" / "path", "must start with a '/'")
                } else if servicePath.contains("?") || servicePath.contains("#") || servicePath.contains(" ") {
                    problems.error(path / "service" / "path", "must be a path without query, fragment or spaces")
                }
            }
            if let port = service.port, let problem = KubernetesRules.portNumberProblem(port) {
                problems.error(path / "service" / "port", "port is not valid: \(problem)")
            }
        }
        if let bundle = config.caBundle, !bundle.isEmpty, Base64.decodedCount(bundle) == nil {
            problems.error(path / "caBundle", "must be base64 (the PEM of the CA that signed the webhook's certificate, base64-encoded)")
        }
    }

    static func webhookURLProblem(_ url: String) -> String? {
        guard url.hasPrefix("https://") else {
            return url.contains("://") ? "'https' is the only allowed URL scheme" : "must be an absolute URL such as https://injector.example.com/inject"
        }
        let rest = url.dropFirst("https://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.isEmpty { return "host must be specified" }
        if authority.contains("@") { return "user information is not permitted in the URL" }
        if rest.contains("#") { return "fragments are not permitted in the URL" }
        if rest.contains("?") { return "query parameters are not permitted in the URL" }
        return nil
    }

    static let webhookOperations = ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"]

    static func rule(_ rule: MutatingWebhookConfiguration.Rule, _ path: FieldPath, into problems: inout Problems) {
        for (field, values) in [("operations", rule.operations), ("apiGroups", rule.apiGroups), ("apiVersions", rule.apiVersions), ("resources", rule.resources)] {
            let values = values ?? []
            if values.isEmpty {
                problems.error(path / field, "is required")
                continue
            }
            if values.count > 1, values.contains("*") {
                problems.error(path / field, "if '*' is present, must not specify other \(field == "operations" ? "operations" : field == "resources" ? "resources" : field == "apiGroups" ? "API groups" : "API versions")")
            }
            if field == "operations" {
                for (index, operation) in values.enumerated() { problems.unsupported(operation, webhookOperations, path / field / index) }
            }
            if field == "apiVersions" {
                for (index, version) in values.enumerated() where version.isEmpty { problems.error(path / field / index, "must not be empty") }
            }
            if field == "resources" {
                for (index, resource) in values.enumerated() {
                    let parts = resource.split(separator: "/", omittingEmptySubsequences: false)
                    if resource.isEmpty || parts.contains(where: \.isEmpty) || parts.count > 2 {
                        problems.error(path / field / index, "must be a resource or resource/subresource (\"pods\", \"pods/status\", \"*\", \"*/*\")")
                    }
                }
            }
        }
        problems.unsupported(rule.scope, ["Cluster", "Namespaced", "*"], path / "scope")
    }
}
