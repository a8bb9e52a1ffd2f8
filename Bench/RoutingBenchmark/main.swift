// Routing decisions and compilation, in release (`make bench`). A benchmark, not a test.
//   1. Bookinfo-sized table (Gateways/bookinfo): median time of one decision.
//   2. 10,000 routes over 1,000 hosts, the matched route last on its host: median decision.
//   3. Compiling that table.
import Foundation
import MizzenConfig
import MizzenRouting

func nanoseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start)
}

/// Median over batches of the time per decision.
func medianDecision(_ table: RouteTable, _ request: RequestAttributes, expect cluster: String) -> Double {
    precondition(table.decide(request, random: 1).cluster == cluster, "benchmark request must route to \(cluster): \(table.explain(request, random: 1).reasons)")
    var samples: [Double] = []
    var sink = 0
    for batch in 0..<31 {
        let count = 20_000
        samples.append(nanoseconds {
            for i in 0..<count { sink &+= table.decide(request, random: UInt64(i &+ batch)).routeIndex ?? 0 }
        } / Double(count))
    }
    precondition(sink != -1)
    samples.sort()
    return samples[samples.count / 2]
}

let bookinfo = ConfigLoader(analyze: false).load(paths: ["Gateways/bookinfo"])
precondition(bookinfo.errorCount == 0 && bookinfo.ioErrors.isEmpty, "run from the package root")
let small = RouteTable.compile(bookinfo.snapshot, for: .defaultGateway)
let jason = RequestAttributes(authority: "reviews.default.svc.cluster.local", target: "/reviews/0",
                              headers: [(name: "user-agent", value: "curl/8"), (name: "accept", value: "*/*"), (name: "end-user", value: "jason")], port: 8080)
let productpage = RequestAttributes(authority: "bookinfo.example.com", target: "/productpage", headers: [(name: "user-agent", value: "curl/8")], port: 8080)
let smallJason = medianDecision(small, jason, expect: "outbound|9080|v2|reviews.default.svc.cluster.local")
let smallPage = medianDecision(small, productpage, expect: "outbound|9080||productpage.default.svc.cluster.local")

// 10,000 routes over 1,000 hosts.
var yaml = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.bench.example.com"]

"""
for host in 0..<1_000 {
    yaml += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-\(host)}\nspec:\n  hosts: [app-\(host).bench.example.com]\n  gateways: [bench]\n  http:\n"
    for route in 0..<10 {
        yaml += "  - match:\n    - uri: {prefix: /api/v\(route)/}\n      headers: {end-user: {exact: user-\(route)}}\n    route: [{destination: {host: svc-\(host)-\(route).bench.internal, port: {number: 80}, subset: v1}}]\n"
    }
    // One DestinationRule per host's services, so compiling also resolves subsets and policy.
    for route in 0..<10 {
        yaml += "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr-\(host)-\(route)}\nspec:\n  host: svc-\(host)-\(route).bench.internal\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets: [{name: v1, labels: {version: v1}}]\n"
    }
}
let large = ConfigLoader(analyze: false).load(text: yaml)
precondition(large.errorCount == 0, "\(large.diagnostics.prefix(3))")
var compileSamples: [Double] = []
var largeTable = RouteTable.compile(large.snapshot, for: .defaultGateway)
for _ in 0..<5 {
    compileSamples.append(nanoseconds { largeTable = RouteTable.compile(large.snapshot, for: .defaultGateway) })
}
compileSamples.sort()
let lastRoute = RequestAttributes(authority: "app-777.bench.example.com", target: "/api/v9/items",
                                  headers: [(name: "user-agent", value: "curl/8"), (name: "end-user", value: "user-9")], port: 80)
let largeDecision = medianDecision(largeTable, lastRoute, expect: "outbound|80|v1|svc-777-9.bench.internal")

print("routing decision, Bookinfo table (jason -> reviews v2, header match): \(String(format: "%.0f", smallJason)) ns median")
print("routing decision, Bookinfo table (/productpage, 1 route, 5 matches):   \(String(format: "%.0f", smallPage)) ns median")
print("routing decision, 10,000 routes over 1,000 hosts (matched route last): \(String(format: "%.0f", largeDecision)) ns median")
print("compile 10,000 routes over 1,000 hosts (10,000 DestinationRules): \(String(format: "%.0f", compileSamples[2] / 1e6)) ms median of 5")

// 4. A Kubernetes-sized set (as Bench/kubernetes.py): 10,000 VirtualServices on one gateway,
// 1,000 Services with 50 endpoints each, every object with a resourceVersion; compiled whole,
// then again after one VirtualService changed, reusing the last compile (`RouteCompileCache`).
var cluster = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench-gateway, namespace: istio-system, resourceVersion: "1", creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*/*"]

"""
for s in 0..<1_000 {
    cluster += """
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: svc-\(s), namespace: bench, resourceVersion: "\(10 + s)", creationTimestamp: "2026-01-01T00:00:01Z"}
    spec:
      clusterIP: 10.96.\(s / 250).\(s % 250 + 1)
      selector: {app: svc-\(s)}
      ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: svc-\(s)-abcde, namespace: bench, resourceVersion: "\(2000 + s)", creationTimestamp: "2026-01-01T00:00:01Z", labels: {kubernetes.io/service-name: svc-\(s)}}
    addressType: IPv4
    ports: [{name: http, port: 8080, protocol: TCP}]
    endpoints:

    """
    for e in 0..<50 {
        cluster += "- {addresses: [\"10.\(1 + s / 250).\(s % 250).\(e + 1)\"], conditions: {ready: true}, targetRef: {kind: Pod, namespace: bench, name: svc-\(s)-pod-\(e)}}\n"
    }
}
for v in 0..<10_000 {
    cluster += """
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: vs-\(v), namespace: bench, resourceVersion: "\(5000 + v)", creationTimestamp: "2026-01-01T00:00:02Z"}
    spec:
      hosts: [h\(v).bench.example.com]
      gateways: [istio-system/bench-gateway]
      http:
      - match: [{uri: {prefix: /api}}, {headers: {x-canary: {exact: "yes"}}}]
        route: [{destination: {host: svc-\(v % 1000).bench.svc.cluster.local, port: {number: 80}}}]
        timeout: 5s
        retries: {attempts: 2, perTryTimeout: 2s}
      - route: [{destination: {host: svc-\((v + 1) % 1000).bench.svc.cluster.local}}]

    """
}
let kubernetes = ConfigLoader(analyze: false).load(text: cluster)
precondition(kubernetes.errorCount == 0, "\(kubernetes.diagnostics.prefix(3))")
var objects = kubernetes.snapshot
func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }
var fullSamples: [Double] = []
for _ in 0..<3 { fullSamples.append(nanoseconds { _ = RouteTable.compile(objects, for: .defaultGateway) }) }
let cache = RouteCompileCache()
_ = RouteTable.compile(objects, for: .defaultGateway, mesh: MeshSettings(), cache: cache)
var changeSamples: [Double] = []
for round in 0..<11 {
    // One VirtualService edited: a new resourceVersion, another destination.
    var edited = objects.virtualServices[4_321]
    edited.metadata.resourceVersion = "\(100_000 + round)"
    edited.payload.http?[1].route?[0].destination?.host = "svc-\(round).bench.svc.cluster.local"
    objects.virtualServices[4_321] = edited
    cache.invalidate(.virtualServices)
    var table: RouteTable?
    changeSamples.append(nanoseconds { table = RouteTable.compile(objects, for: .defaultGateway, mesh: MeshSettings(), cache: cache) })
    let request = RequestAttributes(authority: "h4321.bench.example.com", target: "/", headers: [], port: 8080)
    precondition(table!.decide(request, random: 1).cluster == "outbound|80||svc-\(round).bench.svc.cluster.local", "the edit is compiled")
}
var endpointSamples: [Double] = []
for round in 0..<5 {
    var slice = objects.endpointSlices[500]
    slice.metadata.resourceVersion = "\(200_000 + round)"
    slice.payload.endpoints?[0].addresses = ["10.9.9.\(round + 1)"]
    objects.endpointSlices[500] = slice
    cache.invalidate(.serviceRegistry)
    endpointSamples.append(nanoseconds { _ = RouteTable.compile(objects, for: .defaultGateway, mesh: MeshSettings(), cache: cache) })
}
print("compile 10,000 VirtualServices, 1,000 Services, 50,000 endpoints: \(String(format: "%.0f", median(fullSamples) / 1e6)) ms median of 3")
print("  again after one VirtualService changed, reusing the last compile: \(String(format: "%.1f", median(changeSamples) / 1e6)) ms median of 11")
print("  again after one EndpointSlice changed: \(String(format: "%.1f", median(endpointSamples) / 1e6)) ms median of 5")
var registrySamples: [Double] = []
for _ in 0..<5 { registrySamples.append(nanoseconds { _ = ServiceRegistry(objects) }) }
print("  making the service registry alone: \(String(format: "%.1f", median(registrySamples) / 1e6)) ms")
