/// Which proxy a route table is compiled for: a gateway (selected by Gateway `selector`s through
/// its labels) or a sidecar (the reserved `mesh` gateway, in its namespace).
package enum ProxyIdentity: Sendable, Hashable, CustomStringConvertible {
    case gateway(namespace: String, labels: [String: String])
    case sidecar(namespace: String, labels: [String: String])

    /// The default identity of Istio's ingress gateway deployment.
    package static let defaultGateway = ProxyIdentity.gateway(namespace: "istio-system", labels: ["istio": "ingressgateway"])

    package var namespace: String {
        switch self {
        case .gateway(let namespace, _), .sidecar(let namespace, _): return namespace
        }
    }

    package var labels: [String: String] {
        switch self {
        case .gateway(_, let labels), .sidecar(_, let labels): return labels
        }
    }

    package var isGateway: Bool {
        if case .gateway = self { return true }
        return false
    }

    package var description: String {
        let labelText = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        switch self {
        case .gateway(let namespace, _): return "gateway in \(namespace) with labels \(labelText.isEmpty ? "(none)" : labelText)"
        case .sidecar(let namespace, _): return "sidecar in \(namespace)"
        }
    }
}
