import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Istio's metrics scraped by a real Prometheus (Debian's `prometheus`), queried with the
/// PromQL of Istio's Grafana dashboards after a known load, and the exposition checked by
/// `promtool check metrics`.
@Suite(.serialized)
struct PrometheusTests {
    /// Prometheus on a free loopback port scraping `target` every second.
    final class Prometheus: @unchecked Sendable {
        let process: BackgroundProcess
        let port: Int
        let directory: URL

        init(scraping target: String) throws {
            directory = try Harness.temporaryDirectory("prometheus")
            port = try BookinfoDemoTests.Demo.freePort()
            let config = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
            - job_name: mizzen
              metrics_path: /stats/prometheus
              static_configs: [{targets: ["\(target)"]}]
            """
            try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
            process = try BackgroundProcess("prometheus", [
                "--config.file=\(directory.appendingPathComponent("prometheus.yml").path)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ])
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if let ready = try? Harness.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/-/ready"]), ready.stdout == "200" { return }
                usleep(200_000)
            }
            throw HarnessError("prometheus did not become ready: \(process.errors.suffix(2000))")
        }

        /// An instant query: each series' labels and value.
        func query(_ promql: String) throws -> [(labels: [String: String], value: Double)] {
            let output = try Harness.curl(["-G", "http://127.0.0.1:\(port)/api/v1/query", "--data-urlencode", "query=\(promql)"])
            let object = Traffic.json(output.stdout)
            guard object["status"] as? String == "success", let data = object["data"] as? [String: Any],
                  let result = data["result"] as? [[String: Any]] else {
                throw HarnessError("query \(promql) failed: \(output.stdout.prefix(500))")
            }
            return result.map { series in
                let labels = series["metric"] as? [String: String] ?? [:]
                let value = (series["value"] as? [Any])?.last.flatMap { Double("\($0)") } ?? .nan
                return (labels, value)
            }
        }

        /// The single value of `promql`, polled until `until` holds (scrapes are 1 s apart).
        func value(_ promql: String, timeout: Double = 20, until: (Double) -> Bool = { _ in true }) throws -> Double? {
            let deadline = Date().addingTimeInterval(timeout)
            var last: Double?
            repeat {
                last = try query(promql).first?.value
                if let last, until(last) { return last }
                usleep(300_000)
            } while Date() < deadline
            return last
        }

        deinit {
            process.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("Istio's dashboard queries give the expected values after a known load: requests by code, success rate, flags, latency, bytes, Envoy cluster stats")
    func dashboardQueries() throws {
        let upstream = try Peer("upstream.py", ["--name", "metrics"])
        let dead = try BookinfoDemoTests.Demo.freePort()
        let yaml = EdgeConfig.gateway + "\n" + EdgeConfig.serviceEntry("metrics.test", [upstream.port]) + "\n" + EdgeConfig.virtualService("metrics.test")
            + "\n" + EdgeConfig.serviceEntry("dead.test", [dead]) + "\n" + EdgeConfig.virtualService("dead.test")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        let port = gateway.port(8080)
        for _ in 0..<20 { #expect(try Traffic.send(port, host: "metrics.test", "/ok").status == 200) }
        for _ in 0..<5 { #expect(try Traffic.send(port, host: "metrics.test", "/status/500").status == 500) }
        for _ in 0..<3 { #expect(try Traffic.send(port, host: "dead.test", "/").status == 503) }
        for _ in 0..<2 { #expect(try Traffic.send(port, host: "nowhere.test", "/").status == 404) }

        let prometheus = try Prometheus(scraping: "127.0.0.1:\(gateway.statsPort)")
        #expect(try prometheus.value("up{job=\"mizzen\"}", until: { $0 == 1 }) == 1, "the target is scraped")
        #expect(try prometheus.value("sum(istio_requests_total)", until: { $0 == 30 }) == 30)

        // Istio Mesh/Service dashboards: requests by response code for a service.
        let byCode = try prometheus.query(#"sum(istio_requests_total{reporter="source",destination_service="metrics.test"}) by (response_code)"#)
        let counts = Dictionary(byCode.map { ($0.labels["response_code"] ?? "?", $0.value) }, uniquingKeysWith: +)
        #expect(counts == ["200": 20, "500": 5])
        // Global success rate (non-5xx over all).
        let success = try prometheus.value(#"sum(istio_requests_total{response_code!~"5.*"}) / sum(istio_requests_total)"#)
        #expect(abs((success ?? 0) - 22.0 / 30.0) < 1e-9)
        #expect(try prometheus.value(#"sum(istio_requests_total{response_flags=~".*UF.*",destination_service="dead.test"})"#) == 3)
        #expect(try prometheus.value(#"sum(istio_requests_total{response_flags="NR",response_code="404"})"#) == 2)
        // The gateway reports as the source, with its own workload labels.
        let sources = try prometheus.query(#"count(istio_requests_total) by (reporter, source_workload, source_workload_namespace, destination_service_name)"#)
        #expect(sources.allSatisfy { $0.labels["reporter"] == "source" && $0.labels["source_workload"] == "istio-ingressgateway"
                && $0.labels["source_workload_namespace"] == "istio-system" })
        // Latency percentiles (the dashboards' histogram_quantile over the buckets).
        for quantile in ["0.50", "0.90", "0.99"] {
            let latency = try prometheus.value(#"histogram_quantile(\#(quantile), sum(istio_request_duration_milliseconds_bucket{destination_service="metrics.test"}) by (le))"#)
            #expect(latency.map { $0 >= 0 && $0 < 1000 } == true, "P\(quantile): \(String(describing: latency))")
        }
        // Sizes: every response counted, headers included.
        #expect(try prometheus.value(#"sum(istio_response_bytes_count{destination_service="metrics.test"})"#) == 25)
        #expect((try prometheus.value(#"sum(istio_response_bytes_sum{destination_service="metrics.test"})"#) ?? 0) > 25 * 100)
        #expect((try prometheus.value(#"sum(istio_request_bytes_sum{destination_service="metrics.test"})"#) ?? 0) > 25 * 30)
        // Envoy's cluster stats by cluster_name.
        #expect(try prometheus.value(#"envoy_cluster_upstream_rq_total{cluster_name="outbound|80||metrics.test"}"#) == 25)
        #expect(try prometheus.value(#"envoy_cluster_upstream_rq_xx{cluster_name="outbound|80||metrics.test",envoy_response_code_class="5"}"#) == 5)
        #expect(try prometheus.value(#"envoy_cluster_membership_total{cluster_name="outbound|80||metrics.test"}"#) == 1)
        #expect(try prometheus.value("envoy_server_live") == 1)
        #expect((try prometheus.value(#"envoy_cluster_upstream_cx_connect_fail{cluster_name="outbound|80||dead.test"}"#) ?? 0) >= 3)

        // The dashboards' rate form: traffic while Prometheus scrapes shows as a request rate.
        for _ in 0..<10 {
            #expect(try Traffic.send(port, host: "metrics.test", "/more").status == 200)
            usleep(200_000)
        }
        #expect(try prometheus.value("sum(istio_requests_total)", until: { $0 == 40 }) == 40)
        let rate = try prometheus.value(#"sum(rate(istio_requests_total{destination_service="metrics.test",response_code="200"}[1m]))"#, until: { $0 > 0 })
        #expect((rate ?? 0) > 0)
    }

    @Test("promtool reads the exposition; its only complaints are about the names Istio and Envoy give their metrics")
    func promtool() throws {
        let upstream = try Peer("upstream.py", ["--name", "promtool"])
        let yaml = EdgeConfig.gateway + "\n" + EdgeConfig.serviceEntry("promtool.test", [upstream.port]) + "\n" + EdgeConfig.virtualService("promtool.test")
        let gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080])
        #expect(try Traffic.send(gateway.port(8080), host: "promtool.test", "/").status == 200)
        #expect(try Traffic.send(gateway.port(8080), host: "promtool.test", "/", headers: ["content-type: application/grpc"]).status > 0)
        let exposition = try Harness.curl(["http://127.0.0.1:\(gateway.statsPort)/stats/prometheus"]).stdout
        #expect(exposition.contains("istio_requests_total{"))
        let check = try Harness.run("promtool", ["check", "metrics"], timeout: 30, stdin: Data(exposition.utf8))
        let problems = (check.stdout + check.stderr).split(separator: "\n").map(String.init)
        // Exit 0 (clean) or 3 (lint findings only); a parse error is 1.
        #expect(check.status == 0 || check.status == 3, "\(problems)")
        for problem in problems {
            let allowed = problem.hasSuffix("counter metrics should have \"_total\" suffix") && problem.hasPrefix("envoy_")
                || problem.hasSuffix("non-counter metrics should not have \"_total\" suffix") && problem.hasPrefix("envoy_cluster_membership_total")
                || problem.hasPrefix("istio_request_duration_milliseconds use base unit \"seconds\"")
            #expect(allowed, "promtool: \(problem)")
        }
    }
}
