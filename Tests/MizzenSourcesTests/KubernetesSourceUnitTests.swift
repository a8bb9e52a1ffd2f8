import Foundation
import MizzenConfig
@testable import MizzenSources
import Testing

/// The Kubernetes source's pure parts: the JSON reader, kubeconfig and in-cluster settings, the
/// object store's list replacement, events and assembly.
struct JSONReaderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var json: String
        var problem: String?
        var testDescription: String { json }
    }

    static let cases: [Case] = [
        Case(json: #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#),
        Case(json: #"  [1, -2, 3.5, 1e3, -0.5E-2]  "#),
        Case(json: #""\u00e9\ud83d\ude00\n\t\"\\\/""#),
        Case(json: #"{"a": 1,}"#, problem: "expected a string key"),
        Case(json: #"[1 2]"#, problem: "expected ',' or ']'"),
        Case(json: #"{"a" 1}"#, problem: "expected ':'"),
        Case(json: #"01"#, problem: "may not start with 0"),
        Case(json: #"tru"#, problem: "unexpected end"),
        Case(json: #"trux"#, problem: "expected true"),
        Case(json: #""abc"#, problem: "unterminated string"),
        Case(json: #""\ud800x""#, problem: "high surrogate"),
        Case(json: "\"a\u{01}b\"", problem: "control character"),
        Case(json: #"{"a": 1} x"#, problem: "unexpected text after"),
        Case(json: #"// comment"#, problem: "unexpected character"),
        Case(json: "", problem: "unexpected end"),
    ]

    @Test(arguments: cases)
    func reads(_ testCase: Case) {
        switch JSONReader.read(testCase.json) {
        case .success:
            #expect(testCase.problem == nil, "accepted \(testCase.json)")
        case .failure(let problem):
            #expect(testCase.problem.map { problem.message.contains($0) } == true, "\(testCase.json): \(problem)")
        }
    }

    @Test func valuesKeepTheirJSONTypes() throws {
        let node = try JSONReader.read(#"{"s": "true", "n": 12, "b": true, "z": null, "u": "\u00e9\ud83d\ude00"}"#).get()
        #expect(node["s"]?.resolvedKind == .string)
        #expect(node["n"]?.resolvedKind == .integer)
        #expect(node["b"]?.resolvedKind == .bool)
        #expect(node["z"]?.resolvedKind == .null)
        #expect(node["u"]?.scalarValue == "é😀")
    }

    @Test func managedFieldsAreDroppedFromMetadataOnly() throws {
        let node = try JSONReader.read(#"{"metadata": {"name": "x", "managedFields": [{"manager": "kubectl"}]}, "spec": {"managedFields": 1}}"#).get()
        #expect(node["metadata"]?["managedFields"] == nil)
        #expect(node["metadata"]?["name"]?.scalarValue == "x")
        #expect(node["spec"]?["managedFields"]?.scalarValue == "1")
    }

    @Test(arguments: [#"{"a":"plain","b":"q\"uote\\ \n\t\u0001","c":[1,-2.5,true,null],"d":{}}"#, #"["é😀","true","12"]"#])
    func jsonTextReadsBackTheSame(_ json: String) throws {
        let node = try JSONReader.read(json).get()
        let again = try JSONReader.read(node.jsonText).get()
        #expect(again.jsonText == node.jsonText)
        #expect(node.jsonText == json, "compact JSON is written as read")
    }

    @Test func positionsAreLineAndColumn() {
        guard case .failure(let problem) = JSONReader.read("{\n  \"a\": [1,\n  ]}") else {
            Issue.record("accepted a trailing comma")
            return
        }
        #expect(problem.mark.line == 3)
    }
}

struct ClusterAccessTests {
    func write(_ text: String, _ name: String = "kubeconfig") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-kubeconfig-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func kubeconfig(server: String = "https://10.0.0.1:6443", user: String = "token: abc", cluster: String = "", current: String = "c") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: \(current)
        contexts:
        - name: c
          context: {cluster: k, user: u, namespace: team}
        clusters:
        - name: k
          cluster:
            server: \(server)
            certificate-authority-data: \(Data("PEM".utf8).base64EncodedString())
        \(cluster)
        users:
        - name: u
          user:
            \(user)
        """
    }

    @Test func tokenUserAndServer() throws {
        let access = try ClusterAccess.kubeconfig(path: write(Self.kubeconfig()))
        #expect(access.host == "10.0.0.1")
        #expect(access.port == 6443)
        #expect(access.namespace == "team")
        #expect(access.certificateAuthority == Array("PEM".utf8))
        #expect(try access.bearerToken() == "abc")
    }

    @Test func clientCertificateFromData() throws {
        let user = "client-certificate-data: \(Data("CERT".utf8).base64EncodedString())\n    client-key-data: \(Data("KEY".utf8).base64EncodedString())"
        let access = try ClusterAccess.kubeconfig(path: write(Self.kubeconfig(user: user)))
        guard case .clientCertificate(let certificate, let key) = access.credential else {
            Issue.record("no client certificate: \(access.credential)")
            return
        }
        #expect(certificate == Array("CERT".utf8))
        #expect(key == Array("KEY".utf8))
        #expect(try access.bearerToken() == nil)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var server: String
        var user: String
        var current: String
        var message: String
        var testDescription: String { message }
    }

    static let refusals: [Refusal] = [
        Refusal(server: "http://10.0.0.1:8080", user: "token: abc", current: "c", message: "is not https://"),
        Refusal(server: "https://10.0.0.1:6443/prefix", user: "token: abc", current: "c", message: "has a path"),
        Refusal(server: "https://10.0.0.1:x", user: "token: abc", current: "c", message: "bad port"),
        Refusal(server: "https://10.0.0.1", user: "exec: {command: aws}", current: "c", message: "exec plugin"),
        Refusal(server: "https://10.0.0.1", user: "client-certificate-data: \(Data("C".utf8).base64EncodedString())", current: "c", message: "no client key"),
        Refusal(server: "https://10.0.0.1", user: "token: abc", current: "other", message: "is not in contexts"),
        Refusal(server: "https://10.0.0.1", user: "client-certificate: missing.crt\n    client-key: missing.key", current: "c", message: "cannot read client-certificate"),
    ]

    @Test(arguments: refusals)
    func refused(_ refusal: Refusal) throws {
        let path = try write(Self.kubeconfig(server: refusal.server, user: refusal.user, current: refusal.current))
        #expect(throws: ClusterAccessError.self) { try ClusterAccess.kubeconfig(path: path) }
        do {
            _ = try ClusterAccess.kubeconfig(path: path)
        } catch {
            #expect(error.description.contains(refusal.message), "\(error)")
            #expect(error.description.contains(path), "names the file: \(error)")
        }
    }

    @Test func discoveryOrder() throws {
        let path = try write(Self.kubeconfig())
        #expect(try ClusterAccess.discover(kubeconfig: path, environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"]).host == "10.0.0.1",
                "a named kubeconfig wins over the pod's environment")
        #expect(try ClusterAccess.discover(kubeconfig: nil, environment: ["KUBECONFIG": "\(path):/elsewhere"]).host == "10.0.0.1", "KUBECONFIG's first entry")
        do {
            _ = try ClusterAccess.discover(kubeconfig: nil, environment: ["HOME": "/nonexistent-home"])
            Issue.record("found an API server with nothing to go on")
        } catch {
            #expect(error.description.contains("give --kubeconfig"))
        }
        #expect(KubernetesSourceSettings.namespaces(fromList: " shop, bank ,,\tops ") == ["shop", "bank", "ops"])
    }

    @Test func defaultPortAndIPv6() throws {
        #expect(try ClusterAccess.parseServer("https://[fd00::1]:6443", kubeconfig: "k") == ("fd00::1", 6443))
        #expect(try ClusterAccess.parseServer("https://api.example.com/", kubeconfig: "k") == ("api.example.com", 443))
    }

    @Test func inClusterReadsTheServiceAccountAndRereadsTheToken() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-sa-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "first\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "CA".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "istio-system\n".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let access = try ClusterAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory.path)
        #expect(access.host == "10.96.0.1" && access.port == 443)
        #expect(access.namespace == "istio-system")
        #expect(try access.bearerToken() == "first")
        try "rotated".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(try access.bearerToken() == "rotated", "a projected token is read again")
        #expect(throws: ClusterAccessError.self) { try ClusterAccess.inCluster(environment: [:], directory: directory.path) }
    }
}

struct ObjectStoreTests {
    static let loader = ConfigLoader(defaultNamespace: "default", analyze: false)

    func entry(_ name: String, namespace: String = "shop", version: String, host: String = "a.example.com", created: Int64 = 0) -> ObjectStore.Entry {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name), namespace: \(namespace)}
            spec: {hosts: [\(host)], http: [{route: [{destination: {host: x}}]}]}
            """
        let result = Self.loader.load(text: yaml)
        return ObjectStore.Entry(namespace: namespace, name: name, resourceVersion: version, fragment: result.snapshot, diagnostics: result.diagnostics,
                                 creationSeconds: created)
    }

    @Test func listReplacesAndWatchEventsUpdate() {
        let scope = WatchScope(kind: .virtualServices, namespace: nil)
        let store = ObjectStore(scopes: [scope])
        #expect(!store.isSynced)
        #expect(store.replace(scope, with: [entry("b", version: "1", created: 5), entry("a", version: "2", created: 5)], resourceVersion: "2"))
        #expect(store.isSynced)
        var assembly = store.assemble(secretNamespace: nil)
        #expect(assembly.snapshot.virtualServices.map(\.name) == ["a", "b"], "same creation time: by name")
        #expect(assembly.snapshot.virtualServices.map(\.loadIndex) == [0, 1])
        #expect(assembly.changedKinds == [.virtualServices])
        store.upsert(scope, entry("c", version: "3", created: 1))
        assembly = store.assemble(secretNamespace: nil)
        #expect(assembly.snapshot.virtualServices.map(\.name) == ["c", "a", "b"], "oldest first")
        store.delete(scope, namespace: "shop", name: "a", resourceVersion: "4")
        #expect(!store.replace(scope, with: [entry("b", version: "1", created: 5), entry("c", version: "3", created: 1)], resourceVersion: "4"),
                "a list equal to the store changes nothing")
        #expect(store.replace(scope, with: [entry("c", version: "3", created: 1)], resourceVersion: "5"), "b is gone from the list")
        assembly = store.assemble(secretNamespace: nil)
        #expect(assembly.snapshot.virtualServices.map(\.name) == ["c"])
        #expect(store.scopes[scope]?.resourceVersion == "5")
    }

    /// A changed object is put in its place in the last assembly (the kind is not assembled
    /// again); one that turns invalid, or a new one, makes the kind be assembled again.
    @Test func changedObjectsTakeTheirPlace() {
        let scope = WatchScope(kind: .virtualServices, namespace: nil)
        let store = ObjectStore(scopes: [scope])
        store.replace(scope, with: [entry("a", version: "1", created: 1), entry("b", version: "2", created: 2), entry("c", version: "3", created: 3)],
                      resourceVersion: "3")
        let first = store.assemble(secretNamespace: nil).snapshot
        store.upsert(scope, entry("b", version: "4", host: "b2.example.com", created: 2))
        var snapshot = store.assemble(secretNamespace: nil).snapshot
        #expect(snapshot.virtualServices.map(\.name) == ["a", "b", "c"])
        #expect(snapshot.virtualServices.map(\.loadIndex) == [0, 1, 2])
        #expect(snapshot.virtualServices[1].spec.hosts == ["b2.example.com"])
        #expect(first.virtualServices[1].spec.hosts == ["a.example.com"], "the snapshot already made is not changed")
        store.upsert(scope, entry("a", version: "5", host: "not a host!", created: 1))
        snapshot = store.assemble(secretNamespace: nil).snapshot
        #expect(snapshot.virtualServices.map(\.name) == ["b", "c"], "invalid: left out")
        store.upsert(scope, entry("c", version: "6", host: "c2.example.com", created: 3))
        store.upsert(scope, entry("a", version: "7", created: 1))
        snapshot = store.assemble(secretNamespace: nil).snapshot
        #expect(snapshot.virtualServices.map(\.name) == ["a", "b", "c"])
        #expect(snapshot.virtualServices.map { $0.spec.hosts ?? [] } == [["a.example.com"], ["b2.example.com"], ["c2.example.com"]])
        store.upsert(scope, entry("c", version: "8", host: "c3.example.com", created: 3))
        store.upsert(scope, entry("d", version: "9", created: 0))
        snapshot = store.assemble(secretNamespace: nil).snapshot
        #expect(snapshot.virtualServices.map(\.name) == ["d", "a", "b", "c"])
        #expect(snapshot.virtualServices.map(\.loadIndex) == [0, 1, 2, 3])
        #expect(snapshot.virtualServices[3].spec.hosts == ["c3.example.com"])
    }

    @Test func aNamespacedListLeavesOtherNamespacesAlone() {
        let shop = WatchScope(kind: .virtualServices, namespace: "shop")
        let bank = WatchScope(kind: .virtualServices, namespace: "bank")
        let store = ObjectStore(scopes: [shop, bank])
        store.replace(shop, with: [entry("a", version: "1")], resourceVersion: "1")
        #expect(!store.isSynced)
        store.replace(bank, with: [entry("b", namespace: "bank", version: "2")], resourceVersion: "2")
        store.replace(shop, with: [], resourceVersion: "3")
        #expect(store.assemble(secretNamespace: nil).snapshot.virtualServices.map(\.name) == ["b"])
    }

    @Test func invalidObjectsAreCountedNotServed() {
        let scope = WatchScope(kind: .virtualServices, namespace: nil)
        let store = ObjectStore(scopes: [scope])
        let bad = Self.loader.load(text: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad, namespace: shop}\nspec: {hosts: []}\n")
        #expect(bad.snapshot.objectCount == 0)
        store.replace(scope, with: [entry("good", version: "1"),
                                    ObjectStore.Entry(namespace: "shop", name: "bad", resourceVersion: "2", fragment: bad.snapshot, diagnostics: bad.diagnostics, creationSeconds: 0)],
                      resourceVersion: "2")
        let assembly = store.assemble(secretNamespace: nil)
        #expect(assembly.objectCount == 2)
        #expect(assembly.invalidCount == 1)
        #expect(assembly.snapshot.virtualServices.map(\.name) == ["good"])
    }

    @Test func onlySecretsNamedByCredentialNameAreKept() {
        let secrets = WatchScope(kind: .secrets, namespace: "istio-system")
        let gateways = WatchScope(kind: .gateways, namespace: nil)
        let store = ObjectStore(scopes: [secrets, gateways])
        func secret(_ name: String) -> ObjectStore.Entry {
            let result = Self.loader.load(text: "apiVersion: v1\nkind: Secret\nmetadata: {name: \(name), namespace: istio-system}\ntype: kubernetes.io/tls\ndata: {tls.crt: QQ==}\n")
            return ObjectStore.Entry(namespace: "istio-system", name: name, resourceVersion: "1", fragment: result.snapshot, diagnostics: [], creationSeconds: 0)
        }
        store.replace(secrets, with: [secret("edge"), secret("edge-cacert"), secret("unrelated")], resourceVersion: "1")
        let gateway = Self.loader.load(text: """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: g, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"], tls: {mode: SIMPLE, credentialName: edge}}]
            """)
        store.replace(gateways, with: [ObjectStore.Entry(namespace: "istio-system", name: "g", resourceVersion: "2", fragment: gateway.snapshot, diagnostics: [],
                                                         creationSeconds: 0)], resourceVersion: "2")
        #expect(store.assemble(secretNamespace: "istio-system").snapshot.secrets.map(\.name).sorted() == ["edge", "edge-cacert"])
    }
}
