/// What `mizzen inject` adds, with Istio's defaults where Istio has one
/// (`istio-discovery/values.yaml`, `MeshConfig.defaultConfig`); pod annotations override most of them.
package struct InjectionOptions: Sendable, Hashable {
    /// Image of both added containers (`istio-init` runs `mizzen iptables`, `istio-proxy` runs
    /// `mizzen sidecar`); the image's entrypoint must be `mizzen`. Annotation `sidecar.istio.io/proxyImage` overrides it.
    package var image = "mizzen:latest"
    /// The ConfigMap holding the mesh configuration the sidecar loads (mounted at `configPath`).
    package var meshConfigMap = "mizzen-mesh-config"
    /// Where that ConfigMap is mounted, passed to `mizzen sidecar --config`.
    package var configPath = "/etc/mizzen/config"
    /// Where the workload certificate directory (an emptyDir) is mounted, passed to `--workload-certs`.
    package var workloadCertsPath = "/var/run/secrets/workload-spiffe-credentials"
    /// The control-plane revision recorded in `istio.io/rev` and `sidecar.istio.io/status`.
    package var revision = "default"
    /// `defaultConfig.statusPort`: where rewritten app probes point (annotation `status.sidecar.istio.io/port`).
    package var statusPort = 15020
    /// The uid and gid the sidecar runs as and istio-iptables exempts (`-u`).
    package var proxyUID = 1337
    package var proxyGID = 1337
    /// `defaultConfig.interceptionMode` (annotation `sidecar.istio.io/interceptionMode`): REDIRECT, TPROXY or NONE.
    package var interceptionMode = "REDIRECT"
    /// `global.proxy.includeIPRanges` and the other capture defaults, as istio-iptables flags take them.
    package var includeIPRanges = "*"
    package var excludeIPRanges = ""
    package var includeInboundPorts = "*"
    package var excludeInboundPorts = ""
    package var includeOutboundPorts = ""
    package var excludeOutboundPorts = ""
    /// `sidecarInjectorWebhook.rewriteAppHTTPProbe` (annotation `sidecar.istio.io/rewriteAppHTTPProbers`).
    package var rewriteAppProbes = true
    /// Put `istio-proxy` among the init containers with `restartPolicy: Always` (Kubernetes native
    /// sidecars). Offline `istioctl kube-inject` leaves this off; annotation `sidecar.istio.io/nativeSidecar` overrides it.
    package var nativeSidecars = false
    /// `global.proxy.resources`, used when no `sidecar.istio.io/proxyCPU|proxyMemory|proxyCPULimit|proxyMemoryLimit` annotation is set.
    package var resources = ProxyResources(requestsCPU: "100m", requestsMemory: "128Mi", limitsCPU: "2000m", limitsMemory: "1024Mi")
    /// `global.proxy.readiness*` (annotations `readiness.status.sidecar.istio.io/*`).
    package var readinessInitialDelaySeconds = 0
    package var readinessPeriodSeconds = 15
    package var readinessFailureThreshold = 4
    /// `global.proxy.startupProbe.failureThreshold`; nil leaves the startup probe out.
    package var startupProbeFailureThreshold: Int? = 600
    /// `global.logging.level`, passed to istio-init as `--log_output_level` (annotation `sidecar.istio.io/agentLogLevel`).
    package var logLevel = "default:info"

    package init() {}
}

/// Requests and limits for the added containers; nil entries are left out.
package struct ProxyResources: Sendable, Hashable {
    package var requestsCPU: String?
    package var requestsMemory: String?
    package var limitsCPU: String?
    package var limitsMemory: String?

    package init(requestsCPU: String? = nil, requestsMemory: String? = nil, limitsCPU: String? = nil, limitsMemory: String? = nil) {
        self.requestsCPU = requestsCPU
        self.requestsMemory = requestsMemory
        self.limitsCPU = limitsCPU
        self.limitsMemory = limitsMemory
    }
}
