package import MizzenConfig

/// The mutual TLS a workload's inbound traffic gets (PeerAuthentication `mtls.mode`, resolved).
package enum MTLSMode: String, Sendable, Hashable {
    case disable = "DISABLE"
    case permissive = "PERMISSIVE"
    case strict = "STRICT"
}

/// The PeerAuthentication in force for one workload, as Istio composes it
/// (`ComposePeerAuthentication`, pilot/pkg/security/authn/policy_applier.go): starting from
/// PERMISSIVE, the mesh policy (the oldest selector-less one in the root namespace), then the
/// namespace policy (the oldest selector-less one in the workload's namespace), then the
/// workload policy (the oldest whose selector matches, outside the root namespace: selector
/// policies there are ignored) each replace the mode unless UNSET; the workload policy's
/// `portLevelMtls` gives per-port modes (UNSET: the mode so far). Ports are the workload's.
package struct EffectivePeerAuthentication: Sendable, Hashable {
    package var mode: MTLSMode
    package var perPort: [UInt32: MTLSMode]
    /// The policies that decided it, for explanations (`PeerAuthentication ns/name`).
    package var sources: [String]

    package init(mode: MTLSMode = .permissive, perPort: [UInt32: MTLSMode] = [:], sources: [String] = []) {
        self.mode = mode
        self.perPort = perPort
        self.sources = sources
    }

    package func mode(forPort port: UInt32) -> MTLSMode { perPort[port] ?? mode }

    static func resolved(_ mode: PeerAuthentication.Mode?) -> MTLSMode? {
        switch mode {
        case .disable: .disable
        case .permissive: .permissive
        case .strict: .strict
        case .unset, nil: nil
        }
    }

    static func isNamespaceWide(_ policy: ConfigResource<PeerAuthentication>) -> Bool {
        (policy.spec.selector?.matchLabels ?? [:]).isEmpty
    }

    /// `policies` in Istio's order (oldest first).
    package static func compose(_ policies: [ConfigResource<PeerAuthentication>], namespace: String, labels: [String: String],
                                rootNamespace: String) -> EffectivePeerAuthentication {
        var result = EffectivePeerAuthentication()
        let mesh = policies.first { $0.namespace == rootNamespace && isNamespaceWide($0) }
        let namespaceWide = namespace == rootNamespace ? nil : policies.first { $0.namespace == namespace && isNamespaceWide($0) }
        let workload = namespace == rootNamespace ? nil : policies.first { policy in
            guard policy.namespace == namespace, let selector = policy.spec.selector?.matchLabels, !selector.isEmpty else { return false }
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }
        for policy in [mesh, namespaceWide, workload].compactMap({ $0 }) {
            if let mode = resolved(policy.spec.mtls?.mode) {
                result.mode = mode
                result.sources.append("PeerAuthentication \(policy.namespace)/\(policy.name)")
            }
        }
        if let workload {
            for (key, setting) in workload.spec.portLevelMtls ?? [:] {
                guard let port = UInt32(key) else { continue }
                result.perPort[port] = resolved(setting.mode) ?? result.mode
            }
        }
        return result
    }

    /// The namespace-level mode of a namespace (its oldest selector-less policy, else the mesh
    /// policy): what a client infers about a service's namespace for auto mTLS
    /// (`BestEffortInferServiceMTLSMode`).
    package static func namespaceMode(_ policies: [ConfigResource<PeerAuthentication>], namespace: String, rootNamespace: String) -> MTLSMode {
        let mesh = policies.first { $0.namespace == rootNamespace && isNamespaceWide($0) }.flatMap { resolved($0.spec.mtls?.mode) }
        if namespace != rootNamespace, let own = policies.first(where: { $0.namespace == namespace && isNamespaceWide($0) }),
           let mode = resolved(own.spec.mtls?.mode) {
            return mode
        }
        return mesh ?? .permissive
    }

    /// Istio's SPIFFE identity of a service account.
    package static func spiffeIdentity(trustDomain: String, namespace: String, serviceAccount: String) -> String {
        "spiffe://\(trustDomain.split(separator: "@", omittingEmptySubsequences: false).joined(separator: "."))/ns/\(namespace)/sa/\(serviceAccount)"
    }
}
