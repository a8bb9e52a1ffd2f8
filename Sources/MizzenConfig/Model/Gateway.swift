/// `networking.istio.io` Gateway spec: the ports a gateway proxy opens and the hosts each serves.
package struct Gateway: ConfigModel {
    package var servers: [Server]?
    package var selector: [String: String]?
}

/// One server of a Gateway: a port, its hosts, and its TLS settings.
package struct Server: ConfigModel {
    package var port: GatewayPort?
    package var bind: String?
    package var hosts: [String]?
    package var tls: ServerTLSSettings?
    package var defaultEndpoint: String?
    package var name: String?
}

/// `Port` of a Gateway server.
package struct GatewayPort: ConfigModel {
    package var number: UInt32?
    package var `protocol`: String?
    package var name: String?
    package var targetPort: UInt32?
}

package struct ServerTLSSettings: ConfigModel {
    package var httpsRedirect: Bool?
    package var mode: ServerTLSMode?
    package var serverCertificate: String?
    package var privateKey: String?
    package var caCertificates: String?
    package var caCrl: String?
    package var credentialName: String?
    package var credentialNames: [String]?
    package var caCertCredentialName: String?
    package var tlsCertificates: [TLSCertificate]?
    package var subjectAltNames: [String]?
    package var verifyCertificateSpki: [String]?
    package var verifyCertificateHash: [String]?
    package var minProtocolVersion: TLSProtocolVersion?
    package var maxProtocolVersion: TLSProtocolVersion?
    package var cipherSuites: [String]?
    package var insecureSkipVerify: Bool?

    package struct TLSCertificate: ConfigModel {
        package var serverCertificate: String?
        package var privateKey: String?
        package var caCertificates: String?
    }
}

package enum ServerTLSMode: String, ConfigEnum {
    case passthrough = "PASSTHROUGH"
    case simple = "SIMPLE"
    case mutual = "MUTUAL"
    case autoPassthrough = "AUTO_PASSTHROUGH"
    case istioMutual = "ISTIO_MUTUAL"
    case optionalMutual = "OPTIONAL_MUTUAL"
}

package enum TLSProtocolVersion: String, ConfigEnum, Comparable {
    case auto = "TLS_AUTO"
    case v1_0 = "TLSV1_0"
    case v1_1 = "TLSV1_1"
    case v1_2 = "TLSV1_2"
    case v1_3 = "TLSV1_3"

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}
