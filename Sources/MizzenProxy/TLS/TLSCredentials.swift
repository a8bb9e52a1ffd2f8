/// Where `credentialName` finds its TLS material: Kubernetes Secrets of the proxy's namespace
/// read from the API server (held in memory, swapped on every change), else Secrets mounted as
/// directories (`DIR/NAME/tls.crt`...). Istio's keys: `tls.crt`/`tls.key`/`ca.crt`, or the
/// generic `cert`/`key`/`cacert`; the CA may also be in a `NAME-cacert` Secret.
package struct TLSCredentials: Sendable {
    /// A Secret's `data`, decoded: key to bytes.
    package typealias SecretData = [String: [UInt8]]

    package var directory: String?
    /// Secrets by name.
    package var secrets: [String: SecretData]

    /// Secrets come from the API server (messages say so when one is missing).
    package var fromKubernetes: Bool

    package init(directory: String? = nil, secrets: [String: SecretData] = [:], fromKubernetes: Bool = false) {
        self.directory = directory
        self.secrets = secrets
        self.fromKubernetes = fromKubernetes
    }

    /// One credential's bytes; `where` names it in messages.
    struct Material {
        var certificate: [UInt8]?
        var key: [UInt8]?
        var ca: [UInt8]?
        var location: String

        /// All bytes that make a context, to tell whether it changed.
        var fingerprint: [UInt8] {
            var bytes: [UInt8] = []
            for part in [certificate, key, ca] {
                bytes += part ?? []
                bytes.append(0)
            }
            return bytes
        }
    }

    struct MissingCredential: Error, CustomStringConvertible {
        var description: String
    }

    /// The material of `name` (a bare name or `namespace/name`: the name is looked up), with
    /// the CA from the Secret itself or from `caName` (default `NAME-cacert`). Nil fields where
    /// the Secret has no such key or the directory no such file.
    func material(named name: String, caName: String? = nil) throws -> Material {
        let bare = name.split(separator: "/").last.map(String.init) ?? name
        let caSecret = caName.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? "\(bare)-cacert"
        if let data = secrets[bare] {
            let ca = data["ca.crt"] ?? data["cacert"] ?? secrets[caSecret].flatMap { $0["ca.crt"] ?? $0["cacert"] }
            return Material(certificate: data["tls.crt"] ?? data["cert"], key: data["tls.key"] ?? data["key"], ca: ca, location: "Secret \(bare)")
        }
        guard let directory else {
            throw MissingCredential(description: fromKubernetes
                ? "credentialName \"\(name)\": no Secret \(bare) in the gateway's namespace (or it is invalid)"
                : "credentialName \"\(name)\" needs --credentials DIR (DIR/\(bare)/tls.crt, tls.key, ca.crt)")
        }
        let base = "\(directory)/\(bare)"
        func first(_ paths: [String]) -> [UInt8]? {
            for path in paths { if let bytes = FileBytes.read(path) { return bytes } }
            return nil
        }
        return Material(certificate: first(["\(base)/tls.crt", "\(base)/cert"]), key: first(["\(base)/tls.key", "\(base)/key"]),
                        ca: first(["\(base)/ca.crt", "\(base)/cacert", "\(directory)/\(caSecret)/ca.crt", "\(directory)/\(caSecret)/cacert"]),
                        location: base)
    }
}
