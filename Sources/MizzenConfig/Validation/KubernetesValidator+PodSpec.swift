/// The API server's checks of a pod template (`ValidatePodSpec` and its parts), for the
/// Deployments of a gateway's manifests; Kubernetes' wording where it stands on its own.
extension KubernetesValidator {
    /// What differs between a Pod and a controller's template.
    package struct PodSpecContext: Sendable {
        /// `restartPolicy` values allowed (a Deployment's pods must be `Always`).
        package var restartPolicies: [String]
        package var kind: String

        package static let deployment = PodSpecContext(restartPolicies: ["Always"], kind: "Deployment")
    }

    package static func podSpec(_ spec: PodSpec?, _ path: FieldPath, context: PodSpecContext, into problems: inout Problems) {
        guard let spec else {
            problems.error(path, "is required")
            return
        }
        let volumeNames = volumes(spec.volumes ?? [], path / "volumes", into: &problems)
        if (spec.containers ?? []).isEmpty { problems.error(path / "containers", "is required: a pod runs at least one container") }
        var names: Set<String> = []
        for (field, containers) in [("initContainers", spec.initContainers ?? []), ("containers", spec.containers ?? [])] {
            for (index, container) in containers.enumerated() {
                let at = path / field / index
                if let name = container.name, !name.isEmpty, !names.insert(name).inserted {
                    problems.error(at / "name", "Duplicate value: \"\(name)\"")
                }
                self.container(container, at, isInit: field == "initContainers", volumes: volumeNames, into: &problems)
            }
        }
        problems.unsupported(spec.restartPolicy, context.restartPolicies, path / "restartPolicy")
        problems.unsupported(spec.dnsPolicy, ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"], path / "dnsPolicy")
        problems.unsupported(spec.preemptionPolicy, ["PreemptLowerPriority", "Never"], path / "preemptionPolicy")
        problems.atLeast(spec.terminationGracePeriodSeconds, 0, path / "terminationGracePeriodSeconds")
        if spec.activeDeadlineSeconds != nil, context.kind == "Deployment" {
            problems.error(path / "activeDeadlineSeconds", "activeDeadlineSeconds in Deployment is not Supported")
        }
        problems.atLeast(spec.activeDeadlineSeconds, 1, path / "activeDeadlineSeconds")
        problems.kubernetesName(spec.serviceAccountName, path / "serviceAccountName")
        problems.kubernetesName(spec.serviceAccount, path / "serviceAccount")
        if let account = spec.serviceAccount, let name = spec.serviceAccountName, !account.isEmpty, !name.isEmpty, account != name {
            problems.error(path / "serviceAccount", "must equal serviceAccountName \"\(name)\" (it is its deprecated alias)")
        }
        problems.kubernetesName(spec.nodeName, path / "nodeName")
        problems.kubernetesName(spec.hostname, path / "hostname", allowDots: false)
        problems.kubernetesName(spec.subdomain, path / "subdomain", allowDots: false)
        problems.kubernetesName(spec.priorityClassName, path / "priorityClassName")
        problems.labels(spec.nodeSelector, path / "nodeSelector")
        for (index, secret) in (spec.imagePullSecrets ?? []).enumerated() {
            problems.kubernetesName(secret.name, path / "imagePullSecrets" / index / "name", required: true)
        }
        podSecurityContext(spec.securityContext, path / "securityContext", hostNetwork: spec.hostNetwork ?? false, into: &problems)
    }

    /// Volumes: a unique DNS-label name and exactly one source each; returns the names.
    static func volumes(_ volumes: [Volume], _ path: FieldPath, into problems: inout Problems) -> Set<String> {
        var names: Set<String> = []
        for (index, volume) in volumes.enumerated() {
            let at = path / index
            if let name = volume.name, !name.isEmpty {
                problems.kubernetesName(name, at / "name", allowDots: false)
                if !names.insert(name).inserted { problems.error(at / "name", "Duplicate value: \"\(name)\"") }
            } else {
                problems.error(at / "name", "is required")
            }
            switch volume.sourceCount {
            case 0: problems.error(at, "must specify a volume type")
            case 1: break
            default: problems.error(at, "may not specify more than 1 volume type")
            }
            if let secret = volume.secret {
                problems.kubernetesName(secret.secretName, at / "secret" / "secretName", required: true)
                keyItems(secret.items, defaultMode: secret.defaultMode, at / "secret", into: &problems)
            }
            if let configMap = volume.configMap {
                problems.kubernetesName(configMap.name, at / "configMap" / "name", required: true)
                keyItems(configMap.items, defaultMode: configMap.defaultMode, at / "configMap", into: &problems)
            }
            if let medium = volume.emptyDir?.medium, !["", "Memory", "HugePages"].contains(medium), !medium.hasPrefix("HugePages-") {
                problems.unsupported(medium, ["", "Memory", "HugePages"], at / "emptyDir" / "medium")
            }
            if let limit = volume.emptyDir?.sizeLimit, limit.value < 0 {
                problems.error(at / "emptyDir" / "sizeLimit", "must be greater than or equal to 0")
            }
        }
        return names
    }

    static func keyItems(_ items: [Volume.KeyToPath]?, defaultMode: Int32?, _ path: FieldPath, into problems: inout Problems) {
        let modeProblem = "must be a number between 0 and 0777 (octal), both inclusive"
        if let defaultMode, !(0...0o777).contains(defaultMode) { problems.error(path / "defaultMode", modeProblem) }
        for (index, item) in (items ?? []).enumerated() {
            let at = path / "items" / index
            if let key = item.key, !key.isEmpty {
                if let problem = KubernetesRules.configKeyProblem(key) { problems.error(at / "key", problem) }
            } else {
                problems.error(at / "key", "is required")
            }
            if let itemPath = item.path, !itemPath.isEmpty {
                if let problem = KubernetesRules.relativePathProblem(itemPath) { problems.error(at / "path", problem) }
            } else {
                problems.error(at / "path", "is required")
            }
            if let mode = item.mode, !(0...0o777).contains(mode) { problems.error(at / "mode", modeProblem) }
        }
    }

    static func container(_ container: Container, _ path: FieldPath, isInit: Bool, volumes: Set<String>, into problems: inout Problems) {
        if let name = container.name, !name.isEmpty {
            problems.kubernetesName(name, path / "name", allowDots: false)
        } else {
            problems.error(path / "name", "is required")
        }
        if let image = container.image, !image.isEmpty {
            if image.first.map(\.isWhitespace) == true || image.last.map(\.isWhitespace) == true { problems.error(path / "image", "must not have leading or trailing whitespace") }
        } else {
            problems.error(path / "image", "is required")
        }
        problems.unsupported(container.imagePullPolicy, ["Always", "IfNotPresent", "Never"], path / "imagePullPolicy")
        problems.unsupported(container.terminationMessagePolicy, ["File", "FallbackToLogsOnError"], path / "terminationMessagePolicy")
        if isInit {
            problems.unsupported(container.restartPolicy, ["Always"], path / "restartPolicy")
        } else if container.restartPolicy != nil {
            problems.error(path / "restartPolicy", "may not be set for non-init containers")
        }

        var portNames: Set<String> = []
        for (index, port) in (container.ports ?? []).enumerated() {
            let at = path / "ports" / index
            if let number = port.containerPort {
                if let problem = KubernetesRules.portNumberProblem(number) { problems.error(at / "containerPort", problem) }
            } else {
                problems.error(at / "containerPort", "is required")
            }
            if let number = port.hostPort, let problem = KubernetesRules.portNumberProblem(number) { problems.error(at / "hostPort", problem) }
            if let name = port.name, !name.isEmpty {
                if let problem = KubernetesRules.portNameProblem(name) {
                    problems.error(at / "name", problem)
                } else if !portNames.insert(name).inserted {
                    problems.error(at / "name", "Duplicate value: \"\(name)\"")
                }
            }
            problems.unsupported(port.protocol, ["TCP", "UDP", "SCTP"], at / "protocol")
            if let ip = port.hostIP, !ip.isEmpty, !Rules.isIP(ip) { problems.error(at / "hostIP", "must be a valid IP address") }
        }

        for (field, probe) in [("livenessProbe", container.livenessProbe), ("readinessProbe", container.readinessProbe), ("startupProbe", container.startupProbe)] {
            guard let probe else { continue }
            if isInit, container.restartPolicy != "Always" {
                problems.error(path / field, "may not be set for init containers without restartPolicy=Always")
                continue
            }
            self.probe(probe, path / field, isReadiness: field == "readinessProbe", portNames: portNames, into: &problems)
        }

        env(container.env, path / "env", into: &problems)
        resources(container.resources, path / "resources", into: &problems)
        securityContext(container.securityContext, path / "securityContext", into: &problems)

        var mountPaths: Set<String> = []
        for (index, mount) in (container.volumeMounts ?? []).enumerated() {
            let at = path / "volumeMounts" / index
            if let name = mount.name, !name.isEmpty {
                if !volumes.contains(name) { problems.error(at / "name", "Not found: \"\(name)\" (no volume of the pod has this name)") }
            } else {
                problems.error(at / "name", "is required")
            }
            if let mountPath = mount.mountPath, !mountPath.isEmpty {
                if !mountPaths.insert(mountPath).inserted { problems.error(at / "mountPath", "must be unique") }
            } else {
                problems.error(at / "mountPath", "is required")
            }
            if let subPath = mount.subPath, !subPath.isEmpty, let problem = KubernetesRules.relativePathProblem(subPath) {
                problems.error(at / "subPath", problem)
            }
            problems.unsupported(mount.mountPropagation, ["None", "HostToContainer", "Bidirectional"], at / "mountPropagation")
        }
    }

    /// One handler, non-negative timings, a liveness or startup `successThreshold` of 1, and
    /// ports that are numbers in range or names of the container's ports.
    static func probe(_ probe: Probe, _ path: FieldPath, isReadiness: Bool, portNames: Set<String>, into problems: inout Problems) {
        let handlers = [probe.exec != nil, probe.httpGet != nil, probe.tcpSocket != nil, probe.grpc != nil].filter { $0 }.count
        if handlers == 0 { problems.error(path, "must specify a handler type") }
        if handlers > 1 { problems.error(path, "may not specify more than 1 handler type") }
        for (field, value) in [("initialDelaySeconds", probe.initialDelaySeconds), ("timeoutSeconds", probe.timeoutSeconds), ("periodSeconds", probe.periodSeconds),
                               ("successThreshold", probe.successThreshold), ("failureThreshold", probe.failureThreshold)] {
            problems.atLeast(value.map(Int64.init), 0, path / field)
        }
        if !isReadiness, let success = probe.successThreshold, success != 1 { problems.error(path / "successThreshold", "must be 1") }
        if isReadiness, probe.terminationGracePeriodSeconds != nil {
            problems.error(path / "terminationGracePeriodSeconds", "must not be set for readinessProbes")
        }
        if let seconds = probe.terminationGracePeriodSeconds, seconds < 1 { problems.error(path / "terminationGracePeriodSeconds", "must be greater than 0") }

        func port(_ value: IntOrString?, _ at: FieldPath) {
            switch value {
            case nil:
                problems.error(at, "is required")
            case .int(let number)?:
                if let problem = KubernetesRules.portNumberProblem(number) { problems.error(at, problem) }
            case .string(let name)?:
                if let problem = KubernetesRules.portNameProblem(name) {
                    problems.error(at, problem)
                } else if !portNames.contains(name) {
                    problems.error(at, "names no port of the container: \"\(name)\" is not among its ports' names")
                }
            }
        }
        if let exec = probe.exec, (exec.command ?? []).isEmpty { problems.error(path / "exec" / "command", "is required") }
        if let get = probe.httpGet {
            port(get.port, path / "httpGet" / "port")
            problems.unsupported(get.scheme, ["HTTP", "HTTPS"], path / "httpGet" / "scheme")
            for (index, header) in (get.httpHeaders ?? []).enumerated() where !Rules.isHeaderToken(header.name ?? "") {
                problems.error(path / "httpGet" / "httpHeaders" / index / "name", "a valid HTTP header must consist of alphanumeric characters, '-' and '_'")
            }
        }
        if let socket = probe.tcpSocket { port(socket.port, path / "tcpSocket" / "port") }
        if let grpc = probe.grpc {
            if let number = grpc.port {
                if let problem = KubernetesRules.portNumberProblem(number) { problems.error(path / "grpc" / "port", problem) }
            } else {
                problems.error(path / "grpc" / "port", "is required")
            }
        }
    }

    /// The field paths the downward API can put into an environment variable.
    static let envFieldPaths = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                                "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
    static let envResourceFields = ["limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage"]

    static func env(_ variables: [EnvVar]?, _ path: FieldPath, into problems: inout Problems) {
        var seen: Set<String> = []
        for (index, variable) in (variables ?? []).enumerated() {
            let at = path / index
            if let name = variable.name, !name.isEmpty {
                if let problem = KubernetesRules.envVarNameProblem(name) { problems.error(at / "name", problem) }
                if !seen.insert(name).inserted { problems.warning(at / "name", "hides the previous definition of \"\(name)\"") }
            } else {
                problems.error(at / "name", "is required")
            }
            guard let source = variable.valueFrom else { continue }
            if let value = variable.value, !value.isEmpty {
                problems.error(at / "valueFrom", "may not be specified when `value` is not empty")
            }
            let sources = [source.fieldRef != nil, source.resourceFieldRef != nil, source.configMapKeyRef != nil, source.secretKeyRef != nil, source.fileKeyRef != nil].filter { $0 }.count
            if sources == 0 { problems.error(at / "valueFrom", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`") }
            if sources > 1 { problems.error(at / "valueFrom", "may not have more than one field specified at a time") }
            if let field = source.fieldRef {
                let fieldAt = at / "valueFrom" / "fieldRef"
                problems.unsupported(field.apiVersion, ["v1"], fieldAt / "apiVersion")
                fieldPath(field.fieldPath, fieldAt / "fieldPath", into: &problems)
            }
            if let resource = source.resourceFieldRef {
                let resourceAt = at / "valueFrom" / "resourceFieldRef"
                if let name = resource.resource, !name.isEmpty {
                    if !envResourceFields.contains(name), !name.hasPrefix("limits.hugepages-"), !name.hasPrefix("requests.hugepages-") {
                        problems.unsupported(name, envResourceFields, resourceAt / "resource")
                    }
                } else {
                    problems.error(resourceAt / "resource", "is required")
                }
                if let divisor = resource.divisor, divisor.value <= 0 { problems.error(resourceAt / "divisor", "must be greater than 0") }
            }
            for (field, selector) in [("configMapKeyRef", source.configMapKeyRef), ("secretKeyRef", source.secretKeyRef)] {
                guard let selector else { continue }
                let selectorAt = at / "valueFrom" / field
                problems.kubernetesName(selector.name, selectorAt / "name", required: true)
                if let key = selector.key, !key.isEmpty {
                    if let problem = KubernetesRules.configKeyProblem(key) { problems.error(selectorAt / "key", problem) }
                } else {
                    problems.error(selectorAt / "key", "is required")
                }
            }
        }
    }

    /// A downward API `fieldPath`: one of the supported fields, or `metadata.labels['key']` /
    /// `metadata.annotations['key']` with a valid key.
    static func fieldPath(_ value: String?, _ path: FieldPath, into problems: inout Problems) {
        guard let value, !value.isEmpty else {
            problems.error(path, "is required")
            return
        }
        for prefix in ["metadata.labels", "metadata.annotations"] where value.hasPrefix(prefix + "[") {
            let inner = value.dropFirst(prefix.count)
            guard inner.hasPrefix("['"), inner.hasSuffix("']"), inner.count > 4 else {
                problems.error(path, "must be \(prefix)['KEY'] with the key in single quotes")
                return
            }
            let key = String(inner.dropFirst(2).dropLast(2))
            if let problem = Rules.labelKeyProblem(key) { problems.error(path, problem) }
            return
        }
        problems.unsupported(value, envFieldPaths + ["metadata.labels['KEY']", "metadata.annotations['KEY']"], path)
    }

    /// Resource names, quantities that parse and are not negative, and requests no larger than limits.
    static func resources(_ resources: ResourceRequirements?, _ path: FieldPath, into problems: inout Problems) {
        guard let resources else { return }
        for (field, values) in [("limits", resources.limits), ("requests", resources.requests)] {
            for (name, quantity) in (values ?? [:]).sorted(by: { $0.key < $1.key }) {
                let at = path / field / name
                if !["cpu", "memory", "ephemeral-storage"].contains(name), !name.hasPrefix("hugepages-"), !name.contains("/") {
                    problems.error(at, "must be a standard resource type (cpu, memory, ephemeral-storage, hugepages-SIZE) or fully qualified (example.com/gpu)", atKey: true)
                } else if let problem = Rules.labelKeyProblem(name), name.contains("/") {
                    problems.error(at, problem.replacing("label key", with: "resource name"), atKey: true)
                }
                if quantity.value < 0 { problems.error(at, "must be greater than or equal to 0") }
            }
        }
        for (name, request) in (resources.requests ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let limit = resources.limits?[name], request.value > limit.value else { continue }
            problems.error(path / "requests" / name, "must be less than or equal to \(name) limit of \(limit.text)")
        }
    }

    static func securityContext(_ context: SecurityContext?, _ path: FieldPath, into problems: inout Problems) {
        guard let context else { return }
        identity(runAsUser: context.runAsUser, runAsGroup: context.runAsGroup, path, into: &problems)
        if context.privileged == true, context.allowPrivilegeEscalation == false {
            problems.error(path, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")
        }
        if context.runAsNonRoot == true, context.runAsUser == 0 {
            problems.error(path / "runAsUser", "runAsUser 0 breaks runAsNonRoot: the kubelet will refuse to start the container")
        }
        for field in ["add", "drop"] {
            let names = (field == "add" ? context.capabilities?.add : context.capabilities?.drop) ?? []
            for (index, name) in names.enumerated() where !KubernetesRules.isCapabilityName(name) {
                problems.error(path / "capabilities" / field / index, "\"\(name.prefix(40))\" is not a Linux capability name (such as NET_ADMIN, or ALL)")
            }
        }
        if context.allowPrivilegeEscalation == false, (context.capabilities?.add ?? []).contains(where: { $0 == "SYS_ADMIN" || $0 == "CAP_SYS_ADMIN" }) {
            problems.error(path, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN")
        }
        problems.unsupported(context.procMount, ["Default", "Unmasked"], path / "procMount")
        seccomp(context.seccompProfile, path / "seccompProfile", into: &problems)
    }

    static func podSecurityContext(_ context: PodSecurityContext?, _ path: FieldPath, hostNetwork: Bool, into problems: inout Problems) {
        guard let context else { return }
        identity(runAsUser: context.runAsUser, runAsGroup: context.runAsGroup, path, into: &problems)
        if let group = context.fsGroup, !(0...2_147_483_647).contains(group) { problems.error(path / "fsGroup", "must be between 0 and 2147483647, inclusive") }
        for (index, group) in (context.supplementalGroups ?? []).enumerated() where !(0...2_147_483_647).contains(group) {
            problems.error(path / "supplementalGroups" / index, "must be between 0 and 2147483647, inclusive")
        }
        problems.unsupported(context.fsGroupChangePolicy, ["OnRootMismatch", "Always"], path / "fsGroupChangePolicy")
        problems.unsupported(context.supplementalGroupsPolicy, ["Merge", "Strict"], path / "supplementalGroupsPolicy")
        problems.unsupported(context.seLinuxChangePolicy, ["MountOption", "Recursive"], path / "seLinuxChangePolicy")
        seccomp(context.seccompProfile, path / "seccompProfile", into: &problems)
        var names: Set<String> = []
        for (index, sysctl) in (context.sysctls ?? []).enumerated() {
            let at = path / "sysctls" / index
            guard let name = sysctl.name, !name.isEmpty else {
                problems.error(at / "name", "is required")
                continue
            }
            guard KubernetesRules.isSysctlName(name) else {
                problems.error(at / "name", "Invalid value: \"\(name.prefix(60))\": must have at most 253 characters and match regex \(KubernetesRules.sysctlRegex)")
                continue
            }
            // The kubelet reads `a/b/c` as `a.b.c`.
            let canonical = String(name.map { $0 == "/" ? "." : $0 })
            if !names.insert(canonical).inserted { problems.error(at / "name", "Duplicate value: \"\(name)\"") }
            if hostNetwork, canonical.hasPrefix("net.") {
                problems.error(at / "name", "may not be specified when 'hostNetwork' is true")
            } else if !KubernetesRules.safeSysctls.contains(canonical) {
                problems.warning(at / "name", "\"\(name)\" is not a safe sysctl: the kubelet rejects the pod unless started with --allowed-unsafe-sysctls")
            }
            if sysctl.value == nil { problems.error(at / "value", "is required") }
        }
    }

    static func identity(runAsUser: Int64?, runAsGroup: Int64?, _ path: FieldPath, into problems: inout Problems) {
        for (field, value) in [("runAsUser", runAsUser), ("runAsGroup", runAsGroup)] {
            if let value, !(0...2_147_483_647).contains(value) { problems.error(path / field, "must be between 0 and 2147483647, inclusive") }
        }
    }

    static func seccomp(_ profile: SeccompProfile?, _ path: FieldPath, into problems: inout Problems) {
        guard let profile else { return }
        guard let type = profile.type else {
            problems.error(path / "type", "is required")
            return
        }
        problems.unsupported(type, ["RuntimeDefault", "Unconfined", "Localhost"], path / "type")
        if type == "Localhost", (profile.localhostProfile ?? "").isEmpty {
            problems.error(path / "localhostProfile", "must be set when seccomp type is Localhost")
        }
        if type != "Localhost", profile.localhostProfile != nil {
            problems.error(path / "localhostProfile", "can only be set when seccomp type is Localhost")
        }
    }
}
