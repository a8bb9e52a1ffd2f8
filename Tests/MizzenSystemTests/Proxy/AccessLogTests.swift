import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The access log through the binary: Istio's default TEXT line field by field for the
/// outcomes operators read it for (200, 404 NR, 503 UF, 504 UT, fault abort and delay, retries
/// exhausted), the JSON encoding, and a slow reader that makes lines drop, counted, without
/// slowing requests.
@Suite(.serialized)
struct AccessLogTests {
    /// One default-format line split into its fields (ISTIO-OPS §2.2).
    struct Line {
        static let pattern = try! NSRegularExpression(pattern: #"^\[(\S+)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\S+) (\S+) "([^"]*)" (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$"#)
        static let names = ["start", "method", "path", "protocol", "code", "flags", "details", "termination", "failure", "received", "sent",
                            "duration", "serviceTime", "xff", "userAgent", "requestID", "authority", "upstreamHost", "cluster",
                            "upstreamLocal", "downstreamLocal", "downstreamRemote", "sni", "route"]
        var fields: [String: String]

        init?(_ text: String) {
            let range = NSRange(text.startIndex..., in: text)
            guard let match = Self.pattern.firstMatch(in: text, range: range) else { return nil }
            var fields: [String: String] = [:]
            for (index, name) in Self.names.enumerated() {
                fields[name] = Range(match.range(at: index + 1), in: text).map { String(text[$0]) }
            }
            self.fields = fields
        }

        subscript(_ name: String) -> String { fields[name] ?? "?" }
    }

    static func lines(_ url: URL, count: Int, timeout: Double = 10) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var lines: [String] = []
        repeat {
            lines = ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if lines.count >= count { break }
            usleep(50_000)
        } while Date() < deadline
        return lines
    }

    static func config(upstream: Int, dead: Int) -> String {
        EdgeConfig.gateway + "\n" + EdgeConfig.serviceEntry("log.test", [upstream]) + "\n" + EdgeConfig.serviceEntry("dead.test", [dead])
            + "\n" + EdgeConfig.virtualService("dead.test") + """

            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: log, namespace: default}
            spec:
              hosts: [log.test]
              gateways: [edge]
              http:
              - name: slow
                match: [{uri: {prefix: /delay}}]
                timeout: 0.3s
                route: [{destination: {host: log.test, port: {number: 80}}}]
              - name: abort
                match: [{uri: {prefix: /abort}}]
                fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
                route: [{destination: {host: log.test, port: {number: 80}}}]
              - name: delayed
                match: [{uri: {prefix: /held}}]
                fault: {delay: {fixedDelay: 0.05s, percentage: {value: 100}}}
                route: [{destination: {host: log.test, port: {number: 80}}}]
              - name: flaky
                match: [{uri: {prefix: /flaky}}]
                retries: {attempts: 2, retryOn: 5xx}
                route: [{destination: {host: log.test, port: {number: 80}}}]
              - name: ok
                route: [{destination: {host: log.test, port: {number: 80}}}]
            """
    }

    @Test("the default TEXT line, field by field: 200, 404 NR, 503 UF, 504 UT, fault abort FI, fault delay DI, retries exhausted URX")
    func defaultTextFields() throws {
        let upstream = try Peer("upstream.py", ["--name", "log"])
        let dead = try BookinfoDemoTests.Demo.freePort()
        let directory = try Harness.temporaryDirectory("access-log")
        let logFile = directory.appendingPathComponent("access.log")
        let gateway = try GatewayProcess(yaml: Self.config(upstream: upstream.port, dead: dead), gatewayPorts: [8080],
                                         extraArguments: ["--access-log", logFile.path])
        let port = gateway.port(8080)
        let key = Traffic.token()
        let cases: [(host: String, path: String, status: Int)] = [
            ("log.test", "/ok?x=1", 200), ("nowhere.test", "/missing", 404), ("dead.test", "/", 503), ("log.test", "/delay/2000", 504),
            ("log.test", "/abort", 418), ("log.test", "/held", 200), ("log.test", "/flaky/\(key)/5/503", 503),
        ]
        var requestIDs: [String] = []
        for (index, item) in cases.enumerated() {
            let id = "req-\(key)-\(index)"
            requestIDs.append(id)
            let exchange = try Traffic.send(port, host: item.host, item.path, headers: ["x-request-id: \(id)", "user-agent: access-log-test/1"])
            #expect(exchange.status == item.status, "\(item.path): \(exchange.summary)")
        }
        let text = Self.lines(logFile, count: cases.count)
        #expect(text.count == cases.count, "\(text)")
        var byID: [String: Line] = [:]
        for raw in text {
            guard let line = Line(raw) else {
                Issue.record("not Istio's default format: \(raw)")
                continue
            }
            byID[line["requestID"]] = line
        }
        let cluster = "outbound|80||log.test"
        func check(_ index: Int, _ expectations: [String: String], _ comment: String) {
            guard let line = byID[requestIDs[index]] else {
                Issue.record("no line for \(comment) (\(requestIDs[index])) in \(text)")
                return
            }
            for (field, value) in expectations {
                #expect(line[field] == value, "\(comment): \(field) is \(line[field]), expected \(value); line: \(line.fields)")
            }
            // What every line has.
            #expect(line["start"].hasSuffix("Z") && line["start"].count == 24, "\(comment): START_TIME \(line["start"])")
            #expect(line["method"] == "GET" && line["protocol"] == "HTTP/1.1")
            #expect(line["userAgent"] == "access-log-test/1" && line["xff"] == "127.0.0.1")
            #expect(line["downstreamLocal"] == "127.0.0.1:\(port)")
            #expect(line["downstreamRemote"].hasPrefix("127.0.0.1:"))
            #expect(Int(line["duration"]) != nil && Int(line["received"]) == 0 && Int(line["sent"]) != nil)
        }
        check(0, ["path": "/ok?x=1", "code": "200", "flags": "-", "details": "via_upstream", "authority": "log.test",
                  "upstreamHost": "127.0.0.1:\(upstream.port)", "cluster": cluster, "route": "ok"], "200")
        #expect(Int(byID[requestIDs[0]]?["serviceTime"] ?? "") != nil, "x-envoy-upstream-service-time of a proxied response")
        #expect(byID[requestIDs[0]]?["upstreamLocal"].hasPrefix("127.0.0.1:") == true)
        check(1, ["code": "404", "flags": "NR", "details": "route_not_found", "upstreamHost": "-", "cluster": "-", "serviceTime": "-", "route": "-"], "404 NR")
        check(2, ["code": "503", "cluster": "outbound|80||dead.test", "upstreamHost": "127.0.0.1:\(dead)"], "503 UF")
        #expect(byID[requestIDs[2]]?["flags"].split(separator: ",").contains("UF") == true, "UF among \(byID[requestIDs[2]]?["flags"] ?? "-")")
        check(3, ["code": "504", "flags": "UT", "details": "response_timeout", "cluster": cluster, "serviceTime": "-", "route": "slow"], "504 UT")
        #expect((Int(byID[requestIDs[3]]?["duration"] ?? "") ?? 0) >= 290, "the timeout's 300 ms in DURATION")
        check(4, ["code": "418", "flags": "FI", "details": "fault_filter_abort", "upstreamHost": "-", "route": "abort"], "fault abort")
        check(5, ["code": "200", "flags": "DI", "details": "via_upstream", "route": "delayed"], "fault delay")
        #expect((Int(byID[requestIDs[5]]?["duration"] ?? "") ?? 0) >= 45, "the 50 ms delay in DURATION")
        check(6, ["code": "503", "flags": "URX", "details": "via_upstream", "route": "flaky"], "retries exhausted")
    }

    @Test("JSON encoding: Istio's keys, numbers typed, absent values null, one object per line")
    func jsonEncoding() throws {
        let upstream = try Peer("upstream.py", ["--name", "json"])
        let directory = try Harness.temporaryDirectory("access-log-json")
        let logFile = directory.appendingPathComponent("access.json")
        let gateway = try GatewayProcess(yaml: Self.config(upstream: upstream.port, dead: 1), gatewayPorts: [8080],
                                         extraArguments: ["--access-log", logFile.path, "--access-log-encoding", "JSON"])
        #expect(try Traffic.send(gateway.port(8080), host: "log.test", "/json", headers: ["x-request-id: json-1"]).status == 200)
        #expect(try Traffic.send(gateway.port(8080), host: "nowhere.test", "/").status == 404)
        let lines = Self.lines(logFile, count: 2)
        #expect(lines.count == 2)
        let objects = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(objects.count == 2)
        let keys = ["start_time", "route_name", "method", "path", "protocol", "response_code", "response_flags", "response_code_details",
                    "connection_termination_details", "bytes_received", "bytes_sent", "duration", "upstream_service_time", "x_forwarded_for",
                    "user_agent", "request_id", "authority", "upstream_host", "upstream_cluster", "upstream_local_address",
                    "downstream_local_address", "downstream_remote_address", "requested_server_name", "upstream_transport_failure_reason"]
        for object in objects { #expect(Set(object.keys) == Set(keys)) }
        let ok = try #require(objects.first { $0["request_id"] as? String == "json-1" })
        #expect(ok["response_code"] as? Int == 200 && ok["path"] as? String == "/json" && ok["upstream_cluster"] as? String == "outbound|80||log.test")
        #expect(ok["requested_server_name"] is NSNull)
        let missing = try #require(objects.first { $0["response_code"] as? Int == 404 })
        #expect(missing["response_flags"] as? String == "NR" && missing["upstream_host"] is NSNull)
        #expect((missing["request_id"] as? String)?.count == 36, "a request id is made for a request answered locally too")
    }

    @Test("a reader that stops reading: lines are dropped and counted, requests are not slowed or lost")
    func slowReaderDropsLines() throws {
        let upstream = try Peer("upstream.py", ["--name", "slowlog"])
        let directory = try Harness.temporaryDirectory("access-log-fifo")
        let fifo = directory.appendingPathComponent("access.fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        // Opens the pipe for reading and never reads: the pipe fills (64 KiB), then the buffer.
        let reader = try BackgroundProcess("python3", ["-c", "import os,time,sys; fd=os.open(sys.argv[1], os.O_RDONLY); print('open', flush=True); time.sleep(120)", fifo.path])
        defer { reader.stop() }
        let gateway = try GatewayProcess(yaml: Self.config(upstream: upstream.port, dead: 1), gatewayPorts: [8080],
                                         extraArguments: ["--access-log", fifo.path, "--access-log-buffer-bytes", "16384"])
        let results = try Traffic.load(gateway.port(8080), host: "log.test", path: "/load", connections: 4, requests: 300)
        #expect(results.count == 1200 && results.allSatisfy { $0.status == 200 }, "every request answered")
        let metrics = try Harness.curl(["http://127.0.0.1:\(gateway.statsPort)/stats/prometheus"]).stdout
        let dropped = metrics.split(separator: "\n").first { $0.hasPrefix(#"mizzen_access_log_lines_total{result="dropped"}"#) }
        let count = dropped.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
        #expect(count > 0, "dropped lines are counted: \(String(describing: dropped))")
    }

    @Test("a TCP route's connection: istio_tcp_* counters with its bytes each way, and one access-log line")
    func tcpConnectionTelemetry() throws {
        let echo = try Peer("tcp_echo.py", [])
        let directory = try Harness.temporaryDirectory("access-log-tcp")
        let logFile = directory.appendingPathComponent("access.log")
        let yaml = EdgeConfig.tcpEcho(port: echo.port, idleTimeout: "1s")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [9000], extraArguments: ["--access-log", logFile.path])
        // The idle timeout (1 s) ends the connection after the echo.
        let echoed = RawSocket.exchange(port: gateway.port(9000), Array("hello\n".utf8), timeout: 6)
        #expect(String(decoding: echoed, as: UTF8.self) == "hello\n")
        let lines = Self.lines(logFile, count: 1)
        #expect(lines.count == 1, "\(lines)")
        let line = try #require(lines.first.flatMap(Line.init), "not the default format: \(lines)")
        #expect(line["method"] == "-" && line["code"] == "0" && line["flags"] == "-", "\(line.fields)")
        #expect(line["received"] == "6" && line["sent"] == "6", "\(line.fields)")
        #expect(line["cluster"] == "outbound|9000||echo.test" && line["upstreamHost"] == "127.0.0.1:\(echo.port)")
        let metrics = try Harness.curl(["http://127.0.0.1:\(gateway.statsPort)/stats/prometheus"]).stdout
        func total(_ name: String) -> Double {
            metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") && $0.contains("destination_service=\"echo.test\"") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        #expect(total("istio_tcp_connections_opened_total") == 1)
        #expect(total("istio_tcp_connections_closed_total") == 1)
        #expect(total("istio_tcp_received_bytes_total") == 6)
        #expect(total("istio_tcp_sent_bytes_total") == 6)
    }
}
