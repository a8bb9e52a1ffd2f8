import MizzenRouting
import NIOHTTP1

/// Header rules of a forwarding proxy (RFC 9110 §7.6.1 and Envoy's edge behaviour).
enum HeaderRules {
    /// Connection-specific headers never forwarded, in either direction (lower case).
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
        "proxy-authenticate", "proxy-authorization", "http2-settings",
    ]

    /// ASCII case-insensitive comparison with a lower-case name, without lower-casing (and so
    /// allocating) the header name: this runs for every header of every request and response.
    static func equalsIgnoringCase(_ name: String, _ lower: String) -> Bool {
        name.utf8.count == lower.utf8.count && hasPrefixIgnoringCase(name, lower)
    }

    static func hasPrefixIgnoringCase(_ name: String, _ lowerPrefix: String) -> Bool {
        var iterator = name.utf8.makeIterator()
        for expected in lowerPrefix.utf8 {
            guard let byte = iterator.next() else { return false }
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            if folded != expected { return false }
        }
        return true
    }

    static func isHopByHop(_ name: String) -> Bool {
        hopByHop.contains { equalsIgnoringCase(name, $0) }
    }

    /// Removes hop-by-hop headers, and those the `Connection` header names. `keepUpgrade` keeps
    /// `Upgrade`/`Connection: upgrade` for a WebSocket handshake; `keepTrailersTE` keeps
    /// `te: trailers` (gRPC needs it end to end). Copies the headers only when one must go.
    static func removeHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool, keepTrailersTE: Bool) {
        var needsRemoval = false
        var hasConnection = false
        for (name, _) in headers where isHopByHop(name) {
            needsRemoval = true
            if equalsIgnoringCase(name, "connection") { hasConnection = true }
        }
        guard needsRemoval else { return }
        var named: [String] = []
        if hasConnection {
            for value in headers[canonicalForm: "connection"] {
                let token = value.lowercased()
                if token != "close" && token != "keep-alive" && token != "upgrade" { named.append(token) }
            }
        }
        let upgradeValue = keepUpgrade ? headers.first(name: "upgrade") : nil
        let teTrailers = keepTrailersTE && headers[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count)
        for (name, value) in headers where !isHopByHop(name) && !named.contains(where: { equalsIgnoringCase(name, $0) }) {
            kept.add(name: name, value: value)
        }
        if let upgradeValue {
            kept.add(name: "connection", value: "upgrade")
            kept.add(name: "upgrade", value: upgradeValue)
        }
        if teTrailers { kept.add(name: "te", value: "trailers") }
        headers = kept
    }

    /// Removes Envoy's internal `x-envoy-*` headers from a request that came from outside
    /// (Envoy does so at the edge: a client must not steer retries or timeouts).
    static func removeInternal(_ headers: inout HTTPHeaders) {
        guard headers.contains(where: { hasPrefixIgnoringCase($0.name, "x-envoy-") }) else { return }
        var kept = HTTPHeaders()
        for (name, value) in headers where !hasPrefixIgnoringCase(name, "x-envoy-") {
            kept.add(name: name, value: value)
        }
        headers = kept
    }

    /// A random version-4 UUID, lower-case, for `x-request-id`.
    static func requestID<R: RandomNumberGenerator>(using random: inout R) -> String {
        let high = random.next() & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = random.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(36)
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 8 || index == 12 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(digits[Int((high >> UInt64(shift)) & 0xF)])
        }
        for (index, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if index == 0 || index == 4 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(digits[Int((low >> UInt64(shift)) & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A route's or destination's header edits: removals, then `set` (replace), then `add`
    /// (append), as Envoy evaluates them.
    static func apply(_ mutation: HeaderMutation, to headers: inout HTTPHeaders) {
        for name in mutation.remove { headers.remove(name: name) }
        for (name, value) in mutation.set { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in mutation.add { headers.add(name: name, value: value) }
    }
}
