/// Kubernetes `ObjectMeta`, every field the API server returns.
package struct ObjectMeta: ConfigModel {
    package var name: String?
    package var generateName: String?
    package var namespace: String?
    package var selfLink: String?
    package var uid: String?
    package var resourceVersion: String?
    package var generation: Int64?
    package var creationTimestamp: String?
    package var deletionTimestamp: String?
    package var deletionGracePeriodSeconds: Int64?
    package var labels: [String: String]?
    package var annotations: [String: String]?
    package var ownerReferences: OpaqueValue?
    package var finalizers: [String]?
    package var managedFields: OpaqueValue?
}

/// A whole object as a document holds it: every kind has `metadata`.
package protocol TopLevelObject: ConfigModel {
    var metadata: ObjectMeta? { get }
}

/// The envelope of every Istio object: type, metadata and a typed spec.
package struct IstioResource<Spec: ConfigModel>: TopLevelObject {
    package var apiVersion: String?
    package var kind: String?
    package var metadata: ObjectMeta?
    package var spec: Spec?
    package var status: OpaqueValue?
}
