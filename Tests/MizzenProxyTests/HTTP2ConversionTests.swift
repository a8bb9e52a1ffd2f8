import NIOHPACK
import NIOHTTP1
import Testing
@testable import MizzenProxy

/// The pure parts of the downstream HTTP/2 path: request heads from header blocks (RFC 9113
/// §8.3), response header blocks from HTTP/1-style heads (§8.2.2), and the authority helpers
/// every request passes through.
struct HTTP2ConversionTests {
    typealias Connection = HTTP2ServerConnectionHandler

    static func block(_ fields: [(String, String)]) -> HPACKHeaders {
        HPACKHeaders(fields)
    }

    static let get: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "a.example:8443"), (":path", "/p?q=1")]

    struct HeadCase: CustomTestStringConvertible, Sendable {
        let name: String
        let fields: [(String, String)]
        let endStream: Bool
        let method: String
        let uri: String
        /// The HTTP/1 header list the upstream side sees, in order.
        let headers: [String]
        var testDescription: String { name }
    }

    @Test(arguments: [
        HeadCase(name: "GET: :authority becomes host, first", fields: get + [("accept", "*/*")], endStream: true,
                 method: "GET", uri: "/p?q=1", headers: ["host: a.example:8443", "accept: */*"]),
        HeadCase(name: "a host header wins over :authority (no second host)", fields: get + [("host", "b.example")], endStream: true,
                 method: "GET", uri: "/p?q=1", headers: ["host: b.example"]),
        HeadCase(name: "host without :authority (RFC 9113 §8.3.1)",
                 fields: [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "c.example")], endStream: true,
                 method: "GET", uri: "/", headers: ["host: c.example"]),
        HeadCase(name: "POST ending with its headers: content-length 0",
                 fields: [(":method", "POST"), (":scheme", "http"), (":authority", "a"), (":path", "/")], endStream: true,
                 method: "POST", uri: "/", headers: ["host: a", "content-length: 0"]),
        HeadCase(name: "POST with a body and no length: chunked for an HTTP/1 upstream",
                 fields: [(":method", "POST"), (":scheme", "http"), (":authority", "a"), (":path", "/")], endStream: false,
                 method: "POST", uri: "/", headers: ["host: a", "transfer-encoding: chunked"]),
        HeadCase(name: "POST with content-length keeps it",
                 fields: [(":method", "PUT"), (":scheme", "http"), (":authority", "a"), (":path", "/"), ("content-length", "5")], endStream: false,
                 method: "PUT", uri: "/", headers: ["host: a", "content-length: 5"]),
        HeadCase(name: "CONNECT carries only :authority", fields: [(":method", "CONNECT"), (":authority", "x.example:443")], endStream: false,
                 method: "CONNECT", uri: "x.example:443", headers: ["host: x.example:443"]),
        HeadCase(name: "extension method", fields: [(":method", "PURGE"), (":scheme", "http"), (":authority", "a"), (":path", "/x")], endStream: true,
                 method: "PURGE", uri: "/x", headers: ["host: a", "content-length: 0"]),
    ])
    func requestHeads(_ test: HeadCase) throws {
        let head = try Connection.requestHead(Self.block(test.fields), endStream: test.endStream)
        #expect(head.method.rawValue == test.method)
        #expect(head.uri == test.uri)
        #expect(head.version == .http2)
        #expect(head.headers.map { "\($0.name): \($0.value)" } == test.headers)
    }

    @Test(arguments: [
        ("no :method", [(":scheme", "http"), (":authority", "a"), (":path", "/")]),
        ("no :path", [(":method", "GET"), (":scheme", "http"), (":authority", "a")]),
        ("no :scheme", [(":method", "GET"), (":authority", "a"), (":path", "/")]),
        ("neither :authority nor host", [(":method", "GET"), (":scheme", "http"), (":path", "/")]),
        ("two :path", [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/"), (":path", "/b")]),
        ("space in :path (would split an HTTP/1 request line)", [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/a b")]),
        ("CR LF in :path", [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/a\r\nx: y")]),
        ("control byte in :authority", [(":method", "GET"), (":scheme", "http"), (":authority", "a\u{1}"), (":path", "/")]),
        ("extended CONNECT's :protocol", [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":authority", "a"), (":path", "/")]),
        ("CONNECT with :path", [(":method", "CONNECT"), (":authority", "a:443"), (":path", "/")]),
        ("CONNECT without :authority", [(":method", "CONNECT")]),
    ] as [(String, [(String, String)])])
    func malformedRequestHeads(_ name: String, _ fields: [(String, String)]) {
        #expect(throws: Connection.MalformedRequest.self, "\(name)") {
            _ = try Connection.requestHead(Self.block(fields), endStream: true)
        }
    }

    @Test func trailersKeepRegularFieldsOnly() {
        let trailers = Connection.regularHeaders(Self.block([("grpc-status", "0"), ("x-sum", "abc")]))
        #expect(trailers.map { "\($0.name): \($0.value)" } == ["grpc-status: 0", "x-sum: abc"])
    }

    @Test func responseBlocksLowerCaseNamesAndDropConnectionSpecificFields() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Connection", value: "keep-alive")
        headers.add(name: "Keep-Alive", value: "timeout=5")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Upgrade", value: "h2c")
        headers.add(name: "Proxy-Connection", value: "close")
        headers.add(name: "set-cookie", value: "a=1")
        headers.add(name: "set-cookie", value: "b=2")
        let block = Connection.headerBlock(headers, status: .notFound)
        #expect(block.map { "\($0.name): \($0.value)" } == [":status: 404", "content-type: text/plain", "set-cookie: a=1", "set-cookie: b=2"])
        let trailers = Connection.headerBlock(["grpc-status": "14"], status: nil)
        #expect(trailers.map { "\($0.name): \($0.value)" } == ["grpc-status: 14"])
    }

    @Test(arguments: [
        ("a.example", "a.example"), ("a.example:8080", "a.example"), ("a.example:", "a.example"), ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]", "[::1]"), ("[::1]:443", "[::1]"), ("a.example:http", "a.example:http"), ("", ""),
    ])
    func hostWithoutPort(_ authority: String, _ host: String) {
        #expect(ExchangePlanner.hostWithoutPort(authority) == host)
    }

    @Test(arguments: [
        ("a.example", true), ("a.example:8080", true), ("a.example:", true), ("a.example:65535", true), ("a.example:65536", false),
        ("a.example:123456", false), ("a.example:8o", false), ("[::1]", true), ("[::1]:443", true), ("::1", false), ("a:b:80", false),
        ("a b", false), ("a/b", false), ("a@b", false), ("é.example", false), ("", true), ("xn--bcher-kva.example", true),
    ])
    func authorities(_ authority: String, _ valid: Bool) {
        #expect(RequestHeadValidator.isValidAuthority(authority) == valid)
    }
}
