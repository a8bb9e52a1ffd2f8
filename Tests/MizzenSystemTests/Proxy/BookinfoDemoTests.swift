import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Istio's Bookinfo tasks through `mizzen demo` (the stand-ins call each other through the
/// gateway, as sidecars would): request routing, the fault-injection task's timeout bug, and
/// traffic shifting with the task file loaded over the base configuration.
@Suite(.serialized)
struct BookinfoDemoTests {
    /// A running demo on a free port for Gateway port 8080.
    final class Demo: @unchecked Sendable {
        let process: BackgroundProcess
        let port: Int

        init(extraConfig: [String] = []) throws {
            let root = ValidateCommandTests.packageRoot
            port = try Self.freePort()
            var arguments = ["demo", "--port", String(port), "--concurrency", "1", "--config", root.appendingPathComponent("Gateways/bookinfo").path]
                + GatewayProcess.operatorArguments
            for file in extraConfig { arguments += ["--config", root.appendingPathComponent(file).path] }
            process = try BackgroundProcess(ValidateCommandTests.binary.path, arguments)
            guard process.waitFor(timeout: 30, { $0.contains("Bookinfo is up") }) else {
                throw HarnessError("demo did not start: \(process.errors)")
            }
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw HarnessError("no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        func productpage(user: String? = nil) throws -> (body: String, seconds: Double) {
            var arguments = ["-s", "http://127.0.0.1:\(port)/productpage"]
            if let user { arguments += ["-H", "end-user: \(user)"] }
            let start = Date()
            let output = try Harness.curl(arguments, timeout: 30)
            return (output.stdout, Date().timeIntervalSince(start))
        }

        deinit { process.stop() }
    }

    @Test("fault injection: ratings delayed 7 s for jason against the 6 s reviews timeout shows the reviews error to jason only")
    func faultInjectionTimeoutBug() throws {
        let demo = try Demo()
        let anonymous = try demo.productpage()
        #expect(anonymous.body.contains("reviews v1"), "\(anonymous.body)")
        #expect(anonymous.seconds < 3)

        let jason = try demo.productpage(user: "jason")
        #expect(jason.body.contains("Sorry, product reviews are currently unavailable for this book"), "\(jason.body)")
        #expect(jason.body.contains("HTTP 504"), "\(jason.body)")
        // The reviews route's 6 s timeout ends it, not the 7 s delay.
        #expect(jason.seconds > 5.5 && jason.seconds < 6.9, "took \(jason.seconds) s")

        // Others are not delayed at all, even while jason's request waits.
        let other = try demo.productpage(user: "alice")
        #expect(other.body.contains("reviews v1"))
        #expect(other.seconds < 3)
    }

    @Test("traffic shifting: reviews-50-v3 sends about half of the requests to v3 and the rest to v1")
    func reviews50v3() throws {
        let demo = try Demo(extraConfig: ["Gateways/bookinfo-tasks/reviews-50-v3.yaml"])
        var counts: [String: Int] = [:]
        for _ in 0..<100 {
            let page = try demo.productpage().body
            for version in ["reviews v1", "reviews v2", "reviews v3"] where page.contains(version) { counts[version, default: 0] += 1 }
        }
        #expect(counts["reviews v2", default: 0] == 0)
        #expect((30...70).contains(counts["reviews v1", default: 0]), "\(counts)")
        #expect((30...70).contains(counts["reviews v3", default: 0]), "\(counts)")
        #expect(counts["reviews v1", default: 0] + counts["reviews v3", default: 0] == 100)
        // v3 calls ratings (through the gateway).
        let page = (0..<20).lazy.map { _ in (try? demo.productpage().body) ?? "" }.first { $0.contains("reviews v3") } ?? ""
        #expect(page.contains("ratings v1"), "\(page)")
    }

    @Test("fault injection abort: ratings answers jason 500, the page says ratings are unavailable")
    func ratingsAbort() throws {
        let demo = try Demo(extraConfig: ["Gateways/bookinfo-tasks/ratings-test-abort.yaml"])
        let jason = try demo.productpage(user: "jason")
        #expect(jason.body.contains("reviews v2"), "\(jason.body)")
        #expect(jason.body.contains("ratings: HTTP 500 fault filter abort"), "\(jason.body)")
        let anonymous = try demo.productpage()
        #expect(anonymous.body.contains("reviews v1"))
    }
}
