import MizzenConfig

/// A Gateway server's TLS termination, compiled: where the certificate, key and CA come from
/// (files named, not read: compilation does no I/O), the client-certificate mode, protocol
/// versions and ciphers. MizzenProxy builds the server context from it.
package struct ServerTLSSpec: Sendable, Hashable {
    package enum ClientCertificates: Sendable, Hashable {
        /// SIMPLE (and ISTIO_MUTUAL at a gateway without mesh certificates): none asked for.
        case none
        /// MUTUAL: required and verified against the CA.
        case required
        /// OPTIONAL_MUTUAL: asked for, verified when presented.
        case optional
    }

    package enum Version: Sendable, Hashable {
        case tls10, tls11, tls12, tls13
    }

    package var clientCertificates: ClientCertificates
    /// `credentialName` (or the first of `credentialNames`): a Kubernetes TLS Secret mounted under
    /// `--credentials DIR/NAME/{tls.crt,tls.key,ca.crt}`.
    package var credentialName: String?
    /// `caCertCredentialName`: the Secret holding the CA, when not the certificate's own.
    package var caCredentialName: String?
    package var serverCertificate: String?
    package var privateKey: String?
    package var caCertificates: String?
    package var minimumVersion: Version?
    package var maximumVersion: Version?
    /// OpenSSL cipher list, `:`-joined; nil: the library's defaults.
    package var cipherSuites: String?
    /// A client certificate must carry one of these (DNS, URI or email SAN).
    package var subjectAltNames: [String]
    /// ALPN to offer: `h2`, `http/1.1` for an HTTPS server; none for TLS-terminated TCP.
    package var alpn: [String]

    init(_ settings: ServerTLSSettings, alpn: [String]) {
        switch settings.mode ?? .simple {
        case .mutual: clientCertificates = .required
        case .optionalMutual: clientCertificates = .optional
        default: clientCertificates = .none
        }
        credentialName = settings.credentialName ?? settings.credentialNames?.first
        caCredentialName = settings.caCertCredentialName
        if credentialName == nil, let first = settings.tlsCertificates?.first {
            serverCertificate = first.serverCertificate
            privateKey = first.privateKey
            caCertificates = settings.caCertificates ?? first.caCertificates
        } else {
            serverCertificate = settings.serverCertificate
            privateKey = settings.privateKey
            caCertificates = settings.caCertificates
        }
        minimumVersion = Self.version(settings.minProtocolVersion)
        maximumVersion = Self.version(settings.maxProtocolVersion)
        cipherSuites = settings.cipherSuites.flatMap { $0.isEmpty ? nil : $0.joined(separator: ":") }
        subjectAltNames = settings.subjectAltNames ?? []
        self.alpn = alpn
    }

    static func version(_ version: TLSProtocolVersion?) -> Version? {
        switch version {
        case .v1_0: .tls10
        case .v1_1: .tls11
        case .v1_2: .tls12
        case .v1_3: .tls13
        case .auto, nil: nil
        }
    }
}
