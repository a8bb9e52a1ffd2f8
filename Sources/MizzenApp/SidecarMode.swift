package import Logging
package import MizzenConfig
package import MizzenProxy
package import MizzenRouting
import MizzenSidecar

/// `mizzen sidecar`: the in-pod proxy. The same engine, operator ports, reload and drain as
/// the gateway (`GatewayMode`), with a sidecar's route table (the `mesh` VirtualServices, one
/// outbound listener per service port, inbound listeners for the pod's ports) served on the
/// two capture listeners iptables sends the pod's traffic to.
package enum SidecarMode {
    /// Whether the pod has IPv6 (an address that is not loopback or link-local), as
    /// istio-iptables decides whether to write ip6tables rules.
    package static func podHasIPv6() -> Bool {
        CaptureSettings.podUsesIPv6(interfaceAddresses: IptablesMode.interfaceAddresses(), dualStack: true) ?? false
    }

    package static func make(paths: [String], loader: ConfigLoader, namespace: String, podLabels: [String: String], serviceAccount: String? = nil,
                             workloadCertificates: String?,
                             capture: CaptureListeners, mesh: MeshSettings, threads: Int, limits: ProxyLimits, logger: Logger,
                             telemetry: ProxyTelemetry, operations: OperationsSettings) -> GatewayMode {
        var mode = GatewayMode(paths: paths, loader: loader, proxy: .sidecar(namespace: namespace, labels: podLabels), credentialsDirectory: nil,
                               workloadCertificates: workloadCertificates, binding: ListenerBinding(host: capture.host, portMap: [:]), threads: threads,
                               limits: limits, logger: logger, telemetry: telemetry, operations: operations)
        mode.capture = capture
        mode.serviceAccount = serviceAccount
        mode.mesh = mesh
        return mode
    }
}
