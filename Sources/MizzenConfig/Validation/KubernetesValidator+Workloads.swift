/// The API server's checks of a gateway's Deployment, PodDisruptionBudget and
/// HorizontalPodAutoscaler (`pkg/apis/{apps,policy,autoscaling}/validation`).
extension KubernetesValidator {
    package static func deployment(_ deployment: KubernetesDeployment, into problems: inout Problems) {
        let path = FieldPath.root / "spec"
        guard let spec = deployment.spec else {
            problems.error(path, "is required")
            return
        }
        problems.atLeast(spec.replicas.map(Int64.init), 0, path / "replicas")
        problems.atLeast(spec.minReadySeconds.map(Int64.init), 0, path / "minReadySeconds")
        problems.atLeast(spec.revisionHistoryLimit.map(Int64.init), 0, path / "revisionHistoryLimit")
        if let deadline = spec.progressDeadlineSeconds {
            if deadline < 0 {
                problems.error(path / "progressDeadlineSeconds", "must be greater than or equal to 0")
            } else if deadline <= spec.minReadySeconds ?? 0 {
                problems.error(path / "progressDeadlineSeconds", "must be greater than minReadySeconds")
            }
        }
        strategy(spec.strategy, path / "strategy", into: &problems)

        if let selector = spec.selector {
            if selector.isEmpty {
                problems.error(path / "selector", "empty selector is invalid for deployment")
            } else {
                problems.labelSelector(selector, path / "selector")
            }
        } else {
            problems.error(path / "selector", "is required")
        }
        guard let template = spec.template else {
            problems.error(path / "template", "is required")
            return
        }
        let labels = template.metadata?.labels ?? [:]
        problems.labels(template.metadata?.labels, path / "template" / "metadata" / "labels")
        for key in (template.metadata?.annotations ?? [:]).keys.sorted() {
            if let problem = Rules.labelKeyProblem(key) {
                problems.error(path / "template" / "metadata" / "annotations" / key, problem.replacing("label key", with: "annotation key"), atKey: true)
            }
        }
        if let selector = spec.selector, !selector.isEmpty, !selector.matches(labels) {
            problems.error(labels.isEmpty ? path / "template" / "metadata" : path / "template" / "metadata" / "labels", "`selector` does not match template `labels`")
        }
        podSpec(template.spec, path / "template" / "spec", context: .deployment, into: &problems)
    }

    static func strategy(_ strategy: KubernetesDeployment.Strategy?, _ path: FieldPath, into problems: inout Problems) {
        guard let strategy else { return }
        problems.unsupported(strategy.type, ["Recreate", "RollingUpdate"], path / "type")
        guard let rolling = strategy.rollingUpdate else { return }
        if strategy.type == "Recreate" {
            problems.error(path / "rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
            return
        }
        if let value = rolling.maxUnavailable, let problem = KubernetesRules.intOrPercentProblem(value) { problems.error(path / "rollingUpdate" / "maxUnavailable", problem) }
        if let value = rolling.maxSurge, let problem = KubernetesRules.intOrPercentProblem(value) { problems.error(path / "rollingUpdate" / "maxSurge", problem) }
        if KubernetesRules.isZero(rolling.maxUnavailable), KubernetesRules.isZero(rolling.maxSurge) {
            problems.error(path / "rollingUpdate" / "maxUnavailable", "may not be 0 when `maxSurge` is 0")
        }
    }

    package static func podDisruptionBudget(_ budget: KubernetesPodDisruptionBudget, into problems: inout Problems) {
        let path = FieldPath.root / "spec"
        guard let spec = budget.spec else {
            problems.error(path, "is required")
            return
        }
        switch (spec.minAvailable, spec.maxUnavailable) {
        case (nil, nil):
            problems.error(path, "one of minAvailable or maxUnavailable is required")
        case (.some, .some):
            problems.error(path, "minAvailable and maxUnavailable cannot be both set")
        default:
            break
        }
        if let value = spec.minAvailable, let problem = KubernetesRules.intOrPercentProblem(value) { problems.error(path / "minAvailable", problem) }
        if let value = spec.maxUnavailable, let problem = KubernetesRules.intOrPercentProblem(value) { problems.error(path / "maxUnavailable", problem) }
        if let selector = spec.selector {
            if selector.isEmpty { problems.warning(path / "selector", "an empty selector selects every pod of the namespace") }
            problems.labelSelector(selector, path / "selector")
        } else {
            problems.error(path / "selector", "is required")
        }
        problems.unsupported(spec.unhealthyPodEvictionPolicy, ["IfHealthyBudget", "AlwaysAllow"], path / "unhealthyPodEvictionPolicy")
    }

    package static func horizontalPodAutoscaler(_ autoscaler: KubernetesHorizontalPodAutoscaler, into problems: inout Problems) {
        let path = FieldPath.root / "spec"
        guard let spec = autoscaler.spec else {
            problems.error(path, "is required")
            return
        }
        objectReference(spec.scaleTargetRef, path / "scaleTargetRef", into: &problems)
        if let minimum = spec.minReplicas, minimum < 1 { problems.error(path / "minReplicas", "must be greater than or equal to 1") }
        if let maximum = spec.maxReplicas {
            if maximum < 1 {
                problems.error(path / "maxReplicas", "must be greater than 0")
            } else if let minimum = spec.minReplicas, maximum < minimum {
                problems.error(path / "maxReplicas", "must be greater than or equal to `minReplicas`")
            }
        } else {
            problems.error(path / "maxReplicas", "is required")
        }
        for (index, metric) in (spec.metrics ?? []).enumerated() {
            self.metric(metric, path / "metrics" / index, into: &problems)
        }
        for (field, rules) in [("scaleUp", spec.behavior?.scaleUp), ("scaleDown", spec.behavior?.scaleDown)] {
            guard let rules else { continue }
            let at = path / "behavior" / field
            problems.unsupported(rules.selectPolicy, ["Max", "Min", "Disabled"], at / "selectPolicy")
            if let window = rules.stabilizationWindowSeconds {
                if window < 0 { problems.error(at / "stabilizationWindowSeconds", "must be greater than or equal to zero") }
                if window > 3600 { problems.error(at / "stabilizationWindowSeconds", "must be less than or equal to 3600") }
            }
            if let tolerance = rules.tolerance, tolerance.value < 0 { problems.error(at / "tolerance", "must be greater than or equal to 0") }
            if rules.selectPolicy != "Disabled", rules.policies?.isEmpty == true { problems.error(at / "policies", "must specify at least one Policy") }
            for (policyIndex, policy) in (rules.policies ?? []).enumerated() {
                let policyAt = at / "policies" / policyIndex
                if let type = policy.type { problems.unsupported(type, ["Pods", "Percent"], policyAt / "type") } else { problems.error(policyAt / "type", "is required") }
                if (policy.value ?? 0) <= 0 { problems.error(policyAt / "value", "must be greater than zero") }
                if let period = policy.periodSeconds {
                    if period <= 0 { problems.error(policyAt / "periodSeconds", "must be greater than zero") }
                    if period > 1800 { problems.error(policyAt / "periodSeconds", "must be less than or equal to 1800") }
                } else {
                    problems.error(policyAt / "periodSeconds", "must be greater than zero")
                }
            }
        }
    }

    static func objectReference(_ reference: KubernetesHorizontalPodAutoscaler.CrossVersionObjectReference?, _ path: FieldPath, into problems: inout Problems) {
        guard let reference else {
            problems.error(path, "is required")
            return
        }
        if let kind = reference.kind, !kind.isEmpty {
            if kind.contains("/") || kind.contains("%") { problems.error(path / "kind", "may not contain '/' or '%'") }
        } else {
            problems.error(path / "kind", "is required")
        }
        problems.kubernetesName(reference.name, path / "name", required: true)
    }

    static let metricTypes = ["Object", "Pods", "Resource", "ContainerResource", "External"]

    static func metric(_ metric: KubernetesHorizontalPodAutoscaler.MetricSpec, _ path: FieldPath, into problems: inout Problems) {
        let sources: [(String, String, Bool)] = [
            ("Object", "object", metric.object != nil), ("Pods", "pods", metric.pods != nil), ("Resource", "resource", metric.resource != nil),
            ("ContainerResource", "containerResource", metric.containerResource != nil), ("External", "external", metric.external != nil),
        ]
        guard let type = metric.type else {
            problems.error(path / "type", "must specify a metric source type")
            return
        }
        guard metricTypes.contains(type) else {
            problems.unsupported(type, metricTypes, path / "type")
            return
        }
        for (sourceType, field, present) in sources {
            if sourceType == type, !present { problems.error(path / field, "must populate information for the given metric source") }
            if sourceType != type, present { problems.error(path / field, "must populate the given metric source only") }
        }
        switch type {
        case "Resource", "ContainerResource":
            let field = type == "Resource" ? "resource" : "containerResource"
            guard let source = type == "Resource" ? metric.resource : metric.containerResource else { return }
            let at = path / field
            if (source.name ?? "").isEmpty { problems.error(at / "name", "must specify a resource name") }
            if type == "ContainerResource" { problems.kubernetesName(source.container, at / "container", allowDots: false, required: true) }
            if type == "Resource", source.container != nil { problems.error(at / "container", "is only for type ContainerResource") }
            target(source.target, at / "target", allowed: ["Utilization", "AverageValue"], into: &problems)
        default:
            let field = type == "Object" ? "object" : type == "Pods" ? "pods" : "external"
            guard let source = type == "Object" ? metric.object : type == "Pods" ? metric.pods : metric.external else { return }
            let at = path / field
            if (source.metric?.name ?? "").isEmpty { problems.error(at / "metric" / "name", "must specify a metric name") }
            problems.labelSelector(source.metric?.selector, at / "metric" / "selector")
            if type == "Object" { objectReference(source.describedObject, at / "describedObject", into: &problems) }
            if type != "Object", source.describedObject != nil { problems.error(at / "describedObject", "is only for type Object") }
            target(source.target, at / "target", allowed: type == "Pods" ? ["AverageValue"] : ["Value", "AverageValue"], into: &problems)
        }
    }

    static func target(_ target: KubernetesHorizontalPodAutoscaler.MetricTarget?, _ path: FieldPath, allowed: [String], into problems: inout Problems) {
        guard let target else {
            problems.error(path, "must specify a metric target")
            return
        }
        guard let type = target.type else {
            problems.error(path / "type", "must specify a metric target type")
            return
        }
        guard allowed.contains(type) else {
            let known = ["Utilization", "Value", "AverageValue"]
            if known.contains(type) {
                problems.error(path / "type", "Invalid value: \"\(type)\": must be \(allowed.count == 1 ? allowed[0] : "either " + allowed.joined(separator: " or "))")
            } else {
                problems.unsupported(type, known, path / "type")
            }
            return
        }
        switch type {
        case "Utilization":
            guard let utilization = target.averageUtilization else {
                problems.error(path / "averageUtilization", "must set either a target raw value or a target utilization")
                return
            }
            if utilization < 1 {
                problems.error(path / "averageUtilization", "must be greater than 0")
            } else if utilization > 100 {
                // Kubernetes accepts it (utilization is relative to the request); it rarely is what was meant.
                problems.warning(path / "averageUtilization", "\(utilization)% is above 100: pods must use more than they request before a replica is added")
            }
        case "Value":
            if let value = target.value { if value.value <= 0 { problems.error(path / "value", "must be positive") } } else { problems.error(path / "value", "must set a target value") }
        default:
            if let value = target.averageValue {
                if value.value <= 0 { problems.error(path / "averageValue", "must be positive") }
            } else {
                problems.error(path / "averageValue", "must set a target average value")
            }
        }
    }
}
