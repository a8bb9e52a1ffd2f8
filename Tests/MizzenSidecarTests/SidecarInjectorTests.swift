import MizzenConfig
import Testing
@testable import MizzenSidecar

/// A workload kind and where its pod template sits.
struct KindCase: Sendable, CustomTestStringConvertible {
    var yaml: String
    var template: String
    var testDescription: String { String(yaml.prefix { $0 != "\n" }) + " " + template }
}

/// An input the injector must leave alone, and why.
struct SkipCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var reason: InjectionNote.SkipReason
    var testDescription: String { name }
}

/// An input the injector must refuse, and where it points.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var kind: InjectionError.Kind
    var document: Int
    var path: String
    var message: String
    var testDescription: String { name }
}

/// Labels in, canonical labels out.
struct CanonicalCase: Sendable, CustomTestStringConvertible {
    var labels: String
    var name: String
    var revision: String
    var testDescription: String { labels }
}

private let podSpec = """
    containers:
    - name: app
      image: app:1
    """

private func indent(_ text: String, _ spaces: Int) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: spaces) + $0 }.joined(separator: "\n")
}

let kindCases: [KindCase] = [
    KindCase(yaml: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n\(indent(podSpec, 2))\n", template: ""),
    KindCase(yaml: "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: rc\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: rs\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
    KindCase(yaml: "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cj\nspec:\n  schedule: \"*/1 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n\(indent(podSpec, 10))\n", template: "spec.jobTemplate.spec.template"),
    KindCase(yaml: "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata:\n  name: dc\nspec:\n  template:\n    spec:\n\(indent(podSpec, 6))\n", template: "spec.template"),
]

let skipCases: [SkipCase] = [
    SkipCase(name: "inject annotation false on the template (Istio's hello-ignore)",
             yaml: helloDeployment(annotations: ["sidecar.istio.io/inject": "false"]),
             reason: .injectionDisabled(where: "spec.template.metadata.annotations[\"sidecar.istio.io/inject\"]")),
    SkipCase(name: "inject label false on the template",
             yaml: helloDeployment(labels: "app: hello\n        sidecar.istio.io/inject: \"false\""),
             reason: .injectionDisabled(where: "spec.template.metadata.labels[\"sidecar.istio.io/inject\"]")),
    SkipCase(name: "inject label false on the Deployment itself", yaml: """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels:
            sidecar.istio.io/inject: "false"
        spec:
          template:
            spec:
        \(indent(podSpec, 6))
        """, reason: .injectionDisabled(where: "metadata.labels[\"sidecar.istio.io/inject\"]")),
    SkipCase(name: "inject annotation false on a CronJob's jobTemplate", yaml: """
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: cj
        spec:
          jobTemplate:
            metadata:
              annotations:
                sidecar.istio.io/inject: "false"
            spec:
              template:
                spec:
        \(indent(podSpec, 10))
        """, reason: .injectionDisabled(where: "spec.jobTemplate.metadata.annotations[\"sidecar.istio.io/inject\"]")),
    SkipCase(name: "host network (Istio's hello-host-network)", yaml: """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: hello-host-network
        spec:
          template:
            spec:
        \(indent(podSpec, 6))
              hostNetwork: true
        """, reason: .hostNetwork),
    SkipCase(name: "already injected", yaml: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          containers:
          - name: app
          - name: istio-proxy
        """, reason: .alreadyInjected),
    SkipCase(name: "native sidecar already injected", yaml: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          initContainers:
          - name: istio-proxy
            restartPolicy: Always
          containers:
          - name: app
        """, reason: .alreadyInjected),
    SkipCase(name: "kube-system", yaml: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          namespace: kube-system
        spec:
        \(indent(podSpec, 2))
        """, reason: .ignoredNamespace("kube-system")),
]

let errorCases: [ErrorCase] = [
    ErrorCase(name: "containers not a sequence", yaml: """
        apiVersion: v1
        kind: Service
        metadata:
          name: svc
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: default
        spec:
          template:
            spec:
              containers:
                name: web
        """, kind: .wrongType, document: 2, path: "spec.template.spec.containers",
              message: "document 2 (Deployment default/web): spec.template.spec.containers: must be a sequence, got a mapping"),
    ErrorCase(name: "template missing", yaml: """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
        """, kind: .missingField, document: 1, path: "spec.template", message: "document 1 (Deployment web): spec.template: is required"),
    ErrorCase(name: "container without a name", yaml: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
        spec:
          containers:
          - image: x
        """, kind: .missingField, document: 1, path: "spec.containers[0].name", message: "document 1 (Pod p): spec.containers[0].name: is required"),
    ErrorCase(name: "label value that is a list", yaml: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          labels:
            app: [a]
        spec:
          containers:
          - name: a
        """, kind: .wrongType, document: 1, path: "metadata.labels.app", message: "document 1 (Pod p): metadata.labels.app: must be a string, got a sequence"),
    ErrorCase(name: "bad includeIPRanges (Istio's traffic-annotations-bad-includeipranges)",
              yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/includeOutboundIPRanges": "bad"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/includeOutboundIPRanges\"]",
              message: "includeIPRanges invalid: failed parsing cidr 'bad'"),
    ErrorCase(name: "bad excludeIPRanges", yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/excludeOutboundIPRanges": "*"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/excludeOutboundIPRanges\"]",
              message: "excludeIPRanges invalid: failed parsing cidr '*'"),
    ErrorCase(name: "bad includeInboundPorts", yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/includeInboundPorts": "bad"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/includeInboundPorts\"]",
              message: "includeInboundPorts invalid: failed parsing port 'bad'"),
    ErrorCase(name: "bad excludeInboundPorts", yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/excludeInboundPorts": "*"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/excludeInboundPorts\"]",
              message: "excludeInboundPorts invalid: failed parsing port '*'"),
    ErrorCase(name: "bad excludeOutboundPorts", yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/excludeOutboundPorts": "bad"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/excludeOutboundPorts\"]",
              message: "excludeOutboundPorts invalid: failed parsing port 'bad'"),
    ErrorCase(name: "bad interception mode", yaml: helloDeployment(annotations: ["sidecar.istio.io/interceptionMode": "MAGIC"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"sidecar.istio.io/interceptionMode\"]",
              message: "interceptionMode invalid, use REDIRECT,TPROXY,NONE: MAGIC"),
    ErrorCase(name: "bad status port", yaml: helloDeployment(annotations: ["status.sidecar.istio.io/port": "70000"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"status.sidecar.istio.io/port\"]", message: "failed parsing port '70000'"),
    ErrorCase(name: "bad interface name", yaml: helloDeployment(annotations: ["traffic.sidecar.istio.io/excludeInterfaces": "eth0,1bad"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"traffic.sidecar.istio.io/excludeInterfaces\"]",
              message: "interface name \"1bad\" contains invalid characters"),
    ErrorCase(name: "bad CPU quantity", yaml: helloDeployment(annotations: ["sidecar.istio.io/proxyCPU": "lots"]),
              kind: .invalidAnnotation, document: 1,
              path: "spec.template.metadata.annotations[\"sidecar.istio.io/proxyCPU\"]", message: "'lots' is not a resource quantity"),
    ErrorCase(name: "YAML syntax in the third document", yaml: "a: 1\n---\nb: 2\n---\nc: [unclosed\n", kind: .syntax, document: 3, path: "", message: ""),
    ErrorCase(name: "duplicate key", yaml: "a: 1\n---\nkind: Pod\nkind: Pod\n", kind: .syntax, document: 2, path: "", message: "duplicate key"),
]

let canonicalCases: [CanonicalCase] = [
    CanonicalCase(labels: "app: hello", name: "hello", revision: "latest"),
    CanonicalCase(labels: "app: hello\n        version: v2", name: "hello", revision: "v2"),
    CanonicalCase(labels: "app.kubernetes.io/name: kname\n        app: hello\n        app.kubernetes.io/version: \"1.2\"\n        version: v2", name: "kname", revision: "1.2"),
    CanonicalCase(labels: "service.istio.io/canonical-name: mine\n        service.istio.io/canonical-revision: r9\n        app: hello", name: "mine", revision: "r9"),
    CanonicalCase(labels: "tier: backend", name: "hello", revision: "latest"),
    CanonicalCase(labels: "app: \"-_.trimmed.-_\"", name: "trimmed", revision: "latest"),
    CanonicalCase(labels: "app: \(String(repeating: "a", count: 62))-b", name: String(repeating: "a", count: 62), revision: "latest"),
]

struct SidecarInjectorTests {
    // MARK: What is added

    @Test func injectsIstiosHelloDeployment() throws {
        let (docs, result) = try inject(helloDeployment())
        #expect(result.notes == [InjectionNote(document: 1, path: .root, object: "Deployment hello", outcome: .injected)])
        let doc = try #require(docs.first)
        let template = "spec.template"
        let labels = try #require(doc.node("\(template).metadata.labels"))
        #expect(labels["security.istio.io/tlsMode"]?.scalarValue == "istio")
        #expect(labels["service.istio.io/canonical-name"]?.scalarValue == "hello")
        #expect(labels["service.istio.io/canonical-revision"]?.scalarValue == "latest")
        #expect(doc.keys("\(template).metadata.labels") == [
            "app", "tier", "track", "security.istio.io/tlsMode", "service.istio.io/canonical-name", "service.istio.io/canonical-revision",
        ])

        let annotations = try #require(doc.node("\(template).metadata.annotations"))
        #expect(annotations["istio.io/rev"]?.scalarValue == "default")
        #expect(annotations["kubectl.kubernetes.io/default-container"]?.scalarValue == "hello")
        #expect(annotations["kubectl.kubernetes.io/default-logs-container"]?.scalarValue == "hello")
        #expect(annotations["prometheus.io/scrape"]?.scalarValue == "true")
        #expect(annotations["prometheus.io/scrape"]?.resolvedKind == .string)
        #expect(annotations["prometheus.io/port"]?.scalarValue == "15090")
        #expect(annotations["prometheus.io/path"]?.scalarValue == "/stats/prometheus")
        #expect(annotations["sidecar.istio.io/status"]?.scalarValue
            == #"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-certs","mizzen-mesh-config"],"imagePullSecrets":null,"revision":"default"}"#)

        let spec = "\(template).spec"
        #expect(doc.names("\(spec).containers") == ["hello", "istio-proxy"])
        #expect(doc.names("\(spec).initContainers") == ["istio-init"])
        #expect(doc.names("\(spec).volumes") == ["workload-certs", "mizzen-mesh-config"])

        let initContainer = "\(spec).initContainers.name=istio-init"
        #expect(doc.string("\(initContainer).image") == "mizzen:latest")
        #expect(doc.strings("\(initContainer).args") == [
            "iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
            "-d", "15090,15021,15020", "--log_output_level=default:info",
        ])
        #expect(doc.string("\(initContainer).securityContext.runAsUser") == "0")
        #expect(doc.string("\(initContainer).securityContext.runAsNonRoot") == "false")
        #expect(doc.string("\(initContainer).securityContext.readOnlyRootFilesystem") == "false")
        #expect(doc.string("\(initContainer).securityContext.allowPrivilegeEscalation") == "false")
        #expect(doc.strings("\(initContainer).securityContext.capabilities.add") == ["NET_ADMIN", "NET_RAW"])
        #expect(doc.strings("\(initContainer).securityContext.capabilities.drop") == ["ALL"])

        let proxy = "\(spec).containers.name=istio-proxy"
        #expect(doc.strings("\(proxy).args") == [
            "sidecar", "--config", "/etc/mizzen/config", "--namespace", "$(POD_NAMESPACE)",
            "--pod-labels", "app=hello,tier=backend,track=stable,security.istio.io/tlsMode=istio,service.istio.io/canonical-name=hello,service.istio.io/canonical-revision=latest",
            "--service-account", "$(SERVICE_ACCOUNT)", "--workload-certs", "/var/run/secrets/workload-spiffe-credentials",
        ])
        #expect(doc.string("\(proxy).ports[0].containerPort") == "15090")
        #expect(doc.string("\(proxy).ports[0].name") == "http-envoy-prom")
        #expect(doc.names("\(proxy).env") == ["POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "SERVICE_ACCOUNT"])
        #expect(doc.string("\(proxy).env.name=SERVICE_ACCOUNT.valueFrom.fieldRef.fieldPath") == "spec.serviceAccountName")
        #expect(doc.string("\(proxy).env.name=INSTANCE_IP.valueFrom.fieldRef.fieldPath") == "status.podIP")
        #expect(doc.string("\(proxy).readinessProbe.httpGet.path") == "/healthz/ready")
        #expect(doc.string("\(proxy).readinessProbe.httpGet.port") == "15021")
        #expect(doc.string("\(proxy).readinessProbe.initialDelaySeconds") == "0")
        #expect(doc.string("\(proxy).readinessProbe.periodSeconds") == "15")
        #expect(doc.string("\(proxy).readinessProbe.timeoutSeconds") == "3")
        #expect(doc.string("\(proxy).readinessProbe.failureThreshold") == "4")
        #expect(doc.string("\(proxy).startupProbe.periodSeconds") == "1")
        #expect(doc.string("\(proxy).startupProbe.failureThreshold") == "600")
        #expect(doc.string("\(proxy).resources.requests.cpu") == "100m")
        #expect(doc.string("\(proxy).resources.requests.memory") == "128Mi")
        #expect(doc.string("\(proxy).resources.limits.cpu") == "2000m")
        #expect(doc.string("\(proxy).resources.limits.memory") == "1024Mi")
        #expect(doc.string("\(proxy).securityContext.runAsUser") == "1337")
        #expect(doc.string("\(proxy).securityContext.runAsGroup") == "1337")
        #expect(doc.string("\(proxy).securityContext.runAsNonRoot") == "true")
        #expect(doc.string("\(proxy).securityContext.readOnlyRootFilesystem") == "true")
        #expect(doc.strings("\(proxy).securityContext.capabilities.drop") == ["ALL"])
        #expect(doc.node("\(proxy).securityContext.capabilities.add") == nil)
        #expect(doc.string("\(proxy).volumeMounts.name=workload-certs.mountPath") == "/var/run/secrets/workload-spiffe-credentials")
        #expect(doc.string("\(proxy).volumeMounts.name=mizzen-mesh-config.mountPath") == "/etc/mizzen/config")
        #expect(doc.string("\(spec).volumes.name=mizzen-mesh-config.configMap.name") == "mizzen-mesh-config")
        #expect(doc.node("\(spec).volumes.name=workload-certs.emptyDir")?.pairs?.isEmpty == true)

        // Everything else is as it was, in the same order.
        #expect(doc.root.pairs?.compactMap(\.key.scalarValue) == ["apiVersion", "kind", "metadata", "spec"])
        #expect(doc.keys("spec") == ["replicas", "selector", "template"])
        #expect(doc.string("spec.replicas") == "7")
        #expect(doc.node("spec.replicas")?.resolvedKind == .integer)
        #expect(doc.string("\(spec).containers.name=hello.image") == "fake.docker.io/google-samples/hello-go-gke:1.0")
    }

    @Test func writesTheExpectedText() throws {
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: web:1
                readinessProbe:
                  httpGet:
                    port: 8080
            """
        var options = InjectionOptions()
        options.image = "registry.example/mizzen:1.0"
        let result = try SidecarInjector(options: options).inject(yaml: yaml, file: "web.yaml")
        #expect(result.output == expectedWebPod)
    }

    @Test(arguments: kindCases)
    func injectsThePodTemplateOfEveryIstioKind(_ testCase: KindCase) throws {
        let (docs, result) = try inject(testCase.yaml)
        #expect(result.notes.map(\.outcome) == [.injected])
        let doc = try #require(docs.first)
        let prefix = testCase.template.isEmpty ? "" : testCase.template + "."
        #expect(doc.names("\(prefix)spec.containers") == ["app", "istio-proxy"])
        #expect(doc.names("\(prefix)spec.initContainers") == ["istio-init"])
        #expect(doc.node("\(prefix)metadata.labels")?["security.istio.io/tlsMode"]?.scalarValue == "istio")
        #expect(doc.node("\(prefix)metadata.annotations")?["sidecar.istio.io/status"] != nil)
    }

    @Test func leavesOtherKindsAndPassesThemThrough() throws {
        let yaml = """
            # a comment that is lost
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              ports:
              - port: 80
                targetPort: "8080"
            ---
            apiVersion: apps/v2
            kind: Deployment
            metadata:
              name: future
            ---
            - not
            - an object
            """
        let (docs, result) = try inject(yaml)
        #expect(result.notes.map(\.outcome) == [.passedThrough, .passedThrough, .passedThrough])
        #expect(result.notes.map(\.object) == ["Service web", "Deployment future", "no Kubernetes kind"])
        #expect(docs.count == 3)
        #expect(docs[0].string("spec.ports[0].targetPort") == "8080")
        #expect(docs[0].node("spec.ports[0].targetPort")?.resolvedKind == .string)
        #expect(result.output.hasPrefix("apiVersion: v1\nkind: Service\n"))
    }

    @Test func injectsEveryDeploymentOfAList() throws {
        let yaml = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: apps/v1
              kind: Deployment
              metadata:
                name: hello-v1
              spec:
                template:
                  metadata:
                    labels: {app: hello, version: v1}
                  spec:
                    containers: [{name: hello, image: h}]
            - apiVersion: v1
              kind: Service
              metadata:
                name: hello
            - apiVersion: apps/v1
              kind: Deployment
              metadata:
                name: hello-v2
              spec:
                template:
                  metadata:
                    labels: {app: hello, version: v2}
                  spec:
                    containers: [{name: hello, image: h}]
            """
        let (docs, result) = try inject(yaml)
        #expect(result.notes.map(\.outcome) == [.injected, .passedThrough, .injected])
        #expect(result.notes.map { "\($0.path)" } == ["items[0]", "items[1]", "items[2]"])
        let doc = try #require(docs.first)
        #expect(doc.node("items[0].spec.template.metadata.labels")?["service.istio.io/canonical-revision"]?.scalarValue == "v1")
        #expect(doc.node("items[2].spec.template.metadata.labels")?["service.istio.io/canonical-revision"]?.scalarValue == "v2")
        #expect(doc.names("items[2].spec.template.spec.containers") == ["hello", "istio-proxy"])
    }

    @Test func keepsDocumentsInOrderAndDropsEmptyOnes() throws {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n" + helloDeployment()
        let (docs, result) = try inject(yaml)
        #expect(docs.count == 2)
        #expect(result.notes.map(\.document) == [1, 3])
        #expect(docs[1].names("spec.template.spec.containers") == ["hello", "istio-proxy"])
    }

    @Test(arguments: skipCases)
    func leavesPodsAloneWhenIstioWould(_ testCase: SkipCase) throws {
        let (_, result) = try inject(testCase.yaml)
        #expect(result.notes.map(\.outcome) == [.skipped(testCase.reason)])
        // Unchanged: the same tree as the input.
        let input = YAMLComposer.compose(Array(testCase.yaml.utf8)).documents.map(\.root)
        let output = YAMLComposer.compose(Array(result.output.utf8)).documents.map(\.root)
        #expect(input.count == output.count && zip(input, output).allSatisfy { sameTree($0, $1) })
    }

    @Test func injectsWhenTheTemplateSaysTrueDespiteTheWorkload() throws {
        let yaml = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              annotations:
                sidecar.istio.io/inject: "false"
            spec:
              template:
                metadata:
                  labels:
                    sidecar.istio.io/inject: "true"
                spec:
            \(indent(podSpec, 6))
            """
        let (_, result) = try inject(yaml)
        #expect(result.notes.map(\.outcome) == [.injected])
    }

    // MARK: Labels and annotations

    @Test(arguments: canonicalCases)
    func setsCanonicalServiceLabelsAsIstio(_ testCase: CanonicalCase) throws {
        let (docs, _) = try inject(helloDeployment(labels: testCase.labels))
        let labels = try #require(docs.first?.node("spec.template.metadata.labels"))
        #expect(labels["service.istio.io/canonical-name"]?.scalarValue == testCase.name)
        #expect(labels["service.istio.io/canonical-revision"]?.scalarValue == testCase.revision)
    }

    @Test func keepsUserDefaultContainerAndTLSMode() throws {
        let yaml = helloDeployment(
            annotations: ["kubectl.kubernetes.io/default-container": "other"],
            labels: "app: hello\n        security.istio.io/tlsMode: disabled")
        let (docs, _) = try inject(yaml)
        let metadata = "spec.template.metadata"
        #expect(docs[0].node("\(metadata).annotations")?["kubectl.kubernetes.io/default-container"]?.scalarValue == "other")
        #expect(docs[0].node("\(metadata).annotations")?["kubectl.kubernetes.io/default-logs-container"]?.scalarValue == "hello")
        #expect(docs[0].node("\(metadata).labels")?["security.istio.io/tlsMode"]?.scalarValue == "disabled")
    }

    @Test func keepsTheAppsOwnPrometheusAnnotations() throws {
        let yaml = helloDeployment(annotations: ["prometheus.io/port": "9100", "prometheus.io/scrape": "true"])
        let (docs, result) = try inject(yaml)
        let annotations = try #require(docs[0].node("spec.template.metadata.annotations"))
        #expect(annotations["prometheus.io/port"]?.scalarValue == "9100")
        #expect(annotations["prometheus.io/path"] == nil)
        #expect(result.notes[0].remarks.contains { $0.contains("prometheus.io") })

        let (off, _) = try inject(helloDeployment(annotations: ["prometheus.io/scrape": "false"]))
        let offAnnotations = try #require(off[0].node("spec.template.metadata.annotations"))
        #expect(offAnnotations["prometheus.io/scrape"]?.scalarValue == "false")
        #expect(offAnnotations["prometheus.io/port"] == nil)
    }

    // MARK: Modes

    @Test func nativeSidecarPutsTheProxyAmongInitContainers() throws {
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              annotations:
                sidecar.istio.io/nativeSidecar: "true"
            spec:
              initContainers:
              - name: init-one
                image: busybox
              containers:
              - name: app
            """
        let (docs, _) = try inject(yaml)
        #expect(docs[0].names("spec.initContainers") == ["istio-init", "istio-proxy", "init-one"])
        #expect(docs[0].names("spec.containers") == ["app"])
        #expect(docs[0].string("spec.initContainers.name=istio-proxy.restartPolicy") == "Always")
        #expect(docs[0].node("metadata.annotations")?["sidecar.istio.io/status"]?.scalarValue?.hasPrefix(
            #"{"initContainers":["istio-init","istio-proxy"],"containers":null,"#) == true)
    }

    @Test func appInitContainersRunBeforeCapture() throws {
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
            spec:
              initContainers:
              - name: init-one
              containers:
              - name: app
            """
        let (docs, _) = try inject(yaml)
        #expect(docs[0].names("spec.initContainers") == ["init-one", "istio-init"])
    }

    @Test func interceptionModeNoneAddsNoInitContainer() throws {
        let (docs, _) = try inject(helloDeployment(annotations: ["sidecar.istio.io/interceptionMode": "NONE"]))
        #expect(docs[0].node("spec.template.spec.initContainers") == nil)
        #expect(docs[0].names("spec.template.spec.containers") == ["hello", "istio-proxy"])
        #expect(docs[0].node("spec.template.metadata.annotations")?["sidecar.istio.io/status"]?.scalarValue?.hasPrefix(
            #"{"initContainers":null,"containers":["istio-proxy"],"#) == true)
    }

    @Test func tproxyRunsTheProxyAsRootWithNetAdmin() throws {
        let (docs, _) = try inject(helloDeployment(annotations: ["sidecar.istio.io/interceptionMode": "TPROXY"]))
        let proxy = "spec.template.spec.containers.name=istio-proxy.securityContext"
        #expect(docs[0].string("\(proxy).runAsUser") == "0")
        #expect(docs[0].string("\(proxy).runAsGroup") == "1337")
        #expect(docs[0].string("\(proxy).runAsNonRoot") == "false")
        #expect(docs[0].strings("\(proxy).capabilities.add") == ["NET_ADMIN"])
        let args = docs[0].strings("spec.template.spec.initContainers.name=istio-init.args") ?? []
        #expect(args.contains("TPROXY"))
    }

    @Test func resourceAnnotationsReplaceTheDefaults() throws {
        // Istio's resource_annotations.yaml, and traffic-annotations.yaml's lone proxyCPU.
        let all = helloDeployment(annotations: [
            "sidecar.istio.io/proxyCPU": "100m", "sidecar.istio.io/proxyCPULimit": "1000m",
            "sidecar.istio.io/proxyMemory": "1Gi", "sidecar.istio.io/proxyMemoryLimit": "2Gi",
        ])
        let (docs, _) = try inject(all)
        for container in ["containers.name=istio-proxy", "initContainers.name=istio-init"] {
            let resources = "spec.template.spec.\(container).resources"
            #expect(docs[0].string("\(resources).requests.cpu") == "100m")
            #expect(docs[0].string("\(resources).requests.memory") == "1Gi")
            #expect(docs[0].string("\(resources).limits.cpu") == "1000m")
            #expect(docs[0].string("\(resources).limits.memory") == "2Gi")
        }
        let (cpuOnly, _) = try inject(helloDeployment(annotations: ["sidecar.istio.io/proxyCPU": "4000m"]))
        let resources = "spec.template.spec.containers.name=istio-proxy.resources"
        #expect(cpuOnly[0].keys(resources) == ["requests"])
        #expect(cpuOnly[0].keys("\(resources).requests") == ["cpu"])
    }

    @Test func statusAnnotationsTuneTheSidecarsProbes() throws {
        // Istio's status_annotations.yaml and status_annotations_zeroport.yaml.
        let tuned = helloDeployment(annotations: [
            "status.sidecar.istio.io/port": "123",
            "readiness.status.sidecar.istio.io/initialDelaySeconds": "100",
            "readiness.status.sidecar.istio.io/periodSeconds": "200",
            "readiness.status.sidecar.istio.io/failureThreshold": "300",
        ])
        let (docs, _) = try inject(tuned)
        let proxy = "spec.template.spec.containers.name=istio-proxy"
        #expect(docs[0].string("\(proxy).readinessProbe.initialDelaySeconds") == "100")
        #expect(docs[0].string("\(proxy).readinessProbe.periodSeconds") == "200")
        #expect(docs[0].string("\(proxy).readinessProbe.failureThreshold") == "300")
        let args = docs[0].strings("spec.template.spec.initContainers.name=istio-init.args") ?? []
        #expect(args.split(separator: "-d").last?.first == "15090,15021,123")

        let (zero, _) = try inject(helloDeployment(annotations: ["status.sidecar.istio.io/port": "0"]))
        #expect(zero[0].node("\(proxy).readinessProbe") == nil)
        #expect(zero[0].node("\(proxy).startupProbe") == nil)
        let zeroArgs = zero[0].strings("spec.template.spec.initContainers.name=istio-init.args") ?? []
        #expect(zeroArgs.split(separator: "-d").last?.first == "15090,15021")
    }

    @Test func proxyImageAnnotationAndOptionsChooseTheImage() throws {
        var options = InjectionOptions()
        options.image = "example.com/mizzen:2"
        let (docs, _) = try inject(helloDeployment(), options: options)
        #expect(docs[0].string("spec.template.spec.containers.name=istio-proxy.image") == "example.com/mizzen:2")
        let (annotated, _) = try inject(helloDeployment(annotations: ["sidecar.istio.io/proxyImage": "other/mizzen:3"]), options: options)
        #expect(annotated[0].string("spec.template.spec.initContainers.name=istio-init.image") == "other/mizzen:3")
    }

    // MARK: Errors

    @Test(arguments: errorCases)
    func refusesMalformedInputNamingDocumentAndField(_ testCase: ErrorCase) throws {
        let error = try #require(injectionError(testCase.yaml))
        #expect(error.kind == testCase.kind)
        #expect(error.document == testCase.document)
        #expect("\(error.path)" == testCase.path)
        #expect("\(error)".contains(testCase.message), "\(error)")
        #expect("\(error)".hasPrefix("test.yaml:"))
        if testCase.kind != .syntax { #expect(error.mark != nil) }
    }

    @Test func errorDescriptionNamesFilePositionDocumentAndField() throws {
        let error = try #require(injectionError(errorCases[0].yaml))
        #expect("\(error)" == "test.yaml:15:9: document 2 (Deployment default/web): spec.template.spec.containers: must be a sequence, got a mapping")
    }
}

/// `writesTheExpectedText`'s pod after injection, as a reviewer would read it.
private let expectedWebPod = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
      labels:
        app: web
        security.istio.io/tlsMode: istio
        service.istio.io/canonical-name: web
        service.istio.io/canonical-revision: latest
      annotations:
        istio.io/rev: default
        kubectl.kubernetes.io/default-logs-container: web
        kubectl.kubernetes.io/default-container: web
        prometheus.io/scrape: 'true'
        prometheus.io/port: '15090'
        prometheus.io/path: /stats/prometheus
        sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-certs","mizzen-mesh-config"],"imagePullSecrets":null,"revision":"default"}'
    spec:
      containers:
      - name: web
        image: web:1
        readinessProbe:
          httpGet:
            path: /app-health/web/readyz
            port: 15020
      - name: istio-proxy
        image: registry.example/mizzen:1.0
        args:
        - sidecar
        - --config
        - /etc/mizzen/config
        - --namespace
        - $(POD_NAMESPACE)
        - --pod-labels
        - app=web,security.istio.io/tlsMode=istio,service.istio.io/canonical-name=web,service.istio.io/canonical-revision=latest
        - --service-account
        - $(SERVICE_ACCOUNT)
        - --workload-certs
        - /var/run/secrets/workload-spiffe-credentials
        ports:
        - containerPort: 15090
          protocol: TCP
          name: http-envoy-prom
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: INSTANCE_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        - name: SERVICE_ACCOUNT
          valueFrom:
            fieldRef:
              fieldPath: spec.serviceAccountName
        - name: ISTIO_KUBE_APP_PROBERS
          value: '{"/app-health/web/readyz":{"httpGet":{"port":8080}}}'
        startupProbe:
          httpGet:
            path: /healthz/ready
            port: 15021
          initialDelaySeconds: 0
          periodSeconds: 1
          timeoutSeconds: 3
          failureThreshold: 600
        readinessProbe:
          httpGet:
            path: /healthz/ready
            port: 15021
          initialDelaySeconds: 0
          periodSeconds: 15
          timeoutSeconds: 3
          failureThreshold: 4
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            cpu: 2000m
            memory: 1024Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          privileged: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          runAsUser: 1337
          runAsGroup: 1337
        volumeMounts:
        - name: workload-certs
          mountPath: /var/run/secrets/workload-spiffe-credentials
        - name: mizzen-mesh-config
          mountPath: /etc/mizzen/config
          readOnly: true
      initContainers:
      - name: istio-init
        image: registry.example/mizzen:1.0
        args:
        - iptables
        - -p
        - '15001'
        - -z
        - '15006'
        - -u
        - '1337'
        - -m
        - REDIRECT
        - -i
        - '*'
        - -x
        - ''
        - -b
        - '*'
        - -d
        - 15090,15021,15020
        - --log_output_level=default:info
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
          limits:
            cpu: 2000m
            memory: 1024Mi
        securityContext:
          allowPrivilegeEscalation: false
          privileged: false
          capabilities:
            add:
            - NET_ADMIN
            - NET_RAW
            drop:
            - ALL
          readOnlyRootFilesystem: false
          runAsGroup: 0
          runAsNonRoot: false
          runAsUser: 0
      volumes:
      - name: workload-certs
        emptyDir: {}
      - name: mizzen-mesh-config
        configMap:
          name: mizzen-mesh-config

    """
