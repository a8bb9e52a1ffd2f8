package import MizzenConfig

/// A compiled `HTTPMatchRequest`: every condition must hold (AND); a route's matches are OR'ed.
package struct RouteMatch: Sendable {
    package enum Condition: Sendable, CustomStringConvertible {
        case uri(StringMatcher)
        case scheme(StringMatcher)
        case method(StringMatcher)
        case authority(StringMatcher)
        case header(String, StringMatcher)
        case withoutHeader(String, StringMatcher)
        case queryParameter(String, StringMatcher)
        case port(UInt32)

        package var description: String {
            switch self {
            case .uri(let matcher): return "uri \(matcher)"
            case .scheme(let matcher): return "scheme \(matcher)"
            case .method(let matcher): return "method \(matcher)"
            case .authority(let matcher): return "authority \(matcher)"
            case .header(let name, let matcher): return "header \(name) \(matcher)"
            case .withoutHeader(let name, let matcher): return "without header \(name) \(matcher)"
            case .queryParameter(let name, let matcher): return "query parameter \(name) \(matcher)"
            case .port(let port): return "port \(port)"
            }
        }

        var cost: Int {
            switch self {
            case .port: return 0
            case .method(let m), .scheme(let m): return 1 + m.cost
            case .uri(let m), .authority(let m): return 2 + m.cost
            case .header(_, let m), .withoutHeader(_, let m): return 3 + m.cost
            case .queryParameter(_, let m): return 5 + m.cost
            }
        }

        /// Whether the condition holds, without building any text (the decision path).
        func holds(_ request: RequestAttributes) -> Bool {
            switch self {
            case .uri(let matcher): return matcher.matches(request.path)
            case .scheme(let matcher): return matcher.matches(request.scheme)
            case .method(let matcher): return matcher.matches(request.method)
            case .authority(let matcher): return matcher.matches(request.authority)
            case .header(let name, let matcher):
                guard let value = request.joinedHeader(name) else { return false }
                return matcher.matches(value)
            case .withoutHeader(let name, let matcher):
                guard let value = request.joinedHeader(name) else { return true }
                return !matcher.matches(value)
            case .queryParameter(let name, let matcher):
                guard let value = request.queryValue(name) else { return false }
                return matcher.matches(value)
            case .port(let port): return request.port == port
            }
        }

        /// Nil when the condition holds; otherwise why not, for `explain` (not the decision path).
        func failure(_ request: RequestAttributes) -> String? {
            if holds(request) { return nil }
            switch self {
            case .uri(let matcher): return "uri \(matcher) does not match \"\(request.path)\""
            case .scheme(let matcher): return "scheme \(matcher) does not match \"\(request.scheme)\""
            case .method(let matcher): return "method \(matcher) does not match \"\(request.method)\""
            case .authority(let matcher): return "authority \(matcher) does not match \"\(request.authority)\""
            case .header(let name, let matcher):
                guard let value = request.joinedHeader(name) else { return "header \(name) is absent (wanted \(matcher))" }
                return "header \(name) \(matcher) does not match \"\(value)\""
            case .withoutHeader(let name, let matcher):
                return "header \(name) is present and matches \(matcher) (withoutHeaders)"
            case .queryParameter(let name, let matcher):
                guard let value = request.queryValue(name) else { return "query parameter \(name) is absent (wanted \(matcher))" }
                return "query parameter \(name) \(matcher) does not match \"\(value)\""
            case .port(let port):
                return "port \(port) is not the request's port \(request.port)"
            }
        }
    }

    package var name: String?
    /// Conditions ordered cheapest first: the outcome is the same, the work is less.
    package var conditions: [Condition]
    /// Istio's catch-all (`HTTPMatchRequest.isIstioCatchAll`; `port`, `gateways`,
    /// `sourceLabels` and `sourceNamespace` decide at compile time whether the match applies at
    /// all). Translation of a VirtualService stops after its first catch-all, and a gateway
    /// moves catch-alls last.
    package var isCatchAll: Bool

    /// Conditions as given; without `catchAll`, a match with no condition is the catch-all.
    package init(name: String?, conditions: [Condition], catchAll: Bool? = nil) {
        self.name = name
        self.conditions = conditions.enumerated().sorted { ($0.element.cost, $0.offset) < ($1.element.cost, $1.offset) }.map(\.element)
        self.isCatchAll = catchAll ?? conditions.isEmpty
    }

    /// Compiles a match request; `gatewayPort` drops nothing here (port filtering is compile-time).
    package init(_ match: HTTPMatchRequest) throws(CompiledRegex.CompileError) {
        var conditions: [Condition] = []
        let ignoreCase = match.ignoreUriCase ?? false
        if let uri = match.uri {
            // An empty prefix, like "/", matches every path; leave it out.
            if !(uri.prefix == "" && !ignoreCase) { conditions.append(.uri(try StringMatcher(uri, ignoreCase: ignoreCase && uri.regex == nil))) }
        }
        if let scheme = match.scheme { conditions.append(.scheme(try StringMatcher(scheme))) }
        if let method = match.method { conditions.append(.method(try StringMatcher(method))) }
        if let authority = match.authority { conditions.append(.authority(try StringMatcher(authority))) }
        let reserved: Set<String> = ["uri", "scheme", "method", "authority"]
        for (name, value) in (match.headers ?? [:]).sorted(by: { $0.key < $1.key }) where !reserved.contains(name.lowercased()) {
            conditions.append(.header(name.lowercased(), try StringMatcher(value)))
        }
        for (name, value) in (match.withoutHeaders ?? [:]).sorted(by: { $0.key < $1.key }) where !reserved.contains(name.lowercased()) {
            conditions.append(.withoutHeader(name.lowercased(), try StringMatcher(value)))
        }
        for (name, value) in (match.queryParams ?? [:]).sorted(by: { $0.key < $1.key }) {
            conditions.append(.queryParameter(name, try StringMatcher(value)))
        }
        if let port = match.port, port != 0 { conditions.append(.port(port)) }
        self.init(name: match.name, conditions: conditions, catchAll: match.isIstioCatchAll)
    }

    /// The first condition that fails, or nil when the request matches.
    package func failure(_ request: RequestAttributes) -> String? {
        for condition in conditions {
            if let failure = condition.failure(request) { return failure }
        }
        return nil
    }

    package func matches(_ request: RequestAttributes) -> Bool {
        for condition in conditions where !condition.holds(request) { return false }
        return true
    }
}
