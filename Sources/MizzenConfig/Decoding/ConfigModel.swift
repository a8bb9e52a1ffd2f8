/// A type decoded from an object's YAML by `NodeDecoder`.
///
/// Every stored property is optional, as in proto3 with presence: "unset" and "zero" differ, and
/// the validator, not the decoder, decides what is required, so it can say so at the right path.
package protocol ConfigModel: Decodable, Sendable {
    /// Fields Mizzen accepts but does not act on yet; `mizzen validate` warns when one is set.
    static var unimplementedFields: Set<String> { get }
    /// Fields the Istio API once had and reserved when it removed them; accepted with a warning,
    /// as istiod's decoder tolerates them (Istio's own test configs still carry some).
    static var removedFields: Set<String> { get }
}

extension ConfigModel {
    package static var unimplementedFields: Set<String> { [] }
    package static var removedFields: Set<String> { [] }
}

/// A string-valued enum of the API; the decoder lists the allowed names when a value is unknown.
package protocol ConfigEnum: RawRepresentable, CaseIterable, Decodable, Sendable, Hashable where RawValue == String {}

/// A value kept as written, not interpreted (Kubernetes `status`, `managedFields`, ...).
package struct OpaqueValue: Decodable, Sendable {
    package let node: YAMLNode

    package init(from decoder: any Decoder) throws {
        guard let nodeDecoder = decoder as? NodeDecoder else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "OpaqueValue decodes only from YAML nodes"))
        }
        node = nodeDecoder.node
    }
}
