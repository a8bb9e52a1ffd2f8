import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen injector` through the built binary, called as the API server calls it: HTTPS verified
/// against the test CA, AdmissionReviews of the pods Bookinfo's ReplicaSets create, the answer's
/// patch applied by Python's `jsonpatch` (PyPI jsonpatch, not our code) and compared with what
/// `mizzen inject` makes of the same pod.
struct InjectorWebhookTests {
    /// The DNS name the API server verifies (`istiod.istio-system.svc`, the Service the webhook
    /// configuration names).
    static let serviceName = "istiod.istio-system.svc"

    /// Bookinfo's Deployments: Istio's `samples/bookinfo/platform/kube/bookinfo.yaml` from the
    /// corpus beside the repository when it is there, else two of them copied here (Apache 2.0,
    /// Copyright Istio Authors).
    static var bookinfoManifest: String {
        let corpus = Harness.packageRoot.appendingPathComponent("../shared/corpus/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml")
        if let text = try? String(contentsOf: corpus, encoding: .utf8) { return text }
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: reviews-v1, labels: {app: reviews, version: v1}}
            spec:
              replicas: 1
              selector: {matchLabels: {app: reviews, version: v1}}
              template:
                metadata: {labels: {app: reviews, version: v1}}
                spec:
                  serviceAccountName: bookinfo-reviews
                  containers:
                  - name: reviews
                    image: registry.istio.io/release/examples-bookinfo-reviews-v1:1.20.3
                    imagePullPolicy: IfNotPresent
                    env: [{name: LOG_DIR, value: "/tmp/logs"}]
                    ports: [{containerPort: 9080}]
                    volumeMounts: [{name: tmp, mountPath: /tmp}, {name: wlp-output, mountPath: /opt/ibm/wlp/output}]
                  volumes: [{name: wlp-output, emptyDir: {}}, {name: tmp, emptyDir: {}}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: productpage-v1, labels: {app: productpage, version: v1}}
            spec:
              replicas: 1
              selector: {matchLabels: {app: productpage, version: v1}}
              template:
                metadata:
                  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9080", prometheus.io/path: "/metrics"}
                  labels: {app: productpage, version: v1}
                spec:
                  serviceAccountName: bookinfo-productpage
                  containers:
                  - name: productpage
                    image: registry.istio.io/release/examples-bookinfo-productpage-v1:1.20.3
                    imagePullPolicy: IfNotPresent
                    ports: [{containerPort: 9080}]
                    volumeMounts: [{name: tmp, mountPath: /tmp}]
                  volumes: [{name: tmp, emptyDir: {}}]
            """
    }

    /// Makes the pods, calls the webhook, applies and compares; prints a JSON report.
    static let client = #"""
        import base64, copy, hashlib, http.client, json, ssl, subprocess, sys, uuid
        import jsonpatch, yaml

        port, cafile, mizzen, workdir, manifest = sys.argv[1:6]
        context = ssl.create_default_context(cafile=cafile)  # the chain and 127.0.0.1 (an IP SAN) verified

        def call(body, path="/inject", method="POST", content_type="application/json"):
            connection = http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=60)
            headers = {"Content-Type": content_type} if content_type else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            result = {"status": response.status, "content_type": response.getheader("Content-Type"), "data": data}
            connection.close()
            return result

        def review(pod, uid, namespace="default"):
            kind = {"group": "", "version": "v1", "kind": "Pod"}
            resource = {"group": "", "version": "v1", "resource": "pods"}
            return json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {
                "uid": uid, "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
                "namespace": namespace, "operation": "CREATE",
                "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                             "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
                "object": pod, "oldObject": None, "dryRun": False,
                "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}})

        def template_hash(template):
            # The ReplicaSet controller's fnv hash, safe-encoded (k8s.io/apimachinery rand.SafeEncodeString).
            digest = hashlib.sha1(json.dumps(template, sort_keys=True).encode()).digest()
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            return "".join(alphabet[b % len(alphabet)] for b in digest[:10])

        def pod_of(deployment):
            """The pod the Deployment's ReplicaSet creates, as admission sees it: the API server's
            defaults filled in and the service account token volume added (ServiceAccount admission)."""
            template = copy.deepcopy(deployment["spec"]["template"])
            pod_hash = template_hash(template)
            replica_set = deployment["metadata"]["name"] + "-" + pod_hash
            source = template.get("metadata") or {}
            metadata = {"generateName": replica_set + "-", "creationTimestamp": None,
                        "labels": dict(source.get("labels") or {}, **{"pod-template-hash": pod_hash})}
            if source.get("annotations"):
                metadata["annotations"] = dict(source["annotations"])
            metadata["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                                            "uid": str(uuid.uuid4()), "controller": True, "blockOwnerDeletion": True}]
            spec = template["spec"]
            token = "kube-api-access-" + pod_hash[:5]
            spec.setdefault("volumes", []).append({"name": token, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
            for container in spec["containers"]:
                for port in container.get("ports", []):
                    port.setdefault("protocol", "TCP")
                container.setdefault("resources", {})
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("terminationMessagePolicy", "File")
                container.setdefault("imagePullPolicy", "IfNotPresent")
                container.setdefault("volumeMounts", []).append(
                    {"name": token, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
            spec.setdefault("serviceAccountName", "default")
            spec["serviceAccount"] = spec["serviceAccountName"]
            spec.update({"restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                         "securityContext": spec.get("securityContext", {}), "schedulerName": "default-scheduler",
                         "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
                         "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                                         {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]})
            return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": {}}

        def offline(pod, name):
            path = "%s/%s.json" % (workdir, name)
            with open(path, "w") as out:
                json.dump(pod, out)
            run = subprocess.run([mizzen, "inject", "-f", path], capture_output=True, text=True, timeout=60)
            if run.returncode != 0:
                raise SystemExit("mizzen inject failed: " + run.stderr)
            return yaml.safe_load(run.stdout)

        def response_of(result):
            answer = json.loads(result["data"])
            return answer, answer.get("response", {})

        report = {"pods": {}}
        deployments = [d for d in yaml.safe_load_all(open(manifest)) if d and d.get("kind") == "Deployment"]
        pods = {d["metadata"]["name"]: pod_of(d) for d in deployments}
        first = sorted(pods)[0]
        # Probes rewritten to the sidecar's port, and native sidecars in front of an init container.
        probed = copy.deepcopy(pods[first])
        probed["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/health", "port": 9080, "scheme": "HTTP"},
                                                             "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}
        probed["spec"]["containers"][0]["livenessProbe"] = {"tcpSocket": {"port": 9080}, "periodSeconds": 10, "timeoutSeconds": 1,
                                                            "successThreshold": 1, "failureThreshold": 3}
        pods["probed"] = probed
        native = copy.deepcopy(pods[first])
        native["metadata"].setdefault("annotations", {})["sidecar.istio.io/nativeSidecar"] = "true"
        native["spec"]["initContainers"] = [{"name": "setup", "image": "busybox", "args": ["true"], "resources": {},
                                             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                                             "imagePullPolicy": "Always"}]
        pods["native"] = native

        for name, pod in sorted(pods.items()):
            uid = str(uuid.uuid4())
            result = call(review(pod, uid))
            entry = {"status": result["status"], "content_type": result["content_type"]}
            answer, response = response_of(result)
            entry["review"] = [answer.get("apiVersion"), answer.get("kind")]
            entry["uid_matches"] = response.get("uid") == uid
            entry["allowed"] = response.get("allowed")
            entry["patch_type"] = response.get("patchType")
            patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
            entry["operations"] = len(patch)
            patched = jsonpatch.apply_patch(pod, patch)
            expected = offline(pod, name)
            entry["equal"] = patched == expected
            if patched != expected:
                entry["difference"] = jsonpatch.make_patch(expected, patched).patch
            entry["containers"] = [c["name"] for c in patched["spec"]["containers"]]
            entry["init"] = [c["name"] for c in patched["spec"].get("initContainers", [])]
            entry["namespace_added"] = "namespace" in patched["metadata"]
            entry["canonical_name"] = patched["metadata"]["labels"].get("service.istio.io/canonical-name")
            entry["paths"] = sorted({op["path"] for op in patch})
            report["pods"][name] = entry

        opted_out = copy.deepcopy(pods[first])
        opted_out["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
        result = call(review(opted_out, "opt-out-1"))
        report["opted_out"] = {"status": result["status"], "response": response_of(result)[1]}

        result = call(b"{not json")
        report["malformed"] = {"status": result["status"], "response": response_of(result)[1]}

        huge = copy.deepcopy(pods[first])
        huge["metadata"]["annotations"] = {"filler": "x" * (4 << 20)}
        result = call(review(huge, "huge-1"))
        report["oversized"] = {"status": result["status"], "response": response_of(result)[1]}

        result = call(review(pods[first], "multicluster-1"), path="/inject/cluster/cluster-2/net/network-2")
        report["path_parameters"] = {"status": result["status"], "has_patch": "patch" in response_of(result)[1]}

        report["routes"] = {
            "get_inject": call(None, method="GET", content_type=None)["status"],
            "wrong_path": call(review(pods[first], "x"), path="/mutate")["status"],
            "text_plain": call(review(pods[first], "x"), content_type="text/plain")["status"],
            "charset": call(review(pods[first], "x"), content_type="application/json; charset=utf-8")["status"],
            "ready": call(None, path="/healthz/ready", method="GET", content_type=None)["status"],
        }
        print(json.dumps(report))
        """#

    /// Prints the serial number of the certificate served, verified against `cafile` for the service name.
    static let serialProbe = #"""
        import socket, ssl, sys
        context = ssl.create_default_context(cafile=sys.argv[2])
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=sys.argv[3]) as tls:
                print(tls.getpeercert()["serialNumber"])
        """#

    /// A key and a certificate for the service name and 127.0.0.1, signed by the test CA, with
    /// this serial (hex), written to `directory`/tls.key and tls.crt.
    static func makeCertificate(in directory: URL, serial: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ca = Harness.certificates
        let script = """
            set -e
            cd '\(directory.path)'
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key
            openssl req -new -key tls.key -subj '/O=Mizzen Tests/CN=\(serviceName)' -config /dev/null -out tls.csr
            printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:\(serviceName),DNS:istiod.istio-system.svc.cluster.local,IP:127.0.0.1\\n' > tls.ext
            openssl x509 -req -in tls.csr -CA '\(ca.path)/ca.crt' -CAkey '\(ca.path)/ca.key' -set_serial 0x\(serial) -days 2 -sha256 -extfile tls.ext -out tls.crt
            rm -f tls.csr tls.ext
            """
        let made = try Harness.run("/bin/bash", ["-c", script], timeout: 30)
        guard made.status == 0 else { throw HarnessError("openssl: \(made.stderr)") }
    }

    /// `mizzen injector` on a free loopback port with the certificate files given.
    final class InjectorProcess: @unchecked Sendable {
        let background: BackgroundProcess
        let port: Int

        init(certificate: String, key: String, arguments: [String] = []) throws {
            background = try BackgroundProcess(ValidateCommandTests.binary.path,
                                               ["injector", "--port", "0", "--bind", "127.0.0.1", "--tls-cert", certificate, "--tls-key", key,
                                                "--drain-duration", "0"] + arguments)
            var port = 0
            _ = background.waitFor(timeout: 30) { text in
                guard let range = text.range(of: "listening on 127.0.0.1:") else { return false }
                port = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
                return port > 0
            }
            guard port > 0 else { throw HarnessError("injector did not start: \(background.errors)") }
            self.port = port
        }

        /// The served certificate's serial, the handshake verified; nil when it fails.
        func servedSerial() throws -> String? {
            let probe = try Harness.run("python3", ["-c", InjectorWebhookTests.serialProbe, String(port),
                                                    Harness.certificates.appendingPathComponent("ca.crt").path, InjectorWebhookTests.serviceName],
                                        timeout: 20)
            return probe.status == 0 ? probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }

        /// Polls until the served serial is `serial` (or the deadline passes).
        func waitForSerial(_ serial: String, timeout: Double = 15) throws -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if try servedSerial() == serial { return true }
                usleep(100_000)
            }
            return false
        }

        func signal(_ number: Int32) { kill(background.process.processIdentifier, number) }

        deinit { background.stop() }
    }

    @Test func bookinfoPodsGetThePatchOfWhatMizzenInjectAdds() throws {
        let directory = try Harness.temporaryDirectory("injector")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.makeCertificate(in: directory, serial: "1001")
        let manifest = directory.appendingPathComponent("bookinfo.yaml")
        try Self.bookinfoManifest.write(to: manifest, atomically: true, encoding: .utf8)
        let injector = try InjectorProcess(certificate: directory.appendingPathComponent("tls.crt").path,
                                           key: directory.appendingPathComponent("tls.key").path)

        let checked = try Harness.run("python3", ["-c", Self.client, String(injector.port), Harness.certificates.appendingPathComponent("ca.crt").path,
                                                  ValidateCommandTests.binary.path, directory.path, manifest.path], timeout: 180)
        #expect(checked.status == 0, "\(checked.stderr)\n\(injector.background.errors)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [String: Any], "\(checked.stdout)")

        let pods = report["pods"] as? [String: [String: Any]] ?? [:]
        #expect(pods.count >= 4, "\(pods.keys)")
        #expect(pods["reviews-v1"] != nil && pods["productpage-v1"] != nil)
        for (name, pod) in pods {
            #expect(pod["status"] as? Int == 200, "\(name)")
            #expect(pod["content_type"] as? String == "application/json", "\(name)")
            #expect(pod["review"] as? [String] == ["admission.k8s.io/v1", "AdmissionReview"], "\(name)")
            #expect(pod["uid_matches"] as? Bool == true, "\(name)")
            #expect(pod["allowed"] as? Bool == true, "\(name)")
            #expect(pod["patch_type"] as? String == "JSONPatch", "\(name)")
            #expect(pod["equal"] as? Bool == true, "\(name): patched pod and mizzen inject differ by \(pod["difference"] ?? "")")
            #expect(pod["namespace_added"] as? Bool == false, "\(name): the API server sets the namespace")
            let paths = pod["paths"] as? [String] ?? []
            #expect(!paths.contains("/spec/containers") && !paths.contains("/spec/volumes"), "\(name): lists appended to, not replaced: \(paths)")
        }
        let reviews = pods["reviews-v1"] ?? [:]
        #expect(reviews["containers"] as? [String] == ["reviews", "istio-proxy"])
        #expect(reviews["init"] as? [String] == ["istio-init"])
        #expect(reviews["canonical_name"] as? String == "reviews")
        let probed = pods["probed"] ?? [:]
        let probedPaths = probed["paths"] as? [String] ?? []
        #expect(probedPaths.contains("/spec/containers/0/readinessProbe/httpGet/port"), "\(probedPaths)")
        #expect(probedPaths.contains("/spec/containers/0/livenessProbe/httpGet"), "tcpSocket becomes httpGet: \(probedPaths)")
        let native = pods["native"] ?? [:]
        #expect(native["init"] as? [String] == ["istio-init", "istio-proxy", "setup"])
        #expect((native["paths"] as? [String] ?? []).contains("/spec/initContainers/0"))

        let optedOut = report["opted_out"] as? [String: Any] ?? [:]
        #expect(optedOut["status"] as? Int == 200)
        let optedOutResponse = optedOut["response"] as? [String: Any] ?? [:]
        #expect(optedOutResponse["uid"] as? String == "opt-out-1" && optedOutResponse["allowed"] as? Bool == true)
        #expect(optedOutResponse["patch"] == nil && optedOutResponse["patchType"] == nil && optedOutResponse["status"] == nil, "\(optedOutResponse)")

        for (name, uid, reason) in [("malformed", "", "the body is not JSON"), ("oversized", "huge-1", "the request body is over 4194304 bytes")] {
            let entry = report[name] as? [String: Any] ?? [:]
            #expect(entry["status"] as? Int == 200, "\(name)")
            let response = entry["response"] as? [String: Any] ?? [:]
            #expect(response["allowed"] as? Bool == true, "\(name)")
            #expect(response["uid"] as? String == uid, "\(name)")
            #expect(response["patch"] == nil, "\(name)")
            #expect(((response["status"] as? [String: Any])?["message"] as? String ?? "").contains(reason), "\(name): \(response)")
            #expect((response["warnings"] as? [String])?.count == 1, "\(name)")
        }
        let multicluster = report["path_parameters"] as? [String: Any] ?? [:]
        #expect(multicluster["status"] as? Int == 200 && multicluster["has_patch"] as? Bool == true, "\(multicluster)")
        let routes = report["routes"] as? [String: Int] ?? [:]
        #expect(routes == ["get_inject": 405, "wrong_path": 404, "text_plain": 415, "charset": 200, "ready": 200], "\(routes)")

        // Every review is logged: the injected pods at info, the refused bodies at warning.
        let log = injector.background.errors
        #expect(log.contains("reviews-v1-") && log.contains("): injected ("), "\(log)")
        #expect(log.contains("(uid opt-out-1): not injected: sidecar injection is disabled"), "\(log)")
        #expect(log.contains("warning") && log.contains("admitted without a sidecar: the body is not JSON"), "\(log)")
    }

    /// The handshake the API server makes: the chain to the CA of the webhook's caBundle and the
    /// Service's DNS name; another CA or another name fails.
    @Test func theTLSHandshakeVerifiesAgainstTheWebhookCA() throws {
        let directory = try Harness.temporaryDirectory("injector-tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.makeCertificate(in: directory, serial: "2001")
        let injector = try InjectorProcess(certificate: directory.appendingPathComponent("tls.crt").path,
                                           key: directory.appendingPathComponent("tls.key").path)
        let url = "https://\(Self.serviceName):\(injector.port)/healthz/ready"
        let resolve = "\(Self.serviceName):\(injector.port):127.0.0.1"
        let trusted = try Harness.curl(["--cacert", Harness.certificates.appendingPathComponent("ca.crt").path, "--resolve", resolve,
                                        "-w", "%{http_code} %{ssl_verify_result}", url])
        #expect(trusted.status == 0 && trusted.stdout == "ready\n200 0", "\(trusted.stdout) \(trusted.stderr)")
        let otherCA = try Harness.curl(["--cacert", Harness.certificates.appendingPathComponent("other-ca.crt").path, "--resolve", resolve, url])
        #expect(otherCA.status == 60, "curl exit \(otherCA.status): the certificate must not verify against another CA")
        let otherName = try Harness.curl(["--cacert", Harness.certificates.appendingPathComponent("ca.crt").path, "--resolve",
                                          "other.example.com:\(injector.port):127.0.0.1", "https://other.example.com:\(injector.port)/healthz/ready"])
        #expect(otherName.status == 60, "curl exit \(otherName.status): the certificate must not verify for another name")
        #expect(try injector.servedSerial() == "2001")
        // Plain HTTP on the port is not answered as HTTP.
        let plain = RawSocket.exchange(port: injector.port, Array("GET /healthz/ready HTTP/1.1\r\nHost: x\r\n\r\n".utf8), timeout: 3)
        #expect(RawSocket.status(plain) == nil)
    }

    /// Without a certificate that loads there is nothing to serve: the start fails with the reason.
    @Test(arguments: [("missing", "cannot read the certificate"), ("mismatched", "do not make a TLS server"), ("not PEM", "holds no PEM certificate")])
    func aCertificateThatDoesNotLoadStopsTheStart(_ problem: String, _ message: String) throws {
        let directory = try Harness.temporaryDirectory("injector-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.makeCertificate(in: directory, serial: "6001")
        let other = directory.appendingPathComponent("other")
        try Self.makeCertificate(in: other, serial: "6002")
        var certificate = directory.appendingPathComponent("tls.crt").path
        let key = directory.appendingPathComponent("tls.key").path
        switch problem {
        case "missing": certificate = directory.appendingPathComponent("absent.crt").path
        case "mismatched": certificate = other.appendingPathComponent("tls.crt").path
        default: try "not a certificate\n".write(toFile: certificate, atomically: true, encoding: .utf8)
        }
        let run = try Harness.run(ValidateCommandTests.binary.path, ["injector", "--port", "0", "--bind", "127.0.0.1", "--tls-cert", certificate,
                                                                     "--tls-key", key], timeout: 30)
        #expect(run.status == 1)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    /// A Secret volume updated as the kubelet updates it: new files in a new directory, the
    /// `..data` link swapped. New connections get the new certificate.
    @Test func aRotatedSecretIsServedWithoutARestart() throws {
        let directory = try Harness.temporaryDirectory("injector-rotate")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("..2026_12_01_00_00_00.000000001")
        try Self.makeCertificate(in: first, serial: "3001")
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: directory.appendingPathComponent("..data").path, withDestinationPath: first.lastPathComponent)
        for name in ["tls.crt", "tls.key"] {
            try fm.createSymbolicLink(atPath: directory.appendingPathComponent(name).path, withDestinationPath: "..data/\(name)")
        }
        let injector = try InjectorProcess(certificate: directory.appendingPathComponent("tls.crt").path,
                                           key: directory.appendingPathComponent("tls.key").path)
        #expect(try injector.servedSerial() == "3001")

        let second = directory.appendingPathComponent("..2026_12_02_00_00_00.000000002")
        try Self.makeCertificate(in: second, serial: "3002")
        try fm.createSymbolicLink(atPath: directory.appendingPathComponent("..data_tmp").path, withDestinationPath: second.lastPathComponent)
        let swapped = directory.appendingPathComponent("..data_tmp").path.withCString { from in
            directory.appendingPathComponent("..data").path.withCString { to in rename(from, to) }
        }
        #expect(swapped == 0)
        try? fm.removeItem(at: first)
        let rotated = try injector.waitForSerial("3002")
        #expect(rotated, "still serving \((try? injector.servedSerial()) ?? "nothing"): \(injector.background.errors)")
        #expect(injector.background.errors.contains("serving the certificate re-read from"), "\(injector.background.errors)")
    }

    /// Without the watch, SIGHUP re-reads. A certificate whose key has not been written yet is
    /// refused and the served pair kept; the key written, the new pair is served.
    @Test func sighupReReadsAndAHalfWrittenPairKeepsTheOldOne() throws {
        let directory = try Harness.temporaryDirectory("injector-hup")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.makeCertificate(in: directory, serial: "4001")
        let next = directory.appendingPathComponent("next")
        try Self.makeCertificate(in: next, serial: "4002")
        let certificate = directory.appendingPathComponent("tls.crt"), key = directory.appendingPathComponent("tls.key")
        let injector = try InjectorProcess(certificate: certificate.path, key: key.path, arguments: ["--no-watch"])
        #expect(try injector.servedSerial() == "4001")

        try Data(contentsOf: next.appendingPathComponent("tls.crt")).write(to: certificate)
        usleep(300_000)
        #expect(try injector.servedSerial() == "4001", "not watched: nothing happens before SIGHUP")
        injector.signal(SIGHUP)
        #expect(injector.background.waitFor(timeout: 10) { $0.contains("still serving the previous certificate") }, "\(injector.background.errors)")
        #expect(try injector.servedSerial() == "4001")

        try Data(contentsOf: next.appendingPathComponent("tls.key")).write(to: key)
        injector.signal(SIGHUP)
        #expect(try injector.waitForSerial("4002"), "\(injector.background.errors)")
    }

    /// SIGTERM: readiness fails at once, reviews are still answered for the drain duration, then
    /// the process exits 0.
    @Test func sigtermDrainsThenStops() throws {
        let directory = try Harness.temporaryDirectory("injector-term")
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.makeCertificate(in: directory, serial: "5001")
        let injector = try InjectorProcess(certificate: directory.appendingPathComponent("tls.crt").path,
                                           key: directory.appendingPathComponent("tls.key").path, arguments: ["--drain-duration", "3"])
        let ca = Harness.certificates.appendingPathComponent("ca.crt").path
        let base = "https://127.0.0.1:\(injector.port)"
        #expect(try Harness.curl(["--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", base + "/healthz/ready"]).stdout == "200")
        let started = Date()
        injector.signal(SIGTERM)
        #expect(injector.background.waitFor(timeout: 5) { $0.contains("SIGTERM: draining") })
        let ready = try Harness.curl(["--cacert", ca, "-w", " %{http_code}", base + "/healthz/ready"])
        #expect(ready.stdout == "draining\n 503", "\(ready.stdout)")
        let body = String(decoding: AdmissionFixtures.review(uid: "during-drain"), as: UTF8.self)
        let answered = try Harness.curl(["--cacert", ca, "-H", "content-type: application/json", "--data-binary", body, base + "/inject"])
        #expect(answered.stdout.contains("\"uid\":\"during-drain\"") && answered.stdout.contains("\"patchType\":\"JSONPatch\""), "\(answered.stdout)")
        try #require(injector.background.waitForExit(timeout: 15), "still running 15 s after SIGTERM")
        #expect(injector.background.exitStatus == 0)
        let took = Date().timeIntervalSince(started)
        #expect(took >= 2.5 && took < 10, "stopped after \(took) s")
    }
}

/// A small AdmissionReview for tests that need one without Python.
enum AdmissionFixtures {
    static func review(uid: String) -> [UInt8] {
        let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}"#
        return Array((#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""# + uid
            + #"","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"default","operation":"CREATE","object":"# + pod + "}}").utf8)
    }
}
