import MizzenRouting
import NIOCore
import NIOSSL
import NIOTLS

/// A sidecar's inbound mutual TLS (Istio's `BuildInboundTLS`): its workload certificate, a
/// client certificate required and verified against the mesh root, any identity of the trust
/// domain accepted (`spiffe://TRUST_DOMAIN/` prefix: per-identity checks are authorization's),
/// ALPN `h2`, `http/1.1` (Istio leaves `istio` out: it would break h2 negotiation).
package final class MeshServerTLS: Sendable {
    let context: NIOSSLContext
    /// This workload's identity: the first URI SAN of its certificate.
    let localPrincipal: String?
    /// `spiffe://TRUST_DOMAIN/`.
    let trustDomainPrefix: String
    let fingerprint: [UInt8]

    init(context: NIOSSLContext, localPrincipal: String?, trustDomainPrefix: String, fingerprint: [UInt8]) {
        self.context = context
        self.localPrincipal = localPrincipal
        self.trustDomainPrefix = trustDomainPrefix
        self.fingerprint = fingerprint
    }

    static func make(_ workload: UpstreamTLS.WorkloadCertificates, trustDomain: String, previous: MeshServerTLS?) throws -> MeshServerTLS {
        let chainBytes = try UpstreamTLS.read("\(workload.directory)/cert-chain.pem", what: "workload certificate")
        let keyBytes = try UpstreamTLS.read("\(workload.directory)/key.pem", what: "workload key")
        let rootBytes = try UpstreamTLS.read("\(workload.directory)/root-cert.pem", what: "mesh root certificate")
        let prefix = "spiffe://\(trustDomain)/"
        let fingerprint = chainBytes + [0] + keyBytes + [0] + rootBytes + [0] + Array(prefix.utf8)
        if let previous, previous.fingerprint == fingerprint { return previous }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let roots: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(chainBytes)
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
            roots = try NIOSSLCertificate.fromPEMBytes(rootBytes)
        } catch {
            throw UpstreamTLS.SetupError(description: "cannot read the workload certificates in \(workload.directory): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        configuration.trustRoots = .certificates(roots)
        configuration.certificateVerification = .noHostnameVerification
        configuration.shutdownTimeout = .seconds(1)
        let local = chain.first.flatMap { MeshIdentity.uriSAN($0) }
        do {
            return MeshServerTLS(context: try NIOSSLContext(configuration: configuration), localPrincipal: local, trustDomainPrefix: prefix,
                                 fingerprint: fingerprint)
        } catch {
            throw UpstreamTLS.SetupError(description: "workload certificates refused: \(error)")
        }
    }
}

/// The identity side of a mesh TLS connection: what the metrics, `x-forwarded-client-cert`
/// and the access log say about who is talking.
package struct MeshPeer: Sendable, Hashable {
    /// The client's SPIFFE identity (its certificate's first URI SAN).
    package var principal: String
    /// This workload's own identity.
    package var localPrincipal: String?
    /// Hex SHA-256 of the client certificate's DER (XFCC `Hash=`).
    package var certificateHash: String

    /// Envoy's XFCC element for this connection (`By=…;Hash=…;Subject="";URI=…`): Istio's
    /// workload certificates have an empty subject and one URI SAN.
    package var forwardedClientCertElement: String {
        var parts: [String] = []
        if let localPrincipal { parts.append("By=\(localPrincipal)") }
        parts.append("Hash=\(certificateHash)")
        parts.append("Subject=\"\"")
        parts.append("URI=\(principal)")
        return parts.joined(separator: ";")
    }
}

enum MeshIdentity {
    /// The first URI SAN of a certificate.
    static func uriSAN(_ certificate: NIOSSLCertificate) -> String? {
        for name in certificate._subjectAlternativeNames() where name.nameType == .uri {
            return String(decoding: name.contents, as: UTF8.self)
        }
        return nil
    }
}

/// What the first bytes of an inbound connection are, for PERMISSIVE (Istio's TLS inspector and
/// its filter-chain match on the transport and ALPN): a TLS ClientHello offering an `istio*`
/// protocol is mesh mTLS; another ClientHello is the application's own TLS; anything else is
/// plain text.
enum InboundTransport: Equatable {
    case meshTLS
    case otherTLS
    case plaintext

    /// Nil: not enough bytes yet. Reads at most the first TLS record (Envoy's inspector reads
    /// up to its buffer; a ClientHello larger than 16 KiB counts as other TLS).
    static func classify(_ bytes: ByteBufferView) -> InboundTransport? {
        switch ClientHelloRecord.read(bytes) {
        case .needMore: return nil
        case .notTLS: return .plaintext
        case .tooLarge: return .otherTLS
        case .handshake(let handshake):
            return ClientHelloALPN.protocols(handshake).contains { $0.hasPrefix("istio") } ? .meshTLS : .otherTLS
        }
    }
}

/// The first TLS record of a connection: a handshake record (its payload, the ClientHello),
/// not TLS, too large to hold (over 16 KiB), or not all here yet.
enum ClientHelloRecord {
    case handshake([UInt8])
    case notTLS
    case tooLarge
    case needMore

    static func read(_ bytes: ByteBufferView) -> ClientHelloRecord {
        guard let first = bytes.first else { return .needMore }
        guard first == 0x16 else { return .notTLS }
        let start = bytes.startIndex
        guard bytes.count >= 5 else { return .needMore }
        guard bytes[start + 1] == 0x03 else { return .notTLS }
        let recordLength = Int(bytes[start + 3]) << 8 | Int(bytes[start + 4])
        guard bytes.count >= 5 + recordLength else { return recordLength > 16384 ? .tooLarge : .needMore }
        return .handshake(Array(bytes[(start + 5)..<(start + 5 + recordLength)]))
    }
}

/// An outbound connection to a port whose services route TLS by SNI: the ClientHello's server
/// name, or not TLS at all.
enum OutboundTLS: Equatable {
    case serverName(String?)
    case notTLS

    static func classify(_ bytes: ByteBufferView) -> OutboundTLS? {
        switch ClientHelloRecord.read(bytes) {
        case .needMore: return nil
        case .notTLS: return .notTLS
        case .tooLarge: return .serverName(nil)
        case .handshake(let handshake): return .serverName(ClientHelloALPN.serverName(handshake))
        }
    }
}

/// The ALPN protocols (extension 16) and server name (extension 0) a TLS ClientHello handshake
/// message carries.
enum ClientHelloALPN {
    static func serverName(_ handshake: [UInt8]) -> String? {
        guard var extensions = extensions(handshake) else { return nil }
        while let type = extensions.u16(), let length = extensions.u16() {
            guard var body = extensions.sub(Int(length)) else { return nil }
            guard type == 0, let listLength = body.u16(), var list = body.sub(Int(listLength)) else { continue }
            while let nameType = list.u8(), let nameLength = list.u16(), let name = list.take(Int(nameLength)) {
                if nameType == 0 { return String(decoding: name, as: UTF8.self).lowercased() }
            }
            return nil
        }
        return nil
    }

    static func extensions(_ handshake: [UInt8]) -> Reader? {
        var reader = Reader(bytes: handshake)
        guard reader.u8() == 1, reader.skip(3), reader.skip(2 + 32),
              let sessionLength = reader.u8(), reader.skip(Int(sessionLength)),
              let suitesLength = reader.u16(), reader.skip(Int(suitesLength)),
              let compressionLength = reader.u8(), reader.skip(Int(compressionLength)),
              let extensionsLength = reader.u16() else { return nil }
        return reader.sub(Int(extensionsLength))
    }

    static func protocols(_ handshake: [UInt8]) -> [String] {
        guard var extensions = extensions(handshake) else { return [] }
        while let type = extensions.u16(), let length = extensions.u16() {
            guard var body = extensions.sub(Int(length)) else { return [] }
            guard type == 16, let listLength = body.u16(), var list = body.sub(Int(listLength)) else { continue }
            var result: [String] = []
            while let nameLength = list.u8(), let name = list.take(Int(nameLength)) {
                result.append(String(decoding: name, as: UTF8.self))
            }
            return result
        }
        return []
    }

    struct Reader {
        var bytes: [UInt8]
        var offset = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func u8() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, offset + count <= bytes.count else { return false }
            offset += count
            return true
        }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func sub(_ count: Int) -> Reader? {
            take(count).map { Reader(bytes: Array($0)) }
        }
    }
}

/// SHA-256 (FIPS 180-4), for the XFCC certificate hash; certificates are small and hashed once
/// per connection.
enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(data[b]) << 24 | UInt32(data[b + 1]) << 16 | UInt32(data[b + 2]) << 8 | UInt32(data[b + 3])
            }
            for i in 16..<64 {
                let s0 = rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            for i in 0..<64 {
                let s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ choice &+ k[i] &+ w[i]
                let s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ majority
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
            h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
        }
        return h.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32(24 - $0 * 8)) } }
    }

    static func hex(_ message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in hash(message) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 { value >> count | value << (32 - count) }
}
