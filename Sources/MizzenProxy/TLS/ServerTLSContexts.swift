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
    /// Servers whose TLS could not be set up; they are left out (Envoy rejects such a filter
    /// chain and keeps the rest of the listener), each with the reason.
    package private(set) var problems: [String] = []

    package init() {}

    package func tls(for server: ServerEntry) -> ServerTLS? {
        byServer[ObjectIdentifier(server)]
    }

    /// Builds a context for every https and tls-terminated server of `table`.
    ///
    /// `credentialsDirectory` holds mounted Kubernetes TLS Secrets: `DIR/NAME/tls.crt`, `tls.key`
    /// and `ca.crt` (or a separate `NAME-cacert/ca.crt`, as Istio's gateway accepts).
    package static func build(for table: RouteTable, credentialsDirectory: String?) -> ServerTLSContexts {
        var result = ServerTLSContexts()
        for listener in table.listeners {
            for server in listener.servers {
                guard let spec = server.terminatingTLS else { continue }
                do {
                    let tls = try makeContext(spec, credentialsDirectory: credentialsDirectory)
                    result.byServer[ObjectIdentifier(server)] = tls
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

    static func makeContext(_ spec: ServerTLSSpec, credentialsDirectory: String?) throws -> ServerTLS {
        var certificatePath = spec.serverCertificate
        var keyPath = spec.privateKey
        var caPath = spec.caCertificates
        if let name = spec.credentialName {
            guard let directory = credentialsDirectory else {
                throw SetupError(description: "credentialName \"\(name)\" needs --credentials DIR (DIR/\(name)/tls.crt, tls.key, ca.crt)")
            }
            let secret = name.split(separator: "/").last.map(String.init) ?? name
            let base = "\(directory)/\(secret)"
            certificatePath = firstExisting(["\(base)/tls.crt", "\(base)/cert"])
            keyPath = firstExisting(["\(base)/tls.key", "\(base)/key"])
            guard certificatePath != nil, keyPath != nil else {
                throw SetupError(description: "credential \"\(name)\": no \(base)/tls.crt and tls.key")
            }
            if spec.clientCertificates != .none {
                let caName = spec.caCredentialName.map { "\(directory)/\($0)" } ?? "\(base)-cacert"
                caPath = firstExisting(["\(base)/ca.crt", "\(base)/cacert", "\(caName)/ca.crt", "\(caName)/cacert"])
            }
        }
        guard let certificatePath, let keyPath else {
            throw SetupError(description: "no certificate: set credentialName or serverCertificate and privateKey")
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw SetupError(description: "cannot read certificate \(certificatePath): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw SetupError(description: "cannot read private key \(keyPath): \(error)")
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
            guard let caPath else {
                throw SetupError(description: "\(spec.clientCertificates == .required ? "MUTUAL" : "OPTIONAL_MUTUAL") needs caCertificates (or ca.crt in the credential)")
            }
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
            } catch {
                throw SetupError(description: "cannot read CA certificates \(caPath): \(error)")
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

    static func firstExisting(_ paths: [String]) -> String? {
        paths.first { access($0, R_OK) == 0 }
    }
}
