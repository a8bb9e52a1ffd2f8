// Loads 10,000 generated VirtualServices over 1,000 hosts (plus their Gateway, DestinationRules
// and ServiceEntries) through the real loader and validator, and prints the median wall time.
// Run in release: `make bench`. A benchmark, not a test: no pass/fail threshold.
import Foundation
import MizzenConfig

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
