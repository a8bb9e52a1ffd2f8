package import MizzenConfig

/// The parts of an `AdmissionReview` request the injection webhook reads
/// (`k8s.io/api/admission/v1/types.go AdmissionRequest`).
package struct AdmissionRequest: Sendable {
    /// `admission.k8s.io/v1`, or `v1beta1` (the same fields; Kubernetes before 1.16 and webhooks
    /// still listing it in `admissionReviewVersions`). The answer is in the same version.
    package var apiVersion: String
    package var uid: String
    /// `request.kind`: what the object is (`""`, `v1`, `Pod` for a pod).
    package var kind: GroupVersionKind?
    /// `pods/ephemeralcontainers`, `pods/binding`: not the pod being created.
    package var subResource: String
    /// CREATE, UPDATE, DELETE or CONNECT.
    package var operation: String
    /// The namespace of the request, which a pod made by a controller may not repeat in its metadata.
    package var namespace: String?
    package var object: YAMLNode?

    package struct GroupVersionKind: Sendable, Equatable, CustomStringConvertible {
        package var group: String
        package var version: String
        package var kind: String

        package var description: String { group.isEmpty ? "\(version) \(kind)" : "\(group)/\(version) \(kind)" }
    }

    /// The AdmissionReview versions the webhook answers.
    package static let versions = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]

    /// Why a body is not a review the webhook can read, with what it could still find of the
    /// request: an answer with the request's uid is one the API server accepts.
    package struct Unreadable: Error, Sendable, Equatable {
        package var apiVersion: String
        package var uid: String
        package var reason: String
    }

    /// Reads an AdmissionReview from a request body (JSON, as the API server sends it).
    package static func parse(_ body: [UInt8]) -> Result<AdmissionRequest, Unreadable> {
        let root: YAMLNode
        switch JSONReader.read(body) {
        case .success(let node): root = node
        case .failure(let problem):
            return .failure(Unreadable(apiVersion: versions[0], uid: scanUID(body) ?? "", reason: "the body is not JSON (\(problem))"))
        }
        guard root.isMapping else {
            return .failure(Unreadable(apiVersion: versions[0], uid: "", reason: "the body is not a JSON object"))
        }
        let request = root["request"].flatMap { $0.isMapping ? $0 : nil }
        let uid = request?["uid"]?.scalarValue ?? ""
        let apiVersion = root["apiVersion"]?.scalarValue ?? ""
        let kind = root["kind"]?.scalarValue ?? ""
        guard versions.contains(apiVersion), kind == "AdmissionReview" else {
            let found = apiVersion.isEmpty && kind.isEmpty ? "no apiVersion and kind" : "\(apiVersion.isEmpty ? "no apiVersion" : apiVersion) \(kind.isEmpty ? "no kind" : kind)"
            return .failure(Unreadable(apiVersion: versions[0], uid: uid, reason: "not an admission.k8s.io/v1 AdmissionReview (\(found))"))
        }
        guard let request else {
            return .failure(Unreadable(apiVersion: apiVersion, uid: "", reason: "the AdmissionReview has no request"))
        }
        guard !uid.isEmpty else {
            return .failure(Unreadable(apiVersion: apiVersion, uid: "", reason: "the AdmissionReview request has no uid"))
        }
        var parsed = AdmissionRequest(apiVersion: apiVersion, uid: uid, kind: nil, subResource: request["subResource"]?.scalarValue ?? "",
                                      operation: request["operation"]?.scalarValue ?? "", namespace: nil, object: nil)
        if let kindNode = request["kind"], kindNode.isMapping {
            parsed.kind = GroupVersionKind(group: kindNode["group"]?.scalarValue ?? "", version: kindNode["version"]?.scalarValue ?? "",
                                           kind: kindNode["kind"]?.scalarValue ?? "")
        }
        if let namespace = request["namespace"]?.scalarValue, !namespace.isEmpty, request["namespace"]?.resolvedKind == .string {
            parsed.namespace = namespace
        }
        if let object = request["object"], object.resolvedKind != .null {
            parsed.object = object
        }
        return .success(parsed)
    }

    /// The request's uid from the start of a body that could not be read whole (cut at the size
    /// limit, or broken further on): the API server writes `request` with `uid` first.
    package static func scanUID(_ body: [UInt8]) -> String? {
        guard let request = find(Array("\"request\"".utf8), in: body, from: 0),
              let key = find(Array("\"uid\"".utf8), in: body, from: request) else { return nil }
        var index = key + 5
        func skipSpace() {
            while index < body.count, [0x20, 0x09, 0x0A, 0x0D].contains(body[index]) { index += 1 }
        }
        skipSpace()
        guard index < body.count, body[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        skipSpace()
        guard index < body.count, body[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        // A uid is a UUID: no escapes, nothing long.
        while index < body.count, index - start <= 128, body[index] != UInt8(ascii: "\""), body[index] != UInt8(ascii: "\\"), body[index] >= 0x20 {
            index += 1
        }
        guard index < body.count, body[index] == UInt8(ascii: "\""), index > start else { return nil }
        return String(decoding: body[start..<index], as: UTF8.self)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

/// The webhook's answer: an AdmissionReview with `response` (`k8s.io/api/admission/v1
/// AdmissionResponse`). The pod is always allowed; a patch when the sidecar was added, a
/// message and a warning when it was not because something was wrong.
package struct AdmissionResponse: Sendable, Equatable {
    package var apiVersion: String
    package var uid: String
    package var patch: JSONPatch?
    /// `status.message`: why the pod was admitted as it was.
    package var message: String?
    /// Shown by kubectl as `Warning: ...` to whoever created the pod.
    package var warnings: [String]

    package init(apiVersion: String, uid: String, patch: JSONPatch? = nil, message: String? = nil, warnings: [String] = []) {
        self.apiVersion = apiVersion
        self.uid = uid
        self.patch = patch
        self.message = message
        self.warnings = warnings
    }

    /// The review as JSON, fields in the order Kubernetes' Go types write them.
    package var json: String {
        var text = "{\"kind\":\"AdmissionReview\",\"apiVersion\":" + GoJSON.quoted(apiVersion)
        text += ",\"response\":{\"uid\":" + GoJSON.quoted(uid) + ",\"allowed\":true"
        if let message {
            text += ",\"status\":{\"message\":" + GoJSON.quoted(message) + "}"
        }
        if let patch {
            // `patch` is []byte in Go: standard base64 in JSON.
            text += ",\"patch\":\"" + Self.base64(Array(patch.description.utf8)) + "\",\"patchType\":\"JSONPatch\""
        }
        if !warnings.isEmpty {
            text += ",\"warnings\":[" + warnings.map(GoJSON.quoted).joined(separator: ",") + "]"
        }
        return text + "}}"
    }

    /// Standard base64 with padding (RFC 4648 §4), as Go's `encoding/json` writes `[]byte`.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let value = UInt32(bytes[index]) << 16
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        case 2:
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(value >> 18 & 63)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], UInt8(ascii: "=")]
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }
}
