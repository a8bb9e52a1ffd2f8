import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// A Kubernetes service's instances from its EndpointSlices, as a table.
struct ServiceRegistryTests {
    struct SliceCase: CustomStringConvertible, Sendable {
        var name: String
        /// Slices as `service: [(address, pod or nil, ready)]`.
        var slices: [(service: String, endpoints: [(address: String, pod: String?, ready: Bool)])]
        /// The instances of `web`, as "address" or "address:version" when a pod labels it.
        var instances: [String]
        var description: String { name }
    }

    static let cases: [SliceCase] = [
        SliceCase(name: "one slice, two endpoints", slices: [("web", [("10.0.0.1", nil, true), ("10.0.0.2", nil, true)])],
                  instances: ["10.0.0.1", "10.0.0.2"]),
        SliceCase(name: "the same endpoint in two slices counts once", slices: [("web", [("10.0.0.1", nil, true)]), ("web", [("10.0.0.1", nil, true), ("10.0.0.3", nil, true)])],
                  instances: ["10.0.0.1", "10.0.0.3"]),
        SliceCase(name: "the same endpoint twice in a slice counts once", slices: [("web", [("10.0.0.1", nil, true), ("10.0.0.1", nil, true)])],
                  instances: ["10.0.0.1"]),
        SliceCase(name: "one address, two pods with other labels: two instances", slices: [("web", [("10.0.0.1", "web-v1", true)]), ("web", [("10.0.0.1", "web-v2", true)])],
                  instances: ["10.0.0.1:v1", "10.0.0.1:v2"]),
        SliceCase(name: "one address, the same pod in two slices: once", slices: [("web", [("10.0.0.1", "web-v1", true)]), ("web", [("10.0.0.1", "web-v1", true)])],
                  instances: ["10.0.0.1:v1"]),
        SliceCase(name: "an endpoint not ready is left out", slices: [("web", [("10.0.0.1", nil, false), ("10.0.0.2", nil, true)])],
                  instances: ["10.0.0.2"]),
        SliceCase(name: "another service's slice is its own", slices: [("web", [("10.0.0.1", nil, true)]), ("api", [("10.0.0.9", nil, true)])],
                  instances: ["10.0.0.1"]),
    ]

    @Test(arguments: cases)
    func instancesFromSlices(_ testCase: SliceCase) {
        var documents = ["web", "api"].map { name in
            """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: shop}
            spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
            """
        }
        for version in ["v1", "v2"] {
            documents.append("""
                apiVersion: v1
                kind: Pod
                metadata: {name: web-\(version), namespace: shop, labels: {app: web, version: \(version)}}
                spec: {containers: [{name: web, image: web}]}
                """)
        }
        for (index, slice) in testCase.slices.enumerated() {
            let endpoints = slice.endpoints.map { endpoint in
                "- {addresses: [\"\(endpoint.address)\"], conditions: {ready: \(endpoint.ready)}"
                    + (endpoint.pod.map { ", targetRef: {kind: Pod, namespace: shop, name: \($0)}" } ?? "") + "}"
            }
            documents.append("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(slice.service)-\(index), namespace: shop, labels: {kubernetes.io/service-name: \(slice.service)}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints:
                \(endpoints.joined(separator: "\n"))
                """)
        }
        let registry = ServiceRegistry(snapshot(yaml: documents.joined(separator: "\n---\n")))
        let instances = registry.services["web.shop.svc.cluster.local"]?.instances ?? []
        let shown = instances.map { instance in instance.address + (instance.labels["version"].map { ":\($0)" } ?? "") }
        #expect(shown == testCase.instances)
    }

    /// A registry made again takes from the last one the services whose objects have the same
    /// resourceVersions, and makes the others: each row changes the objects of the first
    /// registry and names the services the second one must have made again.
    struct ReuseCase: CustomStringConvertible, Sendable {
        var name: String
        /// (Service version, slice version, slice addresses) per service, before and after.
        var before: [String: (service: String, slice: String, addresses: [String])]
        var after: [String: (service: String, slice: String, addresses: [String])]
        var remade: Set<String>
        var description: String { name }
    }

    static let reuseCases: [ReuseCase] = [
        ReuseCase(name: "nothing changed: every service taken",
                  before: ["web": ("1", "1", ["10.0.0.1"]), "api": ("1", "1", ["10.0.0.9"])],
                  after: ["web": ("1", "1", ["10.0.0.1"]), "api": ("1", "1", ["10.0.0.9"])], remade: []),
        ReuseCase(name: "one slice changed: its service made again",
                  before: ["web": ("1", "1", ["10.0.0.1"]), "api": ("1", "1", ["10.0.0.9"])],
                  after: ["web": ("1", "2", ["10.0.0.2"]), "api": ("1", "1", ["10.0.0.9"])], remade: ["web"]),
        ReuseCase(name: "one Service changed: made again",
                  before: ["web": ("1", "1", ["10.0.0.1"]), "api": ("1", "1", ["10.0.0.9"])],
                  after: ["web": ("1", "1", ["10.0.0.1"]), "api": ("2", "1", ["10.0.0.9"])], remade: ["api"]),
        ReuseCase(name: "a service added: made, the other taken",
                  before: ["web": ("1", "1", ["10.0.0.1"])],
                  after: ["web": ("1", "1", ["10.0.0.1"]), "api": ("1", "1", ["10.0.0.9"])], remade: ["api"]),
        ReuseCase(name: "objects without a resourceVersion: always made",
                  before: ["web": ("", "", ["10.0.0.1"])],
                  after: ["web": ("", "", ["10.0.0.1"])], remade: ["web"]),
    ]

    static func registryDocuments(_ services: [String: (service: String, slice: String, addresses: [String])]) -> String {
        services.sorted { $0.key < $1.key }.map { name, objects in
            let service = objects.service.isEmpty ? "" : ", resourceVersion: \"\(objects.service)\""
            let slice = objects.slice.isEmpty ? "" : ", resourceVersion: \"\(objects.slice)\""
            return """
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: shop\(service)}
                spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(name)-0, namespace: shop, labels: {kubernetes.io/service-name: \(name)}\(slice)}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints: [\(objects.addresses.map { "{addresses: [\"\($0)\"]}" }.joined(separator: ", "))]
                """
        }.joined(separator: "\n---\n")
    }

    @Test(arguments: reuseCases)
    func servicesOfUnchangedObjectsAreTaken(_ testCase: ReuseCase) {
        let first = ServiceRegistry(snapshot(yaml: Self.registryDocuments(testCase.before)))
        let second = ServiceRegistry(snapshot(yaml: Self.registryDocuments(testCase.after)), reusing: first)
        let fresh = ServiceRegistry(snapshot(yaml: Self.registryDocuments(testCase.after)))
        let hosts = Set(testCase.after.keys.map { "\($0).shop.svc.cluster.local" })
        let remade = hosts.subtracting(second.reusedHosts)
        #expect(remade == Set(testCase.remade.map { "\($0).shop.svc.cluster.local" }), "remade \(remade.sorted())")
        // What was taken is what making it again gives.
        #expect(second.services == fresh.services)
    }
}
