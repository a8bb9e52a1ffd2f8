import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP exchange through curl, as the client saw it: the final status line, every response
/// header in order (repeated names kept), the body bytes and the wall time.
struct HTTPExchange {
    var status: Int
    var headers: [(name: String, value: String)]
    var data: Data
    var seconds: Double
    var curlErrors: String

    var body: String { String(decoding: data, as: UTF8.self) }
    var json: [String: Any] { Traffic.json(body) }

    /// Every value of the response header `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func header(_ name: String) -> String? { values(name).first }

    /// Names of the `access-control-*` response headers.
    var corsHeaders: [String] {
        headers.map { $0.name.lowercased() }.filter { $0.hasPrefix("access-control-") }
    }

    /// For failure messages.
    var summary: String {
        "\(status) [\(headers.map { "\($0.name): \($0.value)" }.joined(separator: "; "))] \(body.prefix(400)) \(curlErrors.prefix(200))"
    }
}

/// One response of `Peers/http_load.py`.
struct LoadResponse {
    var connection: Int
    var index: Int
    var status: Int
    var upstream: String?
    var headers: [(name: String, value: String)]
    var body: String
    var start: Double
    var elapsed: Double
    var newConnection: Bool
    var error: String?

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// The client side of the traffic-management tests: curl for single requests, http_load.py
/// for concurrent or long keep-alive runs, and readers for the upstream's echo and log.
enum Traffic {
    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// A fresh token for paths and keys, so every test (and every run) has requests of its own.
    /// Established TCP connections to `port` on loopback (the gateway's side, from `ss`), polled
    /// until `until` holds or 5 s pass.
    static func establishedConnections(toPort port: Int, until: (Int) -> Bool) -> Int {
        let deadline = Date().addingTimeInterval(5)
        var count = -1
        repeat {
            if let ss = try? Harness.run("ss", ["-tnH", "state", "established", "( dport = :\(port) )"], timeout: 10) {
                count = ss.stdout.split(separator: "\n").filter { $0.contains(":\(port)") }.count
                if until(count) { return count }
            }
            pause(0.05)
        } while Date() < deadline
        return count
    }

    static func token() -> String {
        String(UUID().uuidString.lowercased().prefix(13)).replacingOccurrences(of: "-", with: "")
    }

    /// One request to the gateway on 127.0.0.1:`port` with `Host: host`. `body` is sent with
    /// `--data-binary` (no `Expect: 100-continue`); `http2` uses h2c with prior knowledge.
    static func send(_ port: Int, host: String, _ target: String, method: String? = nil, headers: [String] = [],
                     body: Data? = nil, http2: Bool = false, maxTime: Double = 20) throws -> HTTPExchange {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-exchange-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bodyOut = scratch.appendingPathComponent("body")
        let marker = "@@mizzen-exchange@@"
        var arguments = ["-s", "-S", "--path-as-is", "--max-time", String(maxTime), "-D", "-", "-o", bodyOut.path,
                         "-w", "\n\(marker) %{http_code} %{time_total}", "-H", "Host: \(host)"]
        if http2 { arguments.append("--http2-prior-knowledge") }
        if let method { arguments += ["-X", method] }
        for header in headers { arguments += ["-H", header] }
        if let body {
            let bodyIn = scratch.appendingPathComponent("upload")
            try body.write(to: bodyIn)
            arguments += ["-H", "Expect:", "--data-binary", "@\(bodyIn.path)"]
        }
        arguments.append("http://127.0.0.1:\(port)\(target)")
        let output = try Harness.run("curl", arguments, timeout: maxTime + 5)
        guard let range = output.stdout.range(of: "\n\(marker) ", options: .backwards) else {
            return HTTPExchange(status: 0, headers: [], data: Data(), seconds: 0, curlErrors: output.stderr)
        }
        let tail = output.stdout[range.upperBound...].split(separator: " ")
        let status = tail.first.flatMap { Int($0) } ?? 0
        let seconds = tail.dropFirst().first.flatMap { Double($0) } ?? 0
        // The header blocks (a 100 Continue may come first); the last one is the response's.
        let blocks = output.stdout[..<range.lowerBound].components(separatedBy: "\r\n\r\n").filter { $0.hasPrefix("HTTP/") }
        var parsed: [(name: String, value: String)] = []
        for line in (blocks.last ?? "").components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            parsed.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let data = (try? Data(contentsOf: bodyOut)) ?? Data()
        return HTTPExchange(status: status, headers: parsed, data: data, seconds: seconds, curlErrors: output.stderr)
    }

    /// `Peers/http_load.py`: `connections` clients started together, each sending `requests`
    /// requests in turn on its own keep-alive connection. Responses ordered by start time.
    static func load(_ port: Int, host: String, path: String, connections: Int = 1, requests: Int = 1, pauseMilliseconds: Int = 0,
                     method: String = "GET", headers: [String] = [], bodyBytes: Int = 0, timeout: Double = 60) throws -> [LoadResponse] {
        var arguments = [Harness.peers.appendingPathComponent("http_load.py").path, "--port", String(port), "--authority", host,
                         "--path", path, "--connections", String(connections), "--requests", String(requests),
                         "--pause-ms", String(pauseMilliseconds), "--method", method, "--body-bytes", String(bodyBytes)]
        for header in headers { arguments += ["--header", header] }
        let output = try Harness.run("python3", arguments, timeout: timeout)
        let summary = json(output.stdout)
        guard let results = summary["results"] as? [[String: Any]] else {
            throw HarnessError("http_load.py failed: \(output.stdout.prefix(500)) \(output.stderr.prefix(500))")
        }
        return results.map { result in
            LoadResponse(connection: result["connection"] as? Int ?? -1, index: result["index"] as? Int ?? -1,
                         status: result["status"] as? Int ?? 0, upstream: result["upstream"] as? String,
                         headers: pairs(result["headers"]), body: result["body"] as? String ?? "",
                         start: result["start"] as? Double ?? 0, elapsed: result["elapsed"] as? Double ?? 0,
                         newConnection: result["new_connection"] as? Bool ?? false, error: result["error"] as? String)
        }
    }

    static func pairs(_ value: Any?) -> [(name: String, value: String)] {
        ((value as? [[String]]) ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }

    /// The request headers an echo body or a log entry lists.
    static func requestHeaders(_ object: [String: Any]) -> [(name: String, value: String)] {
        pairs(object["headers"])
    }

    /// Every value of request header `name` in an echo body or a log entry.
    static func values(_ object: [String: Any], _ name: String) -> [String] {
        requestHeaders(object).filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The `tls` object of an echo body or a log entry (empty without TLS).
    static func tls(_ object: [String: Any]) -> [String: Any] {
        object["tls"] as? [String: Any] ?? [:]
    }

    /// The client certificate's subject alternative names the upstream saw, as "URI:..", "DNS:..".
    static func clientSANs(_ object: [String: Any]) -> [String] {
        ((tls(object)["client_san"] as? [[String]]) ?? []).compactMap { $0.count == 2 ? "\($0[0]):\($0[1])" : nil }
    }

    static func sha256(_ data: Data) throws -> String {
        let output = try Harness.run("sha256sum", ["-"], timeout: 20, stdin: data)
        return String(output.stdout.prefix(64))
    }

    /// Sleeps `seconds` (tests only sleep for what they measure).
    static func pause(_ seconds: Double) {
        usleep(UInt32(seconds * 1_000_000))
    }
}

extension UpstreamLog {
    /// Waits for a barrier: a request sent now through the gateway on `port` with `host` (routed
    /// to the upstream behind this log) and logged by it. A request the gateway had wrongly sent
    /// there before was written to the upstream first, so it has been logged by then: for
    /// certain when both share one pooled connection (a gateway with one event loop, as the
    /// hostile-input fixture), else unless the upstream's threads reorder two requests whose
    /// writes were a client round trip apart. Either way no fixed sleep, which a busy machine
    /// can outrun. Barrier requests are left out of `requests`.
    func barrier(through port: Int, host: String, timeout: Double = 10) throws {
        let token = "mizzen-barrier-" + Traffic.token()
        let answer = try Traffic.send(port, host: host, "/\(token)")
        guard answer.status == 200, !waitForRequests(containing: token, count: 1, timeout: timeout, includingBarriers: true).isEmpty else {
            throw HarnessError("barrier request to \(host) not logged: \(answer.summary)")
        }
    }

    /// Request entries whose target contains `fragment`.
    func requests(containing fragment: String) -> [[String: Any]] {
        requests.filter { ($0["target"] as? String ?? "").contains(fragment) }
    }

    /// Waits (up to `timeout`) until at least `count` requests contain `fragment`, then returns them.
    func waitForRequests(containing fragment: String, count: Int, timeout: Double = 5, includingBarriers: Bool = false) -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        func matching() -> [[String: Any]] {
            (includingBarriers ? allRequests : requests).filter { ($0["target"] as? String ?? "").contains(fragment) }
        }
        var found = matching()
        while found.count < count && Date() < deadline {
            usleep(25_000)
            found = matching()
        }
        return found
    }

    /// The upstream connections (by client address) that carried the requests containing `fragment`.
    func connections(carrying fragment: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for request in requests(containing: fragment) {
            counts[request["peer"] as? String ?? "?", default: 0] += 1
        }
        return counts
    }

    /// Connection events from position `start` of `entries` on.
    func connectionEvents(from start: Int) -> [[String: Any]] {
        entries.dropFirst(start).filter { ($0["event"] as? String) == "connection" }
    }
}

/// The configuration most end-to-end tests start from: Gateway `default/edge` on port 8080 for
/// every host, STATIC ServiceEntries on loopback ports, VirtualServices bound to `edge`.
enum EdgeConfig {
    static let gateway = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: edge, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 8080, name: http, protocol: HTTP}
        hosts: ["*"]
    """

    /// A ServiceEntry for `host` on port 80 (`http`) with STATIC endpoints on loopback `ports`.
    static func serviceEntry(_ host: String, _ ports: [Int]) -> String {
        let endpoints = ports.map { "{address: 127.0.0.1, ports: {http: \($0)}}" }.joined(separator: ", ")
        return """
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(host.replacingOccurrences(of: ".", with: "-")), namespace: default}
        spec:
          hosts: [\(host)]
          location: MESH_EXTERNAL
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          endpoints: [\(endpoints)]
        """
    }

    /// A VirtualService sending every request for `host` to `host:80`.
    static func virtualService(_ host: String) -> String {
        """
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(host.replacingOccurrences(of: ".", with: "-")), namespace: default}
        spec:
          hosts: [\(host)]
          gateways: [edge]
          http:
          - route: [{destination: {host: \(host), port: {number: 80}}}]
        """
    }
}

extension EdgeConfig {
    /// Gateway `default/edge` with a TCP server on port 9000 whose route sends every connection
    /// to `echo.test` (a STATIC endpoint on loopback `port`), tunnels closing after `idleTimeout`.
    static func tcpEcho(port: Int, idleTimeout: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers: [{port: {number: 9000, name: tcp, protocol: TCP}, hosts: ["*"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: echo, namespace: default}
        spec:
          hosts: [echo.test]
          resolution: STATIC
          ports: [{number: 9000, name: tcp, protocol: TCP}]
          endpoints: [{address: 127.0.0.1, ports: {tcp: \(port)}}]
        \(destinationRule("echo.test", "{connectionPool: {tcp: {idleTimeout: \(idleTimeout)}}}"))
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: echo, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [edge]
          tcp: [{route: [{destination: {host: echo.test, port: {number: 9000}}}]}]
        """
    }

    /// A DestinationRule for `host` with `trafficPolicy` (a YAML flow map).
    static func destinationRule(_ host: String, _ trafficPolicy: String) -> String {
        """
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: \(host.replacingOccurrences(of: ".", with: "-")), namespace: default}
        spec:
          host: \(host)
          trafficPolicy: \(trafficPolicy)
        """
    }
}
