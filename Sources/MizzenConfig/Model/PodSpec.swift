/// Kubernetes core/v1 `PodSpec`: what a Pod runs, and what a Deployment's template stamps out.
///
/// Typed where `mizzen validate` checks a field or the sidecar reads it (containers, ports,
/// probes, resources, security contexts, volumes by name); kept opaque where nothing is checked
/// (affinity, tolerations, DNS), so every field of the API is still known to the strict decoder.
package struct PodSpec: ConfigModel {
    package var volumes: [Volume]?
    package var initContainers: [Container]?
    package var containers: [Container]?
    package var ephemeralContainers: OpaqueValue?
    package var restartPolicy: String?
    package var terminationGracePeriodSeconds: Int64?
    package var activeDeadlineSeconds: Int64?
    package var dnsPolicy: String?
    package var nodeSelector: [String: String]?
    package var serviceAccountName: String?
    /// Deprecated alias of `serviceAccountName`, still returned by the API server.
    package var serviceAccount: String?
    package var automountServiceAccountToken: Bool?
    package var nodeName: String?
    package var hostNetwork: Bool?
    package var hostPID: Bool?
    package var hostIPC: Bool?
    package var shareProcessNamespace: Bool?
    package var securityContext: PodSecurityContext?
    package var imagePullSecrets: [LocalObjectReference]?
    package var hostname: String?
    package var subdomain: String?
    package var affinity: OpaqueValue?
    package var schedulerName: String?
    package var tolerations: OpaqueValue?
    package var hostAliases: OpaqueValue?
    package var priorityClassName: String?
    package var priority: Int32?
    package var dnsConfig: OpaqueValue?
    package var readinessGates: OpaqueValue?
    package var runtimeClassName: String?
    package var enableServiceLinks: Bool?
    package var preemptionPolicy: String?
    package var overhead: [String: Quantity]?
    package var topologySpreadConstraints: OpaqueValue?
    package var setHostnameAsFQDN: Bool?
    package var os: OpaqueValue?
    package var hostUsers: Bool?
    package var schedulingGates: OpaqueValue?
    package var resourceClaims: OpaqueValue?
    package var resources: ResourceRequirements?
    // Fields of Kubernetes 1.34-1.37 (some alpha): known, so not "unknown field", not checked.
    package var hostnameOverride: String?
    package var evictionResponders: OpaqueValue?
    package var schedulingGroup: OpaqueValue?

    /// `spec.serviceAccountName`, or the deprecated `serviceAccount`, or `default`.
    package var effectiveServiceAccount: String {
        if let name = serviceAccountName, !name.isEmpty { return name }
        if let name = serviceAccount, !name.isEmpty { return name }
        return "default"
    }
}

/// `LocalObjectReference`: `{name}` of an object in the same namespace.
package struct LocalObjectReference: ConfigModel {
    package var name: String?
}

/// core/v1 `Container` (also the shape of init containers).
package struct Container: ConfigModel {
    package var name: String?
    package var image: String?
    package var command: [String]?
    package var args: [String]?
    package var workingDir: String?
    package var ports: [ContainerPort]?
    package var envFrom: OpaqueValue?
    package var env: [EnvVar]?
    package var resources: ResourceRequirements?
    package var resizePolicy: OpaqueValue?
    package var restartPolicy: String?
    package var volumeMounts: [VolumeMount]?
    package var volumeDevices: OpaqueValue?
    package var livenessProbe: Probe?
    package var readinessProbe: Probe?
    package var startupProbe: Probe?
    package var lifecycle: OpaqueValue?
    package var terminationMessagePath: String?
    package var terminationMessagePolicy: String?
    package var imagePullPolicy: String?
    package var securityContext: SecurityContext?
    package var stdin: Bool?
    package var stdinOnce: Bool?
    package var tty: Bool?
    package var restartPolicyRules: OpaqueValue?
}

/// core/v1 `ContainerPort`.
package struct ContainerPort: ConfigModel {
    package var name: String?
    package var hostPort: Int32?
    package var containerPort: Int32?
    package var `protocol`: String?
    package var hostIP: String?
}

/// core/v1 `EnvVar`: a literal `value` or a `valueFrom` source.
package struct EnvVar: ConfigModel {
    package var name: String?
    package var value: String?
    package var valueFrom: EnvVarSource?
}

/// core/v1 `EnvVarSource`: exactly one of its references.
package struct EnvVarSource: ConfigModel {
    package var fieldRef: ObjectFieldSelector?
    package var resourceFieldRef: ResourceFieldSelector?
    package var configMapKeyRef: KeySelector?
    package var secretKeyRef: KeySelector?
    package var fileKeyRef: OpaqueValue?
}

/// core/v1 `ObjectFieldSelector`: the downward API's `fieldPath`.
package struct ObjectFieldSelector: ConfigModel {
    package var apiVersion: String?
    package var fieldPath: String?
}

/// core/v1 `ResourceFieldSelector`: a container's request or limit as an environment value.
package struct ResourceFieldSelector: ConfigModel {
    package var containerName: String?
    package var resource: String?
    package var divisor: Quantity?
}

/// `ConfigMapKeySelector` and `SecretKeySelector` (same shape).
package struct KeySelector: ConfigModel {
    package var name: String?
    package var key: String?
    package var optional: Bool?
}

/// core/v1 `ResourceRequirements`.
package struct ResourceRequirements: ConfigModel {
    package var limits: [String: Quantity]?
    package var requests: [String: Quantity]?
    package var claims: OpaqueValue?
}

/// core/v1 `VolumeMount`.
package struct VolumeMount: ConfigModel {
    package var name: String?
    package var readOnly: Bool?
    package var recursiveReadOnly: String?
    package var mountPath: String?
    package var subPath: String?
    package var mountPropagation: String?
    package var subPathExpr: String?
    package var bindMountOptions: OpaqueValue?
}

/// core/v1 `Probe`: one handler (exec, httpGet, tcpSocket, grpc) and its timing.
package struct Probe: ConfigModel {
    package var exec: ExecAction?
    package var httpGet: HTTPGetAction?
    package var tcpSocket: TCPSocketAction?
    package var grpc: GRPCAction?
    package var initialDelaySeconds: Int32?
    package var timeoutSeconds: Int32?
    package var periodSeconds: Int32?
    package var successThreshold: Int32?
    package var failureThreshold: Int32?
    package var terminationGracePeriodSeconds: Int64?

    package struct ExecAction: ConfigModel {
        package var command: [String]?
    }

    package struct HTTPGetAction: ConfigModel {
        package var path: String?
        package var port: IntOrString?
        package var host: String?
        package var scheme: String?
        package var httpHeaders: [HTTPHeader]?
        package var `protocol`: OpaqueValue?
    }

    package struct HTTPHeader: ConfigModel {
        package var name: String?
        package var value: String?
    }

    package struct TCPSocketAction: ConfigModel {
        package var port: IntOrString?
        package var host: String?
    }

    package struct GRPCAction: ConfigModel {
        package var port: Int32?
        package var service: String?
        package var mode: OpaqueValue?
    }
}

/// core/v1 `SecurityContext` (a container's).
package struct SecurityContext: ConfigModel {
    package var capabilities: Capabilities?
    package var privileged: Bool?
    package var seLinuxOptions: OpaqueValue?
    package var windowsOptions: OpaqueValue?
    package var runAsUser: Int64?
    package var runAsGroup: Int64?
    package var runAsNonRoot: Bool?
    package var readOnlyRootFilesystem: Bool?
    package var allowPrivilegeEscalation: Bool?
    package var procMount: String?
    package var seccompProfile: SeccompProfile?
    package var appArmorProfile: OpaqueValue?

    package struct Capabilities: ConfigModel {
        package var add: [String]?
        package var drop: [String]?
    }
}

/// core/v1 `SeccompProfile`.
package struct SeccompProfile: ConfigModel {
    package var type: String?
    package var localhostProfile: String?
}

/// core/v1 `PodSecurityContext`.
package struct PodSecurityContext: ConfigModel {
    package var seLinuxOptions: OpaqueValue?
    package var windowsOptions: OpaqueValue?
    package var runAsUser: Int64?
    package var runAsGroup: Int64?
    package var runAsNonRoot: Bool?
    package var supplementalGroups: [Int64]?
    package var supplementalGroupsPolicy: String?
    package var fsGroup: Int64?
    package var sysctls: [Sysctl]?
    package var fsGroupChangePolicy: String?
    package var seccompProfile: SeccompProfile?
    package var appArmorProfile: OpaqueValue?
    package var seLinuxChangePolicy: String?

    package struct Sysctl: ConfigModel {
        package var name: String?
        package var value: String?
    }
}

/// core/v1 `Volume`: a name and one source; the sources Mizzen's manifests use are typed.
package struct Volume: ConfigModel {
    package var name: String?
    package var secret: SecretSource?
    package var configMap: ConfigMapSource?
    package var emptyDir: EmptyDirSource?
    package var projected: OpaqueValue?
    package var downwardAPI: OpaqueValue?
    package var hostPath: OpaqueValue?
    package var persistentVolumeClaim: OpaqueValue?
    package var ephemeral: OpaqueValue?
    package var csi: OpaqueValue?
    package var image: OpaqueValue?
    package var nfs: OpaqueValue?
    package var iscsi: OpaqueValue?
    package var gcePersistentDisk: OpaqueValue?
    package var awsElasticBlockStore: OpaqueValue?
    package var gitRepo: OpaqueValue?
    package var glusterfs: OpaqueValue?
    package var rbd: OpaqueValue?
    package var flexVolume: OpaqueValue?
    package var cinder: OpaqueValue?
    package var cephfs: OpaqueValue?
    package var flocker: OpaqueValue?
    package var fc: OpaqueValue?
    package var azureFile: OpaqueValue?
    package var azureDisk: OpaqueValue?
    package var vsphereVolume: OpaqueValue?
    package var quobyte: OpaqueValue?
    package var photonPersistentDisk: OpaqueValue?
    package var portworxVolume: OpaqueValue?
    package var scaleIO: OpaqueValue?
    package var storageos: OpaqueValue?

    /// How many volume sources are set (the API requires exactly one).
    package var sourceCount: Int {
        let typed: [Bool] = [secret != nil, configMap != nil, emptyDir != nil]
        let opaque: [OpaqueValue?] = [projected, downwardAPI, hostPath, persistentVolumeClaim, ephemeral, csi, image, nfs, iscsi, gcePersistentDisk,
                                      awsElasticBlockStore, gitRepo, glusterfs, rbd, flexVolume, cinder, cephfs, flocker, fc, azureFile, azureDisk,
                                      vsphereVolume, quobyte, photonPersistentDisk, portworxVolume, scaleIO, storageos]
        return typed.filter { $0 }.count + opaque.filter { $0 != nil }.count
    }

    package struct SecretSource: ConfigModel {
        package var secretName: String?
        package var items: [KeyToPath]?
        package var defaultMode: Int32?
        package var optional: Bool?
        package var defaultUser: OpaqueValue?
    }

    package struct ConfigMapSource: ConfigModel {
        package var name: String?
        package var items: [KeyToPath]?
        package var defaultMode: Int32?
        package var optional: Bool?
        package var defaultUser: OpaqueValue?
    }

    package struct EmptyDirSource: ConfigModel {
        package var medium: String?
        package var sizeLimit: Quantity?
        package var mode: OpaqueValue?
    }

    package struct KeyToPath: ConfigModel {
        package var key: String?
        package var path: String?
        package var mode: Int32?
        package var user: OpaqueValue?
    }
}
