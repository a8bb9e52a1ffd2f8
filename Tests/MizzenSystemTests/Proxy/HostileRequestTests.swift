import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One hostile HTTP/1.1 request, sent as raw bytes, and the answer the proxy owes it.
///
/// `expected` is the right answer (RFC 9112 / RFC 9110, Envoy where the RFCs leave a choice);
/// `also` lists other answers the RFCs allow. `nil` means "no response, only a close".
/// Unless `upstreamMaySee`, the upstream must not see the request at all; even then it may see
/// it only when the proxy's answer is 2xx or 101, and never more than once.
struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: String
    let expected: Int?
    let also: [Int]
    let upstreamMaySee: Bool
    /// Body-framing errors: the head was already streamed upstream before the body went bad,
    /// so an upstream connection may have been opened, but no request may complete there.
    let upstreamMayConnect: Bool

    init(_ name: String, _ request: String, expect expected: Int?, also: [Int] = [],
         upstreamMaySee: Bool = false, upstreamMayConnect: Bool = false) {
        self.name = name
        self.request = request
        self.expected = expected
        self.also = also
        self.upstreamMaySee = upstreamMaySee
        self.upstreamMayConnect = upstreamMayConnect
    }

    var acceptable: [Int?] { [expected] + also.map { Optional($0) } }
    var testDescription: String { name }
}

/// The gateway and the upstream every hostile case runs against: created once, on first use
/// (Swift Testing has no suite-level setup; a static let is lazy and initialised once), and
/// stopped when the test process exits.
final class HostileFixture: @unchecked Sendable {
    let log: UpstreamLog
    let upstream: Peer
    let gateway: GatewayProcess

    init() throws {
        log = try UpstreamLog()
        upstream = try Peer("upstream.py", ["--name", "up", "--log", log.url.path])
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata:
          name: gw
          namespace: default
        spec:
          selector:
            istio: ingressgateway
          servers:
          - port:
              number: 8080
              name: http
              protocol: HTTP
            hosts:
            - "*"
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: upstream
          namespace: default
        spec:
          hosts:
          - upstream.test
          location: MESH_EXTERNAL
          resolution: STATIC
          ports:
          - number: 80
            name: http
            protocol: HTTP
          endpoints:
          - address: 127.0.0.1
            ports:
              http: \(upstream.port)
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: vs
          namespace: default
        spec:
          hosts:
          - "*"
          gateways:
          - default/gw
          http:
          - match:
            - uri:
                exact: /admin
            directResponse:
              status: 403
              body:
                string: "admin is closed"
          - route:
            - destination:
                host: upstream.test
                port:
                  number: 80

        """
        // One event loop: barrier requests (`barrier`) then reuse the one pooled upstream
        // connection, so they never add a connection the "no new upstream connection" checks see.
        gateway = try GatewayProcess(yaml: yaml, gatewayPorts: [8080],
                                     extraArguments: ["--request-headers-timeout", "2", "--max-request-body-bytes", "1000000", "--stream-idle-timeout", "3",
                                                      "--concurrency", "1"])
    }

    var port: Int { gateway.port(8080) }

    /// Requests the upstream read completely (the upstream logs a request once its body is in),
    /// barrier requests left out.
    var requests: [[String: Any]] { log.requests }

    /// A request the upstream has seen once this returns: one the gateway wrongly forwarded
    /// before it has been logged too.
    func barrier() throws {
        try log.barrier(through: port, host: "x")
    }
    var connections: Int { log.connections }

    var isRunning: Bool { gateway.background.process.isRunning }
    var gatewayErrors: String { String(gateway.background.errors.suffix(3000)) }

    func stop() {
        gateway.stop()
        upstream.stop()
    }

    static func headers(_ request: [String: Any]) -> [(name: String, value: String)] {
        ((request["headers"] as? [[String]]) ?? []).compactMap { pair in
            pair.count == 2 ? (pair[0], pair[1]) : nil
        }
    }
}

@Suite(.serialized)
struct HostileRequestTests {
    static let shared: Result<HostileFixture, any Error> = {
        let result = Result { try HostileFixture() }
        if case .success = result {
            atexit { HostileRequestTests.stopShared() }
        }
        return result
    }()

    static func stopShared() {
        if case .success(let fixture) = shared { fixture.stop() }
    }

    static let longURL = "GET /" + String(repeating: "a", count: 100 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n"
    static let bigHeaders = "GET / HTTP/1.1\r\nHost: x\r\n"
        + (0..<70).map { "X-H\($0): " + String(repeating: "v", count: 1000) + "\r\n" }.joined() + "\r\n"
    static let bigValue = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "v", count: 70 * 1024) + "\r\n\r\n"
    /// 1 (Host) + 100 = 101 header fields, one over the default limit of 100.
    static let tooManyHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<100).map { "X-H\($0): 1\r\n" }.joined() + "\r\n"
    static let hundredHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<99).map { "X-H\($0): 1\r\n" }.joined() + "\r\n"
    /// 17 chunks of 64 KiB: 1.1 MB, over --max-request-body-bytes 1000000.
    static let chunkedOverLimit = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + String(repeating: "10000\r\n" + String(repeating: "a", count: 65536) + "\r\n", count: 17) + "0\r\n\r\n"

    static let cases: [HostileCase] = [
        // Message framing (RFC 9112 §6.1, §6.3; PortSwigger CL.TE / TE.CL / TE.TE).
        HostileCase("CL + TE (CL.TE smuggle)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", expect: 400),
        HostileCase("TE + CL (TE.CL smuggle)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", expect: 400),
        HostileCase("duplicate differing Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", expect: 400),
        HostileCase("duplicate equal Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length +5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length -5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length 0x5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length with inner space", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length list 5, 5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", expect: 400),
        HostileCase("Content-Length list 5,6", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5,6\r\n\r\nhello!", expect: 400),
        HostileCase("Content-Length empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\nhello", expect: 400),
        HostileCase("Content-Length overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\nhello", expect: 400),
        HostileCase("space before colon in Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello", expect: 400),
        HostileCase("TE chunked, identity (chunked not last)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", expect: 501),
        HostileCase("TE xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", expect: 501, also: [400]),
        HostileCase("TE identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nhello", expect: 501, also: [400]),
        HostileCase("TE chunked;x=1", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n", expect: 501, also: [400]),
        HostileCase("TE chunked + second TE field x", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n", expect: 400, also: [501]),
        HostileCase("TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("space before colon in Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("TE as obs-fold right after the request line", "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("TE with tab before value, plus CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("TE with vertical tab before value", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\u{0B}chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400, also: [501]),
        HostileCase("TE value continued by obs-fold", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("TE in an HTTP/1.0 request", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", expect: 400),

        // Header syntax (RFC 9112 §2.2, §5; RFC 9110 §5.5).
        HostileCase("obs-fold in an ordinary header", "GET / HTTP/1.1\r\nHost: x\r\nX-Foo: a\r\n b\r\n\r\n", expect: 400),
        HostileCase("bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n", expect: 400),
        HostileCase("bare LF mixed with CRLF", "GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", expect: 400),
        HostileCase("bare CR in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", expect: 400),
        HostileCase("bare CR hiding a Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nX-A: a\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", expect: 400),
        HostileCase("NUL in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", expect: 400),
        HostileCase("control character in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{01}b\r\n\r\n", expect: 400),
        HostileCase("header name X@Y", "GET / HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\n", expect: 400),
        HostileCase("header name with a space", "GET / HTTP/1.1\r\nHost: x\r\nX Y: 1\r\n\r\n", expect: 400),
        HostileCase("empty header name", "GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n", expect: 400),
        HostileCase("header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nXYZ\r\n\r\n", expect: 400),
        HostileCase("non-ASCII header name", "GET / HTTP/1.1\r\nHost: x\r\nX-é: 1\r\n\r\n", expect: 400),

        // Request target and Host (RFC 9112 §3.2, §3.2.2; RFC 9110 §4.2.4, §7.2).
        HostileCase("NUL in the path", "GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("raw space in the path", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("raw tab in the path", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("DEL in the path", "GET /a\u{7F}b HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("raw non-ASCII in the path", "GET /café HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("%00 in the path", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("%00 after /admin", "GET /admin%00 HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("asterisk-form with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("authority-form with GET", "GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("target without a leading slash", "GET admin HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        // RFC 9112 §3.2.2: the target's authority wins and Host is ignored (Envoy: same).
        // RFC 9112 §3.2.2 lets a server prefer the target's authority; a gateway refuses the
        // ambiguity instead (two hosts in one request is a routing-confusion vector).
        HostileCase("absolute-form whose authority differs from Host", "GET http://other.test/abs HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("absolute-form with userinfo", "GET http://u@other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n", expect: 400),
        HostileCase("absolute-form without Host", "GET http://x/abs HTTP/1.1\r\n\r\n", expect: 400),
        HostileCase("absolute-form to /admin", "GET http://x/admin HTTP/1.1\r\nHost: x\r\n\r\n", expect: 403),
        HostileCase("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", expect: 400),
        HostileCase("two differing Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", expect: 400),
        HostileCase("two equal Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", expect: 400),
        HostileCase("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", expect: 400),
        HostileCase("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", expect: 400),
        HostileCase("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", expect: 400),
        HostileCase("empty Host in HTTP/1.1", "GET / HTTP/1.1\r\nHost:\r\n\r\n", expect: 400),
        // RFC 9112 §3.2: a Host with an invalid field value MUST get 400 (port = *DIGIT).
        HostileCase("Host with a non-numeric port", "GET / HTTP/1.1\r\nHost: x:abc\r\n\r\n", expect: 400),
        HostileCase("HTTP/1.0 without Host is served", "GET /ten HTTP/1.0\r\n\r\n", expect: 200, upstreamMaySee: true),

        // Request line (RFC 9112 §2.3, §3; RFC 9110 §2.5, §15.6.6).
        HostileCase("HTTP/2.0 over HTTP/1 framing", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", expect: 505, also: [400]),
        HostileCase("HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", expect: 505, also: [400]),
        HostileCase("HTTP/1.2 (higher minor)", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", expect: 400, also: [200, 505], upstreamMaySee: true),
        HostileCase("lowercase http/1.1", "GET / http/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("HTTP/0.9 request line", "GET /\r\n\r\n", expect: 400, also: [505]),
        HostileCase("extra token after the version", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("leading space before the method", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("method with @", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("method with NUL", "GE\u{0}T / HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400),
        HostileCase("CONNECT to an authority", "CONNECT upstream.test:80 HTTP/1.1\r\nHost: upstream.test:80\r\n\r\n", expect: 501, also: [403, 405]),
        HostileCase("CONNECT with an origin-form target", "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", expect: 400, also: [501, 403, 405]),

        // Sizes (--max-request-headers-bytes 61440, --max-request-headers 100, --max-request-body-bytes 1000000).
        HostileCase("100 KiB URL", longURL, expect: 414, also: [431]),
        HostileCase("header section over 60 KiB", bigHeaders, expect: 431),
        HostileCase("one 70 KiB header value", bigValue, expect: 431),
        HostileCase("101 header fields", tooManyHeaders, expect: 431),
        HostileCase("Content-Length over the body limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + String(repeating: "a", count: 1000), expect: 413),
        HostileCase("Expect: 100-continue over the body limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n", expect: 413),
        HostileCase("chunked body over the body limit", chunkedOverLimit, expect: 413, upstreamMayConnect: true),

        // Chunked bodies (RFC 9112 §7.1).
        HostileCase("chunk size overflow (18 hex digits)", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("chunk size 2^64-1", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", expect: 400, also: [413, 408], upstreamMayConnect: true),
        HostileCase("chunk size zz", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("chunk size 0x5", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("negative chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("empty chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("control character in a chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\u{01}\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("bare LF inside a chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nxx\r\nhello\r\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("missing CRLF after chunk data", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("chunk data ended by bare LF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", expect: 400, upstreamMayConnect: true),
        HostileCase("invalid trailer field name", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX@Y: 1\r\n\r\n", expect: 400, upstreamMayConnect: true),

        // Valid neighbours of the cases above: the proxy must not over-reject.
        HostileCase("valid: Content-Length with surrounding OWS", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \r\n\r\nhello", expect: 200, upstreamMaySee: true),
        HostileCase("valid: Transfer-Encoding with tab OWS", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", expect: 200, upstreamMaySee: true),
        HostileCase("valid: Transfer-Encoding CHUNKED", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", expect: 200, upstreamMaySee: true),
        HostileCase("valid: chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n", expect: 200, upstreamMaySee: true),
        HostileCase("valid: 100 header fields", hundredHeaders, expect: 200, upstreamMaySee: true),
        HostileCase("valid: unknown token method", "PURGE / HTTP/1.1\r\nHost: x\r\n\r\n", expect: 200, upstreamMaySee: true),
        HostileCase("valid: empty line before the request line", "\r\nGET /lead HTTP/1.1\r\nHost: x\r\n\r\n", expect: 200, upstreamMaySee: true),
    ]

    static func fixture() throws -> HostileFixture {
        try shared.get()
    }

    static func isSuccess(_ status: Int?) -> Bool {
        guard let status else { return false }
        return (200..<300).contains(status) || status == 101
    }

    @Test(arguments: HostileRequestTests.cases)
    func hostileRequest(_ hostile: HostileCase) throws {
        let fixture = try Self.fixture()
        try #require(fixture.isRunning, "gateway is not running: \(fixture.gatewayErrors)")
        try fixture.barrier()
        let requestsBefore = fixture.requests.count
        let connectionsBefore = fixture.connections

        let exchange = HostileWire.exchange(port: fixture.port, Array(hostile.request.utf8))
        try fixture.barrier()  // an upstream that wrongly got the request has logged it by now
        let status = exchange.finals.first

        #expect(hostile.acceptable.contains(status),
                "answered \(status.map(String.init) ?? "nothing"), want \(hostile.acceptable.map { $0.map(String.init) ?? "no response" }): \(exchange.preview)")
        if let status, HostileWire.closingStatuses.contains(status) {
            #expect(exchange.closed, "the connection stayed open after \(status)")
        }
        let seen = fixture.requests.dropFirst(requestsBefore)
        let targets = seen.map { ($0["target"] as? String) ?? "?" }
        if hostile.upstreamMaySee && Self.isSuccess(status) {
            #expect(seen.count <= 1, "the upstream saw \(seen.count) requests: \(targets)")
        } else {
            #expect(seen.isEmpty, "the upstream saw \(targets)")
            if !hostile.upstreamMaySee && !hostile.upstreamMayConnect {
                #expect(fixture.connections == connectionsBefore, "the proxy opened an upstream connection")
            }
        }
        #expect(!targets.contains { $0.contains("smuggled") })
        #expect(fixture.isRunning, "gateway died: \(fixture.gatewayErrors)")
    }

    // MARK: Path normalisation

    /// Every one of these normalises to `/admin` (merge-slashes mode: RFC 3986 dot segments,
    /// `%2e` is an unreserved dot, `\` is `/`, the query and fragment are not part of the path)
    /// and must get the route's direct 403, never reach the upstream.
    static let adminSpellings = [
        "/admin", "/a/../admin", "//admin", "///admin", "/./admin", "/../admin", "/a/b/../../admin",
        "/%2e%2e/admin", "/%2E%2E/admin", "/a/%2e%2e/admin", "/a/.%2e/admin", "/%61dmin",
        "/admin?x=1", "/admin#frag", "/a\\..\\admin",
    ]

    @Test(arguments: HostileRequestTests.adminSpellings)
    func adminSpellingGetsTheDirectResponse(_ path: String) throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let exchange = HostileWire.exchange(port: fixture.port, Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        try fixture.barrier()
        #expect(exchange.finals.first == 403, "\(exchange.preview)")
        #expect(exchange.body.contains("admin is closed"))
        let seen = fixture.requests.dropFirst(before).map { ($0["target"] as? String) ?? "?" }
        #expect(seen.isEmpty, "the upstream saw \(seen)")
    }

    struct ForwardedPath: Sendable, CustomTestStringConvertible {
        let sent: String
        /// What the upstream must receive (compared ignoring the case of percent-escapes).
        let forwarded: String
        var testDescription: String { "\(sent) -> \(forwarded)" }
    }

    /// Paths that do not normalise to `/admin` are forwarded, in their normalised form: the
    /// upstream must never get a spelling it could resolve to `/admin` itself.
    static let forwardedPaths = [
        // RFC 3986 §5.2.4 (and Envoy): "/admin/." is "/admin/", not an exact match of "/admin".
        ForwardedPath(sent: "/admin/.", forwarded: "/admin/"),
        ForwardedPath(sent: "/admin/", forwarded: "/admin/"),
        ForwardedPath(sent: "/ADMIN", forwarded: "/ADMIN"),
        // Encoded slashes stay encoded in merge-slashes mode (Istio's default keeps %2F).
        ForwardedPath(sent: "/a/..%2fadmin", forwarded: "/a/..%2Fadmin"),
        ForwardedPath(sent: "/admin%2f", forwarded: "/admin%2F"),
        // An encoded CRLF must stay encoded: no header injection upstream.
        ForwardedPath(sent: "/a%0D%0AX-Injected:%20yes", forwarded: "/a%0D%0AX-Injected:%20yes"),
        ForwardedPath(sent: "/a//b/./c/../d", forwarded: "/a/b/d"),
    ]

    @Test(arguments: HostileRequestTests.forwardedPaths)
    func pathIsForwardedNormalised(_ path: ForwardedPath) throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let exchange = HostileWire.exchange(port: fixture.port, Array("GET \(path.sent) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(exchange.finals.first == 200, "\(exchange.preview)")
        let seen = Array(fixture.requests.dropFirst(before))
        try #require(seen.count == 1, "the upstream saw \(seen.count) requests")
        #expect(((seen[0]["target"] as? String) ?? "").lowercased() == path.forwarded.lowercased(), "forwarded as \(seen[0]["target"] ?? "?")")
        #expect(!HostileFixture.headers(seen[0]).contains { $0.name.lowercased() == "x-injected" })
    }

    // MARK: Headers the upstream must not see

    /// Sends `request`, expects a 200 from the upstream, and returns the headers it received.
    static func upstreamHeaders(for request: String) throws -> [(name: String, value: String)] {
        let fixture = try fixture()
        let before = fixture.requests.count
        let exchange = HostileWire.exchange(port: fixture.port, Array(request.utf8))
        #expect(exchange.finals.first == 200, "\(exchange.preview)")
        let seen = Array(fixture.requests.dropFirst(before))
        try #require(seen.count == 1, "the upstream saw \(seen.count) requests")
        return HostileFixture.headers(seen[0])
    }

    @Test func envoyInternalHeadersAreStripped() throws {
        let headers = try Self.upstreamHeaders(for: "GET /envoy HTTP/1.1\r\nHost: x\r\nX-Envoy-Internal: true\r\n"
            + "x-envoy-original-path: /admin\r\nX-Envoy-Max-Retries: 9\r\nx-envoy-upstream-rq-timeout-ms: 1\r\n"
            + "X-Envoy-Decorator-Operation: op\r\nx-envoy-external-address: 10.0.0.1\r\n\r\n")
        let leaked = headers.filter { $0.name.lowercased().hasPrefix("x-envoy-") }.map(\.name)
        #expect(leaked.isEmpty, "x-envoy-* reached the upstream: \(leaked)")
    }

    @Test func connectionNominatedHeadersAreStripped() throws {
        let headers = try Self.upstreamHeaders(for: "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: x-secret, keep-alive\r\n"
            + "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\r\n")
        let names = Set(headers.map { $0.name.lowercased() })
        for hopByHop in ["x-secret", "connection", "keep-alive", "proxy-connection"] {
            #expect(!names.contains(hopByHop), "\(hopByHop) reached the upstream")
        }
    }

    @Test func h2cUpgradeIsServedAsHTTP11() throws {
        let headers = try Self.upstreamHeaders(for: "GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
        let names = Set(headers.map { $0.name.lowercased() })
        for hopByHop in ["upgrade", "http2-settings", "connection"] {
            #expect(!names.contains(hopByHop), "\(hopByHop) reached the upstream")
        }
    }

    @Test func forwardingHeadersCannotBeSpoofed() throws {
        let headers = try Self.upstreamHeaders(for: "GET /xff HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n")
        let proto = headers.filter { $0.name.lowercased() == "x-forwarded-proto" }.map(\.value)
        #expect(proto == ["http"], "x-forwarded-proto: \(proto)")
        let forwardedFor = headers.first { $0.name.lowercased() == "x-forwarded-for" }?.value ?? ""
        #expect(forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) == "127.0.0.1", "x-forwarded-for: \(forwardedFor)")
    }

    /// Naming a framing header in Connection must not make the proxy drop it and mis-frame the body.
    @Test func connectionCannotStripContentLength() throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let exchange = HostileWire.exchange(port: fixture.port, Array("POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\nhello".utf8))
        #expect(exchange.finals.first == 200, "\(exchange.preview)")
        let seen = Array(fixture.requests.dropFirst(before))
        try #require(seen.count == 1)
        #expect(seen[0]["body_length"] as? Int == 5)
    }

    /// RFC 9112 §3.2.2: with an absolute-form target the Host header is ignored.
    // MARK: Expect, pipelining, slow clients, tunnels

    @Test func expectContinueGets100Then200() throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let connection = try #require(HostileWire.Connection(port: fixture.port))
        connection.transmit(Array("POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".utf8))
        var interim: [UInt8] = []
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline, !String(decoding: interim, as: UTF8.self).contains("\r\n\r\n") {
            if connection.receive(into: &interim, waitingUpTo: deadline.timeIntervalSinceNow) != .data { break }
        }
        #expect(String(decoding: interim, as: UTF8.self).hasPrefix("HTTP/1.1 100 "), "\(String(decoding: interim.prefix(200), as: UTF8.self))")
        connection.transmit(Array("hello".utf8))
        let final = connection.collect(finalResponses: 1, timeout: 5)
        #expect(final.finals == [200], "\(final.preview)")
        let seen = Array(fixture.requests.dropFirst(before))
        try #require(seen.count == 1)
        #expect(seen[0]["body_length"] as? Int == 5)
        #expect(!HostileFixture.headers(seen[0]).contains { $0.name.lowercased() == "expect" })
    }

    struct PipelinedCase: Sendable, CustomTestStringConvertible {
        let name: String
        let request: String
        let statuses: [Int]
        let upstreamTargets: [String]
        var testDescription: String { name }
    }

    static let pipelined = [
        PipelinedCase(name: "CL.TE smuggle behind a valid GET",
                      request: "GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                      statuses: [200, 400], upstreamTargets: ["/first"]),
        PipelinedCase(name: "TE.CL smuggle behind a valid GET",
                      request: "GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2b\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n",
                      statuses: [200, 400], upstreamTargets: ["/first"]),
        PipelinedCase(name: "bad header name behind a slow valid GET",
                      request: "GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\n",
                      statuses: [200, 400], upstreamTargets: ["/delay/300"]),
        PipelinedCase(name: "missing Host behind a valid GET",
                      request: "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
                      statuses: [200, 400], upstreamTargets: ["/first"]),
        PipelinedCase(name: "nothing after a 400 is served",
                      request: "GET / HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                      statuses: [400], upstreamTargets: []),
        PipelinedCase(name: "two valid requests (control)",
                      request: "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n",
                      statuses: [200, 200], upstreamTargets: ["/p1", "/p2"]),
    ]

    @Test(arguments: HostileRequestTests.pipelined)
    func pipelinedRequestsAreNotSmuggled(_ pipelined: PipelinedCase) throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let exchange = HostileWire.exchange(port: fixture.port, Array(pipelined.request.utf8), responses: pipelined.statuses.count)
        try fixture.barrier()
        #expect(exchange.finals == pipelined.statuses, "\(exchange.preview)")
        if let last = pipelined.statuses.last, HostileWire.closingStatuses.contains(last) {
            #expect(exchange.closed, "the connection stayed open after \(last)")
        }
        let targets = fixture.requests.dropFirst(before).map { ($0["target"] as? String) ?? "?" }
        #expect(targets == pipelined.upstreamTargets)
    }

    /// Slowloris: one header byte every 300 ms; --request-headers-timeout 2 must answer 408.
    @Test func slowHeadersGet408() throws {
        let fixture = try Self.fixture()
        let before = fixture.requests.count
        let connection = try #require(HostileWire.Connection(port: fixture.port))
        let request = Array("GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: \(String(repeating: "a", count: 40))\r\n\r\n".utf8)
        let start = Date()
        var answer: [UInt8] = []
        var closed = false
        for byte in request where Date().timeIntervalSince(start) < 12 {
            guard connection.transmit([byte]) else { break }
            let outcome = connection.receive(into: &answer, waitingUpTo: 0.3)
            if outcome == .closed { closed = true }
            if outcome != .timeout { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        let rest = connection.collect(finalResponses: 1, timeout: 3, prefix: answer, alreadyClosed: closed)
        #expect(rest.finals.first == 408, "\(rest.preview)")
        #expect(elapsed < 8, "408 after \(elapsed) s")
        #expect(elapsed >= 1.5, "answered after only \(elapsed) s")
        #expect(rest.closed)
        #expect(fixture.requests.count == before)
    }

    /// A client that upgrades to WebSocket and walks away must not take the gateway down
    /// (builds before 21:06 UTC on 2026-11-21 aborted ~6 s later: "tried to decode as type
    /// IOData but found HTTPPart…end(nil)" / "unowned reference … already destroyed").
    @Test func abandonedWebSocketTunnelDoesNotCrashTheGateway() throws {
        let fixture = try Self.fixture()
        do {
            let connection = try #require(HostileWire.Connection(port: fixture.port))
            connection.transmit(Array(("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").utf8))
            let upgrade = connection.collect(finalResponses: 1, timeout: 3)
            #expect(upgrade.finals == [101], "\(upgrade.preview)")
        }
        let deadline = Date().addingTimeInterval(8)
        while Date() < deadline, fixture.isRunning { usleep(100_000) }
        try #require(fixture.isRunning, "gateway died: \(fixture.gatewayErrors)")
        let after = HostileWire.exchange(port: fixture.port, Array("GET /after-ws HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(after.finals == [200])
    }
}

/// A raw client that stops reading as soon as the responses it waits for are complete (an
/// answer the proxy keeps alive is not waited out), or waits for the close the proxy owes
/// after a framing error.
enum HostileWire {
    /// After these the proxy must close: the rest of the connection cannot be trusted.
    static let closingStatuses: Set<Int> = [400, 408, 413, 414, 431, 501, 505]

    struct Exchange {
        var bytes: [UInt8] = []
        var closed = false

        var parsed: (finals: [Int], complete: Int) { HostileWire.parse(bytes, closed: closed) }
        /// Status codes of the final (non-1xx) responses, in order.
        var finals: [Int] { parsed.finals }
        var body: String { String(decoding: bytes, as: UTF8.self) }
        var preview: String {
            let text = String(decoding: bytes.prefix(300), as: UTF8.self)
            return (text.isEmpty ? "(no bytes)" : text.debugDescription) + (closed ? " [closed]" : " [open]")
        }
    }

    static func exchange(port: Int, _ request: [UInt8], responses: Int = 1, timeout: Double = 4) -> Exchange {
        guard let connection = Connection(port: port) else { return Exchange(bytes: [], closed: true) }
        connection.transmit(request)
        return connection.collect(finalResponses: responses, timeout: timeout)
    }

    enum Outcome { case data, timeout, closed }

    final class Connection {
        let fd: Int32

        init?(port: Int) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return nil }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(fd)
                return nil
            }
            var sendTimeout = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
            var noDelay: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        }

        deinit { close(fd) }

        /// Sends everything, or stops at the first error (the proxy may close mid-request).
        @discardableResult
        func transmit(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { return false }
                sent += written
            }
            return true
        }

        func receive(into buffer: inout [UInt8], waitingUpTo seconds: Double) -> Outcome {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(max(0, min(seconds, 60)) * 1000))
            if ready == 0 { return .timeout }
            if ready < 0 { return errno == EINTR ? .data : .closed }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return .closed }
            buffer.append(contentsOf: chunk[0..<count])
            return .data
        }

        /// Reads until `finalResponses` responses are complete (then, when the last one obliges
        /// the proxy to close, until the close), or the deadline passes.
        func collect(finalResponses: Int, timeout: Double, prefix: [UInt8] = [], alreadyClosed: Bool = false) -> Exchange {
            var exchange = Exchange(bytes: prefix, closed: alreadyClosed)
            let deadline = Date().addingTimeInterval(timeout)
            while !exchange.closed {
                let parsed = exchange.parsed
                if parsed.complete >= finalResponses, !HostileWire.closingStatuses.contains(parsed.finals.last ?? 0) {
                    // Kept alive: a short grace read catches anything extra the proxy sends.
                    if receive(into: &exchange.bytes, waitingUpTo: 0.1) == .closed { exchange.closed = true }
                    break
                }
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { break }
                switch receive(into: &exchange.bytes, waitingUpTo: remaining) {
                case .closed: exchange.closed = true
                case .timeout: return exchange
                case .data: continue
                }
            }
            return exchange
        }
    }

    /// The final responses in `bytes` (1xx other than 101 skipped) and how many are complete.
    static func parse(_ bytes: [UInt8], closed: Bool) -> (finals: [Int], complete: Int) {
        var finals: [Int] = []
        var complete = 0
        var index = 0
        let separator: [UInt8] = [13, 10, 13, 10]
        while index < bytes.count {
            guard let headEnd = firstIndex(of: separator, in: bytes, from: index) else { break }
            let head = String(decoding: bytes[index..<headEnd], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ")
            guard lines[0].hasPrefix("HTTP/1."), statusParts.count > 1, let status = Int(statusParts[1]) else { break }
            let bodyStart = headEnd + 4
            if (100..<200).contains(status) && status != 101 {
                index = bodyStart
                continue
            }
            finals.append(status)
            if status == 101 || status == 204 || status == 304 {
                complete += 1
                break
            }
            var contentLength: Int?
            var chunked = false
            for line in lines.dropFirst() {
                let lower = line.lowercased()
                if lower.hasPrefix("content-length:") { contentLength = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
                if lower.hasPrefix("transfer-encoding:") && lower.contains("chunked") { chunked = true }
            }
            if let contentLength {
                guard bytes.count >= bodyStart + contentLength else { break }
                complete += 1
                index = bodyStart + contentLength
            } else if chunked {
                guard let end = firstIndex(of: [48, 13, 10, 13, 10], in: bytes, from: bodyStart) else { break }
                complete += 1
                index = end + 5
            } else {
                if closed { complete += 1 }
                break
            }
        }
        return (finals, complete)
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}
