/// How a TLS server name (SNI, lower-case) matches a server host pattern, as Envoy's filter
/// chain match ranks them: an exact name beats the longest `*.` wildcard, which beats `*`.
enum ServerNameMatch {
    /// The rank of `pattern` for `name`: `Int.max` for an exact match, the pattern's length for
    /// a covering wildcard, 0 for `*`, nil when it does not match.
    static func rank(_ pattern: String, _ name: String) -> Int? {
        if pattern == name { return Int.max }
        if pattern == "*" { return 0 }
        if pattern.hasPrefix("*."), name.hasSuffix(pattern.dropFirst()), name.utf8.count > pattern.utf8.count - 1 { return pattern.utf8.count }
        return nil
    }

    /// The best rank among `patterns`, nil when none matches.
    static func bestRank(_ patterns: [String], _ name: String) -> Int? {
        var best: Int?
        for pattern in patterns {
            if let rank = rank(pattern, name), rank > (best ?? -1) { best = rank }
        }
        return best
    }
}

extension Listener {
    /// The TLS-terminating server (https, or tls-terminated when `includingTCP`) for a server
    /// name: exact, then longest wildcard, then `*`. Without a name, a server whose hosts include
    /// `*` (Envoy's filter chain without server names).
    package func terminatingServer(serverName: String?, includingTCP: Bool) -> ServerEntry? {
        var best: (server: ServerEntry, rank: Int)?
        for server in servers where server.kind == .https || (includingTCP && server.kind == .tlsTerminated) {
            let rank = serverName.map { ServerNameMatch.bestRank(server.serverNames, $0) } ?? (server.serverNames.contains("*") ? 0 : nil)
            if let rank, rank > (best?.rank ?? -1) { best = (server, rank) }
        }
        return best?.server
    }
}
