import Foundation
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
        #expect(ForwardingHandler.hostWithoutPort(authority) == host)
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

/// Envoy's hop-by-hop rules on HTTP/1-style headers (RFC 9110 §7.6.1): the fixed list, the
/// names a `Connection` header lists, and the two kept on request (WebSocket upgrade, gRPC's
/// `te: trailers`).
struct HopByHopTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let headers: [(String, String)]
        var keepUpgrade = false
        var keepTrailersTE = false
        let kept: [String]
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "nothing to remove", headers: [("Host", "a"), ("Accept", "*/*")], kept: ["Host: a", "Accept: */*"]),
        Case(name: "fixed list, any case", headers: [("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("TE", "gzip"),
                                                     ("Transfer-Encoding", "chunked"), ("Proxy-Connection", "x"), ("Trailer", "x-sum"),
                                                     ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
                                                     ("Proxy-Authenticate", "Basic"), ("Proxy-Authorization", "Basic eA=="), ("x-a", "1")],
             kept: ["x-a: 1"]),
        Case(name: "names listed by Connection go too", headers: [("connection", "close, X-Secret ,x-other"), ("x-secret", "s"),
                                                                   ("X-Other", "o"), ("x-kept", "k")],
             kept: ["x-kept: k"]),
        Case(name: "several Connection headers", headers: [("connection", "x-a"), ("Connection", "x-b"), ("x-a", "1"), ("x-b", "2"), ("x-c", "3")],
             kept: ["x-c: 3"]),
        Case(name: "WebSocket upgrade kept", headers: [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("x-a", "1")],
             keepUpgrade: true, kept: ["x-a: 1", "connection: upgrade", "upgrade: websocket"]),
        Case(name: "te: trailers kept for gRPC", headers: [("te", "gzip, trailers"), ("x-a", "1")], keepTrailersTE: true,
             kept: ["x-a: 1", "te: trailers"]),
        Case(name: "te without trailers dropped", headers: [("te", "gzip"), ("x-a", "1")], keepTrailersTE: true, kept: ["x-a: 1"]),
        Case(name: "similar names stay", headers: [("x-connection", "1"), ("tee", "2"), ("upgrades", "3")],
             kept: ["x-connection: 1", "tee: 2", "upgrades: 3"]),
    ])
    func removeHopByHop(_ test: Case) {
        var headers = HTTPHeaders(test.headers)
        HeaderRules.removeHopByHop(&headers, keepUpgrade: test.keepUpgrade, keepTrailersTE: test.keepTrailersTE)
        #expect(headers.map { "\($0.name): \($0.value)" } == test.kept)
    }

    @Test(arguments: [
        ("close", "close", true), ("keep-alive, Close", "close", true), (" CLOSE ", "close", true), ("closed", "close", false),
        ("x-close", "close", false), ("a,,b", "b", true), ("", "close", false),
    ])
    func listElements(_ value: String, _ element: String, _ listed: Bool) {
        #expect(HeaderRules.lists(HTTPHeaders([("Connection", value)]), name: "connection", element: element) == listed)
    }

    @Test(arguments: [
        ("abc", "abc"), ("  abc", "abc"), ("abc \t", "abc"), ("\t a b \t", "a b"), ("", ""), ("   ", ""), (" é ", "é"),
        ("\u{A0}x\u{A0}", "\u{A0}x\u{A0}"),
    ])
    func trimmingSpacesAndTabsOnly(_ value: String, _ trimmed: String) {
        #expect(String(Substring(value).trimmingASCIISpaces()) == trimmed)
    }
}

/// `x-request-id`: a version-4 UUID, lower case, the bits from the loop's generator.
struct RequestIDTests {
    @Test(arguments: [UInt64(1), 42, 0xDEAD_BEEF, .max])
    func requestIDsAreVersion4UUIDs(_ seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var reference = generator
        let id = HeaderRules.requestID(using: &generator)
        let high = reference.next() & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = reference.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        var bytes = [UInt8]()
        for value in [high, low] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        #expect(id == uuid.uuidString.lowercased())
        #expect(Array(id.utf8)[14] == UInt8(ascii: "4"))
        #expect("89ab".utf8.contains(Array(id.utf8)[19]))
    }
}
