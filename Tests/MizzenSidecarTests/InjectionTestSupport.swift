import MizzenConfig
import Testing
@testable import MizzenSidecar

/// Reads injected output back for assertions.
struct InjectedDocument {
    let root: YAMLNode

    /// The node at a dotted path; `containers[1]` style indexes and `name=istio-proxy` selectors
    /// (the sequence entry whose `name` is that) are understood.
    func node(_ path: String) -> YAMLNode? {
        var current: YAMLNode? = root
        for part in path.split(separator: ".") {
            guard let node = current else { return nil }
            if let equals = part.firstIndex(of: "=") {
                let key = String(part[..<equals])
                let wanted = String(part[part.index(after: equals)...])
                current = node.items?.first { $0[key]?.scalarValue == wanted }
            } else if let open = part.firstIndex(of: "["), let index = Int(part[part.index(after: open)..<part.index(before: part.endIndex)]) {
                let items = node[String(part[..<open])]?.items
                current = items.flatMap { index < $0.count ? $0[index] : nil }
            } else {
                current = node[String(part)]
            }
        }
        return current
    }

    func string(_ path: String) -> String? { node(path)?.scalarValue }

    func strings(_ path: String) -> [String]? { node(path)?.items?.compactMap(\.scalarValue) }

    /// A mapping's keys in order.
    func keys(_ path: String) -> [String]? { node(path)?.pairs?.compactMap(\.key.scalarValue) }

    /// The names of a sequence of named entries.
    func names(_ path: String) -> [String]? { node(path)?.items?.compactMap { $0["name"]?.scalarValue } }

    /// An env entry's value in a container at `containerPath`.
    func environment(_ containerPath: String, _ name: String) -> String? {
        string("\(containerPath).env.name=\(name).value")
    }
}

func parseOutput(_ text: String) throws -> [InjectedDocument] {
    let stream = YAMLComposer.compose(Array(text.utf8))
    #expect(stream.problems.isEmpty, "output does not parse: \(stream.problems)\n\(text)")
    return stream.documents.compactMap { $0.root.map(InjectedDocument.init) }
}

func inject(_ yaml: String, options: InjectionOptions = InjectionOptions()) throws -> (docs: [InjectedDocument], result: InjectionResult) {
    let result = try SidecarInjector(options: options).inject(yaml: yaml, file: "test.yaml")
    return (try parseOutput(result.output), result)
}

func injectionError(_ yaml: String) -> InjectionError? {
    do throws(InjectionError) {
        _ = try SidecarInjector().inject(yaml: yaml, file: "test.yaml")
        return nil
    } catch {
        return error
    }
}

/// Istio's `hello.yaml` test input (pkg/kube/inject/testdata/inject), with annotations spliced in.
func helloDeployment(annotations: [String: String] = [:], labels: String = "app: hello\n        tier: backend\n        track: stable") -> String {
    var text = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: hello
        spec:
          replicas: 7
          selector:
            matchLabels:
              app: hello
          template:
            metadata:
              labels:
                \(labels)

        """
    if !annotations.isEmpty {
        text += "      annotations:\n"
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) {
            text += "        \(key): \(GoJSON.quoted(value))\n"
        }
    }
    text += """
            spec:
              containers:
                - name: hello
                  image: "fake.docker.io/google-samples/hello-go-gke:1.0"
                  ports:
                    - name: http
                      containerPort: 80

        """
    return text
}
