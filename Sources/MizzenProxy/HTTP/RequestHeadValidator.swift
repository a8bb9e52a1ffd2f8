import MizzenRouting
import NIOHTTP1

/// A request head that passed the proxy's checks, with what routing needs.
struct ValidatedRequest {
    var attributes: RequestAttributes
    /// The path to forward (normalised), with the query.
    var forwardTarget: String
    var isUpgrade: Bool
    var isGRPC: Bool
    var expectation: Expectation

    /// The request's `Expect`: 100-continue is answered at the proxy (Envoy), anything else 417.
    enum Expectation {
        case none, `continue`, unsupported
    }
}

/// The request headers `RequestHeadValidator` decides on, gathered in one pass. A value with
/// commas counts as several (`Content-Length: 5, 5` is two lengths, as RFC 9110 lists them).
struct FramingFields {
    var transferEncoding: String?
    var transferEncodingCount = 0
    var contentLength: String?
    var contentLengthCount = 0
    var host: String?
    var hostCount = 0
    var connectionUpgrade = false
    var upgradeWebSocket = false
    var contentType: String?
    var expect: String?

    mutating func note(_ name: String, _ value: String) {
        switch name.utf8.count {
        case 4 where HeaderRules.equalsIgnoringCase(name, "host"):
            host = String(Substring(value).trimmingASCIISpaces())
            hostCount += Self.listCount(value)
        case 6 where HeaderRules.equalsIgnoringCase(name, "expect"):
            expect = value
        case 7 where HeaderRules.equalsIgnoringCase(name, "upgrade"):
            upgradeWebSocket = upgradeWebSocket || value.lowercased().contains("websocket")
        case 10 where HeaderRules.equalsIgnoringCase(name, "connection"):
            HeaderRules.forEachListElement(value) { element in
                if HeaderRules.equalsIgnoringCase(element, "upgrade") { connectionUpgrade = true }
            }
        case 12 where HeaderRules.equalsIgnoringCase(name, "content-type"):
            contentType = value
        case 14 where HeaderRules.equalsIgnoringCase(name, "content-length"):
            contentLength = String(Substring(value).trimmingASCIISpaces())
            contentLengthCount += Self.listCount(value)
        case 17 where HeaderRules.equalsIgnoringCase(name, "transfer-encoding"):
            transferEncoding = String(Substring(value).trimmingASCIISpaces())
            transferEncodingCount += Self.listCount(value)
        default:
            break
        }
    }

    static func listCount(_ value: String) -> Int {
        value.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: ",") ? 1 : 0) }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    package func trimmingASCIISpaces() -> Substring {
        // On UTF-8 code units: Character access (grapheme breaking) cost ~2 % of a request.
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") {
            start = bytes.index(after: start)
        }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == UInt8(ascii: " ") || bytes[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        return self[start..<end]
    }
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
        // One pass over the headers: the framing, host and upgrade fields this function checks,
        // and the (name, value) list routing matches on. (Several `[canonicalForm:]` lookups
        // would each scan the headers and allocate.)
        var fields = FramingFields()
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            headers.append((name, value))
            fields.note(name, value)
        }
        // Framing: only `chunked` is understood; HTTP/1.0 has no Transfer-Encoding at all
        // (RFC 9112 §6.1); Content-Length must be one decimal number.
        // (HTTP/2: the frame codec itself marks a body without content-length as chunked; a
        // client's own transfer-encoding was already refused by HTTP/2's header validation.)
        if !isHTTP2, let transferEncoding = fields.transferEncoding {
            if head.version.minor == 0 { return .failure(.badRequest("transfer-encoding in HTTP/1.0")) }
            if fields.transferEncodingCount != 1 || !HeaderRules.equalsIgnoringCase(transferEncoding, "chunked") {
                return .failure(.notImplemented("transfer-encoding"))
            }
            if fields.contentLength != nil {
                return .failure(.badRequest("content-length with transfer-encoding"))
            }
        }
        if fields.contentLengthCount > 1 { return .failure(.badRequest("several content-length values")) }
        if let length = fields.contentLength {
            guard !length.isEmpty, length.utf8.count <= 18, length.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return .failure(.badRequest("invalid content-length"))
            }
            if let limit = limits.maxRequestBodyBytes, let value = Int(length), value > limit {
                return .failure(.bodyTooLarge)
            }
        }
        // Host: exactly one, well formed; an absolute-form target must agree with it.
        if fields.hostCount > 1 { return .failure(.badRequest("several host headers")) }
        var authority = fields.host ?? ""
        if authority.isEmpty && !isHTTP2 && head.version.minor >= 1 {
            return .failure(.badRequest("missing host"))
        }
        if !isValidAuthority(authority) { return .failure(.badRequest("invalid host")) }
        var target = Substring(head.uri)
        if target.utf8.first != UInt8(ascii: "/") {
            if head.method == .OPTIONS && target == "*" {
                target = "/"
            } else if let schemeEnd = Self.schemeSeparator(target), target[..<schemeEnd].lowercased().hasPrefix("http") {
                let rest = target[target.index(schemeEnd, offsetBy: 3)...]
                let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
                let uriAuthority = rest[..<slash]
                if !isValidAuthority(String(uriAuthority)) || uriAuthority.isEmpty { return .failure(.badRequest("invalid request target")) }
                if authority.isEmpty {
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
        if let hash = target.utf8.firstIndex(of: UInt8(ascii: "#")) { target = target[..<hash] }
        var path = target
        var query: Substring = ""
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = target[..<mark]
            query = target[target.utf8.index(after: mark)...]
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
        var attributes = RequestAttributes(method: head.method.rawValue, scheme: connection.isTLS ? "https" : "http", authority: authority,
                                           path: pathString, query: String(query), headers: headers,
                                           port: connection.listenerPort, serverName: connection.serverName)
        attributes.inbound = connection.isInbound
        let isUpgrade = !isHTTP2 && fields.connectionUpgrade && fields.upgradeWebSocket
        let isGRPC = fields.contentType?.hasPrefix("application/grpc") == true
        let expectation: ValidatedRequest.Expectation
        switch fields.expect {
        case nil: expectation = .none
        case _? where isHTTP2: expectation = .none  // no interim responses on our HTTP/2 path
        case let value?: expectation = HeaderRules.equalsIgnoringCase(value, "100-continue") ? .continue : .unsupported
        }
        return .success(ValidatedRequest(attributes: attributes, forwardTarget: forwardTarget, isUpgrade: isUpgrade, isGRPC: isGRPC, expectation: expectation))
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
        // Bytes, not Characters: every request passes here (grapheme breaking showed in profiles).
        let bytes = authority.utf8
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")), bytes.last != UInt8(ascii: "]") {
            let port = bytes[bytes.index(after: colon)...]
            if bytes.first != UInt8(ascii: "[") && bytes[..<colon].contains(UInt8(ascii: ":")) { return false }
            if !port.isEmpty {
                guard port.count <= 5 else { return false }
                var value = 0
                for byte in port {
                    guard byte >= 48 && byte <= 57 else { return false }
                    value = value * 10 + Int(byte - 48)
                }
                guard value <= 65535 else { return false }
            }
        }
        return true
    }

    static func isValidAuthorityCharacters(_ authority: String) -> Bool {
        if let valid = authority.utf8.withContiguousStorageIfAvailable({ bytes in bytes.allSatisfy(isAuthorityByte) }) {
            return valid
        }
        return authority.utf8.allSatisfy(isAuthorityByte)
    }

    private static func isAuthorityByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "%"), UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}
