#if canImport(Glibc)
import Glibc
#endif
import MizzenRouting
import NIOCore
import NIOSSL
import NIOTLS

/// TLS origination towards one cluster (DestinationRule `trafficPolicy.tls`): the client
/// context, the server name to send and the names the upstream certificate must carry.
final class UpstreamTLS: Sendable {
    let context: NIOSSLContext
    let settings: UpstreamTLSSettings
    /// The bytes of every file the context was built from: a publish whose settings and files
    /// are unchanged keeps this context (and the pools' connections); a rotated certificate or CA
    /// makes a new one.
    let fingerprint: [UInt8]

    init(context: NIOSSLContext, settings: UpstreamTLSSettings, fingerprint: [UInt8]) {
        self.context = context
        self.settings = settings
        self.fingerprint = fingerprint
    }

    /// SNI sent when set; nil: the request's host name (Istio's auto SNI).
    var serverName: String? { settings.sni }

    /// The server name for one connection: the configured one, else the request's host.
    func serverName(forHost host: String) -> String? {
        if let serverName { return serverName }
        return host.isEmpty ? nil : host
    }

    /// The SANs the certificate must match for a connection made with `serverName`.
    func requiredNames(serverName: String?) -> [String] {
        if settings.insecureSkipVerify { return [] }
        if !settings.subjectAltNames.isEmpty { return settings.subjectAltNames }
        if settings.verifiesRequestHost, let serverName { return [serverName] }
        return []
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// Where ISTIO_MUTUAL finds the workload's certificate, key and mesh root (Istio's legacy
    /// file-mounted layout: `cert-chain.pem`, `key.pem`, `root-cert.pem`).
    package struct WorkloadCertificates: Sendable {
        package var directory: String
        package init(directory: String) { self.directory = directory }
    }

    /// The bytes `settings` names: the workload's certificate (ISTIO_MUTUAL), a credential's
    /// (`credentialName`: a Secret from the API server or a mounted directory), or files.
    static func material(_ settings: UpstreamTLSSettings, credentials: TLSCredentials, workloadCertificates: WorkloadCertificates?) throws -> TLSCredentials.Material {
        let wantsCertificate = settings.mode == .mutual || settings.mode == .istioMutual
        func file(_ path: String?, what: String) throws -> [UInt8]? {
            guard let path else { return nil }
            return try read(path, what: what)
        }
        var material: TLSCredentials.Material
        if settings.mode == .istioMutual {
            guard let workload = workloadCertificates else {
                throw SetupError(description: "ISTIO_MUTUAL needs the workload certificates: --workload-certs DIR (cert-chain.pem, key.pem, root-cert.pem)")
            }
            material = TLSCredentials.Material(certificate: try file("\(workload.directory)/cert-chain.pem", what: "client certificate"),
                                               key: try file("\(workload.directory)/key.pem", what: "private key"),
                                               ca: try file("\(workload.directory)/root-cert.pem", what: "CA certificates"), location: workload.directory)
        } else if let name = settings.credentialName {
            material = try credentials.material(named: name)
            if settings.mode == .mutual, material.certificate == nil || material.key == nil {
                throw SetupError(description: "credential \"\(name)\": no tls.crt and tls.key in \(material.location) for MUTUAL")
            }
        } else {
            material = TLSCredentials.Material(certificate: wantsCertificate ? try file(settings.clientCertificate, what: "client certificate") : nil,
                                               key: wantsCertificate ? try file(settings.privateKey, what: "private key") : nil,
                                               ca: try file(settings.caCertificates, what: "CA certificates"), location: settings.clientCertificate ?? "")
        }
        if !wantsCertificate {
            material.certificate = nil
            material.key = nil
        }
        if settings.insecureSkipVerify { material.ca = nil }
        return material
    }

    /// The context for `settings`, reading every file now, off the loops. `previous`, when its
    /// settings and bytes are the same, is returned as it is.
    static func make(_ settings: UpstreamTLSSettings, credentials: TLSCredentials, workloadCertificates: WorkloadCertificates?,
                     previous: UpstreamTLS? = nil) throws -> UpstreamTLS {
        let material = try material(settings, credentials: credentials, workloadCertificates: workloadCertificates)
        if settings.mode == .mutual || settings.mode == .istioMutual, material.certificate == nil || material.key == nil {
            throw SetupError(description: "\(settings.mode.rawValue) needs clientCertificate and privateKey (or credentialName)")
        }
        let certificateBytes = material.certificate
        let keyBytes = material.key
        let caBytes = material.ca
        let fingerprint = material.fingerprint
        if let previous, previous.settings == settings, previous.fingerprint == fingerprint { return previous }

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = settings.alpn
        // Closing an upstream connection sends close_notify and does not wait long for the
        // peer's (an idle upstream reads nothing until it wants to): NIOSSL's default is 5 s.
        configuration.shutdownTimeout = .milliseconds(250)
        if let certificateBytes, let keyBytes {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificateBytes).map { .certificate($0) }
            } catch {
                throw SetupError(description: "cannot read client certificate \(material.location): \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: keyBytes, format: .pem))
            } catch {
                throw SetupError(description: "cannot read private key \(material.location): \(error)")
            }
        }
        if settings.insecureSkipVerify {
            configuration.certificateVerification = .none
        } else {
            // The chain is verified by OpenSSL; names are checked after the handshake (Istio's
            // SAN list may differ from the SNI, which OpenSSL's host check would use).
            configuration.certificateVerification = .noHostnameVerification
            if let caBytes {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(caBytes))
                } catch {
                    throw SetupError(description: "cannot read CA certificates \(material.location): \(error)")
                }
            }
        }
        do {
            return UpstreamTLS(context: try NIOSSLContext(configuration: configuration), settings: settings, fingerprint: fingerprint)
        } catch {
            throw SetupError(description: "TLS settings refused: \(error)")
        }
    }

    static func read(_ path: String, what: String) throws -> [UInt8] {
        guard let bytes = FileBytes.read(path) else { throw SetupError(description: "cannot read \(what) \(path)") }
        return bytes
    }
}

/// Completes the connect of a TLS upstream: succeeds when the handshake is done and the
/// certificate carries a required name, fails (and closes) otherwise, so that a bad upstream
/// certificate is a connect failure (503 UF, retryable) rather than a reset mid-request.
final class UpstreamHandshakeCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let requiredNames: [String]
    let done: EventLoopPromise<Void>
    private var finished = false

    init(requiredNames: [String], done: EventLoopPromise<Void>) {
        self.requiredNames = requiredNames
        self.done = done
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            if requiredNames.isEmpty || certificateMatches(context: context) {
                finish(context: context, error: nil)
            } else {
                finish(context: context, error: ProxyError.connectFailure)
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func certificateMatches(context: ChannelHandlerContext) -> Bool {
        guard let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate else { return false }
        for name in certificate._subjectAlternativeNames() {
            switch name.nameType {
            case .dnsName, .uri:
                let value = String(decoding: name.contents, as: UTF8.self)
                if requiredNames.contains(where: { Self.matches(pattern: value, name: $0) }) { return true }
            default:
                continue
            }
        }
        return false
    }

    /// A certificate name (possibly `*.example.com`) against a required name.
    static func matches(pattern: String, name: String) -> Bool {
        let pattern = pattern.lowercased(), name = name.lowercased()
        if pattern == name { return true }
        if pattern.hasPrefix("*."), let dot = name.firstIndex(of: ".") {
            return name[dot...] == pattern.dropFirst()
        }
        return false
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context: context, error: ProxyError.connectFailure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, error: ProxyError.connectFailure)
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, error: (any Error)?) {
        guard !finished else { return }
        finished = true
        if let error { done.fail(error) } else { done.succeed() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamHandshakeCheck: Sendable {}

/// Reads a whole (small) file: certificates and keys, off the event loops.
enum FileBytes {
    static func read(_ path: String, limit: Int = 4 << 20) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count > limit { return nil }
        }
    }
}
