import Testing
@testable import MizzenConfig

/// One change to a valid manifest and the diagnostic it must produce: severity, field path,
/// message, and the line (that of the first line of the document containing `marker`).
struct ManifestCase: CustomStringConvertible, Sendable {
    var name: String
    var yaml: String
    var field: String
    var message: String
    var marker: String
    var severity: Diagnostic.Severity

    init(_ name: String, _ yaml: String, field: String, _ message: String, at marker: String, severity: Diagnostic.Severity = .error) {
        self.name = name
        self.yaml = yaml
        self.field = field
        self.message = message
        self.marker = marker
        self.severity = severity
    }

    var line: Int {
        (yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(marker) } ?? -1) + 1
    }

    var description: String { name }
}

/// The manifests that install Mizzen as istio-ingressgateway, checked with the API server's rules
/// (`mizzen validate`): each rule with a document that breaks it and one that passes.
struct KubernetesManifestValidationTests {
    /// `base` (as a file, ending in a line break) with the one occurrence of `old` replaced by `new`.
    static func edit(_ base: String, _ old: String, _ new: String) -> String {
        let text = base.hasSuffix("\n") ? base : base + "\n"
        precondition(text.ranges(of: old).count == 1, "\"\(old)\" must occur once in the base document")
        return text.replacing(old, with: new)
    }

    // MARK: - Valid documents, one per kind

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          strategy:
            type: RollingUpdate
            rollingUpdate: {maxUnavailable: 25%, maxSurge: 1}
          template:
            metadata:
              labels:
                app: web
                version: v1
            spec:
              serviceAccountName: web
              terminationGracePeriodSeconds: 30
              securityContext:
                sysctls:
                - name: net.ipv4.ip_unprivileged_port_start
                  value: "0"
              containers:
              - name: web
                image: example/web:1
                imagePullPolicy: IfNotPresent
                ports:
                - name: http
                  containerPort: 8080
                  protocol: TCP
                env:
                - name: POD_NAME
                  valueFrom:
                    fieldRef:
                      fieldPath: metadata.name
                readinessProbe:
                  httpGet:
                    path: /ready
                    port: http
                  periodSeconds: 2
                resources:
                  requests:
                    cpu: 100m
                    memory: 128Mi
                  limits:
                    cpu: "2"
                    memory: 1Gi
                securityContext:
                  runAsUser: 1337
                  runAsNonRoot: true
                  allowPrivilegeEscalation: false
                  capabilities:
                    drop: [ALL]
                volumeMounts:
                - name: certs
                  mountPath: /etc/certs
              volumes:
              - name: certs
                secret:
                  secretName: web-certs
        """

    static let budget = """
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata:
          name: web
          namespace: shop
        spec:
          minAvailable: 1
          selector:
            matchLabels:
              app: web
        """

    static let autoscaler = """
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata:
          name: web
          namespace: shop
        spec:
          scaleTargetRef:
            apiVersion: apps/v1
            kind: Deployment
            name: web
          minReplicas: 1
          maxReplicas: 5
          metrics:
          - type: Resource
            resource:
              name: cpu
              target:
                type: Utilization
                averageUtilization: 80
        """

    static let webhook = """
        apiVersion: admissionregistration.k8s.io/v1
        kind: MutatingWebhookConfiguration
        metadata:
          name: mizzen-injector
        webhooks:
        - name: namespace.sidecar-injector.mizzen.io
          clientConfig:
            service:
              name: mizzen-injector
              namespace: istio-system
              path: /inject
              port: 443
            caBundle: Y2E=
          rules:
          - operations: [CREATE]
            apiGroups: [""]
            apiVersions: [v1]
            resources: [pods]
          namespaceSelector:
            matchLabels:
              istio-injection: enabled
          objectSelector:
            matchExpressions:
            - key: sidecar.istio.io/inject
              operator: NotIn
              values: ["false"]
          admissionReviewVersions: [v1]
          sideEffects: None
          failurePolicy: Ignore
          reinvocationPolicy: Never
          timeoutSeconds: 10
        """

    static let role = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: reader
          namespace: istio-system
        rules:
        - apiGroups: [""]
          resources: [secrets]
          verbs: [get, list, watch]
        """

    static let clusterRole = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: reader
        rules:
        - apiGroups: [networking.istio.io]
          resources: [gateways, virtualservices]
          verbs: [get, list, watch]
        - nonResourceURLs: [/healthz]
          verbs: [get]
        """

    static let clusterRoleBinding = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: reader
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: reader
        subjects:
        - kind: ServiceAccount
          name: istio-ingressgateway
          namespace: istio-system
        """

    static let roleBinding = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: reader
          namespace: istio-system
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: reader
        subjects:
        - kind: ServiceAccount
          name: istio-ingressgateway
        - kind: Group
          apiGroup: rbac.authorization.k8s.io
          name: admins
        """

    static let core = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: istio-system
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: istio-ingressgateway
          namespace: istio-system
        imagePullSecrets:
        - name: registry
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: istio-system
        data:
          mesh.yaml: "a: b"
        binaryData:
          blob: aGVsbG8=
        """

    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-1
          namespace: shop
          labels: {app: web}
        spec:
          serviceAccountName: web
          nodeName: node-1
          containers:
          - name: web
            image: example/web:1
        status:
          phase: Running
          podIP: 10.0.0.7
          podIPs:
          - ip: 10.0.0.7
          - ip: fd00::7
          hostIP: 192.168.1.2
          conditions:
          - type: Ready
            status: "True"
        """

    static let validDocuments: [(String, String, Int)] = [
        ("Deployment", deployment, 1), ("PodDisruptionBudget", budget, 1), ("HorizontalPodAutoscaler", autoscaler, 1),
        ("MutatingWebhookConfiguration", webhook, 1), ("Role", role, 1), ("ClusterRole", clusterRole, 1),
        ("ClusterRoleBinding", clusterRoleBinding, 1), ("RoleBinding", roleBinding, 1), ("core kinds", core, 3),
    ]

    @Test(arguments: validDocuments)
    func validDocumentLoadsWithoutDiagnostics(_ name: String, _ yaml: String, _ count: Int) {
        let result = load(yaml)
        #expect(result.diagnostics.isEmpty, "\(name): \(result.diagnostics.map(\.description))")
        #expect(result.skippedCount == 0)
        #expect(result.snapshot.manifests.count == count)
        #expect(result.snapshot.objectCount == count, "install manifests count as valid objects")
    }

    @Test func manifestsStayOutOfRouting() {
        let result = load(Self.deployment + "\n---\n" + Self.budget)
        #expect(result.snapshot.manifests.count == 2)
        #expect(result.snapshot.services.isEmpty && result.snapshot.gateways.isEmpty && result.snapshot.pods.isEmpty)
        guard case .deployment(let deployment)? = result.snapshot.manifests.first?.payload else {
            Issue.record("the Deployment is kept as a manifest")
            return
        }
        #expect(deployment.spec?.template?.spec?.containers?.first?.resources?.limits?["memory"]?.value == 1_073_741_824.0)
    }

    // MARK: - Deployment

    static let deploymentCases: [ManifestCase] = [
        ManifestCase("selector missing", edit(deployment, "  selector:\n    matchLabels:\n      app: web\n", ""),
                     field: "spec.selector", "is required", at: "replicas: 2"),
        ManifestCase("empty selector", edit(deployment, "  selector:\n    matchLabels:\n      app: web\n", "  selector: {}\n"),
                     field: "spec.selector", "empty selector is invalid for deployment", at: "selector: {}"),
        ManifestCase("selector does not match the template's labels", edit(deployment, "        app: web\n", "        app: api\n"),
                     field: "spec.template.metadata.labels", "`selector` does not match template `labels`", at: "app: api"),
        ManifestCase("expression operator unknown", edit(deployment, "    matchLabels:\n      app: web\n", "    matchLabels:\n      app: web\n    matchExpressions:\n    - {key: version, operator: Has}\n"),
                     field: "spec.selector.matchExpressions[0].operator", #"Unsupported value: "Has": supported values: "In", "NotIn", "Exists", "DoesNotExist""#, at: "operator: Has"),
        ManifestCase("In without values", edit(deployment, "    matchLabels:\n      app: web\n", "    matchLabels:\n      app: web\n    matchExpressions:\n    - {key: version, operator: In, values: []}\n"),
                     field: "spec.selector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'", at: "operator: In"),
        ManifestCase("Exists with values", edit(deployment, "    matchLabels:\n      app: web\n", "    matchLabels:\n      app: web\n    matchExpressions:\n    - {key: version, operator: Exists, values: [v1]}\n"),
                     field: "spec.selector.matchExpressions[0].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'", at: "operator: Exists"),
        ManifestCase("negative replicas", edit(deployment, "replicas: 2", "replicas: -1"), field: "spec.replicas", "must be greater than or equal to 0", at: "replicas: -1"),
        ManifestCase("rolling update of zero", edit(deployment, "{maxUnavailable: 25%, maxSurge: 1}", "{maxUnavailable: 0, maxSurge: 0%}"),
                     field: "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0", at: "maxSurge: 0%"),
        ManifestCase("surge percent over 100", edit(deployment, "maxSurge: 1}", "maxSurge: 150%}"),
                     field: "spec.strategy.rollingUpdate.maxSurge", "must not be greater than 100%", at: "maxSurge: 150%"),
        ManifestCase("Recreate with rollingUpdate", edit(deployment, "type: RollingUpdate", "type: Recreate"),
                     field: "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'", at: "rollingUpdate:"),
        ManifestCase("restartPolicy other than Always", edit(deployment, "      serviceAccountName: web\n", "      serviceAccountName: web\n      restartPolicy: Never\n"),
                     field: "spec.template.spec.restartPolicy", #"Unsupported value: "Never": supported values: "Always""#, at: "restartPolicy: Never"),
        ManifestCase("no containers", edit(deployment, "      containers:\n", "      containers: []\n      initContainers:\n"),
                     field: "spec.template.spec.containers", "is required: a pod runs at least one container", at: "containers: []"),
        ManifestCase("container without image", edit(deployment, "        image: example/web:1\n", ""),
                     field: "spec.template.spec.containers[0].image", "is required", at: "- name: web"),
        ManifestCase("container name not a DNS label", edit(deployment, "- name: web\n", "- name: Web_1\n"),
                     field: "spec.template.spec.containers[0].name",
                     "must be a lower-case DNS-1123 label (letters, digits and '-', alphanumeric at both ends, no dots)", at: "Web_1"),
        ManifestCase("duplicate container names", edit(deployment, "      volumes:\n", "      - {name: web, image: example/other:1}\n      volumes:\n"),
                     field: "spec.template.spec.containers[1].name", #"Duplicate value: "web""#, at: "example/other"),
        ManifestCase("container port zero", edit(deployment, "containerPort: 8080", "containerPort: 0"),
                     field: "spec.template.spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive", at: "containerPort: 0"),
        ManifestCase("container port too large", edit(deployment, "containerPort: 8080", "containerPort: 70000"),
                     field: "spec.template.spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive", at: "containerPort: 70000"),
        ManifestCase("port name upper case", edit(deployment, "- name: http\n", "- name: HTTP\n"),
                     field: "spec.template.spec.containers[0].ports[0].name", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", at: "name: HTTP"),
        ManifestCase("port name too long", edit(deployment, "- name: http\n", "- name: http-management-port\n"),
                     field: "spec.template.spec.containers[0].ports[0].name", "must be no more than 15 characters", at: "http-management-port"),
        ManifestCase("port protocol unknown", edit(deployment, "protocol: TCP", "protocol: QUIC"),
                     field: "spec.template.spec.containers[0].ports[0].protocol", #"Unsupported value: "QUIC": supported values: "TCP", "UDP", "SCTP""#, at: "protocol: QUIC"),
        ManifestCase("probe names a port the container lacks", edit(deployment, "port: http", "port: admin"),
                     field: "spec.template.spec.containers[0].readinessProbe.httpGet.port", #"names no port of the container: "admin" is not among its ports' names"#, at: "port: admin"),
        ManifestCase("probe port number out of range", edit(deployment, "port: http", "port: 0"),
                     field: "spec.template.spec.containers[0].readinessProbe.httpGet.port", "must be between 1 and 65535, inclusive", at: "port: 0"),
        ManifestCase("probe without handler", edit(deployment, "          httpGet:\n            path: /ready\n            port: http\n", ""),
                     field: "spec.template.spec.containers[0].readinessProbe", "must specify a handler type", at: "periodSeconds: 2"),
        ManifestCase("probe with two handlers", edit(deployment, "          periodSeconds: 2\n", "          periodSeconds: 2\n          tcpSocket: {port: 8080}\n"),
                     field: "spec.template.spec.containers[0].readinessProbe", "may not specify more than 1 handler type", at: "httpGet:"),
        ManifestCase("probe period negative", edit(deployment, "periodSeconds: 2", "periodSeconds: -2"),
                     field: "spec.template.spec.containers[0].readinessProbe.periodSeconds", "must be greater than or equal to 0", at: "periodSeconds: -2"),
        ManifestCase("quantity that does not parse", edit(deployment, "cpu: 100m", "cpu: 100x"),
                     field: "spec.template.spec.containers[0].resources.requests.cpu",
                     #"Invalid value: "100x": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#, at: "cpu: 100x"),
        ManifestCase("negative quantity", edit(deployment, "cpu: 100m", "cpu: -100m"),
                     field: "spec.template.spec.containers[0].resources.requests.cpu", "must be greater than or equal to 0", at: "cpu: -100m"),
        ManifestCase("cpu request above the limit", edit(deployment, "cpu: 100m", "cpu: 2500m"),
                     field: "spec.template.spec.containers[0].resources.requests.cpu", "must be less than or equal to cpu limit of 2", at: "cpu: 2500m"),
        ManifestCase("memory request above the limit", edit(deployment, "memory: 128Mi", "memory: 1.5Gi"),
                     field: "spec.template.spec.containers[0].resources.requests.memory", "must be less than or equal to memory limit of 1Gi", at: "memory: 1.5Gi"),
        ManifestCase("resource name not standard", edit(deployment, "memory: 128Mi", "gpu: 1"),
                     field: "spec.template.spec.containers[0].resources.requests.gpu",
                     "must be a standard resource type (cpu, memory, ephemeral-storage, hugepages-SIZE) or fully qualified (example.com/gpu)", at: "gpu: 1"),
        ManifestCase("fieldRef path unknown", edit(deployment, "fieldPath: metadata.name", "fieldPath: metadata.nmae"),
                     field: "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
                     #"Unsupported value: "metadata.nmae": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", "metadata.labels['KEY']", "metadata.annotations['KEY']""#,
                     at: "metadata.nmae"),
        ManifestCase("fieldRef label without quotes", edit(deployment, "fieldPath: metadata.name", "fieldPath: metadata.labels[app]"),
                     field: "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "must be metadata.labels['KEY'] with the key in single quotes", at: "metadata.labels[app]"),
        ManifestCase("env value and valueFrom", edit(deployment, "- name: POD_NAME\n", "- name: POD_NAME\n          value: web\n"),
                     field: "spec.template.spec.containers[0].env[0].valueFrom", "may not be specified when `value` is not empty", at: "fieldRef:"),
        ManifestCase("env name starting with a digit", edit(deployment, "- name: POD_NAME\n", "- name: 1POD\n"),
                     field: "spec.template.spec.containers[0].env[0].name",
                     "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", at: "1POD"),
        ManifestCase("security context field of the wrong type", edit(deployment, "runAsUser: 1337", "runAsUser: root"),
                     field: "spec.template.spec.containers[0].securityContext.runAsUser", #"must be an integer, got string "root""#, at: "runAsUser: root"),
        ManifestCase("runAsUser out of range", edit(deployment, "runAsUser: 1337", "runAsUser: 4294967296"),
                     field: "spec.template.spec.containers[0].securityContext.runAsUser", "must be between 0 and 2147483647, inclusive", at: "runAsUser: 4294967296"),
        ManifestCase("privileged without escalation", edit(deployment, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n          privileged: true"),
                     field: "spec.template.spec.containers[0].securityContext", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true", at: "runAsUser: 1337"),
        ManifestCase("root user with runAsNonRoot", edit(deployment, "runAsUser: 1337", "runAsUser: 0"),
                     field: "spec.template.spec.containers[0].securityContext.runAsUser", "runAsUser 0 breaks runAsNonRoot: the kubelet will refuse to start the container", at: "runAsUser: 0"),
        ManifestCase("capability name lower case", edit(deployment, "drop: [ALL]", "drop: [all]"),
                     field: "spec.template.spec.containers[0].securityContext.capabilities.drop[0]", #""all" is not a Linux capability name (such as NET_ADMIN, or ALL)"#, at: "drop: [all]"),
        ManifestCase("sysctl name invalid", edit(deployment, "- name: net.ipv4.ip_unprivileged_port_start", "- name: Net.IPv4.ip_unprivileged_port_start"),
                     field: "spec.template.spec.securityContext.sysctls[0].name",
                     #"Invalid value: "Net.IPv4.ip_unprivileged_port_start": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"#,
                     at: "Net.IPv4"),
        ManifestCase("sysctl twice", edit(deployment, "          value: \"0\"\n", "          value: \"0\"\n        - {name: net/ipv4/ip_unprivileged_port_start, value: \"80\"}\n"),
                     field: "spec.template.spec.securityContext.sysctls[1].name", #"Duplicate value: "net/ipv4/ip_unprivileged_port_start""#, at: "net/ipv4"),
        ManifestCase("unsafe sysctl", edit(deployment, "- name: net.ipv4.ip_unprivileged_port_start", "- name: net.core.somaxconn"),
                     field: "spec.template.spec.securityContext.sysctls[0].name",
                     #""net.core.somaxconn" is not a safe sysctl: the kubelet rejects the pod unless started with --allowed-unsafe-sysctls"#, at: "somaxconn", severity: .warning),
        ManifestCase("net sysctl with host network", edit(deployment, "      serviceAccountName: web\n", "      serviceAccountName: web\n      hostNetwork: true\n"),
                     field: "spec.template.spec.securityContext.sysctls[0].name", "may not be specified when 'hostNetwork' is true", at: "ip_unprivileged_port_start"),
        ManifestCase("mount of a volume the pod lacks", edit(deployment, "- name: certs\n          mountPath", "- name: tls\n          mountPath"),
                     field: "spec.template.spec.containers[0].volumeMounts[0].name", #"Not found: "tls" (no volume of the pod has this name)"#, at: "name: tls"),
        ManifestCase("volume without source", edit(deployment, "      - name: certs\n        secret:\n          secretName: web-certs\n", "      - name: certs # no source\n"),
                     field: "spec.template.spec.volumes[0]", "must specify a volume type", at: "# no source"),
        ManifestCase("secret volume mode out of range", edit(deployment, "secretName: web-certs", "secretName: web-certs\n          defaultMode: 1024"),
                     field: "spec.template.spec.volumes[0].secret.defaultMode", "must be a number between 0 and 0777 (octal), both inclusive", at: "defaultMode: 1024"),
        ManifestCase("unknown field", edit(deployment, "imagePullPolicy: IfNotPresent", "imagePullPolice: IfNotPresent"),
                     field: "spec.template.spec.containers[0].imagePullPolice", #"unknown field (did you mean "imagePullPolicy"?)"#, at: "imagePullPolice"),
        ManifestCase("image pull policy unknown", edit(deployment, "imagePullPolicy: IfNotPresent", "imagePullPolicy: Sometimes"),
                     field: "spec.template.spec.containers[0].imagePullPolicy", #"Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never""#, at: "Sometimes"),
    ]

    static let deploymentValidVariants: [(String, String)] = [
        ("numeric probe port", edit(deployment, "port: http", "port: 8080")),
        ("quantities as numbers and exponents", edit(edit(deployment, "cpu: 100m", "cpu: 0.1"), "memory: 128Mi", "memory: 128e6")),
        ("request equal to the limit in another unit", edit(deployment, "cpu: 100m", "cpu: 2000m")),
        ("label fieldRef", edit(deployment, "fieldPath: metadata.name", "fieldPath: metadata.labels['app']")),
        ("status.podIP fieldRef", edit(deployment, "fieldPath: metadata.name", "fieldPath: status.podIP")),
        ("selector expression that matches", edit(deployment, "    matchLabels:\n      app: web\n", "    matchLabels:\n      app: web\n    matchExpressions:\n    - {key: version, operator: In, values: [v1, v2]}\n")),
        ("Recreate strategy", edit(deployment, "    type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 25%, maxSurge: 1}\n", "    type: Recreate\n")),
        ("sysctl with slashes", edit(deployment, "- name: net.ipv4.ip_unprivileged_port_start", "- name: net/ipv4/ip_unprivileged_port_start")),
        ("kubectl get output with status", deployment + "\nstatus:\n  replicas: 2\n  readyReplicas: 2\n"),
    ]

    // MARK: - PodDisruptionBudget, HorizontalPodAutoscaler

    static let budgetCases: [ManifestCase] = [
        ManifestCase("both minAvailable and maxUnavailable", edit(budget, "minAvailable: 1", "minAvailable: 1\n  maxUnavailable: 1"),
                     field: "spec", "minAvailable and maxUnavailable cannot be both set", at: "minAvailable: 1"),
        ManifestCase("neither minAvailable nor maxUnavailable", edit(budget, "  minAvailable: 1\n", ""),
                     field: "spec", "one of minAvailable or maxUnavailable is required", at: "selector:"),
        ManifestCase("percent over 100", edit(budget, "minAvailable: 1", "minAvailable: 150%"),
                     field: "spec.minAvailable", "must not be greater than 100%", at: "150%"),
        ManifestCase("neither count nor percent", edit(budget, "minAvailable: 1", "minAvailable: half"),
                     field: "spec.minAvailable", "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%')", at: "half"),
        ManifestCase("negative count", edit(budget, "minAvailable: 1", "maxUnavailable: -1"),
                     field: "spec.maxUnavailable", "must be greater than or equal to 0", at: "-1"),
        ManifestCase("selector missing", edit(budget, "  selector:\n    matchLabels:\n      app: web\n", ""),
                     field: "spec.selector", "is required", at: "minAvailable: 1"),
        ManifestCase("selector label value invalid", edit(budget, "app: web", "app: -web"),
                     field: "spec.selector.matchLabels.app", #"label value "-web" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"#, at: "app: -web"),
    ]

    static let autoscalerCases: [ManifestCase] = [
        ManifestCase("target kind missing", edit(autoscaler, "    kind: Deployment\n", ""),
                     field: "spec.scaleTargetRef.kind", "is required", at: "apiVersion: apps/v1"),
        ManifestCase("target name missing", edit(autoscaler, "    name: web\n", ""),
                     field: "spec.scaleTargetRef.name", "is required", at: "apiVersion: apps/v1"),
        ManifestCase("minReplicas zero", edit(autoscaler, "minReplicas: 1", "minReplicas: 0"),
                     field: "spec.minReplicas", "must be greater than or equal to 1", at: "minReplicas: 0"),
        ManifestCase("maxReplicas below minReplicas", edit(autoscaler, "minReplicas: 1", "minReplicas: 6"),
                     field: "spec.maxReplicas", "must be greater than or equal to `minReplicas`", at: "maxReplicas: 5"),
        ManifestCase("maxReplicas missing", edit(autoscaler, "  maxReplicas: 5\n", ""),
                     field: "spec.maxReplicas", "is required", at: "scaleTargetRef:"),
        ManifestCase("metric type unknown", edit(autoscaler, "type: Resource", "type: Memory"),
                     field: "spec.metrics[0].type", #"Unsupported value: "Memory": supported values: "Object", "Pods", "Resource", "ContainerResource", "External""#, at: "type: Memory"),
        ManifestCase("metric source of another type", edit(autoscaler, "type: Resource", "type: Pods"),
                     field: "spec.metrics[0].pods", "must populate information for the given metric source", at: "- type: Pods"),
        ManifestCase("utilization zero", edit(autoscaler, "averageUtilization: 80", "averageUtilization: 0"),
                     field: "spec.metrics[0].resource.target.averageUtilization", "must be greater than 0", at: "averageUtilization: 0"),
        ManifestCase("utilization above 100", edit(autoscaler, "averageUtilization: 80", "averageUtilization: 150"),
                     field: "spec.metrics[0].resource.target.averageUtilization",
                     "150% is above 100: pods must use more than they request before a replica is added", at: "averageUtilization: 150", severity: .warning),
        ManifestCase("utilization target without a number", edit(autoscaler, "        averageUtilization: 80\n", ""),
                     field: "spec.metrics[0].resource.target.averageUtilization", "must set either a target raw value or a target utilization", at: "type: Utilization"),
        ManifestCase("Value target for a resource", edit(autoscaler, "type: Utilization", "type: Value"),
                     field: "spec.metrics[0].resource.target.type", #"Invalid value: "Value": must be either Utilization or AverageValue"#, at: "type: Value"),
        ManifestCase("scaling policy period too long", autoscaler + "\n  behavior:\n    scaleDown:\n      policies:\n      - {type: Pods, value: 1, periodSeconds: 3600}",
                     field: "spec.behavior.scaleDown.policies[0].periodSeconds", "must be less than or equal to 1800", at: "periodSeconds: 3600"),
    ]

    // MARK: - MutatingWebhookConfiguration

    static let webhookCases: [ManifestCase] = [
        ManifestCase("name with two segments", edit(webhook, "name: namespace.sidecar-injector.mizzen.io", "name: sidecar-injector.io"),
                     field: "webhooks[0].name", "should be a domain with at least three segments separated by dots", at: "sidecar-injector.io"),
        ManifestCase("name not a DNS subdomain", edit(webhook, "name: namespace.sidecar-injector.mizzen.io", "name: Sidecar_Injector.mizzen.io"),
                     field: "webhooks[0].name", "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)", at: "Sidecar_Injector"),
        ManifestCase("duplicate webhook names", webhook + "\n- name: namespace.sidecar-injector.mizzen.io # SECOND\n" + webhook.split(separator: "\n").drop { !$0.hasPrefix("- name") }.dropFirst().joined(separator: "\n"),
                     field: "webhooks[1].name", #"Duplicate value: "namespace.sidecar-injector.mizzen.io""#, at: "SECOND"),
        ManifestCase("both url and service", edit(webhook, "    caBundle: Y2E=", "    caBundle: Y2E=\n    url: https://injector.example.com/inject"),
                     field: "webhooks[0].clientConfig", "exactly one of url or service is required", at: "service:"),
        ManifestCase("neither url nor service", edit(webhook, "    service:\n      name: mizzen-injector\n      namespace: istio-system\n      path: /inject\n      port: 443\n", ""),
                     field: "webhooks[0].clientConfig", "exactly one of url or service is required", at: "caBundle"),
        ManifestCase("url over plain HTTP", edit(webhook, "    service:\n      name: mizzen-injector\n      namespace: istio-system\n      path: /inject\n      port: 443\n", "    url: http://injector.example.com/inject\n"),
                     field: "webhooks[0].clientConfig.url", "'https' is the only allowed URL scheme", at: "url: http"),
        ManifestCase("url with a query", edit(webhook, "    service:\n      name: mizzen-injector\n      namespace: istio-system\n      path: /inject\n      port: 443\n", "    url: https://injector.example.com/inject?x=1\n"),
                     field: "webhooks[0].clientConfig.url", "query parameters are not permitted in the URL", at: "url: https"),
        ManifestCase("service path without a slash", edit(webhook, "path: /inject", "path: inject"),
                     field: "webhooks[0].clientConfig.service.path", "must start with a '/'", at: "path: inject"),
        ManifestCase("service port out of range", edit(webhook, "port: 443", "port: 0"),
                     field: "webhooks[0].clientConfig.service.port", "port is not valid: must be between 1 and 65535, inclusive", at: "port: 0"),
        ManifestCase("caBundle not base64", edit(webhook, "caBundle: Y2E=", "caBundle: \"-----BEGIN CERTIFICATE-----\""),
                     field: "webhooks[0].clientConfig.caBundle", "must be base64 (the PEM of the CA that signed the webhook's certificate, base64-encoded)", at: "BEGIN CERTIFICATE"),
        ManifestCase("admissionReviewVersions missing", edit(webhook, "  admissionReviewVersions: [v1]\n", ""),
                     field: "webhooks[0].admissionReviewVersions", "must specify one of v1, v1beta1", at: "- name: namespace"),
        ManifestCase("admissionReviewVersions without a known version", edit(webhook, "admissionReviewVersions: [v1]", "admissionReviewVersions: [v2]"),
                     field: "webhooks[0].admissionReviewVersions", "must include at least one of v1, v1beta1", at: "admissionReviewVersions: [v2]"),
        ManifestCase("admissionReviewVersions without v1", edit(webhook, "admissionReviewVersions: [v1]", "admissionReviewVersions: [v1beta1]"),
                     field: "webhooks[0].admissionReviewVersions", "does not include v1: only servers that still answer AdmissionReview v1beta1 can serve it",
                     at: "admissionReviewVersions: [v1beta1]", severity: .warning),
        ManifestCase("sideEffects missing", edit(webhook, "  sideEffects: None\n", ""),
                     field: "webhooks[0].sideEffects", "is required", at: "- name: namespace"),
        ManifestCase("sideEffects Some", edit(webhook, "sideEffects: None", "sideEffects: Some"),
                     field: "webhooks[0].sideEffects", #"Unsupported value: "Some": supported values: "None", "NoneOnDryRun""#, at: "sideEffects: Some"),
        ManifestCase("failurePolicy unknown", edit(webhook, "failurePolicy: Ignore", "failurePolicy: Retry"),
                     field: "webhooks[0].failurePolicy", #"Unsupported value: "Retry": supported values: "Ignore", "Fail""#, at: "failurePolicy: Retry"),
        ManifestCase("reinvocationPolicy unknown", edit(webhook, "reinvocationPolicy: Never", "reinvocationPolicy: Always"),
                     field: "webhooks[0].reinvocationPolicy", #"Unsupported value: "Always": supported values: "Never", "IfNeeded""#, at: "reinvocationPolicy: Always"),
        ManifestCase("timeout too long", edit(webhook, "timeoutSeconds: 10", "timeoutSeconds: 31"),
                     field: "webhooks[0].timeoutSeconds", "the timeout value must be between 1 and 30 seconds", at: "timeoutSeconds: 31"),
        ManifestCase("timeout zero", edit(webhook, "timeoutSeconds: 10", "timeoutSeconds: 0"),
                     field: "webhooks[0].timeoutSeconds", "the timeout value must be between 1 and 30 seconds", at: "timeoutSeconds: 0"),
        ManifestCase("rule without operations", edit(webhook, "operations: [CREATE]", "operations: []"),
                     field: "webhooks[0].rules[0].operations", "is required", at: "operations: []"),
        ManifestCase("rule operation unknown", edit(webhook, "operations: [CREATE]", "operations: [READ]"),
                     field: "webhooks[0].rules[0].operations[0]", #"Unsupported value: "READ": supported values: "CREATE", "UPDATE", "DELETE", "CONNECT", "*""#, at: "operations: [READ]"),
        ManifestCase("rule star with others", edit(webhook, "operations: [CREATE]", "operations: [CREATE, \"*\"]"),
                     field: "webhooks[0].rules[0].operations", "if '*' is present, must not specify other operations", at: "operations: [CREATE"),
        ManifestCase("rule without apiGroups", edit(webhook, "    apiGroups: [\"\"]\n", ""),
                     field: "webhooks[0].rules[0].apiGroups", "is required", at: "operations: [CREATE]"),
        ManifestCase("rule without apiVersions", edit(webhook, "    apiVersions: [v1]\n", ""),
                     field: "webhooks[0].rules[0].apiVersions", "is required", at: "operations: [CREATE]"),
        ManifestCase("rule without resources", edit(webhook, "resources: [pods]", "resources: []"),
                     field: "webhooks[0].rules[0].resources", "is required", at: "resources: []"),
        ManifestCase("namespaceSelector In without values", edit(webhook, "      istio-injection: enabled\n", "      istio-injection: enabled\n    matchExpressions:\n    - {key: istio-injection, operator: In}\n"),
                     field: "webhooks[0].namespaceSelector.matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'", at: "operator: In"),
        ManifestCase("objectSelector operator unknown", edit(webhook, "operator: NotIn", "operator: NotEquals"),
                     field: "webhooks[0].objectSelector.matchExpressions[0].operator", #"Unsupported value: "NotEquals": supported values: "In", "NotIn", "Exists", "DoesNotExist""#, at: "NotEquals"),
        ManifestCase("objectSelector key invalid", edit(webhook, "key: sidecar.istio.io/inject", "key: sidecar.istio.io/-inject"),
                     field: "webhooks[0].objectSelector.matchExpressions[0].key",
                     #"label key "sidecar.istio.io/-inject" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"#, at: "io/-inject"),
        ManifestCase("DoesNotExist with values", edit(webhook, "operator: NotIn", "operator: DoesNotExist"),
                     field: "webhooks[0].objectSelector.matchExpressions[0].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'", at: "values: [\"false\"]"),
        ManifestCase("namespace on a cluster-scoped kind", edit(webhook, "  name: mizzen-injector\nwebhooks", "  name: mizzen-injector\n  namespace: istio-system\nwebhooks"),
                     field: "metadata.namespace", "is ignored: a MutatingWebhookConfiguration is cluster-scoped", at: "namespace: istio-system", severity: .warning),
    ]

    static let webhookValidVariants: [(String, String)] = [
        ("url client config", edit(webhook, "    service:\n      name: mizzen-injector\n      namespace: istio-system\n      path: /inject\n      port: 443\n", "    url: https://injector.example.com:8443/inject\n")),
        ("object selector Exists", edit(webhook, "      operator: NotIn\n      values: [\"false\"]\n", "      operator: Exists\n")),
        ("no caBundle (the API server's roots)", edit(webhook, "    caBundle: Y2E=\n", "")),
        ("NoneOnDryRun and Fail", edit(edit(webhook, "sideEffects: None", "sideEffects: NoneOnDryRun"), "failurePolicy: Ignore", "failurePolicy: Fail")),
        ("all operations", edit(webhook, "operations: [CREATE]", "operations: [\"*\"]")),
    ]

    // MARK: - RBAC and core kinds

    static let accessCases: [ManifestCase] = [
        ManifestCase("rule without verbs", edit(role, "verbs: [get, list, watch]", "verbs: []"),
                     field: "rules[0].verbs", "verbs must contain at least one value", at: "verbs: []"),
        ManifestCase("rule without apiGroups", edit(role, "- apiGroups: [\"\"]\n  resources", "- resources"),
                     field: "rules[0].apiGroups", "resource rules must supply at least one api group", at: "resources: [secrets]"),
        ManifestCase("rule without resources", edit(role, "  resources: [secrets]\n", ""),
                     field: "rules[0].resources", "resource rules must supply at least one resource", at: "apiGroups"),
        ManifestCase("Role with non-resource URLs", edit(role, "  verbs: [get, list, watch]", "  verbs: [get, list, watch]\n- nonResourceURLs: [/metrics]\n  verbs: [get]"),
                     field: "rules[1].nonResourceURLs", "namespaced rules cannot apply to non-resource URLs", at: "/metrics"),
        ManifestCase("resources and non-resource URLs in one rule", edit(clusterRole, "- nonResourceURLs: [/healthz]", "- nonResourceURLs: [/healthz]\n  resources: [pods]"),
                     field: "rules[1].nonResourceURLs", "rules cannot apply to both regular resources and non-resource URLs", at: "/healthz"),
        ManifestCase("misspelt verb", edit(role, "verbs: [get, list, watch]", "verbs: [get, lsit, watch]"),
                     field: "rules[0].verbs[1]",
                     #""lsit" is not a Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection, ...): the rule grants nothing for it"#,
                     at: "lsit", severity: .warning),
        ManifestCase("resource in upper case", edit(role, "resources: [secrets]", "resources: [Secrets]"),
                     field: "rules[0].resources[0]", #""Secrets" has upper-case letters: resources are lower-case plurals ("secrets"), so the rule grants nothing for it"#,
                     at: "Secrets", severity: .warning),
        ManifestCase("ClusterRoleBinding to a Role", edit(clusterRoleBinding, "kind: ClusterRole\n", "kind: Role\n"),
                     field: "roleRef.kind", #"Unsupported value: "Role": supported values: "ClusterRole""#, at: "kind: Role"),
        ManifestCase("roleRef apiGroup wrong", edit(clusterRoleBinding, "apiGroup: rbac.authorization.k8s.io", "apiGroup: rbac"),
                     field: "roleRef.apiGroup", #"Unsupported value: "rbac": supported values: "rbac.authorization.k8s.io""#, at: "apiGroup: rbac"),
        ManifestCase("roleRef name missing", edit(roleBinding, "  name: reader\nsubjects", "subjects"),
                     field: "roleRef.name", "is required", at: "apiGroup: rbac.authorization.k8s.io"),
        ManifestCase("service account subject without namespace in a ClusterRoleBinding", edit(clusterRoleBinding, "  namespace: istio-system\n", ""),
                     field: "subjects[0].namespace", "is required", at: "- kind: ServiceAccount"),
        ManifestCase("subject kind unknown", edit(roleBinding, "- kind: ServiceAccount", "- kind: Robot"),
                     field: "subjects[0].kind", #"Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#, at: "kind: Robot"),
        ManifestCase("service account subject with an API group", edit(roleBinding, "  name: istio-ingressgateway\n", "  name: istio-ingressgateway\n  apiGroup: rbac.authorization.k8s.io # wrong\n"),
                     field: "subjects[0].apiGroup", #"Unsupported value: "rbac.authorization.k8s.io": supported values: """#, at: "# wrong"),
        ManifestCase("group subject without API group", edit(roleBinding, "  apiGroup: rbac.authorization.k8s.io\n  name: admins", "  name: admins"),
                     field: "subjects[1].apiGroup", "is required", at: "- kind: Group"),
        ManifestCase("namespace name with a dot", edit(core, "name: istio-system\n---", "name: istio.system\n---"),
                     field: "metadata.name", "must be a lower-case DNS-1123 label (letters, digits and '-', alphanumeric at both ends, no dots)", at: "istio.system"),
        ManifestCase("config key with a slash", edit(core, "mesh.yaml: \"a: b\"", "mesh/yaml: \"a: b\""),
                     field: "data[\"mesh/yaml\"]", "a valid config key must consist of alphanumeric characters, '-', '_' or '.'", at: "mesh/yaml"),
        ManifestCase("binary data not base64", edit(core, "blob: aGVsbG8=", "blob: hello!"),
                     field: "binaryData.blob", "must be base64", at: "blob: hello!"),
        ManifestCase("key in data and binaryData", edit(core, "blob: aGVsbG8=", "mesh.yaml: aGVsbG8="),
                     field: "binaryData[\"mesh.yaml\"]", #"Duplicate value: "mesh.yaml" (also a key of data)"#, at: "mesh.yaml: aGVsbG8="),
        ManifestCase("image pull secret without name", edit(core, "- name: registry", "- {}"),
                     field: "imagePullSecrets[0].name", "is required", at: "- {}"),
        ManifestCase("config map data not a string", edit(core, "mesh.yaml: \"a: b\"", "mesh.yaml: 3"),
                     field: "data[\"mesh.yaml\"]", #"must be a string, got integer 3; quote it: "3""#, at: "mesh.yaml: 3"),
    ]

    // MARK: - Pod

    static let podCases: [ManifestCase] = [
        ManifestCase("pod IP not an address", edit(pod, "podIP: 10.0.0.7", "podIP: 10.0.0.700"),
                     field: "status.podIP", #""10.0.0.700" must be a valid IP address"#, at: "podIP: 10.0.0.700"),
        ManifestCase("pod IPs entry not an address", edit(pod, "- ip: fd00::7", "- ip: fd00::zz"),
                     field: "status.podIPs[1].ip", #""fd00::zz" must be a valid IP address"#, at: "fd00::zz"),
        ManifestCase("pod IPs not starting with podIP", edit(pod, "- ip: 10.0.0.7", "- ip: 10.0.0.8"),
                     field: "status.podIPs[0].ip", #"must match podIP "10.0.0.7""#, at: "ip: 10.0.0.8"),
        ManifestCase("two addresses of one family", edit(pod, "- ip: fd00::7", "- ip: 10.0.0.9"),
                     field: "status.podIPs", "may hold at most one IPv4 and one IPv6 address", at: "- ip: 10.0.0.7"),
        ManifestCase("host IP not an address", edit(pod, "hostIP: 192.168.1.2", "hostIP: node-1"),
                     field: "status.hostIP", #""node-1" must be a valid IP address"#, at: "hostIP: node-1"),
        ManifestCase("condition status unknown", edit(pod, "status: \"True\"", "status: \"Yes\""),
                     field: "status.conditions[0].status", "must be True, False or Unknown", at: "Yes"),
        ManifestCase("service account name invalid", edit(pod, "serviceAccountName: web", "serviceAccountName: Web"),
                     field: "spec.serviceAccountName", "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)", at: "serviceAccountName: Web"),
        ManifestCase("duplicate container names", edit(pod, "    image: example/web:1\n", "    image: example/web:1\n  - {name: web, image: example/other:1}\n"),
                     field: "spec.containers[1].name", #"Duplicate value: "web""#, at: "example/other"),
        ManifestCase("pod name invalid", edit(pod, "name: web-1", "name: Web-1"),
                     field: "metadata.name", "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)", at: "Web-1"),
        ManifestCase("pod label invalid", edit(pod, "labels: {app: web}", "labels: {app: web!}"),
                     field: "metadata.labels.app", #"label value "web!" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"#, at: "labels:"),
    ]

    static let allCases = deploymentCases + budgetCases + autoscalerCases + webhookCases + accessCases + podCases

    @Test(arguments: allCases)
    func ruleIsReportedAtItsFieldAndLine(_ testCase: ManifestCase) {
        let result = load(testCase.yaml)
        let matching = result.diagnostics.filter { $0.severity == testCase.severity && $0.path?.description == testCase.field && $0.message == testCase.message }
        #expect(!matching.isEmpty, "\(testCase.name): \(result.diagnostics.map(\.description))")
        #expect(matching.first?.mark?.line == testCase.line, "\(testCase.name): at line \(matching.first?.mark?.line ?? 0), expected \(testCase.line)")
        #expect(matching.first?.object != nil, "the diagnostic names its object")
        if testCase.severity == .error, let object = matching.first?.object {
            let kept = result.snapshot.manifests.map(\.reference) + result.snapshot.pods.map(\.reference)
            #expect(!kept.contains(object), "\(testCase.name): an invalid object is not kept")
        }
    }

    static let validVariants = deploymentValidVariants + webhookValidVariants + [
        ("budget as a percentage", edit(budget, "minAvailable: 1", "maxUnavailable: 50%")),
        ("autoscaler with AverageValue", edit(edit(autoscaler, "type: Utilization", "type: AverageValue"), "averageUtilization: 80", "averageValue: 500m")),
        ("autoscaler with behavior", autoscaler + "\n  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 300\n      policies:\n      - {type: Percent, value: 100, periodSeconds: 15}"),
        ("pod without status", pod.split(separator: "\n").prefix { $0 != "status:" }.joined(separator: "\n")),
        ("pod with single-stack IPs", edit(pod, "  - ip: fd00::7\n", "")),
        ("group subject", edit(clusterRoleBinding, "- kind: ServiceAccount\n  name: istio-ingressgateway\n  namespace: istio-system", "- kind: Group\n  apiGroup: rbac.authorization.k8s.io\n  name: system:masters")),
    ]

    @Test(arguments: validVariants)
    func validVariantHasNoErrors(_ name: String, _ yaml: String) {
        let result = load(yaml)
        #expect(errorLines(result).isEmpty && warningLines(result).isEmpty, "\(name): \(result.diagnostics.map(\.description))")
        #expect(result.snapshot.objectCount == 1)
        #expect(result.skippedCount == 0)
    }

    // MARK: - Object names, quantities

    @Test func messagesNameTheObjectClusterScopedWithoutNamespace() {
        let deployment = load(Self.edit(Self.deployment, "containerPort: 8080", "containerPort: 0"))
        #expect(deployment.diagnostics.first?.object?.description == "Deployment shop/web")
        let role = load(Self.edit(Self.clusterRole, "verbs: [get]", "verbs: []"))
        #expect(role.diagnostics.first?.object?.description == "ClusterRole /reader")
        #expect(role.diagnostics.first?.description == "case.yaml:10:10: ClusterRole /reader: rules[1].verbs: verbs must contain at least one value")
    }

    @Test func clusterScopedObjectsDefinedTwiceAcrossNamespacesAreOneObject() {
        let result = load(Self.clusterRole + "\n---\n" + Self.edit(Self.clusterRole, "  name: reader\n", "  name: reader\n  namespace: other\n"))
        #expect(result.snapshot.manifests.count == 1)
        #expect(result.diagnostics.contains { $0.severity == .warning && $0.message.hasPrefix("defined again") })
    }

    @Test(arguments: [
        ("100m", 0.1), ("128Mi", 134_217_728), ("1Gi", 1_073_741_824), ("0.5Gi", 536_870_912), ("2", 2), ("1.5", 1.5), ("1e3", 1000),
        ("1E-3", 0.001), ("5.", 5), (".5", 0.5), ("+1k", 1000), ("-2M", -2_000_000), ("250u", 0.00025), ("3n", 3e-9), ("1Ki", 1024),
    ])
    func quantityParses(_ text: String, _ value: Double) {
        #expect(Quantity(text)?.value == value)
    }

    @Test(arguments: ["", "m", "1.2.3", "100x", "1Kb", "1e", "1e+", "Mi", "1 Mi", "--1", "1ee3", "0x10"])
    func quantityRejects(_ text: String) {
        #expect(Quantity(text) == nil)
    }

    @Test func quantitiesInDifferentUnitsCompareEqual() {
        #expect(Quantity("1")?.value == Quantity("1000m")?.value)
        #expect(Quantity("512Mi")?.value == Quantity("0.5Gi")?.value)
        #expect(Quantity("1.1")?.value == Quantity("1100m")?.value)
    }
}
