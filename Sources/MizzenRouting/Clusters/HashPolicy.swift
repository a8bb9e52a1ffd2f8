import MizzenConfig

/// Which part of a request a consistent-hash cluster hashes, from a DestinationRule's
/// `loadBalancer.consistentHash`, and how: `XXH64(value, seed 0)`, as Envoy's route hash
/// policies do (Istio's `ConsistentHashToHashPolicy` makes exactly one of them).
///
/// A request without the value has no hash; the balancer then picks at random, as Envoy does.
package struct HashPolicy: Sendable, Hashable {
    package enum Source: Sendable, Hashable {
        /// A request header's value (the name lower-cased, as HTTP/2 and our header maps hold it).
        case header(name: String)
        /// A cookie's value. With a `ttl`, a request without the cookie gets one generated (see
        /// `generatedCookie`); a zero `ttl` makes it a session cookie.
        case cookie(name: String, path: String?, ttlSeconds: Int64?, attributes: [Attribute])
        /// The downstream IP address, without port.
        case sourceIP
        /// A query parameter's first value.
        case queryParameter(name: String)
    }

    /// A cookie attribute added to a generated cookie (`SameSite=Strict`, `Secure`...).
    package struct Attribute: Sendable, Hashable {
        package var name: String
        package var value: String?
    }

    package let source: Source

    package init(source: Source) {
        self.source = source
    }

    /// The policy of a `consistentHash` block, or nil when it names no key (or
    /// `useSourceIp: false`, which Envoy treats as no key): every pick is then random. The keys
    /// are a `oneof` in Istio's API; were several set, the first in the API's order wins.
    init?(_ settings: LoadBalancerSettings.ConsistentHashLB) {
        if let name = settings.httpHeaderName, !name.isEmpty {
            source = .header(name: name.lowercased())
        } else if let cookie = settings.httpCookie, let name = cookie.name, !name.isEmpty {
            let path = cookie.path.flatMap { $0.isEmpty ? nil : $0 }
            let attributes = (cookie.attributes ?? []).compactMap { attribute in
                attribute.name.map { Attribute(name: $0, value: attribute.value) }
            }
            source = .cookie(name: name, path: path, ttlSeconds: cookie.ttl.map { $0.nanoseconds / 1_000_000_000 }, attributes: attributes)
        } else if settings.useSourceIp == true {
            source = .sourceIP
        } else if let name = settings.httpQueryParameterName, !name.isEmpty {
            source = .queryParameter(name: name)
        } else {
            return nil
        }
    }

    /// The request's hash, or nil when it lacks the value.
    ///
    /// - Parameters:
    ///   - header: a header's value by lower-case name; several values joined with `,`.
    ///   - cookie: a cookie's value by name (see `cookieLookup(cookieHeaders:)`).
    ///   - sourceAddress: the downstream IP address as text, without port.
    ///   - query: a query parameter's first value by name (the proxy passes
    ///     `RequestAttributes.queryValue`, the parser route matching uses; values are hashed
    ///     percent-decoded, where Envoy hashes them as sent: affinity is the same either way).
    package func key(header: (String) -> String?, cookie: (String) -> String?, sourceAddress: String?, query: (String) -> String?) -> UInt64? {
        switch source {
        case .header(let name):
            // An empty value is still a value: Envoy hashes it.
            return header(name).map { XXHash64.hash($0) }
        case .cookie(let name, _, _, _):
            // Envoy treats an empty cookie as a missing one.
            guard let value = cookie(name), !value.isEmpty else { return nil }
            return XXHash64.hash(value)
        case .sourceIP:
            guard let sourceAddress, !sourceAddress.isEmpty else { return nil }
            return XXHash64.hash(sourceAddress)
        case .queryParameter(let name):
            return query(name).map { XXHash64.hash($0) }
        }
    }

    // MARK: Generated cookies

    /// A cookie the proxy sets because the request lacked it: the hash to balance this request
    /// with, and the `Set-Cookie` header value to add to the response.
    package struct GeneratedCookie: Sendable, Hashable {
        package var value: String
        package var hash: UInt64
        package var setCookie: String
    }

    /// For a cookie policy with a `ttl`, when `key` found no cookie: Envoy's
    /// `addDownstreamSetCookie`. The value is the hex `XXH64` of the connection's remote and
    /// local addresses (`ip:port` each, concatenated), so every request on one connection gets
    /// the same cookie, and the request is balanced by the hash of that value, as the requests
    /// that send it back will be. Nil for other policies and for a cookie without `ttl`.
    package func generatedCookie(remoteAddress: String, localAddress: String) -> GeneratedCookie? {
        guard case .cookie(let name, let path, let seconds?, let attributes) = source else { return nil }
        let value = Self.hex(XXHash64.hash(remoteAddress + localAddress))
        var setCookie = "\(name)=\"\(value)\""
        // Envoy truncates the TTL to whole seconds; zero seconds makes a session cookie.
        if seconds > 0 { setCookie += "; Max-Age=\(seconds)" }
        if let path { setCookie += "; Path=\(path)" }
        for attribute in attributes {
            if let attributeValue = attribute.value, !attributeValue.isEmpty {
                setCookie += "; \(attribute.name)=\(attributeValue)"
            } else {
                setCookie += "; \(attribute.name)"
            }
        }
        setCookie += "; HttpOnly"
        return GeneratedCookie(value: value, hash: XXHash64.hash(value), setCookie: setCookie)
    }

    /// Sixteen lower-case hex digits, zero-padded (Envoy's `Hex::uint64ToHex`).
    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 16)
        var rest = value
        for index in stride(from: 15, through: 0, by: -1) {
            bytes[index] = digits[Int(rest & 0xF)]
            rest >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Parsing helpers

    /// A cookie's value in one `Cookie` header value (`a=1; b="2"`), as Envoy's
    /// `Utility::parseCookieValue` reads it: pairs split on `;`, leading spaces skipped, the name
    /// compared exactly, surrounding double quotes removed from the value; the first match wins.
    package static func cookie(named name: String, inHeader header: String) -> Substring? {
        let bytes = header.utf8
        var pairStart = bytes.startIndex
        while pairStart < bytes.endIndex {
            let pairEnd = bytes[pairStart...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
            var nameStart = pairStart
            while nameStart < pairEnd, bytes[nameStart] == UInt8(ascii: " ") { nameStart = bytes.index(after: nameStart) }
            if let equals = bytes[nameStart..<pairEnd].firstIndex(of: UInt8(ascii: "=")),
               bytes[nameStart..<equals].elementsEqual(name.utf8) {
                var valueStart = bytes.index(after: equals)
                var valueEnd = pairEnd
                if bytes.distance(from: valueStart, to: valueEnd) >= 2,
                   bytes[valueStart] == UInt8(ascii: "\""), bytes[bytes.index(before: valueEnd)] == UInt8(ascii: "\"") {
                    valueStart = bytes.index(after: valueStart)
                    valueEnd = bytes.index(before: valueEnd)
                }
                return header[valueStart..<valueEnd]
            }
            pairStart = pairEnd == bytes.endIndex ? pairEnd : bytes.index(after: pairEnd)
        }
        return nil
    }

    /// A cookie lookup over a request's `Cookie` headers (HTTP/2 may split cookies over several),
    /// for `key(cookie:)`. It scans on demand: a policy asks for one cookie, so a dictionary of
    /// them all would cost more than it saves.
    package static func cookieLookup(cookieHeaders: [String]) -> (String) -> String? {
        { name in
            for header in cookieHeaders {
                if let value = cookie(named: name, inHeader: header) { return String(value) }
            }
            return nil
        }
    }
}
