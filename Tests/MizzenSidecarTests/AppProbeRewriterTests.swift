import MizzenConfig
import Testing
@testable import MizzenSidecar

/// A pod spec with app probes, the `ISTIO_KUBE_APP_PROBERS` Istio records for it, and fields of
/// the rewritten pod.
struct ProbeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var annotations: String = ""
    var spec: String
    var probers: String?
    /// Paths under the pod (`spec.containers.name=hello.readinessProbe.httpGet.path`) and their values;
    /// nil means the field must be absent.
    var fields: [(String, String?)] = []
    var testDescription: String { name }
}

private func pod(_ testCase: ProbeCase) -> String {
    var text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n"
    if !testCase.annotations.isEmpty { text += "  annotations:\n    \(testCase.annotations)\n" }
    return text + "spec:\n" + testCase.spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
}

let probeCases: [ProbeCase] = [
    // istio:pkg/kube/inject/testdata/inject/hello-probes.yaml(.injected)
    ProbeCase(name: "http probes, named ports and lifecycle hooks", spec: """
        containers:
          - name: hello
            ports:
              - name: http
                containerPort: 80
            livenessProbe:
              httpGet:
                port: http
            readinessProbe:
              httpGet:
                port: 3333
            lifecycle:
              preStop:
                httpGet:
                  port: 91
              postStart:
                tcpSocket:
                  port: 93
          - name: world
            ports:
              - name: http
                containerPort: 90
            livenessProbe:
              httpGet:
                port: http
            readinessProbe:
              exec:
                command: [cat, /tmp/healthy]
        """,
        probers: #"{"/app-health/hello/livez":{"httpGet":{"port":80}},"/app-health/hello/readyz":{"httpGet":{"port":3333}},"/app-health/world/livez":{"httpGet":{"port":90}},"/app-lifecycle/hello/poststartz":{"tcpSocket":{"port":93}},"/app-lifecycle/hello/prestopz":{"httpGet":{"port":91}}}"#,
        fields: [
            ("spec.containers.name=hello.livenessProbe.httpGet.path", "/app-health/hello/livez"),
            ("spec.containers.name=hello.livenessProbe.httpGet.port", "15020"),
            ("spec.containers.name=hello.readinessProbe.httpGet.path", "/app-health/hello/readyz"),
            ("spec.containers.name=hello.lifecycle.preStop.httpGet.path", "/app-lifecycle/hello/prestopz"),
            ("spec.containers.name=hello.lifecycle.postStart.httpGet.path", "/app-lifecycle/hello/poststartz"),
            ("spec.containers.name=hello.lifecycle.postStart.httpGet.port", "15020"),
            ("spec.containers.name=hello.lifecycle.postStart.tcpSocket", nil),
            ("spec.containers.name=world.livenessProbe.httpGet.path", "/app-health/world/livez"),
            ("spec.containers.name=world.readinessProbe.exec.command", ""),
        ]),
    // tcp-probes.yaml(.injected)
    ProbeCase(name: "tcp probes", spec: """
        containers:
          - name: hello
            ports:
              - name: http
                containerPort: 80
            livenessProbe:
              tcpSocket:
                port: http
            readinessProbe:
              tcpSocket:
                port: 3333
        """,
        probers: #"{"/app-health/hello/livez":{"tcpSocket":{"port":80}},"/app-health/hello/readyz":{"tcpSocket":{"port":3333}}}"#,
        fields: [
            ("spec.containers.name=hello.readinessProbe.httpGet.path", "/app-health/hello/readyz"),
            ("spec.containers.name=hello.readinessProbe.tcpSocket", nil),
        ]),
    // https-probes.yaml(.injected)
    ProbeCase(name: "https probe is probed over HTTP by the kubelet", spec: """
        containers:
          - name: hello
            readinessProbe:
              httpGet:
                port: 3333
                scheme: HTTPS
        """,
        probers: #"{"/app-health/hello/readyz":{"httpGet":{"port":3333,"scheme":"HTTPS"}}}"#,
        fields: [("spec.containers.name=hello.readinessProbe.httpGet.scheme", "HTTP")]),
    // ready_only.yaml(.injected): a path, and the probe's other fields kept.
    ProbeCase(name: "path and timings", spec: """
        containers:
          - name: hello
            readinessProbe:
              httpGet:
                path: /ip
                port: 8000
              initialDelaySeconds: 5
              periodSeconds: 7
        """,
        probers: #"{"/app-health/hello/readyz":{"httpGet":{"path":"/ip","port":8000}}}"#,
        fields: [("spec.containers.name=hello.readinessProbe.periodSeconds", "7"), ("spec.containers.name=hello.readinessProbe.initialDelaySeconds", "5")]),
    // app_probe_test.go TestDumpAppGRPCProbers
    ProbeCase(name: "grpc probe without a service", spec: """
        containers:
          - name: foo
            livenessProbe:
              grpc:
                port: 1234
        """,
        probers: #"{"/app-health/foo/livez":{"grpc":{"port":1234,"service":null}}}"#,
        fields: [("spec.containers.name=foo.livenessProbe.grpc", nil), ("spec.containers.name=foo.livenessProbe.httpGet.path", "/app-health/foo/livez")]),
    ProbeCase(name: "grpc startup probe with service and timeout, http hook with host", spec: """
        containers:
          - name: foo
            startupProbe:
              grpc:
                port: 1234
                service: foo
              timeoutSeconds: 10
            lifecycle:
              preStop:
                httpGet:
                  path: /foo
                  port: 1234
                  host: foo
                  scheme: HTTP
        """,
        probers: #"{"/app-health/foo/startupz":{"grpc":{"port":1234,"service":"foo"},"timeoutSeconds":10},"/app-lifecycle/foo/prestopz":{"httpGet":{"path":"/foo","port":1234,"host":"foo","scheme":"HTTP"}}}"#,
        fields: [("spec.containers.name=foo.startupProbe.timeoutSeconds", "10"), ("spec.containers.name=foo.lifecycle.preStop.httpGet.host", "foo")]),
    ProbeCase(name: "headers, and JSON escaped as Go escapes it", spec: """
        containers:
          - name: web
            livenessProbe:
              httpGet:
                path: /health?a=1&b=<2>
                port: 8080
                httpHeaders:
                  - name: X-Custom
                    value: "say \\"hi\\""
        """,
        probers: #"{"/app-health/web/livez":{"httpGet":{"path":"/health?a=1\u0026b=\u003c2\u003e","port":8080,"httpHeaders":[{"name":"X-Custom","value":"say \"hi\""}]}}}"#,
        fields: [("spec.containers.name=web.livenessProbe.httpGet.httpHeaders.name=X-Custom.value", "say \"hi\"")]),
    ProbeCase(name: "init containers are rewritten too, and listed first", spec: """
        initContainers:
          - name: setup
            startupProbe:
              tcpSocket:
                port: 5000
        containers:
          - name: app
            readinessProbe:
              httpGet:
                port: 80
        """,
        probers: #"{"/app-health/app/readyz":{"httpGet":{"port":80}},"/app-health/setup/startupz":{"tcpSocket":{"port":5000}}}"#,
        fields: [("spec.initContainers.name=setup.startupProbe.httpGet.path", "/app-health/setup/startupz")]),
    ProbeCase(name: "an undeclared port name is rewritten but not recorded", spec: """
        containers:
          - name: app
            livenessProbe:
              httpGet:
                port: admin
            readinessProbe:
              httpGet:
                port: 80
        """,
        probers: #"{"/app-health/app/readyz":{"httpGet":{"port":80}}}"#,
        fields: [("spec.containers.name=app.livenessProbe.httpGet.path", "/app-health/app/livez")]),
    ProbeCase(name: "a probe already on the status port is not recorded", spec: """
        containers:
          - name: app
            readinessProbe:
              httpGet:
                path: /app-health/app/readyz
                port: 15020
        """,
        probers: nil,
        fields: [("spec.containers.name=app.readinessProbe.httpGet.path", "/app-health/app/readyz")]),
    // hello-probes-with-flag-unset-in-annotation.yaml
    ProbeCase(name: "rewrite turned off by annotation", annotations: "sidecar.istio.io/rewriteAppHTTPProbers: \"false\"", spec: """
        containers:
          - name: app
            readinessProbe:
              httpGet:
                port: 80
        """,
        probers: nil,
        fields: [("spec.containers.name=app.readinessProbe.httpGet.port", "80"), ("spec.containers.name=app.readinessProbe.httpGet.path", nil)]),
    ProbeCase(name: "status port annotation moves the rewritten probes", annotations: "status.sidecar.istio.io/port: \"15999\"", spec: """
        containers:
          - name: app
            readinessProbe:
              httpGet:
                port: 80
        """,
        probers: #"{"/app-health/app/readyz":{"httpGet":{"port":80}}}"#,
        fields: [("spec.containers.name=app.readinessProbe.httpGet.port", "15999")]),
]

struct AppProbeRewriterTests {
    @Test(arguments: probeCases)
    func rewritesAppProbesAndRecordsTheOriginals(_ testCase: ProbeCase) throws {
        let (docs, _) = try inject(pod(testCase))
        let doc = try #require(docs.first)
        #expect(doc.environment("spec.containers.name=istio-proxy", "ISTIO_KUBE_APP_PROBERS") == testCase.probers)
        for (path, value) in testCase.fields {
            if let value {
                if value.isEmpty {
                    #expect(doc.node(path) != nil, "\(path)")
                } else {
                    #expect(doc.string(path) == value, "\(path)")
                }
            } else {
                #expect(doc.node(path) == nil, "\(path)")
            }
        }
    }

    @Test func remarksOnAPortNameNoContainerPortDeclares() throws {
        let testCase = probeCases.first { $0.name.hasPrefix("an undeclared port name") }!
        let (_, result) = try inject(pod(testCase))
        #expect(result.notes[0].remarks == [
            "spec.containers[0].livenessProbe names port \"admin\", which the container does not declare; the sidecar will answer it with 400",
        ])
    }

    @Test func probeWithoutAPortIsAnError() throws {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    readinessProbe:\n      httpGet:\n        path: /x\n"
        let error = try #require(injectionError(yaml))
        #expect(error.kind == .missingField)
        #expect("\(error.path)" == "spec.containers[0].readinessProbe.httpGet.port")
    }
}
