/// What routing looks at in a request: the pseudo-headers, headers, query and where it arrived.
///
/// The path is the normalised path without the query string; header names are lower-case.
package struct RequestAttributes: Sendable {
    package var method: String
    package var scheme: String
    /// `:authority` or Host as the client sent it (with any `:port`).
    package var authority: String
    package var path: String
    /// The raw query string, without the `?`.
    package var query: String
    package var headers: [(name: String, value: String)]
    /// The listener port the request arrived on.
    package var port: UInt32
    /// The TLS server name, when the connection was TLS.
    package var serverName: String?
    /// The request came to a sidecar's inbound side: `port` is the pod port it was sent to.
    package var inbound = false

    package init(method: String = "GET", scheme: String = "http", authority: String, path: String, query: String = "",
                 headers: [(name: String, value: String)] = [], port: UInt32, serverName: String? = nil) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.headers = headers.map { (Self.lowercasedName($0.name), $0.value) }
        self.port = port
        self.serverName = serverName
    }

    /// Splits a request target (`/path?query`) into its path and query; a fragment is dropped.
    package init(method: String = "GET", scheme: String = "http", authority: String, target: String,
                 headers: [(name: String, value: String)] = [], port: UInt32, serverName: String? = nil) {
        var target = Substring(target)
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        let path: Substring
        var query: Substring = ""
        if let mark = target.firstIndex(of: "?") {
            path = target[..<mark]
            query = target[target.index(after: mark)...]
        } else {
            path = target
        }
        self.init(method: method, scheme: scheme, authority: authority, path: String(path), query: String(query),
                  headers: headers, port: port, serverName: serverName)
    }

    /// A header name in lower case; the name itself when it already is (HTTP/2 names always
    /// are), so the common case copies nothing.
    package static func lowercasedName(_ name: String) -> String {
        for byte in name.utf8 where byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
            return name.lowercased()
        }
        return name
    }

    /// A header's value; several occurrences joined with "," as Envoy matches them. Nil if absent.
    package func joinedHeader(_ name: String) -> String? {
        var index = headers.startIndex
        while index < headers.endIndex, headers[index].name != name { index += 1 }
        guard index < headers.endIndex else { return nil }
        var value = headers[index].value
        index += 1
        while index < headers.endIndex {
            if headers[index].name == name { value += "," + headers[index].value }
            index += 1
        }
        return value
    }

    /// The host for virtual-host lookup: lower-case, without a `:port` (IPv6 brackets kept), and
    /// without a trailing dot. Works on bytes and allocates only when it has to change something.
    package var hostForLookup: String {
        let bytes = authority.utf8
        var end = bytes.endIndex
        var hasUpper = false
        var index = bytes.startIndex
        var lastColon: String.UTF8View.Index?
        var closingBracket: String.UTF8View.Index?
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") { lastColon = index }
            if byte == UInt8(ascii: "]") { closingBracket = index }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { hasUpper = true }
            index = bytes.index(after: index)
        }
        if let lastColon, bytes.first != UInt8(ascii: "[") || (closingBracket.map { $0 < lastColon } ?? false) {
            end = lastColon
        }
        if end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: ".") { end = bytes.index(before: end) }
        if end == bytes.endIndex && !hasUpper { return authority }
        let host = String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        return hasUpper ? host.lowercased() : host
    }

    /// The value of a query parameter (first occurrence), `""` for `?key`, nil when absent.
    package func queryValue(_ name: String) -> String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            if let equals = pair.firstIndex(of: "=") {
                if percentDecoded(pair[..<equals]) == name { return percentDecoded(pair[pair.index(after: equals)...]) }
            } else if percentDecoded(pair[...]) == name {
                return ""
            }
        }
        return nil
    }

    private func percentDecoded(_ text: Substring) -> String {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
