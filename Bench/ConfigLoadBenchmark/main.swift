// 1. Loads 10,000 generated VirtualServices over 1,000 hosts (plus their Gateway, DestinationRules
//    and ServiceEntries) through the real loader and validator, and prints the median wall time.
// 2. Reads and decodes the Kubernetes source's objects one by one from their JSON.
// Run in release: `make bench`. A benchmark, not a test: no pass/fail threshold.
import Foundation
import MizzenConfig

// `--kubernetes` runs section 2 alone.
if !CommandLine.arguments.contains("--kubernetes") {
    let virtualServices = 10_000
    let hosts = 1_000
    var yaml = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: bench-gateway}
    spec:
      servers:
      - port: {number: 8080, name: http, protocol: HTTP}
        hosts: ["*.bench.example.com"]

    """
    for host in 0..<hosts {
        yaml += """
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: svc-\(host)}
        spec:
          hosts: [svc-\(host).bench.internal]
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints:
          - {address: 10.0.\(host / 250).\(host % 250 + 1), labels: {version: v1}}
          - {address: 10.1.\(host / 250).\(host % 250 + 1), labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc-\(host)}
        spec:
          host: svc-\(host).bench.internal
          subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]

        """
    }
    for index in 0..<virtualServices {
        let host = index % hosts
        yaml += """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs-\(index)}
        spec:
          hosts: [app-\(host).bench.example.com]
          gateways: [bench-gateway]
          http:
          - match:
            - uri: {prefix: /api/v\(index)/}
              headers: {end-user: {exact: user-\(index)}}
            - uri: {regex: "/items/[0-9]+/v\(index)"}
            route:
            - destination: {host: svc-\(host).bench.internal, subset: v1}
              weight: 90
            - destination: {host: svc-\(host).bench.internal, subset: v2}
              weight: 10
            timeout: 3s
            retries: {attempts: 2, retryOn: "5xx,connect-failure"}

        """
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-bench-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("bench.yaml")
    try yaml.write(to: file, atomically: true, encoding: .utf8)
    let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0

    let loader = ConfigLoader(maxFileSize: 256 << 20)
    var timings: [Double] = []
    var objects = 0
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = loader.load(paths: [file.path])
        timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        objects = result.snapshot.objectCount
        precondition(result.errorCount == 0, "generated configuration must be valid: \(result.diagnostics.prefix(3))")
    }
    timings.sort()
    print("config load: \(virtualServices) VirtualServices over \(hosts) hosts, \(objects) objects, \(size >> 10) KiB of YAML")
    print(String(format: "  median %.3f s, best %.3f s, worst %.3f s (5 runs, load + validate + analyze)", timings[2], timings[0], timings[4]))
}

// 2. Objects as the Kubernetes API server lists them (Bench/kubernetes.py's set: 10,000
// VirtualServices, 1,000 Services, 1,000 EndpointSlices of 50 endpoints), each read from its
// JSON and decoded and validated alone, as the Kubernetes source does with a list's items.
func metadata(_ name: String, _ namespace: String, _ version: Int, labels: String = "") -> String {
    #""metadata":{"name":"\#(name)","namespace":"\#(namespace)","uid":"6f1c2a8e-0b7d-4f7e-9a51-\#(String(format: "%012d", version))","resourceVersion":"\#(version)","generation":1,"creationTimestamp":"2026-12-03T04:00:00Z"\#(labels)}"#
}
var items: [[UInt8]] = []
for s in 0..<1_000 {
    items.append(Array(#"{"apiVersion":"v1","kind":"Service",\#(metadata("svc-\(s)", "bench", 10 + s, labels: #","labels":{"app":"svc-\#(s)"}"#)),"spec":{"clusterIP":"10.96.\#(s / 250).\#(s % 250 + 1)","selector":{"app":"svc-\#(s)"},"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}],"type":"ClusterIP","sessionAffinity":"None","clusterIPs":["10.96.\#(s / 250).\#(s % 250 + 1)"],"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"}}"#.utf8))
    var endpoints: [String] = []
    for e in 0..<50 {
        endpoints.append(#"{"addresses":["10.\#(1 + s / 250).\#(s % 250).\#(e + 1)"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-\#(e % 7)","zone":"zone-a","targetRef":{"kind":"Pod","namespace":"bench","name":"svc-\#(s)-pod-\#(e)"}}"#)
    }
    items.append(Array(#"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",\#(metadata("svc-\(s)-abcde", "bench", 2000 + s, labels: #","labels":{"kubernetes.io/service-name":"svc-\#(s)","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"}"#)),"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[\#(endpoints.joined(separator: ","))]}"#.utf8))
}
for v in 0..<10_000 {
    items.append(Array(#"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService",\#(metadata("vs-\(v)", "bench", 5000 + v)),"spec":{"hosts":["h\#(v).bench.example.com"],"gateways":["istio-system/bench-gateway"],"http":[{"match":[{"uri":{"prefix":"/api"}},{"headers":{"x-canary":{"exact":"yes"}}}],"route":[{"destination":{"host":"svc-\#(v % 1000).bench.svc.cluster.local","port":{"number":80}}}],"timeout":"5s","retries":{"attempts":2,"perTryTimeout":"2s"}},{"route":[{"destination":{"host":"svc-\#((v + 1) % 1000).bench.svc.cluster.local"}}]}]}}"#.utf8))
}
let kubernetesBytes = items.reduce(0) { $0 + $1.count }
let objectLoader = ConfigLoader(analyze: false)
var decodeTimings: [Double] = []
for _ in 0..<5 {
    let start = DispatchTime.now().uptimeNanoseconds
    var valid = 0
    for item in items {
        guard case .success(let node) = JSONReader.read(item) else { preconditionFailure("generated JSON must read") }
        let result = objectLoader.load(object: node, origin: "bench")
        precondition(result.errorCount == 0, "generated objects must be valid: \(result.diagnostics.prefix(3))")
        valid += result.snapshot.objectCount
    }
    precondition(valid == items.count)
    decodeTimings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
decodeTimings.sort()
print("Kubernetes objects: \(items.count) (10,000 VirtualServices, 1,000 Services, 1,000 EndpointSlices of 50), \(kubernetesBytes >> 10) KiB of JSON, each read and loaded alone")
print(String(format: "  median %.3f s, best %.3f s, worst %.3f s (5 runs, read + decode + validate)", decodeTimings[2], decodeTimings[0], decodeTimings[4]))
