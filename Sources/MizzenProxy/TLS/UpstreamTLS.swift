import MizzenConfig
import MizzenRouting
import NIOCore
import NIOSSL
import NIOTLS

/// TLS origination towards one cluster (DestinationRule `trafficPolicy.tls`): the client
/// context, the server name to send and the names the upstream certificate must carry.
final class UpstreamTLS: Sendable {
    let context: NIOSSLContext
    /// SNI sent when set; nil: the request's host name (Istio's auto SNI).
    let serverName: String?
    /// Names one of which the upstream certificate must carry (DNS or URI SANs); empty with
    /// `verifyAgainstServerName` false: chain validation only.
    let subjectAltNames: [String]
    /// Istio's auto SAN validation: with neither `sni` nor `subjectAltNames`, the certificate is
    /// checked against the host the request was for.
    let verifyAgainstServerName: Bool
    let skipVerification: Bool

    init(context: NIOSSLContext, serverName: String?, subjectAltNames: [String], verifyAgainstServerName: Bool, skipVerification: Bool) {
        self.context = context
        self.serverName = serverName
        self.subjectAltNames = subjectAltNames
        self.verifyAgainstServerName = verifyAgainstServerName
        self.skipVerification = skipVerification
    }

    /// The server name for one connection: the configured one, else the request's host.
    func serverName(forHost host: String) -> String? {
        if let serverName { return serverName }
        return host.isEmpty ? nil : host
    }

    /// The SANs the certificate must match for a connection made with `serverName`.
    func requiredNames(serverName: String?) -> [String] {
        if skipVerification { return [] }
        if !subjectAltNames.isEmpty { return subjectAltNames }
        if verifyAgainstServerName, let serverName { return [serverName] }
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

    /// The context for `settings` (nil for DISABLE), reading every file now, off the loops.
    static func make(_ settings: ClientTLSSettings, cluster: Cluster, http2: Bool, credentialsDirectory: String?,
                     workloadCertificates: WorkloadCertificates?) throws -> UpstreamTLS? {
        let mode = settings.mode ?? .disable
        if mode == .disable { return nil }
        var certificatePath = settings.clientCertificate
        var keyPath = settings.privateKey
        var caPath = settings.caCertificates
        var serverName = settings.sni.flatMap { $0.isEmpty ? nil : $0 }
        if mode == .istioMutual {
            guard let workload = workloadCertificates else {
                throw SetupError(description: "ISTIO_MUTUAL needs the workload certificates: --workload-certs DIR (cert-chain.pem, key.pem, root-cert.pem)")
            }
            certificatePath = "\(workload.directory)/cert-chain.pem"
            keyPath = "\(workload.directory)/key.pem"
            caPath = "\(workload.directory)/root-cert.pem"
            // Istio's SNI for mesh mTLS names the cluster: outbound_.PORT_.SUBSET_.HOST.
            serverName = serverName ?? "outbound_.\(cluster.port)_.\(cluster.subset ?? "")_.\(cluster.serviceHost)"
        } else if let name = settings.credentialName {
            guard let directory = credentialsDirectory else {
                throw SetupError(description: "credentialName \"\(name)\" needs --credentials DIR (DIR/\(name)/tls.crt, tls.key, ca.crt)")
            }
            let secret = name.split(separator: "/").last.map(String.init) ?? name
            let base = "\(directory)/\(secret)"
            certificatePath = ServerTLSContexts.firstExisting(["\(base)/tls.crt", "\(base)/cert"])
            keyPath = ServerTLSContexts.firstExisting(["\(base)/tls.key", "\(base)/key"])
            caPath = ServerTLSContexts.firstExisting(["\(base)/ca.crt", "\(base)/cacert", "\(base)-cacert/ca.crt", "\(base)-cacert/cacert"])
            if mode == .mutual, certificatePath == nil || keyPath == nil {
                throw SetupError(description: "credential \"\(name)\": no \(base)/tls.crt and tls.key for MUTUAL")
            }
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        // Closing an upstream connection sends close_notify and does not wait long for the
        // peer's (an idle upstream reads nothing until it wants to): NIOSSL's default is 5 s.
        configuration.shutdownTimeout = .milliseconds(250)
        if mode == .mutual || mode == .istioMutual {
            guard let certificatePath, let keyPath else {
                throw SetupError(description: "\(mode.rawValue) needs clientCertificate and privateKey (or credentialName)")
            }
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
            } catch {
                throw SetupError(description: "cannot read client certificate \(certificatePath): \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
            } catch {
                throw SetupError(description: "cannot read private key \(keyPath): \(error)")
            }
        }
        let skip = settings.insecureSkipVerify == true
        if skip {
            configuration.certificateVerification = .none
        } else {
            // The chain is verified by OpenSSL; names are checked after the handshake (Istio's
            // SAN list may differ from the SNI, which OpenSSL's host check would use).
            configuration.certificateVerification = .noHostnameVerification
            if let caPath {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
                } catch {
                    throw SetupError(description: "cannot read CA certificates \(caPath): \(error)")
                }
            }
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SetupError(description: "TLS settings refused: \(error)")
        }
        let sans = settings.subjectAltNames ?? []
        return UpstreamTLS(context: context, serverName: serverName, subjectAltNames: sans,
                           verifyAgainstServerName: mode != .istioMutual && settings.sni == nil && sans.isEmpty, skipVerification: skip)
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
