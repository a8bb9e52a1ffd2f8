import MizzenRouting
import NIOHTTP1

/// Envoy's CORS filter for a route with a `corsPolicy` and a request with `Origin`: a preflight
/// from an allowed origin is answered here; other requests from an allowed origin get the CORS
/// response headers. Pure: the policy is compiled by MizzenRouting.
enum CORSFilter {
    enum Outcome: Equatable {
        /// Go on to the next filter, with these headers for the response.
        case `continue`(responseHeaders: [HeaderPair])
        case answer(LocalReply)
    }

    /// A header name and value (a tuple is not Equatable).
    struct HeaderPair: Equatable {
        var name: String
        var value: String
    }

    static func apply(_ cors: CORSPolicy, origin: String, method: HTTPMethod, headers: HTTPHeaders) -> Outcome {
        let allowed = cors.allows(origin: origin)
        let isPreflight = method == .OPTIONS && headers.contains(name: "access-control-request-method")
        if isPreflight {
            if allowed {
                var answer = HTTPHeaders()
                answer.add(name: "access-control-allow-origin", value: origin)
                if let methods = cors.allowMethods { answer.add(name: "access-control-allow-methods", value: methods) }
                if let allowHeaders = cors.allowHeaders { answer.add(name: "access-control-allow-headers", value: allowHeaders) }
                if let maxAge = cors.maxAge { answer.add(name: "access-control-max-age", value: maxAge) }
                if cors.allowCredentials { answer.add(name: "access-control-allow-credentials", value: "true") }
                return .answer(.preflight(answer))
            }
            if !cors.forwardUnmatchedPreflights { return .answer(.empty(status: 200)) }
            return .continue(responseHeaders: [])
        }
        guard allowed else { return .continue(responseHeaders: []) }
        var added = [HeaderPair(name: "access-control-allow-origin", value: origin)]
        if cors.allowCredentials { added.append(HeaderPair(name: "access-control-allow-credentials", value: "true")) }
        if let expose = cors.exposeHeaders { added.append(HeaderPair(name: "access-control-expose-headers", value: expose)) }
        return .continue(responseHeaders: added)
    }
}
