import MizzenConfig
import Testing
@testable import MizzenSidecar

/// The pod the ReplicaSet controller of Bookinfo's `reviews-v1` creates, as the API server hands
/// it to admission: generated name, no namespace, the owner reference, defaults filled in.
func reviewsPod(labels: String = #""app":"reviews","version":"v1","pod-template-hash":"5b4f8c7d9""#, annotations: String? = nil,
                owner: String = #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"reviews-v1-5b4f8c7d9","uid":"6f1c","controller":true,"blockOwnerDeletion":true}"#,
                spec: String? = nil) -> String {
    let annotationsField = annotations.map { #","annotations":{"# + $0 + "}" } ?? ""
    let podSpec = spec ?? #"""
        {"containers":[{"name":"reviews","image":"docker.io/istio/examples-bookinfo-reviews-v1:1.20.2","ports":[{"containerPort":9080,"protocol":"TCP"}],\#
        "readinessProbe":{"httpGet":{"path":"/health","port":9080,"scheme":"HTTP"},"periodSeconds":10},\#
        "resources":{},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent",\#
        "volumeMounts":[{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],\#
        "restartPolicy":"Always","dnsPolicy":"ClusterFirst","serviceAccountName":"bookinfo-reviews","securityContext":{},\#
        "volumes":[{"name":"kube-api-access-x7k2p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}]}}]}
        """#
    return #"{"kind":"Pod","apiVersion":"v1","metadata":{"generateName":"reviews-v1-5b4f8c7d9-","creationTimestamp":null,"labels":{"#
        + labels + "}" + annotationsField + #","ownerReferences":["# + owner + #"]},"spec":"# + podSpec + #","status":{}}"#
}

/// An AdmissionReview as the API server sends it for a pod being created.
func admissionReview(object: String?, uid: String = "705ab4f5-6393-11e8-b7cc-42010a800002", namespace: String = "default",
                     operation: String = "CREATE", subResource: String? = nil, apiVersion: String = "admission.k8s.io/v1",
                     kind: String = #"{"group":"","version":"v1","kind":"Pod"}"#) -> [UInt8] {
    var request = #"{"uid":"# + GoJSON.quoted(uid) + #","kind":"# + kind + #","resource":{"group":"","version":"v1","resource":"pods"}"#
    if let subResource { request += #","subResource":"# + GoJSON.quoted(subResource) }
    request += #","requestKind":"# + kind + #","namespace":"# + GoJSON.quoted(namespace) + #","operation":"# + GoJSON.quoted(operation)
    request += #","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"}"#
    request += #","object":"# + (object ?? "null") + #","oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}"#
    return Array((#"{"kind":"AdmissionReview","apiVersion":"# + GoJSON.quoted(apiVersion) + #","request":"# + request + "}").utf8)
}

/// The answer's JSON read back, and its patch decoded.
struct ReadAnswer {
    let review: JSONValue
    var response: JSONValue? { review["response"] }

    init(_ answer: AdmissionAnswer) throws {
        review = try json(answer.json)
    }

    var patch: JSONPatch? {
        get throws {
            guard case .string(let encoded) = response?["patch"] else { return nil }
            let decoded = try #require(Base64.decode(encoded), "patch is not base64: \(encoded)")
            guard case .array(let operations) = try json(String(decoding: decoded, as: UTF8.self)) else { return nil }
            return JSONPatch(try operations.map { operation throws -> JSONPatch.Operation in
                guard case .string(let op) = operation["op"], case .string(let path) = operation["path"] else {
                    throw PatchApplier.Failure(description: "bad operation \(operation)")
                }
                switch op {
                case "add": return .add(path: path, value: try #require(operation["value"]))
                case "replace": return .replace(path: path, value: try #require(operation["value"]))
                case "remove": return .remove(path: path)
                default: throw PatchApplier.Failure(description: "unknown op \(op)")
                }
            })
        }
    }
}

/// A body the webhook cannot act on, and what the answer says.
struct FailOpenCase: Sendable, CustomTestStringConvertible {
    var name: String
    var body: [UInt8]
    var truncated = false
    var uid: String
    var reason: String
    var testDescription: String { name }
}

let failOpenCases: [FailOpenCase] = [
    FailOpenCase(name: "not JSON", body: Array("kind: AdmissionReview".utf8), uid: "", reason: "the body is not JSON"),
    FailOpenCase(name: "broken JSON, the uid still found",
                 body: Array(#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"abc-1","object":{"#.utf8),
                 uid: "abc-1", reason: "the body is not JSON"),
    FailOpenCase(name: "a JSON array", body: Array("[1]".utf8), uid: "", reason: "the body is not a JSON object"),
    FailOpenCase(name: "a Pod, not a review", body: Array(#"{"apiVersion":"v1","kind":"Pod","request":{"uid":"u2"}}"#.utf8), uid: "u2",
                 reason: "not an admission.k8s.io/v1 AdmissionReview (v1 Pod)"),
    FailOpenCase(name: "an AdmissionReview version not known", body: admissionReview(object: reviewsPod(), uid: "u3", apiVersion: "admission.k8s.io/v2"),
                 uid: "u3", reason: "not an admission.k8s.io/v1 AdmissionReview (admission.k8s.io/v2 AdmissionReview)"),
    FailOpenCase(name: "no apiVersion or kind", body: Array("{}".utf8), uid: "", reason: "(no apiVersion and kind)"),
    FailOpenCase(name: "no request", body: Array(#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.utf8), uid: "",
                 reason: "the AdmissionReview has no request"),
    FailOpenCase(name: "no uid", body: admissionReview(object: reviewsPod(), uid: ""), uid: "", reason: "the AdmissionReview request has no uid"),
    FailOpenCase(name: "no object", body: admissionReview(object: nil, uid: "u4"), uid: "u4", reason: "the request has no object"),
    FailOpenCase(name: "an object that is a string", body: admissionReview(object: #""pod""#, uid: "u5"), uid: "u5",
                 reason: "the request's object is not a JSON object"),
    FailOpenCase(name: "a Deployment", body: admissionReview(object: #"{"apiVersion":"apps/v1","kind":"Deployment"}"#, uid: "u6",
                                                          kind: #"{"group":"apps","version":"v1","kind":"Deployment"}"#),
                 uid: "u6", reason: "the request is for apps/v1 Deployment, not a Pod"),
    FailOpenCase(name: "an object that is a Service", body: admissionReview(object: #"{"apiVersion":"v1","kind":"Service"}"#, uid: "u7"), uid: "u7",
                 reason: "the object is a v1 Service, not a v1 Pod"),
    FailOpenCase(name: "an annotation the injector refuses",
                 body: admissionReview(object: reviewsPod(annotations: #""traffic.sidecar.istio.io/includeInboundPorts":"bad""#), uid: "u8"), uid: "u8",
                 reason: "includeInboundPorts invalid: failed parsing port 'bad'"),
    FailOpenCase(name: "containers that are not a list", body: admissionReview(object: reviewsPod(spec: #"{"containers":{"name":"x"}}"#), uid: "u9"),
                 uid: "u9", reason: "spec.containers: must be a sequence, got a mapping"),
    FailOpenCase(name: "over the size limit, the uid found at the start",
                 body: Array(admissionReview(object: reviewsPod(), uid: "u10").prefix(300)), truncated: true, uid: "u10",
                 reason: "the request body is over 4194304 bytes"),
]

/// A pod the webhook leaves alone on purpose.
struct SkipAnswerCase: Sendable, CustomTestStringConvertible {
    var name: String
    var body: [UInt8]
    var reason: String
    var testDescription: String { name }
}

let skipAnswerCases: [SkipAnswerCase] = [
    SkipAnswerCase(name: "label sidecar.istio.io/inject false",
                   body: admissionReview(object: reviewsPod(labels: #""app":"reviews","sidecar.istio.io/inject":"false""#)),
                   reason: "sidecar injection is disabled (metadata.labels[\"sidecar.istio.io/inject\"])"),
    SkipAnswerCase(name: "annotation sidecar.istio.io/inject false",
                   body: admissionReview(object: reviewsPod(annotations: #""sidecar.istio.io/inject":"false""#)),
                   reason: "sidecar injection is disabled (metadata.annotations[\"sidecar.istio.io/inject\"])"),
    SkipAnswerCase(name: "host network", body: admissionReview(object: reviewsPod(spec: #"{"hostNetwork":true,"containers":[{"name":"a"}]}"#)),
                   reason: "the pod uses the host network"),
    SkipAnswerCase(name: "already injected",
                   body: admissionReview(object: reviewsPod(spec: #"{"containers":[{"name":"a"},{"name":"istio-proxy"}]}"#)),
                   reason: "the pod already has an istio-proxy container"),
    SkipAnswerCase(name: "kube-system, named by the request only", body: admissionReview(object: reviewsPod(), namespace: "kube-system"),
                   reason: "namespace kube-system is never injected"),
    SkipAnswerCase(name: "an update", body: admissionReview(object: reviewsPod(), operation: "UPDATE"),
                   reason: "only pods being created are injected, this is UPDATE"),
    SkipAnswerCase(name: "a subresource", body: admissionReview(object: reviewsPod(), subResource: "ephemeralcontainers"),
                   reason: "subresource ephemeralcontainers is not the pod being created"),
]

/// A pod's owner and the canonical name its workload gives it.
struct OwnerCase: Sendable, CustomTestStringConvertible {
    var name: String
    var labels: String
    var owner: String
    var canonicalName: String
    var testDescription: String { name }
}

let ownerCases: [OwnerCase] = [
    OwnerCase(name: "a Deployment's ReplicaSet", labels: #""pod-template-hash":"5b4f8c7d9""#,
              owner: #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"reviews-v1-5b4f8c7d9","controller":true}"#, canonicalName: "reviews-v1"),
    OwnerCase(name: "a ReplicaSet of its own", labels: #""tier":"web""#,
              owner: #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"frontend","controller":true}"#, canonicalName: "frontend"),
    OwnerCase(name: "a CronJob's Job", labels: #""job-name":"nightly-28391234""#,
              owner: #"{"apiVersion":"batch/v1","kind":"Job","name":"nightly-28391234","controller":true}"#, canonicalName: "nightly"),
    OwnerCase(name: "a Job of its own", labels: #""job-name":"migrate""#,
              owner: #"{"apiVersion":"batch/v1","kind":"Job","name":"migrate","controller":true}"#, canonicalName: "migrate"),
    OwnerCase(name: "a DeploymentConfig's ReplicationController", labels: #""deploymentconfig":"frontend""#,
              owner: #"{"apiVersion":"v1","kind":"ReplicationController","name":"frontend-3","controller":true}"#, canonicalName: "frontend"),
    OwnerCase(name: "an owner that is not the controller", labels: #""pod-template-hash":"5b4f8c7d9""#,
              owner: #"{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"reviews-v1-5b4f8c7d9","controller":false}"#,
              canonicalName: "reviews-v1-5b4f8c7d9"),
]

struct AdmissionReviewTests {
    let webhook = AdmissionWebhook(injector: SidecarInjector())

    @Test func readsTheRequestTheAPIServerSends() throws {
        let request = try AdmissionRequest.parse(admissionReview(object: reviewsPod(), uid: "u1", namespace: "bookinfo")).get()
        #expect(request.apiVersion == "admission.k8s.io/v1")
        #expect(request.uid == "u1")
        #expect(request.kind == AdmissionRequest.GroupVersionKind(group: "", version: "v1", kind: "Pod"))
        #expect(request.operation == "CREATE")
        #expect(request.subResource == "")
        #expect(request.namespace == "bookinfo")
        #expect(request.object?["metadata"]?["generateName"]?.scalarValue == "reviews-v1-5b4f8c7d9-")
    }

    /// The patch, applied to the pod sent, is the pod `mizzen inject` makes of the same pod.
    @Test func thePatchGivesThePodMizzenInjectMakes() throws {
        let pod = reviewsPod()
        let answer = webhook.review(admissionReview(object: pod, uid: "u1"))
        let read = try ReadAnswer(answer)
        #expect(answer.outcome == .injected(operations: try #require(try read.patch).operations.count))
        #expect(read.review["apiVersion"] == .string("admission.k8s.io/v1"))
        #expect(read.review["kind"] == .string("AdmissionReview"))
        #expect(read.response?["uid"] == .string("u1"))
        #expect(read.response?["allowed"] == .bool(true))
        #expect(read.response?["patchType"] == .string("JSONPatch"))
        #expect(read.response?["status"] == nil && read.response?["warnings"] == nil)
        let patch = try #require(try read.patch)
        let patched = try PatchApplier.apply(patch, to: try json(pod))

        let offline = try SidecarInjector().inject(yaml: pod, file: "pod.json")
        let root = try #require(YAMLComposer.compose(Array(offline.output.utf8)).documents.first?.root)
        #expect(patched == (try JSONValue(root)))
        // The namespace is the API server's to set; the canonical name is the Deployment's.
        #expect(!patch.operations.contains { $0.path.hasPrefix("/metadata/namespace") })
        #expect(patched["metadata"]?["labels"]?["service.istio.io/canonical-name"] == .string("reviews"))
        #expect(answer.logLine.hasPrefix("Pod default/reviews-v1-5b4f8c7d9- (uid u1): injected ("), "\(answer.logLine)")
    }

    @Test func aV1beta1ReviewIsAnsweredInV1beta1() throws {
        let answer = webhook.review(admissionReview(object: reviewsPod(), apiVersion: "admission.k8s.io/v1beta1"))
        let read = try ReadAnswer(answer)
        #expect(read.review["apiVersion"] == .string("admission.k8s.io/v1beta1"))
        #expect(try read.patch != nil)
    }

    @Test(arguments: failOpenCases)
    func whatCannotBeInjectedIsAdmittedWithAReason(_ test: FailOpenCase) throws {
        let answer = webhook.review(test.body, truncated: test.truncated)
        guard case .failedOpen(let reason) = answer.outcome else {
            Issue.record("not admitted with a reason: \(answer.outcome)")
            return
        }
        #expect(reason.contains(test.reason), "\(reason)")
        let read = try ReadAnswer(answer)
        #expect(read.response?["uid"] == .string(test.uid))
        #expect(read.response?["allowed"] == .bool(true))
        #expect(read.response?["patch"] == nil && read.response?["patchType"] == nil)
        guard case .string(let message) = read.response?["status"]?["message"] else {
            Issue.record("no status.message: \(answer.json)")
            return
        }
        #expect(message == "sidecar not injected: \(reason)")
        guard case .array(let warnings) = read.response?["warnings"], warnings.count == 1, case .string(let warning) = warnings[0] else {
            Issue.record("no warning: \(answer.json)")
            return
        }
        #expect(warning.hasPrefix("mizzen injector: "))
        #expect(warning.count <= 120)
        #expect(answer.logLine.contains("admitted without a sidecar: \(reason)"), "\(answer.logLine)")
    }

    @Test(arguments: skipAnswerCases)
    func aPodLeftAloneOnPurposeGetsNoPatchAndNoWarning(_ test: SkipAnswerCase) throws {
        let answer = webhook.review(test.body)
        #expect(answer.outcome == .skipped(test.reason))
        #expect(answer.json == #"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}"#)
        #expect(answer.logLine.contains("not injected: \(test.reason)"), "\(answer.logLine)")
    }

    @Test(arguments: ownerCases)
    func theCanonicalNameFallsBackToTheWorkloadOfTheController(_ test: OwnerCase) throws {
        let pod = reviewsPod(labels: test.labels, owner: test.owner)
        let answer = webhook.review(admissionReview(object: pod))
        let patch = try #require(try ReadAnswer(answer).patch)
        let patched = try PatchApplier.apply(patch, to: try json(pod))
        #expect(patched["metadata"]?["labels"]?["service.istio.io/canonical-name"] == .string(test.canonicalName))
        // `mizzen inject` of the same pod names the same workload.
        let offline = try inject(pod)
        #expect(offline.docs.first?.root["metadata"]?["labels"]?["service.istio.io/canonical-name"]?.scalarValue == test.canonicalName)
    }

    @Test func aPodWithNoControllerIsItsOwnWorkload() throws {
        let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"debug"},"spec":{"containers":[{"name":"sh"}]}}"#
        let patch = try #require(try ReadAnswer(webhook.review(admissionReview(object: pod))).patch)
        let patched = try PatchApplier.apply(patch, to: try json(pod))
        #expect(patched["metadata"]?["labels"]?["service.istio.io/canonical-name"] == .string("debug"))
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64IsRFC4648(_ text: String, _ encoded: String) {
        #expect(AdmissionResponse.base64(Array(text.utf8)) == encoded)
    }

    @Test(arguments: [
        (#"{"request":{"uid":"a-1"}}"#, "a-1"),
        (#"{"request" : { "uid" :  "a-2", "object":{"metadata":{"uid":"other"}}}}"#, "a-2"),
        (#"{"kind":"x","request":{"kind":{},"uid":"a-3"#, nil),
        (#"{"uid":"outside","request":{}}"#, nil),
        (#"{"request":{"uid":""}}"#, nil),
        ("garbage", nil),
    ] as [(String, String?)])
    func theUIDIsFoundAtTheStartOfABrokenBody(_ body: String, _ uid: String?) {
        #expect(AdmissionRequest.scanUID(Array(body.utf8)) == uid)
    }
}
