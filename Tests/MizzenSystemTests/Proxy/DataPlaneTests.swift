import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The data plane end to end: the built `mizzen gateway` between real clients (curl, openssl
/// s_client, grpcio, a raw WebSocket client) and real upstreams on loopback, over real TLS with
/// certificates made for the run.
@Suite(.serialized)
struct DataPlaneTests {
    /// Upstreams and a gateway serving every kind of server at once.
    final class Fixture: @unchecked Sendable {
        let log: UpstreamLog
        let upstream: Peer
        let upstreamB: Peer
        let grpc: Peer
        let tcpEcho: Peer
        let tlsEcho: Peer
        let gateway: GatewayProcess
        let certs: URL

        init() throws {
            certs = Harness.certificates
            log = try UpstreamLog()
            upstream = try Peer("upstream.py", ["--name", "upstream-a", "--log", log.url.path])
            upstreamB = try Peer("upstream.py", ["--name", "upstream-b"])
            grpc = try Peer("grpc_echo.py", ["--name", "grpc-echo"])
            tcpEcho = try Peer("tcp_echo.py", ["--banner", "hello from tcp-echo"])
            tlsEcho = try Peer("tcp_echo.py", ["--tls-cert", certs.appendingPathComponent("passthrough.crt").path,
                                               "--tls-key", certs.appendingPathComponent("passthrough.key").path])
            let yaml = Self.configuration(certs: certs, upstream: upstream.port, upstreamB: upstreamB.port, grpc: grpc.port,
                                          tcpEcho: tcpEcho.port, tlsEcho: tlsEcho.port)
            gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080, 8081, 8443, 9443, 9444, 9445, 9446, 9447, 8444, 9000],
                                         extraArguments: ["--credentials", certs.appendingPathComponent("credentials").path])
        }

        static func configuration(certs certsURL: URL, upstream: Int, upstreamB: Int, grpc: Int, tcpEcho: Int, tlsEcho: Int) -> String {
            let certs = certsURL.path
            return """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
              - port: {number: 8081, name: http-redirect, protocol: HTTP}
                hosts: ["*"]
                tls: {httpsRedirect: true}
              - port: {number: 8443, name: https-bookinfo, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls: {mode: SIMPLE, credentialName: bookinfo-credential}
              - port: {number: 8443, name: https-wildcard, protocol: HTTPS}
                hosts: ["*.example.org"]
                tls: {mode: SIMPLE, credentialName: wildcard-credential}
              - port: {number: 9443, name: https-mutual, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls:
                  mode: MUTUAL
                  serverCertificate: \(certs)/bookinfo.crt
                  privateKey: \(certs)/bookinfo.key
                  caCertificates: \(certs)/ca.crt
              - port: {number: 9444, name: https-mutual-san, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls:
                  mode: MUTUAL
                  credentialName: bookinfo-credential
                  subjectAltNames: [spiffe://cluster.local/ns/default/sa/someone-else]
              - port: {number: 9445, name: https-optional-mutual, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls: {mode: OPTIONAL_MUTUAL, credentialName: bookinfo-credential}
              - port: {number: 9446, name: https-tls13, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls: {mode: SIMPLE, credentialName: bookinfo-credential, minProtocolVersion: TLSV1_3}
              - port: {number: 9447, name: https-ciphers, protocol: HTTPS}
                hosts: [bookinfo.example.com]
                tls:
                  mode: SIMPLE
                  credentialName: bookinfo-credential
                  maxProtocolVersion: TLSV1_2
                  cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256]
              - port: {number: 8444, name: tls-passthrough, protocol: TLS}
                hosts: [passthrough.example.net]
                tls: {mode: PASSTHROUGH}
              - port: {number: 9000, name: tcp, protocol: TCP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: upstream, namespace: default}
            spec:
              hosts: [upstream.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints:
              - address: 127.0.0.1
                ports: {http: \(upstream)}
                labels: {version: a}
              - address: 127.0.0.1
                ports: {http: \(upstreamB)}
                labels: {version: b}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: upstream, namespace: default}
            spec:
              host: upstream.test
              subsets:
              - name: a
                labels: {version: a}
              - name: b
                labels: {version: b}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: sticky, namespace: default}
            spec:
              hosts: [sticky.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints:
              - {address: 127.0.0.1, ports: {http: \(upstream)}}
              - {address: 127.0.0.1, ports: {http: \(upstreamB)}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: sticky, namespace: default}
            spec:
              host: sticky.test
              trafficPolicy:
                loadBalancer:
                  consistentHash: {httpHeaderName: x-user}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: grpc-echo, namespace: default}
            spec:
              hosts: [grpc.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 50051, name: grpc, protocol: GRPC}]
              endpoints: [{address: 127.0.0.1, ports: {grpc: \(grpc)}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: down, namespace: default}
            spec:
              hosts: [down.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 50051, name: grpc, protocol: GRPC}]
              endpoints: [{address: 127.0.0.1, ports: {grpc: 1}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: tcp-echo, namespace: default}
            spec:
              hosts: [tcp-echo.test]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 9000, name: tcp, protocol: TCP}]
              endpoints: [{address: 127.0.0.1, ports: {tcp: \(tcpEcho)}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: tls-echo, namespace: default}
            spec:
              hosts: [passthrough.example.net]
              location: MESH_EXTERNAL
              resolution: STATIC
              ports: [{number: 443, name: tls, protocol: TLS}]
              endpoints: [{address: 127.0.0.1, ports: {tls: \(tlsEcho)}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: edge, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [edge]
              http:
              - match: [{uri: {prefix: /mizzen.test.Echo/}}]
                route: [{destination: {host: grpc.test, port: {number: 50051}}}]
              - match: [{uri: {prefix: /mizzen.test.Down/}}]
                route: [{destination: {host: down.test, port: {number: 50051}}}]
              - match: [{uri: {prefix: /sticky/}}]
                route: [{destination: {host: sticky.test, port: {number: 80}}}]
              - match: [{headers: {x-pick: {exact: b}}}]
                route: [{destination: {host: upstream.test, subset: b, port: {number: 80}}}]
              - route: [{destination: {host: upstream.test, subset: a, port: {number: 80}}}]
              tcp:
              - match: [{port: 9000}]
                route: [{destination: {host: tcp-echo.test, port: {number: 9000}}}]
              tls:
              - match: [{port: 8444, sniHosts: [passthrough.example.net]}]
                route: [{destination: {host: passthrough.example.net, port: {number: 443}}}]
            """
        }
    }

    static let fixture: Result<Fixture, any Error> = Result { try Fixture() }

    static func setUp() throws -> Fixture {
        try fixture.get()
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    // MARK: HTTP/1.1 and HTTP/2 cleartext

    @Test func http11ForwardsToTheRoutedSubsetWithForwardingHeaders() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8080)
        let result = try Harness.curl(["-H", "x-envoy-retry-on: 5xx", "-H", "Connection: keep-alive, x-private", "-H", "x-private: 1",
                                       "http://127.0.0.1:\(port)/hello?q=1"])
        let body = Self.json(result.stdout)
        #expect(body["upstream"] as? String == "upstream-a", "\(result.stdout)")
        #expect(body["path"] as? String == "/hello?q=1")
        let headers = (body["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        #expect(headers.contains { $0.0 == "x-forwarded-for" && $0.1 == "127.0.0.1" })
        #expect(headers.contains { $0.0 == "x-forwarded-proto" && $0.1 == "http" })
        #expect(headers.contains { $0.0 == "x-request-id" && $0.1.count == 36 })
        #expect(headers.contains { $0.0 == "host" && $0.1 == "127.0.0.1:\(port)" })
        #expect(!headers.contains { $0.0.hasPrefix("x-envoy-") }, "x-envoy-* from outside must be stripped")
        #expect(!headers.contains { $0.0 == "x-private" }, "headers named by Connection are hop-by-hop")

        let picked = try Harness.curl(["-H", "x-pick: b", "http://127.0.0.1:\(port)/"])
        #expect(Self.json(picked.stdout)["upstream"] as? String == "upstream-b")
    }

    @Test func keepAliveAndPipelinedRequestsAreAnsweredInOrder() throws {
        let f = try Self.setUp()
        let request = "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\nGET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let response = String(decoding: RawSocket.exchange(port: f.gateway.port(8080), Array(request.utf8), timeout: 5), as: UTF8.self)
        let first = response.range(of: "\"/first\"")?.lowerBound
        let second = response.range(of: "\"/second\"")?.lowerBound
        let third = response.range(of: "\"/third\"")?.lowerBound
        #expect(first != nil && second != nil && third != nil, "\(response)")
        if let first, let second, let third { #expect(first < second && second < third) }
    }

    @Test func chunkedUploadAndHTTP10Client() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8080)
        let chunked = try Harness.curl(["-H", "Transfer-Encoding: chunked", "--data-binary", "hello world", "http://127.0.0.1:\(port)/upload"])
        #expect(Self.json(chunked.stdout)["body_length"] as? Int == 11, "\(chunked.stdout)")
        let old = try Harness.curl(["--http1.0", "-i", "http://127.0.0.1:\(port)/old"])
        #expect(old.stdout.hasPrefix("HTTP/1.0 200"), "\(old.stdout)")
    }

    /// (That the 100 comes before the body is sent is checked on the wire in HostileRequestTests.)
    @Test func expectContinueIsAnsweredByTheProxy() throws {
        let f = try Self.setUp()
        let result = try Harness.curl(["-H", "Expect: 100-continue", "--data-binary", String(repeating: "x", count: 2048),
                                       "http://127.0.0.1:\(f.gateway.port(8080))/continue"])
        #expect(Self.json(result.stdout)["body_length"] as? Int == 2048)
        let headers = (Self.json(result.stdout)["headers"] as? [[String]] ?? []).map { $0[0].lowercased() }
        #expect(!headers.contains("expect"), "the proxy answers the expectation and does not pass it on")
    }

    @Test func http2PriorKnowledge() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8080)
        let result = try Harness.curl(["--http2-prior-knowledge", "-w", "\n%{http_version}", "http://127.0.0.1:\(port)/h2c"])
        #expect(result.stdout.hasSuffix("\n2"), "\(result.stdout)")
        #expect(Self.json(String(result.stdout.dropLast(2)))["path"] as? String == "/h2c")
    }

    @Test func httpsRedirectAnswers301ToHTTPS() throws {
        let f = try Self.setUp()
        let result = try Harness.curl(["-i", "-H", "Host: shop.example.org", "http://127.0.0.1:\(f.gateway.port(8081))/cart?x=1"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 301"), "\(result.stdout)")
        #expect(result.stdout.lowercased().contains("location: https://shop.example.org/cart?x=1"))
    }

    // MARK: TLS

    /// After `Connection: close` the gateway sends close_notify and waits at most 1 s (Envoy's
    /// delayed_close_timeout) for the client's before closing the socket; NIOSSL's default of
    /// 5 s kept each such connection's memory for 5 s after the client had gone.
    @Test func tlsCloseWaitsOneSecondForTheClientsCloseNotify() throws {
        let f = try Self.setUp()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("tls_close_notify.py").path,
                                                 "--port", String(f.gateway.port(8443)), "--sni", "bookinfo.example.com",
                                                 "--ca", f.certs.appendingPathComponent("ca.crt").path], timeout: 30)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let summary = Self.json(result.stdout)
        #expect(summary["status"] as? String == "200", "\(result.stdout)")
        let finAfter = summary["fin_after"] as? Double ?? -1
        #expect(finAfter >= 0.8 && finAfter < 3, "FIN \(finAfter) s after close_notify")
    }

    @Test func tlsTerminationPicksTheCertificateBySNIAndSpeaksH2() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8443)
        let ca = f.certs.appendingPathComponent("ca.crt").path
        let h2 = try Harness.curl(["--http2", "--cacert", ca, "--resolve", "bookinfo.example.com:\(port):127.0.0.1",
                                   "-w", "\n%{http_version}", "https://bookinfo.example.com:\(port)/secure"])
        #expect(h2.stdout.hasSuffix("\n2"), "\(h2.stdout) \(h2.stderr)")
        let body = Self.json(String(h2.stdout.dropLast(2)))
        let headers = (body["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        #expect(headers.contains { $0.0 == "x-forwarded-proto" && $0.1 == "https" })

        let h1 = try Harness.curl(["--http1.1", "--cacert", ca, "--resolve", "shop.example.org:\(port):127.0.0.1",
                                   "-w", "\n%{http_version}", "https://shop.example.org:\(port)/wild"])
        #expect(h1.stdout.hasSuffix("\n1.1"), "\(h1.stdout) \(h1.stderr)")

        // openssl s_client: the certificate presented follows the SNI.
        for (name, subject) in [("bookinfo.example.com", "bookinfo.example.com"), ("shop.example.org", "*.example.org")] {
            let output = try Harness.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", name, "-CAfile", ca, "-verify_return_error"],
                                         timeout: 15, stdin: Data("Q\n".utf8))
            #expect(output.stdout.contains("subject=CN = \(subject)") || output.stdout.contains("subject=CN=\(subject)") || output.stdout.contains("CN = \(subject)"),
                    "\(name): \(output.stdout.prefix(600))")
            #expect(output.stdout.contains("Verify return code: 0"), "\(name)")
        }
    }

    @Test func mutualTLSRequiresATrustedClientCertificate() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(9443)
        let certs = f.certs.path
        let base = ["--cacert", "\(certs)/ca.crt", "--resolve", "bookinfo.example.com:\(port):127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"]
        let url = "https://bookinfo.example.com:\(port)/mtls"
        let trusted = try Harness.curl(base + ["--cert", "\(certs)/client.crt", "--key", "\(certs)/client.key", url])
        #expect(trusted.stdout == "200", "\(trusted.stdout) \(trusted.stderr)")
        let none = try Harness.curl(base + [url])
        #expect(none.stdout == "000", "no client certificate must be refused")
        let untrusted = try Harness.curl(base + ["--cert", "\(certs)/untrusted-client.crt", "--key", "\(certs)/untrusted-client.key", url])
        #expect(untrusted.stdout == "000", "a certificate from another CA must be refused")
        // subjectAltNames: a trusted certificate without the listed SAN is refused.
        let sanPort = f.gateway.port(9444)
        let wrongSAN = try Harness.curl(["--cacert", "\(certs)/ca.crt", "--resolve", "bookinfo.example.com:\(sanPort):127.0.0.1", "-o", "/dev/null",
                                         "-w", "%{http_code}", "--cert", "\(certs)/client.crt", "--key", "\(certs)/client.key",
                                         "https://bookinfo.example.com:\(sanPort)/mtls"])
        #expect(wrongSAN.stdout == "000")
    }

    @Test func optionalMutualProtocolVersionsAndCipherSuites() throws {
        let f = try Self.setUp()
        let certs = f.certs.path
        let optional = f.gateway.port(9445)
        let base = ["--cacert", "\(certs)/ca.crt", "--resolve", "bookinfo.example.com:\(optional):127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"]
        let url = "https://bookinfo.example.com:\(optional)/optional"
        #expect(try Harness.curl(base + [url]).stdout == "200", "OPTIONAL_MUTUAL serves clients without a certificate")
        #expect(try Harness.curl(base + ["--cert", "\(certs)/client.crt", "--key", "\(certs)/client.key", url]).stdout == "200")
        #expect(try Harness.curl(base + ["--cert", "\(certs)/untrusted-client.crt", "--key", "\(certs)/untrusted-client.key", url]).stdout == "000",
                "a presented certificate must still verify")
        let tls13 = f.gateway.port(9446)
        let tlsBase = ["--cacert", "\(certs)/ca.crt", "--resolve", "bookinfo.example.com:\(tls13):127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"]
        let tlsURL = "https://bookinfo.example.com:\(tls13)/v13"
        #expect(try Harness.curl(tlsBase + ["--tls-max", "1.2", tlsURL]).stdout == "000", "minProtocolVersion TLSV1_3 refuses TLS 1.2")
        #expect(try Harness.curl(tlsBase + ["--tlsv1.3", tlsURL]).stdout == "200")

        // cipherSuites and maxProtocolVersion TLSV1_2: only the listed suite is negotiated.
        let ciphers = f.gateway.port(9447)
        let cipherBase = ["--cacert", "\(certs)/ca.crt", "--resolve", "bookinfo.example.com:\(ciphers):127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}"]
        let cipherURL = "https://bookinfo.example.com:\(ciphers)/ciphers"
        #expect(try Harness.curl(cipherBase + ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", cipherURL]).stdout == "200")
        #expect(try Harness.curl(cipherBase + ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384", cipherURL]).stdout == "000",
                "a suite the server does not list is refused")
        #expect(try Harness.curl(cipherBase + ["--tlsv1.3", cipherURL]).stdout == "000", "maxProtocolVersion TLSV1_2 refuses TLS 1.3")
    }

    @Test func consistentHashKeepsAUserOnOneEndpoint() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8080)
        var byUser: [String: Set<String>] = [:]
        // The endpoints' ports are new each run, so their places on the ring are too: with 8
        // users all of them fell on one endpoint about once in 128 runs; with 32, once in 2^31.
        for user in (1...32).map({ "user-\($0)" }) {
            for _ in 0..<3 {
                let result = try Harness.curl(["-H", "x-user: \(user)", "http://127.0.0.1:\(port)/sticky/\(user)"])
                byUser[user, default: []].insert(Self.json(result.stdout)["upstream"] as? String ?? "none")
            }
        }
        #expect(byUser.values.allSatisfy { $0.count == 1 }, "each user sticks to one endpoint: \(byUser)")
        #expect(Set(byUser.values.flatMap { $0 }).count == 2, "users spread over both endpoints: \(byUser)")
    }

    @Test func tlsPassthroughRoutesBySNIWithoutTerminating() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8444)
        let output = try Harness.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "passthrough.example.net",
                                                 "-CAfile", f.certs.appendingPathComponent("ca.crt").path, "-quiet"],
                                     timeout: 4, stdin: Data("ping through\n".utf8))
        #expect(output.stdout.contains("SNI passthrough.example.net"), "the backend terminated TLS itself: \(output.stdout) \(output.stderr.prefix(400))")
        #expect(output.stdout.contains("ping through"))
        let unknown = try Harness.run("openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "other.example.net", "-quiet"],
                                      timeout: 4, stdin: Data("x\n".utf8))
        #expect(!unknown.stdout.contains("SNI"), "an SNI no route takes is closed")
    }

    // MARK: TCP, WebSocket, gRPC

    @Test func tcpServerProxiesBytesBothWays() throws {
        let f = try Self.setUp()
        let payload = Array("ping over tcp\n".utf8)
        let response = String(decoding: RawSocket.exchange(port: f.gateway.port(9000), payload, timeout: 2), as: UTF8.self)
        #expect(response.contains("hello from tcp-echo"), "\(response)")
        #expect(response.contains("ping over tcp"))
    }

    @Test func webSocketUpgradeTunnels() throws {
        let f = try Self.setUp()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("ws_client.py").path, "--port", String(f.gateway.port(8080)),
                                                 "--path", "/ws", "--messages", "20"], timeout: 30)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
    }

    @Test func grpcUnaryStreamingTrailersAndErrors() throws {
        let f = try Self.setUp()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("grpc_client.py").path,
                                                 "--target", "127.0.0.1:\(f.gateway.port(8080))", "all"], timeout: 60)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
    }

    @Test func grpcClientsGetGRPCStatusForProxyErrors() throws {
        let f = try Self.setUp()
        // The route's upstream refuses connections: 503 UF becomes grpc-status 14 (UNAVAILABLE).
        let result = try Harness.curl(["--http2-prior-knowledge", "-v", "-H", "content-type: application/grpc", "-H", "te: trailers",
                                       "--data-binary", "", "http://127.0.0.1:\(f.gateway.port(8080))/mizzen.test.Down/Call"])
        let everything = (result.stdout + result.stderr).lowercased()
        #expect(everything.contains("< http/2 200"), "\(everything)")
        #expect(everything.contains("grpc-status: 14"), "\(everything)")
    }

    // MARK: Large bodies

    @Test func largeBodiesStreamWithBoundedMemory() throws {
        let f = try Self.setUp()
        let port = f.gateway.port(8080)
        let size = 100 * 1024 * 1024
        let download = try Harness.run("curl", ["-s", "--max-time", "120", "-o", "/dev/null", "-w", "%{size_download} %{http_code}",
                                                "http://127.0.0.1:\(port)/bytes/\(size)"], timeout: 130)
        #expect(download.stdout == "\(size) 200", "\(download.stdout)")
        let file = try Harness.temporaryDirectory("upload").appendingPathComponent("100m")
        #expect(FileManager.default.createFile(atPath: file.path, contents: nil))
        let handle = try FileHandle(forWritingTo: file)
        let chunk = Data(repeating: 0x61, count: 1 << 20)
        for _ in 0..<100 { handle.write(chunk) }
        try handle.close()
        let upload = try Harness.run("curl", ["-s", "--max-time", "120", "-H", "Expect:", "--data-binary", "@\(file.path)",
                                              "http://127.0.0.1:\(port)/upload"], timeout: 130)
        #expect(Self.json(upload.stdout)["body_length"] as? Int == size, "\(upload.stdout.prefix(300))")
        try? FileManager.default.removeItem(at: file)
        let memory = f.gateway.background.memory()
        #expect(memory.peak < 64 * 1024, "peak RSS \(memory.peak) KiB")
    }

    /// The gateway serves HTTP/2 streams itself (no child channel per stream), so it keeps the
    /// streams' accounts: a malformed request is reset and the connection goes on, CONNECT and
    /// a host header without :authority are requests like HTTP/1's, request trailers end a
    /// body, an upload eight times the stream window gets its window back as the upstream takes
    /// it, and a client that stops reading a 64 MiB response stops the upstream reads (the
    /// resident set stays put) and then gets every byte.
    @Test func http2StreamsFlowControlAndMalformedRequests() throws {
        let f = try Self.setUp()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("h2_streams.py").path,
                                                 "--port", String(f.gateway.port(8080)),
                                                 "--pid", String(f.gateway.background.process.processIdentifier)], timeout: 120)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
    }
}

/// HTTP/2 abuse: a rapid-reset flood (CVE-2023-44487) gets a GOAWAY and costs bounded memory
/// and CPU; the gateway keeps serving afterwards.
@Suite(.serialized)
struct HTTP2AbuseTests {
    @Test func rapidResetFloodIsCutOffWithGoaway() throws {
        let f = try DataPlaneTests.setUp()
        let port = f.gateway.port(8080)
        let before = f.gateway.background.memory()
        let cpuBefore = f.gateway.background.cpuSeconds()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("h2_rapid_reset.py").path, "--host", "127.0.0.1",
                                                 "--port", String(port), "--authority", "flood.test", "--streams", "20000", "--timeout", "20"],
                                     timeout: 40)
        let summary = DataPlaneTests.json(result.stdout.split(separator: "\n").last.map(String.init) ?? "")
        #expect(summary["goaway_received"] as? Bool == true, "\(result.stdout) \(result.stderr)")
        let after = f.gateway.background.memory()
        let cpu = f.gateway.background.cpuSeconds() - cpuBefore
        #expect(after.rss - before.rss < 32 * 1024, "RSS grew from \(before.rss) to \(after.rss) KiB")
        #expect(cpu < 10, "the flood cost \(cpu) s of CPU")
        // Still serving.
        let ok = try Harness.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/after-flood"])
        #expect(ok.stdout == "200")
    }

    @Test func oversizedHeaderListsAreRefusedAndTheConnectionsAfterAreServed() throws {
        let f = try DataPlaneTests.setUp()
        let result = try Harness.run("python3", [Harness.peers.appendingPathComponent("h2_limits.py").path, "--port", String(f.gateway.port(8080))],
                                     timeout: 30)
        let summary = DataPlaneTests.json(result.stdout)
        for name in ["large_header", "many_headers"] {
            let outcome = summary[name] as? [String: Any] ?? [:]
            let refused = outcome["goaway"] is Int || outcome["reset"] is Int || (outcome["status"] as? String) == "431"
            #expect(refused, "\(name): \(outcome)")
            #expect(outcome["status"] as? String != "200", "\(name) must not be served")
        }
        #expect((summary["normal"] as? [String: Any])?["status"] as? String == "200", "\(result.stdout) \(result.stderr)")
    }
}
