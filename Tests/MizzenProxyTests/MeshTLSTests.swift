import NIOCore
import Testing
@testable import MizzenProxy

/// The pieces of inbound mutual TLS that need no socket: telling Istio's mTLS from other TLS
/// and plain text by the first bytes, and the XFCC certificate hash.
struct MeshTLSTests {
    /// A ClientHello record offering `protocols` (TLS 1.2 framing, one cipher, SNI and ALPN).
    static func clientHello(alpn protocols: [String]) -> [UInt8] {
        var extensions: [UInt8] = []
        let sni = Array("web.default".utf8)
        extensions += [0x00, 0x00] + u16(sni.count + 5) + u16(sni.count + 3) + [0x00] + u16(sni.count) + sni
        if !protocols.isEmpty {
            var list: [UInt8] = []
            for name in protocols { list += [UInt8(name.utf8.count)] + Array(name.utf8) }
            extensions += [0x00, 0x10] + u16(list.count + 2) + u16(list.count) + list
        }
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32) + [0x00] + u16(2) + [0x13, 0x01] + [0x01, 0x00]
        body += u16(extensions.count) + extensions
        let handshake: [UInt8] = [0x01, 0x00] + u16(body.count) + body
        return [0x16, 0x03, 0x01] + u16(handshake.count) + handshake
    }

    static func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    @Test(arguments: [
        (["istio-http/1.1", "istio", "http/1.1"], InboundTransport.meshTLS),
        (["istio"], .meshTLS),
        (["istio-peer-exchange", "istio"], .meshTLS),
        (["h2", "http/1.1"], .otherTLS),
        ([], .otherTLS),
    ])
    func clientHellosAreToldApartByTheirALPN(_ protocols: [String], _ expected: InboundTransport) {
        let bytes = ByteBuffer(bytes: Self.clientHello(alpn: protocols))
        #expect(InboundTransport.classify(bytes.readableBytesView) == expected)
        #expect(ClientHelloALPN.protocols(Array(Self.clientHello(alpn: protocols).dropFirst(5))) == protocols)
    }

    @Test func theServerNameIsReadFromTheClientHello() {
        let hello = Self.clientHello(alpn: ["h2"])
        #expect(OutboundTLS.classify(ByteBuffer(bytes: hello).readableBytesView) == .serverName("web.default"))
        #expect(OutboundTLS.classify(ByteBuffer(bytes: hello.prefix(30)).readableBytesView) == nil)
        #expect(OutboundTLS.classify(ByteBuffer(string: "GET / HTTP/1.1\r\n").readableBytesView) == .notTLS)
    }

    @Test func partialRecordsWaitAndPlainTextIsPlain() {
        let hello = Self.clientHello(alpn: ["istio"])
        for cut in [1, 4, 5, 20, hello.count - 1] {
            #expect(InboundTransport.classify(ByteBuffer(bytes: hello.prefix(cut)).readableBytesView) == nil, "cut at \(cut)")
        }
        #expect(InboundTransport.classify(ByteBuffer(string: "GET / HTTP/1.1\r\n").readableBytesView) == .plaintext)
        #expect(InboundTransport.classify(ByteBuffer(bytes: [0x16, 0x01, 0, 0, 0]).readableBytesView) == .plaintext)
        // Truncated inside: no ALPN is found, other TLS (and the parser does not trap).
        var broken = hello
        broken[9] = 0xff
        #expect(InboundTransport.classify(ByteBuffer(bytes: broken).readableBytesView) != nil)
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(_ message: String, _ digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    @Test func forwardedClientCertElementHasEnvoysForm() {
        let peer = MeshPeer(principal: "spiffe://cluster.local/ns/default/sa/sleep", localPrincipal: "spiffe://cluster.local/ns/foo/sa/httpbin",
                            certificateHash: "ab12")
        #expect(peer.forwardedClientCertElement == #"By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=ab12;Subject="";URI=spiffe://cluster.local/ns/default/sa/sleep"#)
    }
}
