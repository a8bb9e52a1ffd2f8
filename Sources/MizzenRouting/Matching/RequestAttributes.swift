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

    package init(method: String = "GET", scheme: String = "http", authority: String, path: String, query: String = "",
                 headers: [(name: String, value: String)] = [], port: UInt32, serverName: String? = nil) {
        self.method = method
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
        self.headers = headers.map { ($0.name.lowercased(), $0.value) }
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

    /// The values of a header, in order (several lines, not split on commas).
    package func headerValues(_ name: String) -> [String] {
        headers.compactMap { $0.name == name ? $0.value : nil }
    }

    /// The host for virtual-host lookup: lower-case, without a `:port` (IPv6 brackets kept).
    package var hostForLookup: String {
        var host = authority.lowercased()
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = String(host[...close]) }
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if host.hasSuffix(".") { host.removeLast() }
        return host
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
