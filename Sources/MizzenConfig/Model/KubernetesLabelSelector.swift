/// Kubernetes meta/v1 `LabelSelector` (Istio's `WorkloadSelector` is `LabelSelector`): `matchLabels` and `matchExpressions`, ANDed.
package struct KubernetesLabelSelector: ConfigModel {
    package var matchLabels: [String: String]?
    package var matchExpressions: [Requirement]?

    /// `LabelSelectorRequirement`: `key operator values`.
    package struct Requirement: ConfigModel {
        package var key: String?
        package var `operator`: String?
        package var values: [String]?
    }

    /// Whether the selector selects nothing in particular (an empty selector).
    package var isEmpty: Bool { (matchLabels ?? [:]).isEmpty && (matchExpressions ?? []).isEmpty }

    /// Whether `labels` satisfy every term (Kubernetes `LabelSelectorAsSelector` then `Matches`).
    package func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let key = requirement.key ?? ""
            let values = requirement.values ?? []
            switch requirement.operator {
            case "In": if !(labels[key].map(values.contains) ?? false) { return false }
            case "NotIn": if let value = labels[key], values.contains(value) { return false }
            case "Exists": if labels[key] == nil { return false }
            case "DoesNotExist": if labels[key] != nil { return false }
            default: return false
            }
        }
        return true
    }
}
