import MizzenConfig

/// The containers and volumes injection adds, shaped like Istio's injection template
/// (`istio-discovery/files/injection-template.yaml`) with Mizzen in place of pilot-agent and Envoy:
/// `istio-init` runs `mizzen iptables` with istio-iptables' flags, `istio-proxy` runs `mizzen sidecar`.
/// Istio's names are kept where the thing exists in both (`istio-init`, `istio-proxy`,
/// `http-envoy-prom`, `workload-certs`), so tools that look for them still find them.
enum SidecarContainers {
    static let initName = "istio-init"
    static let proxyName = "istio-proxy"
    static let workloadCertsVolume = "workload-certs"
    static let meshConfigVolume = "mizzen-mesh-config"

    /// The init container that installs the capture rules; nil with interception mode NONE.
    static func initContainer(_ settings: SidecarSettings) -> YAMLNode? {
        guard settings.interceptionMode != "NONE" else { return nil }
        let securityContext = YAMLNode.mapping([
            ("allowPrivilegeEscalation", .boolean(false)),
            ("privileged", .boolean(false)),
            ("capabilities", .mapping([
                ("add", .strings(["NET_ADMIN", "NET_RAW"])),
                ("drop", .strings(["ALL"])),
            ])),
            ("readOnlyRootFilesystem", .boolean(false)),
            ("runAsGroup", .integer(0)),
            ("runAsNonRoot", .boolean(false)),
            ("runAsUser", .integer(0)),
        ])
        var pairs: [(String, YAMLNode)] = [
            ("name", .string(initName)),
            ("image", .string(settings.image)),
            ("args", .strings(["iptables"] + settings.iptablesArguments)),
        ]
        if let resources = resources(settings.resources) { pairs.append(("resources", resources)) }
        pairs.append(("securityContext", securityContext))
        return .mapping(pairs)
    }

    /// The sidecar itself.
    ///
    /// `podLabels` are the pod's labels after injection, passed as `--pod-labels` so the sidecar
    /// finds the Services selecting it; `probers` is `ISTIO_KUBE_APP_PROBERS`, for the status port
    /// that answers the rewritten app probes.
    static func proxyContainer(_ settings: SidecarSettings, options: InjectionOptions, podLabels: StringMap, probers: String?) -> YAMLNode {
        let labels = podLabels.entries.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        var pairs: [(String, YAMLNode)] = [
            ("name", .string(proxyName)),
            ("image", .string(settings.image)),
        ]
        if settings.nativeSidecar { pairs.append(("restartPolicy", .string("Always"))) }
        pairs.append(("args", .strings([
            "sidecar",
            "--config", options.configPath,
            "--namespace", "$(POD_NAMESPACE)",
            "--pod-labels", labels,
            "--service-account", "$(SERVICE_ACCOUNT)",
            "--workload-certs", options.workloadCertsPath,
        ])))
        pairs.append(("ports", .sequence([.mapping([
            ("containerPort", .integer(15090)),
            ("protocol", .string("TCP")),
            ("name", .string("http-envoy-prom")),
        ])])))

        var environment: [YAMLNode] = [
            fieldEnvironment("POD_NAME", "metadata.name"),
            fieldEnvironment("POD_NAMESPACE", "metadata.namespace"),
            fieldEnvironment("INSTANCE_IP", "status.podIP"),
            fieldEnvironment("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        ]
        if let probers {
            environment.append(.mapping([("name", .string("ISTIO_KUBE_APP_PROBERS")), ("value", .string(probers))]))
        }
        pairs.append(("env", .sequence(environment)))

        // Istio leaves both probes out when the status port is turned off (annotation "0").
        if settings.statusPort != 0 {
            if let threshold = options.startupProbeFailureThreshold {
                pairs.append(("startupProbe", readyProbe(initialDelay: 0, period: 1, failureThreshold: threshold)))
            }
            pairs.append(("readinessProbe", readyProbe(
                initialDelay: settings.readinessInitialDelaySeconds,
                period: settings.readinessPeriodSeconds,
                failureThreshold: settings.readinessFailureThreshold)))
        }
        if let resources = resources(settings.resources) { pairs.append(("resources", resources)) }
        pairs.append(("securityContext", proxySecurityContext(settings, options: options)))
        pairs.append(("volumeMounts", .sequence([
            .mapping([("name", .string(workloadCertsVolume)), ("mountPath", .string(options.workloadCertsPath))]),
            .mapping([("name", .string(meshConfigVolume)), ("mountPath", .string(options.configPath)), ("readOnly", .boolean(true))]),
        ])))
        return .mapping(pairs)
    }

    /// The volumes the sidecar mounts: an emptyDir for its workload certificate and the mesh
    /// configuration ConfigMap.
    static func volumes(options: InjectionOptions) -> [YAMLNode] {
        [
            .mapping([("name", .string(workloadCertsVolume)), ("emptyDir", .mapping([]))]),
            .mapping([("name", .string(meshConfigVolume)), ("configMap", .mapping([("name", .string(options.meshConfigMap))]))]),
        ]
    }

    /// Non-root uid 1337 with no capabilities; TPROXY needs root and NET_ADMIN, as in Istio.
    private static func proxySecurityContext(_ settings: SidecarSettings, options: InjectionOptions) -> YAMLNode {
        var capabilities: [(String, YAMLNode)] = []
        if settings.isTPROXY { capabilities.append(("add", .strings(["NET_ADMIN"]))) }
        capabilities.append(("drop", .strings(["ALL"])))
        var pairs: [(String, YAMLNode)] = [
            ("allowPrivilegeEscalation", .boolean(false)),
            ("capabilities", .mapping(capabilities)),
            ("privileged", .boolean(false)),
            ("readOnlyRootFilesystem", .boolean(true)),
        ]
        if settings.isTPROXY {
            pairs += [("runAsNonRoot", .boolean(false)), ("runAsUser", .integer(0)), ("runAsGroup", .integer(1337))]
        } else {
            pairs += [("runAsNonRoot", .boolean(true)), ("runAsUser", .integer(options.proxyUID)), ("runAsGroup", .integer(options.proxyGID))]
        }
        return .mapping(pairs)
    }

    /// `/healthz/ready` on 15021, the port Mizzen's status server answers on as Envoy's does.
    private static func readyProbe(initialDelay: Int, period: Int, failureThreshold: Int) -> YAMLNode {
        .mapping([
            ("httpGet", .mapping([("path", .string("/healthz/ready")), ("port", .integer(15021))])),
            ("initialDelaySeconds", .integer(initialDelay)),
            ("periodSeconds", .integer(period)),
            ("timeoutSeconds", .integer(3)),
            ("failureThreshold", .integer(failureThreshold)),
        ])
    }

    private static func fieldEnvironment(_ name: String, _ fieldPath: String) -> YAMLNode {
        .mapping([
            ("name", .string(name)),
            ("valueFrom", .mapping([("fieldRef", .mapping([("fieldPath", .string(fieldPath))]))])),
        ])
    }

    private static func resources(_ resources: ProxyResources) -> YAMLNode? {
        var requests: [(String, YAMLNode)] = []
        if let cpu = resources.requestsCPU { requests.append(("cpu", .string(cpu))) }
        if let memory = resources.requestsMemory { requests.append(("memory", .string(memory))) }
        var limits: [(String, YAMLNode)] = []
        if let cpu = resources.limitsCPU { limits.append(("cpu", .string(cpu))) }
        if let memory = resources.limitsMemory { limits.append(("memory", .string(memory))) }
        var pairs: [(String, YAMLNode)] = []
        if !requests.isEmpty { pairs.append(("requests", .mapping(requests))) }
        if !limits.isEmpty { pairs.append(("limits", .mapping(limits))) }
        return pairs.isEmpty ? nil : .mapping(pairs)
    }
}
