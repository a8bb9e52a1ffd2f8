import Foundation
import Testing

/// `mizzen inject` through the binary: its output read back by PyYAML (a YAML parser of its own),
/// compared with the input document by document.
struct InjectCommandTests {
    static let manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
        spec:
          selector: {matchLabels: {app: reviews, version: v1}}
          template:
            metadata:
              labels: {app: reviews, version: v1}
              annotations: {traffic.sidecar.istio.io/excludeOutboundPorts: "5432", note: "yes"}
            spec:
              containers:
              - name: reviews
                image: example/reviews:1
                ports: [{containerPort: 9080, name: http}]
                env: [{name: ENABLED, value: "true"}, {name: COUNT, value: "007"}, {name: EMPTY, value: ""}]
                livenessProbe: {tcpSocket: {port: http}}
                readinessProbe: {httpGet: {path: /health, port: 9080}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: reviews}
        spec: {ports: [{port: 9080, name: http}], selector: {app: reviews}}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly}
        spec:
          schedule: "0 3 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: job, image: busybox, args: ["sh", "-c", "echo: done # not a comment"]}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: opted-out}
        spec:
          selector: {matchLabels: {app: x}}
          template:
            metadata: {labels: {app: x, sidecar.istio.io/inject: "false"}}
            spec: {containers: [{name: c, image: busybox}]}
        """

    static let checker = """
        import json, sys, yaml
        before = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
        after = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d is not None]
        report = {"count": [len(before), len(after)]}
        report["service_unchanged"] = before[1] == after[1]
        report["opted_out_unchanged"] = before[3] == after[3]
        pod = after[0]["spec"]["template"]
        report["containers"] = [c["name"] for c in pod["spec"]["containers"]]
        report["init"] = [c["name"] for c in pod["spec"].get("initContainers", [])]
        report["init_args"] = pod["spec"]["initContainers"][0]["args"]
        report["labels"] = pod["metadata"]["labels"]
        report["annotations_kept"] = pod["metadata"]["annotations"]["note"] == "yes"
        app = pod["spec"]["containers"][0]
        report["env_kept"] = app["env"] == before[0]["spec"]["template"]["spec"]["containers"][0]["env"]
        report["readiness"] = app["readinessProbe"]["httpGet"]
        report["liveness"] = app["livenessProbe"]["httpGet"]
        proxy = pod["spec"]["containers"][1]
        report["proxy_user"] = proxy["securityContext"]["runAsUser"]
        report["probers"] = json.loads([e["value"] for e in proxy["env"] if e["name"] == "ISTIO_KUBE_APP_PROBERS"][0])
        job = after[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        report["job_containers"] = [c["name"] for c in job["containers"]]
        report["job_args"] = job["containers"][0]["args"]
        print(json.dumps(report))
        """

    @Test func injectsPodTemplatesAndLeavesTheRestAsItWas() throws {
        let input = try ValidateCommandTests.temporaryFile("app.yaml", Self.manifest)
        let run = try ValidateCommandTests.run(["inject", "-f", input.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("document 1 (Deployment default/reviews-v1): injected"), "\(run.stderr)")
        #expect(run.stderr.contains("document 4 (Deployment opted-out): skipped"), "\(run.stderr)")
        let output = input.deletingLastPathComponent().appendingPathComponent("injected.yaml")
        try run.stdout.write(to: output, atomically: true, encoding: .utf8)
        let checked = try Harness.run("python3", ["-c", Self.checker, input.path, output.path])
        #expect(checked.status == 0, "\(checked.stderr)\n\(run.stdout)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [String: Any], "\(checked.stdout)")
        #expect(report["count"] as? [Int] == [4, 4])
        #expect(report["service_unchanged"] as? Bool == true)
        #expect(report["opted_out_unchanged"] as? Bool == true)
        #expect(report["containers"] as? [String] == ["reviews", "istio-proxy"])
        #expect(report["init"] as? [String] == ["istio-init"])
        #expect(report["init_args"] as? [String] == ["iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
                                                     "-d", "15090,15021,15020", "-o", "5432", "--log_output_level=default:info"],
                "\(report["init_args"] ?? "")")
        let labels = report["labels"] as? [String: String] ?? [:]
        #expect(labels["security.istio.io/tlsMode"] == "istio" && labels["service.istio.io/canonical-name"] == "reviews")
        #expect(report["annotations_kept"] as? Bool == true)
        #expect(report["env_kept"] as? Bool == true, "strings that look like other types stay strings")
        #expect((report["readiness"] as? [String: Any])?["path"] as? String == "/app-health/reviews/readyz")
        #expect((report["liveness"] as? [String: Any])?["port"] as? Int == 15020)
        #expect(report["proxy_user"] as? Int == 1337)
        let probers = report["probers"] as? [String: Any] ?? [:]
        #expect(((probers["/app-health/reviews/livez"] as? [String: Any])?["tcpSocket"] as? [String: Any])?["port"] as? Int == 9080, "the named port resolved")
        #expect(report["job_containers"] as? [String] == ["job", "istio-proxy"])
        #expect(report["job_args"] as? [String] == ["sh", "-c", "echo: done # not a comment"])

        // The init container's arguments are ones `mizzen iptables` takes.
        let args = (report["init_args"] as? [String] ?? []).dropFirst()
        let dryRun = try ValidateCommandTests.run(["iptables"] + args + ["--dry-run"])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout.contains("-A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN"), "\(dryRun.stdout)")
    }

    @Test func aBrokenManifestIsRefusedWithItsPlace() throws {
        let input = try ValidateCommandTests.temporaryFile("broken.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                spec:
                  containers: {name: web}
            """)
        let run = try ValidateCommandTests.run(["inject", "-f", input.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("document 1 (Deployment") && run.stderr.contains("spec.template.spec.containers"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }
}
