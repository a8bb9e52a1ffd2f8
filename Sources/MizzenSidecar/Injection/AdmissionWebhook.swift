import MizzenConfig

/// The sidecar injection webhook's decision for one AdmissionReview: the pod with the sidecar
/// `mizzen inject` would add, as a JSON Patch against the pod the API server sent.
///
/// Which namespaces and pods reach it is the MutatingWebhookConfiguration's business (its
/// namespace and object selectors on `istio-injection` and `istio.io/rev`); here the pod's own
/// `sidecar.istio.io/inject`, host networking and an existing `istio-proxy` are honoured, as
/// `mizzen inject` honours them.
///
/// It never blocks a pod. Istio's webhook registers with `failurePolicy: Fail`, so an error
/// answer would stop every pod of an injected namespace from being created; whatever goes wrong
/// here (a body that is not an AdmissionReview, an object that is not a Pod, an annotation the
/// injector refuses) admits the pod as it is, says why in `status.message`, a warning and the log.
package struct AdmissionWebhook: Sendable {
    /// The API server takes request bodies up to 3 MiB (`apiserver MaxRequestBodyBytes`); the
    /// review around a pod that large, re-encoded as JSON, needs a little more room.
    package static let defaultMaxBodyBytes = 4 << 20
    /// Kubernetes asks warnings to stay short (`extensible-admission-controllers.md`: 120 characters).
    static let maxWarningLength = 120

    package var injector: SidecarInjector
    package var maxBodyBytes: Int

    package init(injector: SidecarInjector, maxBodyBytes: Int = Self.defaultMaxBodyBytes) {
        self.injector = injector
        self.maxBodyBytes = maxBodyBytes
    }

    /// Answers one request body; `truncated` says the body went past `maxBodyBytes` and only
    /// its start is in `body`.
    package func review(_ body: [UInt8], truncated: Bool = false) -> AdmissionAnswer {
        if truncated {
            return .failedOpen(apiVersion: AdmissionRequest.versions[0], uid: AdmissionRequest.scanUID(body) ?? "", object: "request",
                               reason: "the request body is over \(maxBodyBytes) bytes")
        }
        let request: AdmissionRequest
        switch AdmissionRequest.parse(body) {
        case .success(let parsed): request = parsed
        case .failure(let unreadable):
            return .failedOpen(apiVersion: unreadable.apiVersion, uid: unreadable.uid, object: "request", reason: unreadable.reason)
        }
        func failedOpen(_ reason: String, object: String = "request") -> AdmissionAnswer {
            .failedOpen(apiVersion: request.apiVersion, uid: request.uid, object: object, reason: reason)
        }
        func skipped(_ reason: String, object: String = "request") -> AdmissionAnswer {
            AdmissionAnswer(response: AdmissionResponse(apiVersion: request.apiVersion, uid: request.uid), outcome: .skipped(reason),
                            uid: request.uid, object: object)
        }
        if let kind = request.kind, kind.group != "" || kind.kind != "Pod" {
            return failedOpen("the request is for \(kind), not a Pod")
        }
        guard let object = request.object else { return failedOpen("the request has no object") }
        guard object.isMapping else { return failedOpen("the request's object is not a JSON object") }
        if let objectKind = object["kind"]?.scalarValue, objectKind != "Pod" || (object["apiVersion"]?.scalarValue ?? "v1") != "v1" {
            return failedOpen("the object is a \(object["apiVersion"]?.scalarValue ?? "") \(objectKind), not a v1 Pod")
        }
        let described = SidecarInjector.describe(pod: object, namespace: object["metadata"]?["namespace"]?.scalarValue ?? request.namespace)
        if !request.subResource.isEmpty {
            return skipped("subresource \(request.subResource) is not the pod being created", object: described)
        }
        if !request.operation.isEmpty, request.operation != "CREATE" {
            return skipped("only pods being created are injected, this is \(request.operation)", object: described)
        }

        let injection: SidecarInjector.PodInjection
        let original: JSONValue
        let injected: JSONValue
        do throws(InjectionError) {
            injection = try injector.inject(pod: object, namespace: request.namespace, source: "request.object")
            guard case .injected = injection.note.outcome else {
                if case .skipped(let reason) = injection.note.outcome {
                    return skipped(reason.description, object: described)
                }
                return skipped("no pod template", object: described)
            }
            original = try JSONValue(object)
            injected = try JSONValue(injection.pod)
        } catch {
            // The injector's own wording, without its file and document (there is one object).
            let place = error.path.components.isEmpty ? "" : "\(error.path): "
            return failedOpen("\(place)\(error.message)", object: described)
        }
        let patch = JSONPatch.diff(from: original, to: injected)
        guard !patch.operations.isEmpty else { return skipped("the injected pod is the pod as sent", object: described) }
        return AdmissionAnswer(response: AdmissionResponse(apiVersion: request.apiVersion, uid: request.uid, patch: patch),
                               outcome: .injected(operations: patch.operations.count), uid: request.uid, object: described,
                               remarks: injection.note.remarks)
    }
}

/// What the webhook answered for one request, and what to log about it.
package struct AdmissionAnswer: Sendable, Equatable {
    package enum Outcome: Sendable, Equatable {
        /// The sidecar was added; the patch has this many operations.
        case injected(operations: Int)
        /// Left as it is on purpose: injection disabled, host network, already injected.
        case skipped(String)
        /// Left as it is because something was wrong; admitted all the same.
        case failedOpen(String)
    }

    package var response: AdmissionResponse
    package var outcome: Outcome
    package var uid: String
    /// `Pod default/reviews-v1-5b4f8c7d9-`, or `request` when the body named no pod.
    package var object: String
    /// What the injector noted about an injected pod (annotations it does not read, probes left alone).
    package var remarks: [String] = []

    /// The response body.
    package var json: String { response.json }

    /// One line for the log: the pod, the request's uid and what was done.
    package var logLine: String {
        let request = "(uid \(uid.isEmpty ? "unknown" : uid))"
        switch outcome {
        case .injected(let operations):
            let notes = remarks.isEmpty ? "" : "; " + remarks.joined(separator: "; ")
            return "\(object) \(request): injected (\(operations) patch operations)\(notes)"
        case .skipped(let reason):
            return "\(object) \(request): not injected: \(reason)"
        case .failedOpen(let reason):
            return "\(object) \(request): admitted without a sidecar: \(reason)"
        }
    }

    static func failedOpen(apiVersion: String, uid: String, object: String, reason: String) -> AdmissionAnswer {
        var warning = "mizzen injector: \(object == "request" ? "" : object + ": ")no sidecar: \(reason)"
        if warning.count > AdmissionWebhook.maxWarningLength {
            warning = String(warning.prefix(AdmissionWebhook.maxWarningLength - 1)) + "…"
        }
        let response = AdmissionResponse(apiVersion: apiVersion, uid: uid, message: "sidecar not injected: \(reason)", warnings: [warning])
        return AdmissionAnswer(response: response, outcome: .failedOpen(reason), uid: uid, object: object)
    }
}
