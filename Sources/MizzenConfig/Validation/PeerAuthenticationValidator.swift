/// Istio's rules for a PeerAuthentication (`ValidatePeerAuthentication` and
/// `validateWorkloadSelector`, istio/istio pkg/config/validation), with Istio's texts.
package enum PeerAuthenticationValidator {
    package static func validate(_ policy: PeerAuthentication, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        let labels = policy.selector?.matchLabels ?? [:]
        if let portLevel = policy.portLevelMtls {
            if labels.isEmpty {
                problems.error(spec / "portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS", atKey: true)
            }
            if portLevel.isEmpty {
                problems.error(spec / "portLevelMtls", "port level mTLS, if defined, must have at least one element")
            }
            for key in portLevel.keys.sorted() where !(Int(key).map { (1...65535).contains($0) } ?? false) {
                problems.error(spec / "portLevelMtls" / key, "port must be in range 1..65535", atKey: true)
            }
        }
        if policy.selector != nil {
            if labels.isEmpty { problems.warning(spec / "selector", "workload selector specified without labels") }
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                let path = spec / "selector" / "matchLabels" / key
                if key.isEmpty { problems.error(spec / "selector" / "matchLabels", "empty key is not supported in selector: \"\(key)=\(value)\"") }
                if key.contains("*") || value.contains("*") { problems.error(path, "wildcard is not supported in selector: \"\(key)=\(value)\"") }
            }
        }
    }
}
