import MizzenRouting
import NIOHTTP1

/// Header rules of a forwarding proxy (RFC 9110 §7.6.1 and Envoy's edge behaviour).
enum HeaderRules {
    /// ASCII case-insensitive comparison with a lower-case name, without lower-casing (and so
    /// allocating) the header name: this runs for every header of every request and response.
    static func equalsIgnoringCase<S: StringProtocol>(_ name: S, _ lower: String) -> Bool {
        name.utf8.count == lower.utf8.count && hasPrefixIgnoringCase(name, lower)
    }

    static func hasPrefixIgnoringCase<S: StringProtocol>(_ name: S, _ lowerPrefix: String) -> Bool {
        // Contiguous UTF-8 (native and small strings, their substrings): compare through
        // pointers; the UTF8View iterator cost ~250 instructions a call (callgrind).
        let contiguous = name.utf8.withContiguousStorageIfAvailable { bytes in
            lowerPrefix.utf8.withContiguousStorageIfAvailable { prefix -> Bool in
                guard bytes.count >= prefix.count else { return false }
                for index in 0..<prefix.count {
                    let byte = bytes[index]
                    let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
                    if folded != prefix[index] { return false }
                }
                return true
            }
        }
        if let contiguous, let result = contiguous { return result }
        var iterator = name.utf8.makeIterator()
        for expected in lowerPrefix.utf8 {
            guard let byte = iterator.next() else { return false }
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
            if folded != expected { return false }
        }
        return true
    }

    /// Connection-specific headers never forwarded in either direction, in lower case.
    static let hopByHopNames = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
                                "proxy-authenticate", "proxy-authorization", "http2-settings"]

    /// Where `name` is in `hopByHopNames`, or nil. The length picks the candidates: most names
    /// cost one count comparison.
    static func hopByHopIndex(_ name: String) -> Int? {
        func matching(_ index: Int) -> Int? { hasPrefixIgnoringCase(name, hopByHopNames[index]) ? index : nil }
        switch name.utf8.count {
        case 2: return matching(5)
        case 7: return matching(4) ?? matching(6)
        case 10: return matching(0) ?? matching(1)
        case 14: return matching(9)
        case 16: return matching(2)
        case 17: return matching(3)
        case 18: return matching(7)
        case 19: return matching(8)
        default: return nil
        }
    }

    /// Calls `body` with each comma-separated element of a header value, without the spaces
    /// around it (RFC 9110 §5.6.1 lists), empty elements skipped.
    static func forEachListElement(_ value: String, _ body: (Substring) -> Void) {
        var start = value.startIndex
        let bytes = value.utf8
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if bytes[index] == UInt8(ascii: ",") {
                let element = value[start..<index].trimmingASCIISpaces()
                if !element.isEmpty { body(element) }
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        let element = value[start...].trimmingASCIISpaces()
        if !element.isEmpty { body(element) }
    }

    /// Whether a header `name` of `headers` lists `element` (lower case), ignoring case; no
    /// allocation (`[canonicalForm:]` splits into an array).
    static func lists(_ headers: HTTPHeaders, name: String, element: String) -> Bool {
        var found = false
        for (headerName, value) in headers where !found && equalsIgnoringCase(headerName, name) {
            forEachListElement(value) { if !found && equalsIgnoringCase($0, element) { found = true } }
        }
        return found
    }

    /// Removes hop-by-hop headers, and those the `Connection` header names. `keepUpgrade` keeps
    /// `Upgrade`/`Connection: upgrade` for a WebSocket handshake; `keepTrailersTE` keeps
    /// `te: trailers` (gRPC needs it end to end). Touches the headers only when one must go.
    static func removeHopByHop(_ headers: inout HTTPHeaders, keepUpgrade: Bool, keepTrailersTE: Bool) {
        // Which of `hopByHopNames` are present, as bits: no allocation when none or only the
        // usual `Connection: keep-alive`/`close` is.
        var present: UInt16 = 0
        for (name, _) in headers {
            if let index = hopByHopIndex(name) { present |= 1 << index }
        }
        guard present != 0 else { return }
        var named: [String] = []
        if present & 1 != 0 {
            for (name, value) in headers where equalsIgnoringCase(name, "connection") {
                if equalsIgnoringCase(value, "keep-alive") || equalsIgnoringCase(value, "close") { continue }
                forEachListElement(value) { element in
                    if equalsIgnoringCase(element, "close") || equalsIgnoringCase(element, "keep-alive") || equalsIgnoringCase(element, "upgrade") { return }
                    named.append(element.lowercased())
                }
            }
        }
        let upgradeValue = keepUpgrade ? headers.first(name: "upgrade") : nil
        let teTrailers = keepTrailersTE && present & (1 << 5) != 0 && lists(headers, name: "te", element: "trailers")
        for index in hopByHopNames.indices where present & (1 << index) != 0 { headers.remove(name: hopByHopNames[index]) }
        for name in named { headers.remove(name: name) }
        if let upgradeValue {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgradeValue)
        }
        if teTrailers { headers.add(name: "te", value: "trailers") }
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
        // Written in place: no intermediate byte array (one allocation per request, not two).
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            func put(_ value: UInt64, dashesAfter: (Int, Int)) {
                for index in 0..<16 {
                    if index == dashesAfter.0 || index == dashesAfter.1 {
                        buffer[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    buffer[position] = digits.utf8Start[Int((value >> UInt64(60 - 4 * index)) & 0xF)]
                    position += 1
                }
            }
            put(high, dashesAfter: (8, 12))
            put(low, dashesAfter: (0, 4))
            return position
        }
    }

    /// A route's or destination's header edits: removals, then `set` (replace), then `add`
    /// (append), as Envoy evaluates them.
    static func apply(_ mutation: HeaderMutation, to headers: inout HTTPHeaders) {
        for name in mutation.remove { headers.remove(name: name) }
        for (name, value) in mutation.set { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in mutation.add { headers.add(name: name, value: value) }
    }
}
