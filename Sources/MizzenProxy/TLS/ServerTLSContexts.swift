package import MizzenRouting
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
package import NIOSSL

/// A terminating TLS server's ready-made context and the checks to make after the handshake.
package final class ServerTLS: Sendable {
    package let context: NIOSSLContext
    /// `tls.subjectAltNames`: a client certificate must carry one of them (MUTUAL, and
    /// OPTIONAL_MUTUAL when a certificate is presented).
    package let requiredSubjectAltNames: [String]

    init(context: NIOSSLContext, requiredSubjectAltNames: [String]) {
        self.context = context
        self.requiredSubjectAltNames = requiredSubjectAltNames
    }
}

/// The TLS contexts of every terminating server of a route table, built off the event loops
/// (they read files) and published with the table.
package struct ServerTLSContexts: Sendable {
    private var byServer: [ObjectIdentifier: ServerTLS] = [:]
    /// Every context made, by its settings, with the bytes it was made from: a later build whose
    /// server has the same settings and bytes takes it as it is (an endpoint change, or an
    /// unrelated Secret's, does not rebuild TLS).
    private var made: [ServerTLSSpec: (fingerprint: [UInt8], tls: ServerTLS)] = [:]
    /// Servers whose TLS could not be set up; they are left out (Envoy rejects such a filter
    /// chain and keeps the rest of the listener), each with the reason.
    package private(set) var problems: [String] = []

    package init() {}

    package func tls(for server: ServerEntry) -> ServerTLS? {
        byServer[ObjectIdentifier(server)]
    }

    /// Contexts made anew by the last build (the others were taken from `previous`).
    package private(set) var madeCount = 0

    /// Builds a context for every https and tls-terminated server of `table`.
    ///
    /// `credentials` resolves `credentialName`: Secrets from the API server, or mounted ones
    /// (`DIR/NAME/tls.crt`, `tls.key` and `ca.crt`, or a separate `NAME-cacert/ca.crt`, as
    /// Istio's gateway accepts).
    package static func build(for table: RouteTable, credentials: TLSCredentials, previous: ServerTLSContexts? = nil) -> ServerTLSContexts {
        var result = ServerTLSContexts()
        for listener in table.listeners {
            for server in listener.servers {
                guard let spec = server.terminatingTLS else { continue }
                do {
                    let material = try material(spec, credentials: credentials)
                    let fingerprint = material.fingerprint
                    if let done = result.made[spec], done.fingerprint == fingerprint {
                        result.byServer[ObjectIdentifier(server)] = done.tls
                    } else if let old = previous?.made[spec], old.fingerprint == fingerprint {
                        result.byServer[ObjectIdentifier(server)] = old.tls
                        result.made[spec] = old
                    } else {
                        let tls = try makeContext(spec, material: material)
                        result.byServer[ObjectIdentifier(server)] = tls
                        result.made[spec] = (fingerprint, tls)
                        result.madeCount += 1
                    }
                } catch {
                    result.problems.append("\(server.label) port \(listener.port): TLS not set up, server skipped: \(error)")
                }
            }
        }
        return result
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The bytes a server's context is made of: its credential's, or the files it names.
    static func material(_ spec: ServerTLSSpec, credentials: TLSCredentials) throws -> TLSCredentials.Material {
        var material: TLSCredentials.Material
        if let name = spec.credentialName {
            material = try credentials.material(named: name, caName: spec.caCredentialName)
            guard material.certificate != nil, material.key != nil else {
                throw SetupError(description: "credential \"\(name)\": no tls.crt and tls.key in \(material.location)")
            }
        } else {
            guard let certificatePath = spec.serverCertificate, let keyPath = spec.privateKey else {
                throw SetupError(description: "no certificate: set credentialName or serverCertificate and privateKey")
            }
            guard let certificate = FileBytes.read(certificatePath) else { throw SetupError(description: "cannot read certificate \(certificatePath)") }
            guard let key = FileBytes.read(keyPath) else { throw SetupError(description: "cannot read private key \(keyPath)") }
            var ca: [UInt8]?
            if let caPath = spec.caCertificates, spec.clientCertificates != .none {
                guard let bytes = FileBytes.read(caPath) else { throw SetupError(description: "cannot read CA certificates \(caPath)") }
                ca = bytes
            }
            material = TLSCredentials.Material(certificate: certificate, key: key, ca: ca, location: certificatePath)
        }
        if spec.clientCertificates == .none { material.ca = nil }
        return material
    }

    static func makeContext(_ spec: ServerTLSSpec, material: TLSCredentials.Material) throws -> ServerTLS {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(material.certificate ?? [])
        } catch {
            throw SetupError(description: "cannot read certificate \(material.location): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(bytes: material.key ?? [], format: .pem)
        } catch {
            throw SetupError(description: "cannot read private key \(material.location): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = tlsVersion(spec.minimumVersion) ?? .tlsv12
        configuration.maximumTLSVersion = tlsVersion(spec.maximumVersion)
        if let suites = spec.cipherSuites { configuration.cipherSuites = suites }
        configuration.applicationProtocols = spec.alpn
        // Closing a downstream connection sends close_notify and waits at most this long for
        // the client's before closing the socket: Envoy's delayed_close_timeout (1 s). NIOSSL's
        // 5 s default also kept every such connection's pipeline and TLS buffers alive for 5 s
        // after the client had gone (its timer is not cancelled when the channel goes
        // inactive): with a new connection per request that was ~2,000 connections' worth of
        // memory (130 MiB) at 450 handshakes/s.
        configuration.shutdownTimeout = .seconds(1)
        switch spec.clientCertificates {
        case .required, .optional:
            guard let ca = material.ca else {
                throw SetupError(description: "\(spec.clientCertificates == .required ? "MUTUAL" : "OPTIONAL_MUTUAL") needs caCertificates (or ca.crt in the credential)")
            }
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            } catch {
                throw SetupError(description: "cannot read CA certificates \(material.location): \(error)")
            }
            configuration.certificateVerification = spec.clientCertificates == .required ? .noHostnameVerification : .optionalVerification
        case .none:
            configuration.certificateVerification = .none
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return ServerTLS(context: context, requiredSubjectAltNames: spec.subjectAltNames)
        } catch {
            throw SetupError(description: "TLS settings refused: \(error)")
        }
    }

    static func tlsVersion(_ version: ServerTLSSpec.Version?) -> TLSVersion? {
        switch version {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        case nil: nil
        }
    }
}
