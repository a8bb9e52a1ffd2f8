import MizzenConfig

#if canImport(Glibc)
import Glibc
#endif

/// Where the Kubernetes API server is and how to authenticate to it: client-go's `rest.Config`,
/// made from the pod's service account (`InClusterConfig`) or from a kubeconfig file.
package struct ClusterAccess: Sendable {
    package enum Credential: Sendable {
        case none
        case token(String)
        /// A projected service-account token: rotated by the kubelet, so read again for every
        /// request (client-go re-reads it at least every minute).
        case tokenFile(String)
        case clientCertificate(certificate: [UInt8], key: [UInt8])
    }

    package var host: String
    package var port: Int
    /// PEM of the CA bundle the server's certificate must chain to; nil: the system's roots.
    package var certificateAuthority: [UInt8]?
    package var insecureSkipVerify = false
    /// `tls-server-name` in a kubeconfig: the name checked in the server's certificate.
    package var serverName: String?
    package var credential: Credential
    /// The namespace the pod runs in (in-cluster) or the context's namespace.
    package var namespace: String?

    package init(host: String, port: Int, certificateAuthority: [UInt8]?, credential: Credential, namespace: String? = nil) {
        self.host = host
        self.port = port
        self.certificateAuthority = certificateAuthority
        self.credential = credential
        self.namespace = namespace
    }

    package var serverDescription: String { "https://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// The bearer token to send now (nil: none). A token file that cannot be read is an error:
    /// the request would be refused anyway, and the message says why.
    package func bearerToken() throws(ClusterAccessError) -> String? {
        switch credential {
        case .none, .clientCertificate: return nil
        case .token(let token): return token
        case .tokenFile(let path):
            guard let bytes = Self.readFile(path) else { throw ClusterAccessError("cannot read the service account token \(path): \(String(cString: strerror(errno)))") }
            return String(decoding: bytes, as: UTF8.self).trimmedWhitespace
        }
    }

    // MARK: In-cluster

    package static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// client-go's `InClusterConfig`: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the service
    /// account's token, CA and namespace mounted at `directory`.
    package static func inCluster(environment: [String: String], directory: String = serviceAccountDirectory) throws(ClusterAccessError) -> ClusterAccess {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let portText = environment["KUBERNETES_SERVICE_PORT"], let port = Int(portText) else {
            throw ClusterAccessError("not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set); give --kubeconfig")
        }
        let tokenPath = "\(directory)/token"
        guard access(tokenPath, R_OK) == 0 else { throw ClusterAccessError("no service account token at \(tokenPath) (automountServiceAccountToken off?)") }
        guard let ca = readFile("\(directory)/ca.crt") else { throw ClusterAccessError("cannot read \(directory)/ca.crt") }
        let namespace = readFile("\(directory)/namespace").map { String(decoding: $0, as: UTF8.self).trimmedWhitespace }
        return ClusterAccess(host: host, port: port, certificateAuthority: ca, credential: .tokenFile(tokenPath), namespace: namespace)
    }

    // MARK: kubeconfig

    /// The current context of a kubeconfig file (`KUBECONFIG` or `~/.kube/config` when `path`
    /// is nil): its cluster's server and CA, its user's token or client certificate.
    package static func kubeconfig(path: String) throws(ClusterAccessError) -> ClusterAccess {
        guard let bytes = readFile(path) else { throw ClusterAccessError("cannot read kubeconfig \(path): \(String(cString: strerror(errno)))") }
        let stream = YAMLComposer.compose(bytes)
        if let problem = stream.problems.first {
            throw ClusterAccessError("kubeconfig \(path):\(problem.mark.line):\(problem.mark.column): \(problem.message)")
        }
        guard let root = stream.documents.first?.root else { throw ClusterAccessError("kubeconfig \(path) is empty") }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : "\(directory)/\(file)" }
        func named(_ list: String, _ name: String) -> YAMLNode? {
            guard case .sequence(let items)? = root[list]?.content else { return nil }
            return items.first { $0["name"]?.scalarValue == name }
        }
        guard let contextName = root["current-context"]?.scalarValue, !contextName.isEmpty else {
            throw ClusterAccessError("kubeconfig \(path): no current-context")
        }
        guard let context = named("contexts", contextName)?["context"] else {
            throw ClusterAccessError("kubeconfig \(path): current-context \"\(contextName)\" is not in contexts")
        }
        guard let clusterName = context["cluster"]?.scalarValue, let cluster = named("clusters", clusterName)?["cluster"] else {
            throw ClusterAccessError("kubeconfig \(path): context \"\(contextName)\" names no cluster in clusters")
        }
        guard let server = cluster["server"]?.scalarValue else { throw ClusterAccessError("kubeconfig \(path): cluster \"\(clusterName)\" has no server") }
        let (host, port) = try parseServer(server, kubeconfig: path)

        func material(_ node: YAMLNode?, data: String, file: String, what: String) throws(ClusterAccessError) -> [UInt8]? {
            if let encoded = node?[data]?.scalarValue {
                guard let decoded = Base64.decode(encoded) else { throw ClusterAccessError("kubeconfig \(path): \(data) of \(what) is not base64") }
                return decoded
            }
            if let name = node?[file]?.scalarValue {
                guard let bytes = readFile(resolve(name)) else { throw ClusterAccessError("kubeconfig \(path): cannot read \(file) \(resolve(name)) of \(what)") }
                return bytes
            }
            return nil
        }
        let ca = try material(cluster, data: "certificate-authority-data", file: "certificate-authority", what: "cluster \(clusterName)")
        var credential = Credential.none
        if let userName = context["user"]?.scalarValue, let user = named("users", userName)?["user"] {
            if user["exec"] != nil || user["auth-provider"] != nil {
                throw ClusterAccessError("kubeconfig \(path): user \"\(userName)\" authenticates with an exec plugin or auth-provider, which Mizzen does not run; use a token or a client certificate")
            }
            if let token = user["token"]?.scalarValue {
                credential = .token(token)
            } else if let tokenFile = user["tokenFile"]?.scalarValue {
                credential = .tokenFile(resolve(tokenFile))
            } else if let certificate = try material(user, data: "client-certificate-data", file: "client-certificate", what: "user \(userName)") {
                guard let key = try material(user, data: "client-key-data", file: "client-key", what: "user \(userName)") else {
                    throw ClusterAccessError("kubeconfig \(path): user \"\(userName)\" has a client certificate but no client key")
                }
                credential = .clientCertificate(certificate: certificate, key: key)
            }
        }
        var result = ClusterAccess(host: host, port: port, certificateAuthority: ca, credential: credential, namespace: context["namespace"]?.scalarValue)
        result.insecureSkipVerify = cluster["insecure-skip-tls-verify"]?.scalarValue == "true"
        result.serverName = cluster["tls-server-name"]?.scalarValue
        return result
    }

    /// `https://host[:port][/]`; IPv6 in brackets. Plain http is refused: tokens would travel in
    /// the clear.
    static func parseServer(_ server: String, kubeconfig: String) throws(ClusterAccessError) -> (String, Int) {
        guard server.hasPrefix("https://") else {
            throw ClusterAccessError("kubeconfig \(kubeconfig): server \(server) is not https:// (Mizzen talks to the API server over TLS only)")
        }
        var rest = Substring(server.dropFirst("https://".count))
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw ClusterAccessError("kubeconfig \(kubeconfig): server \(server) has a path; only https://host:port is supported")
            }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 443
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()) else { throw ClusterAccessError("kubeconfig \(kubeconfig): bad port in server \(server)") }
                port = number
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let number = Int(rest[rest.index(after: colon)...]) else { throw ClusterAccessError("kubeconfig \(kubeconfig): bad port in server \(server)") }
            port = number
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw ClusterAccessError("kubeconfig \(kubeconfig): bad server \(server)") }
        return (host, port)
    }

    /// client-go's order: the kubeconfig named, else the pod's service account when in a pod,
    /// else `KUBECONFIG` (its first entry) or `$HOME/.kube/config` when it exists.
    package static func discover(kubeconfig: String?, environment: [String: String]) throws(ClusterAccessError) -> ClusterAccess {
        if let kubeconfig { return try Self.kubeconfig(path: kubeconfig) }
        if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment) }
        if let path = defaultKubeconfigPath(environment: environment), access(path, F_OK) == 0 { return try Self.kubeconfig(path: path) }
        throw ClusterAccessError("no API server: not in a pod (KUBERNETES_SERVICE_HOST unset) and no kubeconfig; give --kubeconfig")
    }

    /// The default kubeconfig path: `KUBECONFIG` (its first entry) or `$HOME/.kube/config`.
    package static func defaultKubeconfigPath(environment: [String: String]) -> String? {
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first { return String(first) }
        if let home = environment["HOME"] { return "\(home)/.kube/config" }
        return nil
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count < 16 << 20 {
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if got == 0 { break }
            bytes += chunk[..<got]
        }
        return bytes
    }
}

package struct ClusterAccessError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends (a token or namespace file).
    var trimmedWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
