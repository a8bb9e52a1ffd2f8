import MizzenRouting
import NIOHTTP1

/// A request head that passed the proxy's checks, with what routing needs.
struct ValidatedRequest {
    var attributes: RequestAttributes
    /// The path to forward (normalised), with the query.
    var forwardTarget: String
    var isUpgrade: Bool
    var isGRPC: Bool
    var expectsContinue: Bool
}

/// The checks every request head passes before routing: the smuggling and ambiguity cases an
/// HTTP/1 parser alone lets through, host and target forms, and path normalisation. A refusal
/// never reaches an upstream.
enum RequestHeadValidator {
    static func validate(_ head: HTTPRequestHead, connection: DownstreamConnection, limits: ProxyLimits) -> Result<ValidatedRequest, ProxyError> {
        let isHTTP2 = connection.isHTTP2
        if !isHTTP2 && (head.version.major != 1 || head.version.minor > 1) {
            return .failure(.versionNotSupported)
        }
        if head.headers.count > limits.maxRequestHeadersCount {
            return .failure(.headersTooLarge)
        }
        if head.method == .CONNECT {
            return .failure(.notImplemented("CONNECT"))
        }
        // Framing: only `chunked` is understood; HTTP/1.0 has no Transfer-Encoding at all
        // (RFC 9112 §6.1); Content-Length must be one decimal number.
        // (HTTP/2: the frame codec itself marks a body without content-length as chunked; a
        // client's own transfer-encoding was already refused by HTTP/2's header validation.)
        let transferEncodings = isHTTP2 ? [] : head.headers[canonicalForm: "transfer-encoding"]
        if !transferEncodings.isEmpty {
            if head.version.minor == 0 { return .failure(.badRequest("transfer-encoding in HTTP/1.0")) }
            if transferEncodings.count != 1 || transferEncodings[0].lowercased() != "chunked" {
                return .failure(.notImplemented("transfer-encoding"))
            }
            if head.headers.contains(name: "content-length") {
                return .failure(.badRequest("content-length with transfer-encoding"))
            }
        }
        let lengths = head.headers[canonicalForm: "content-length"]
        if lengths.count > 1 { return .failure(.badRequest("several content-length values")) }
        if let length = lengths.first {
            guard !length.isEmpty, length.utf8.count <= 18, length.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return .failure(.badRequest("invalid content-length"))
            }
            if let limit = limits.maxRequestBodyBytes, let value = Int(length), value > limit {
                return .failure(.bodyTooLarge)
            }
        }
        // Host: exactly one, well formed; an absolute-form target must agree with it.
        let hosts = head.headers[canonicalForm: "host"]
        if hosts.count > 1 { return .failure(.badRequest("several host headers")) }
        var authority = hosts.first.map(String.init) ?? ""
        if hosts.isEmpty && !isHTTP2 && head.version.minor >= 1 {
            return .failure(.badRequest("missing host"))
        }
        if !isValidAuthority(authority) { return .failure(.badRequest("invalid host")) }
        var target = Substring(head.uri)
        if target.first != "/" {
            if head.method == .OPTIONS && target == "*" {
                target = "/"
            } else if let schemeEnd = Self.schemeSeparator(target), target[..<schemeEnd].lowercased().hasPrefix("http") {
                let rest = target[target.index(schemeEnd, offsetBy: 3)...]
                let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
                let uriAuthority = rest[..<slash]
                if !isValidAuthority(String(uriAuthority)) || uriAuthority.isEmpty { return .failure(.badRequest("invalid request target")) }
                if hosts.isEmpty {
                    authority = String(uriAuthority)
                } else if uriAuthority.lowercased() != authority.lowercased() {
                    return .failure(.badRequest("absolute-form target disagrees with host"))
                }
                target = rest[slash...]
                if target.isEmpty || target.first == "?" { target = "/" + target }
            } else {
                return .failure(.badRequest("invalid request target"))
            }
        }
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        var path = target
        var query: Substring = ""
        if let mark = target.firstIndex(of: "?") {
            path = target[..<mark]
            query = target[target.index(after: mark)...]
        }
        var pathString = String(path)
        switch PathNormalizer.normalize(pathString, mode: limits.pathNormalization) {
        case .unchanged: break
        case .normalized(let normalized): pathString = normalized
        case .rejected(let reason): return .failure(.badRequest("path: \(reason.rawValue)"))
        }
        for byte in query.utf8 where byte < 0x21 || byte == 0x7F {
            return .failure(.badRequest("control character in query"))
        }
        let forwardTarget = query.isEmpty ? pathString : pathString + "?" + query
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers { headers.append((name, value)) }
        let attributes = RequestAttributes(method: head.method.rawValue, scheme: connection.isTLS ? "https" : "http", authority: authority,
                                           path: pathString, query: String(query), headers: headers,
                                           port: connection.listenerPort, serverName: connection.serverName)
        let connectionTokens = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        let isUpgrade = !isHTTP2 && connectionTokens.contains("upgrade")
            && head.headers.first(name: "upgrade").map { $0.lowercased().contains("websocket") } == true
        let contentType = head.headers.first(name: "content-type") ?? ""
        let isGRPC = contentType.hasPrefix("application/grpc")
        let expectsContinue = !isHTTP2 && head.headers.first(name: "expect")?.lowercased() == "100-continue"
        return .success(ValidatedRequest(attributes: attributes, forwardTarget: forwardTarget, isUpgrade: isUpgrade, isGRPC: isGRPC, expectsContinue: expectsContinue))
    }

    /// Where `://` starts in an absolute-form target.
    static func schemeSeparator(_ target: Substring) -> Substring.Index? {
        var index = target.startIndex
        while index < target.endIndex {
            if target[index] == ":", target[index...].hasPrefix("://") { return index }
            if target[index] == "/" { return nil }
            index = target.index(after: index)
        }
        return nil
    }

    /// RFC 3986 authority characters (reg-name, IPv6 literal, port); no user info, no spaces;
    /// a port, when present, is a decimal number up to 65535.
    static func isValidAuthority(_ authority: String) -> Bool {
        guard isValidAuthorityCharacters(authority) else { return false }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            let port = authority[authority.index(after: colon)...]
            if authority.first != "[" && authority[..<colon].contains(":") { return false }
            if !port.isEmpty {
                guard port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(port), value <= 65535 else { return false }
            }
        }
        return true
    }

    static func isValidAuthorityCharacters(_ authority: String) -> Bool {
        for byte in authority.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"),
                 UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
                 UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
                continue
            default:
                return false
            }
        }
        return true
    }
}
