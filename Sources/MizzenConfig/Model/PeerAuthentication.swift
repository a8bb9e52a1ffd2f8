/// `security.istio.io` PeerAuthentication spec: whether a workload's inbound traffic must,
/// may or must not be mutual TLS, for the whole workload or per workload port.
package struct PeerAuthentication: ConfigModel {
    package var selector: LabelSelector?
    package var mtls: MutualTLS?
    /// Keyed by the workload (container) port, as text: YAML map keys.
    package var portLevelMtls: [String: MutualTLS]?

    package struct MutualTLS: ConfigModel {
        package var mode: Mode?
    }

    package enum Mode: String, ConfigEnum {
        /// Inherit from the namespace, then the mesh; PERMISSIVE at the top.
        case unset = "UNSET"
        case disable = "DISABLE"
        case permissive = "PERMISSIVE"
        case strict = "STRICT"
    }
}
