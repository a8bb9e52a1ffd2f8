package import MizzenConfig

/// What a route does to a request besides choosing its cluster, compiled from the HTTPRoute once
/// per table: path and authority rewrites, header edits, CORS, fault injection, the timeout,
/// the retry policy and mirrors. Everything is parsed and defaulted here (durations in
/// nanoseconds, regexes compiled, percentages as fractions), so the data plane reads plain values.
package final class RoutePolicy: Sendable {
    /// Per match of the route (index = the match that took the request): how the path is
    /// rewritten. Empty when the route does not rewrite the path.
    package let pathRewrites: [PathRewrite]
    package let authorityRewrite: String?
    package let requestHeaders: HeaderMutation
    package let responseHeaders: HeaderMutation
    package let cors: CORSPolicy?
    package let fault: FaultPolicy?
    /// The whole-request timeout in nanoseconds; nil: none (Istio's default).
    package let timeout: Int64?
    package let retry: RetryPolicy
    package let mirrors: [MirrorPolicy]

    init(pathRewrites: [PathRewrite], authorityRewrite: String?, requestHeaders: HeaderMutation, responseHeaders: HeaderMutation,
         cors: CORSPolicy?, fault: FaultPolicy?, timeout: Int64?, retry: RetryPolicy, mirrors: [MirrorPolicy]) {
        self.pathRewrites = pathRewrites
        self.authorityRewrite = authorityRewrite
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.cors = cors
        self.fault = fault
        self.timeout = timeout
        self.retry = retry
        self.mirrors = mirrors
    }

    /// A route that only forwards (Istio's default retries, nothing else).
    package static let plain = RoutePolicy(pathRewrites: [], authorityRewrite: nil, requestHeaders: .none, responseHeaders: .none,
                                           cors: nil, fault: nil, timeout: nil, retry: .istioDefault, mirrors: [])

    /// The rewritten path for a request that the route's match `matchIndex` took, or nil when
    /// the path stays as it is. `path` excludes the query string, which the caller keeps.
    package func rewrittenPath(_ path: String, matchIndex: Int) -> String? {
        guard !pathRewrites.isEmpty else { return nil }
        let rewrite = pathRewrites[min(matchIndex, pathRewrites.count - 1)]
        let result: String
        switch rewrite {
        case .replacePrefix(let length, let replacement):
            // Envoy's prefix_rewrite: the matched prefix (its length, case folded or not) swapped.
            let utf8 = path.utf8
            let cut = utf8.index(utf8.startIndex, offsetBy: min(length, utf8.count))
            result = replacement + String(decoding: utf8[cut...], as: UTF8.self)
        case .replacePath(let replacement):
            result = replacement
        case .regex(let regex, let substitution):
            result = regex.replacingAll(in: path, with: substitution)
        }
        // A path must start with `/`; Envoy would forward a relative one, which upstreams refuse.
        return result.hasPrefix("/") ? result : "/" + result
    }
}

/// How a route rewrites the path (Envoy's `prefix_rewrite` and `regex_rewrite`, which Istio
/// programs from `rewrite.uri` and `rewrite.uriRegexRewrite`).
package enum PathRewrite: Sendable {
    /// The first `length` bytes (the prefix the match matched; `/` for a route without a uri
    /// match) replaced.
    case replacePrefix(length: Int, with: String)
    /// The whole path replaced (an exact or regex uri match).
    case replacePath(String)
    /// Every match of the pattern replaced, `\1` references expanded.
    case regex(CompiledRegex, substitution: String)
}

/// Header edits of a route or weighted destination: removals first, then `set` (replace) and
/// `add` (append), as Envoy evaluates `headers_to_remove` before `headers_to_add`.
package struct HeaderMutation: Sendable {
    /// Lower-cased names.
    package var remove: [String] = []
    package var set: [(name: String, value: String)] = []
    package var add: [(name: String, value: String)] = []

    package static let none = HeaderMutation()

    package var isEmpty: Bool { remove.isEmpty && set.isEmpty && add.isEmpty }

    package init() {}

    package init(_ operations: Headers.HeaderOperations?) {
        guard let operations else { return }
        remove = (operations.remove ?? []).map { StringMatcher.asciiLowercased($0) }
        set = (operations.set ?? [:]).sorted { $0.key < $1.key }.map { (StringMatcher.asciiLowercased($0.key), $0.value) }
        add = (operations.add ?? [:]).sorted { $0.key < $1.key }.map { (StringMatcher.asciiLowercased($0.key), $0.value) }
    }
}

/// `corsPolicy` as Envoy's CORS filter applies it.
package struct CORSPolicy: Sendable {
    package var allowOrigins: [StringMatcher]
    /// Joined with `,` as Envoy sends them; nil when not configured (the header is left out).
    package var allowMethods: String?
    package var allowHeaders: String?
    package var exposeHeaders: String?
    /// Seconds, as the header carries them.
    package var maxAge: String?
    package var allowCredentials: Bool
    /// A preflight from an origin that is not allowed goes to the upstream (`FORWARD`, the
    /// default) or is answered without CORS headers (`IGNORE`).
    package var forwardUnmatchedPreflights: Bool

    package func allows(origin: String) -> Bool {
        for matcher in allowOrigins {
            // Envoy treats an allowed origin that matches "*" as allowing every origin.
            if matcher.matches(origin) || matcher.matches("*") { return true }
        }
        return false
    }
}

/// `fault`: a delay and/or an abort, each applied to a share of requests.
package struct FaultPolicy: Sendable {
    package enum Abort: Sendable, Equatable {
        case http(UInt)
        /// A gRPC status code, answered as HTTP 200 with `grpc-status`.
        case grpc(Int)
    }

    /// Nanoseconds and the fraction (0...1) of requests delayed.
    package var delay: (nanoseconds: Int64, fraction: Double)?
    package var abort: (status: Abort, fraction: Double)?
}

/// A route's retry policy (Envoy's `RetryPolicy` as Istio programs it).
package struct RetryPolicy: Sendable {
    package struct Conditions: OptionSet, Sendable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }

        package static let fiveXX = Conditions(rawValue: 1 << 0)
        package static let gatewayError = Conditions(rawValue: 1 << 1)
        package static let reset = Conditions(rawValue: 1 << 2)
        package static let resetBeforeRequest = Conditions(rawValue: 1 << 3)
        package static let connectFailure = Conditions(rawValue: 1 << 4)
        package static let retriable4xx = Conditions(rawValue: 1 << 5)
        package static let refusedStream = Conditions(rawValue: 1 << 6)
        package static let retriableStatusCodes = Conditions(rawValue: 1 << 7)
        package static let retriableHeaders = Conditions(rawValue: 1 << 8)
        package static let grpcCancelled = Conditions(rawValue: 1 << 9)
        package static let grpcDeadlineExceeded = Conditions(rawValue: 1 << 10)
        package static let grpcInternal = Conditions(rawValue: 1 << 11)
        package static let grpcResourceExhausted = Conditions(rawValue: 1 << 12)
        package static let grpcUnavailable = Conditions(rawValue: 1 << 13)
        package static let envoyRateLimited = Conditions(rawValue: 1 << 14)

        static let names: [(String, Conditions)] = [
            ("5xx", .fiveXX), ("gateway-error", .gatewayError), ("reset", .reset), ("reset-before-request", .resetBeforeRequest),
            ("connect-failure", .connectFailure), ("retriable-4xx", .retriable4xx), ("refused-stream", .refusedStream),
            ("retriable-status-codes", .retriableStatusCodes), ("retriable-headers", .retriableHeaders),
            ("cancelled", .grpcCancelled), ("deadline-exceeded", .grpcDeadlineExceeded), ("internal", .grpcInternal),
            ("resource-exhausted", .grpcResourceExhausted), ("unavailable", .grpcUnavailable), ("envoy-ratelimited", .envoyRateLimited),
        ]
    }

    /// Retries after the first try (Envoy `num_retries`); 0 disables.
    package var retries: Int
    package var perTryTimeout: Int64?
    package var conditions: Conditions
    package var statusCodes: Set<UInt>
    /// Back-off base interval in nanoseconds (Envoy: 25 ms; the cap is ten times it).
    package var backoffBase: Int64
    /// Prefer endpoints not tried yet (Envoy's previous_hosts predicate, Istio's default).
    package var avoidPreviousHosts: Bool

    /// `retries` absent: the mesh default (`attempts: 2` on connect-failure, refused-stream,
    /// unavailable, cancelled and retriable-status-codes 503, other hosts preferred).
    package static let istioDefault = RetryPolicy(
        retries: 2, perTryTimeout: nil,
        conditions: [.connectFailure, .refusedStream, .grpcUnavailable, .grpcCancelled, .retriableStatusCodes],
        statusCodes: [503], backoffBase: 25_000_000, avoidPreviousHosts: true)

    package static let disabled = RetryPolicy(retries: 0, perTryTimeout: nil, conditions: [], statusCodes: [], backoffBase: 25_000_000, avoidPreviousHosts: true)

    /// Istio's translation of `HTTPRetry`: numeric `retryOn` entries become retriable status
    /// codes; an empty `retryOn` takes the default list.
    package init(_ retry: HTTPRetry?) {
        guard let retry else {
            self = .istioDefault
            return
        }
        let attempts = Int(retry.attempts ?? 0)
        guard attempts > 0 else {
            self = .disabled
            return
        }
        var policy = RetryPolicy.istioDefault
        policy.retries = attempts
        policy.perTryTimeout = retry.perTryTimeout.map(\.nanoseconds).flatMap { $0 > 0 ? $0 : nil }
        if let base = retry.backoff?.nanoseconds, base > 0 { policy.backoffBase = base }
        if let ignore = retry.retryIgnorePreviousHosts { policy.avoidPreviousHosts = ignore }
        if let retryOn = retry.retryOn, !retryOn.isEmpty {
            var conditions: Conditions = []
            var codes: Set<UInt> = []
            for token in retryOn.split(separator: ",") {
                // Istio's validation splits on commas without trimming; so does Envoy.
                let name = String(token)
                if let code = UInt(name) {
                    codes.insert(code)
                    conditions.insert(.retriableStatusCodes)
                } else if let entry = Conditions.names.first(where: { $0.0 == name }) {
                    conditions.insert(entry.1)
                }
            }
            policy.conditions = conditions
            policy.statusCodes = codes
        }
        self = policy
    }

    private init(retries: Int, perTryTimeout: Int64?, conditions: Conditions, statusCodes: Set<UInt>, backoffBase: Int64, avoidPreviousHosts: Bool) {
        self.retries = retries
        self.perTryTimeout = perTryTimeout
        self.conditions = conditions
        self.statusCodes = statusCodes
        self.backoffBase = backoffBase
        self.avoidPreviousHosts = avoidPreviousHosts
    }

    /// Whether an upstream response with this status (and, for gRPC, `grpc-status` in its
    /// headers) is worth another try.
    package func retries(status: UInt, grpcStatus: Int?) -> Bool {
        if conditions.contains(.fiveXX), status >= 500 { return true }
        if conditions.contains(.gatewayError), status == 502 || status == 503 || status == 504 { return true }
        if conditions.contains(.retriable4xx), status == 409 { return true }
        if conditions.contains(.retriableStatusCodes), statusCodes.contains(status) { return true }
        if conditions.contains(.envoyRateLimited), status == 429 { return false }
        if let grpcStatus {
            switch grpcStatus {
            case 1: return conditions.contains(.grpcCancelled)
            case 4: return conditions.contains(.grpcDeadlineExceeded)
            case 8: return conditions.contains(.grpcResourceExhausted)
            case 13: return conditions.contains(.grpcInternal)
            case 14: return conditions.contains(.grpcUnavailable)
            default: break
            }
        }
        return false
    }

    /// Whether a failure before any response is worth another try: connect failures, resets,
    /// refused streams and per-try timeouts, by the conditions that cover them.
    package func retries(failure: UpstreamFailureKind) -> Bool {
        switch failure {
        case .connectFailure:
            return !conditions.isDisjoint(with: [.connectFailure, .fiveXX, .gatewayError, .reset, .resetBeforeRequest])
        case .refusedStream:
            return !conditions.isDisjoint(with: [.refusedStream, .fiveXX, .reset, .resetBeforeRequest])
        case .reset:
            // The head is written as soon as a connection is had, so a reset always comes after
            // the request started: `reset-before-request` covers connect failures only.
            return !conditions.isDisjoint(with: [.fiveXX, .gatewayError, .reset])
        case .perTryTimeout:
            return !conditions.isDisjoint(with: [.fiveXX, .gatewayError, .reset])
        }
    }
}

/// Why an upstream attempt produced no response, for the retry decision.
package enum UpstreamFailureKind: Sendable {
    case connectFailure
    case refusedStream
    case reset
    case perTryTimeout
}

/// One mirror target and the fraction (0...1) of requests copied to it.
package struct MirrorPolicy: Sendable {
    package var cluster: String
    package var fraction: Double
}

extension RoutePolicy {
    /// gRPC status names as Istio's `grpcStatus` takes them.
    static let grpcCodes: [String: Int] = [
        "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
        "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
        "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
    ]

    /// Percent as Istio writes it (`percentage: {value: x}`, or the deprecated integer
    /// `percent`); absent: never (API text: no fault without a percentage).
    static func fraction(_ percentage: Percent?, legacy: Int32?) -> Double {
        if let value = percentage?.value { return min(max(value, 0), 100) / 100 }
        if let legacy, legacy > 0 { return min(Double(legacy), 100) / 100 }
        return 0
    }

    static func fault(_ fault: HTTPFaultInjection?) -> FaultPolicy? {
        guard let fault else { return nil }
        var policy = FaultPolicy()
        if let delay = fault.delay, let fixed = delay.fixedDelay ?? delay.exponentialDelay {
            let fraction = fraction(delay.percentage, legacy: delay.percent)
            if fraction > 0 { policy.delay = (fixed.nanoseconds, fraction) }
        }
        if let abort = fault.abort {
            let fraction = fraction(abort.percentage, legacy: nil)
            if fraction > 0 {
                if let status = abort.httpStatus, status > 0 {
                    policy.abort = (.http(UInt(status)), fraction)
                } else if let name = abort.grpcStatus {
                    let code = grpcCodes[name.uppercased()] ?? Int(name) ?? 2
                    policy.abort = (.grpc(code), fraction)
                }
            }
        }
        return policy.delay == nil && policy.abort == nil ? nil : policy
    }

    static func cors(_ policy: CorsPolicy?) -> CORSPolicy? {
        guard let policy else { return nil }
        var origins: [StringMatcher] = []
        for match in policy.allowOrigins ?? [] {
            guard let matcher = try? StringMatcher(match) else { continue }
            if case .present = matcher { continue }
            origins.append(matcher)
        }
        for origin in policy.allowOrigin ?? [] { origins.append(.exact(origin)) }
        func joined(_ list: [String]?) -> String? {
            guard let list, !list.isEmpty else { return nil }
            return list.joined(separator: ",")
        }
        return CORSPolicy(
            allowOrigins: origins,
            allowMethods: joined(policy.allowMethods),
            allowHeaders: joined(policy.allowHeaders),
            exposeHeaders: joined(policy.exposeHeaders),
            maxAge: policy.maxAge.map { String($0.nanoseconds / 1_000_000_000) },
            allowCredentials: policy.allowCredentials ?? false,
            forwardUnmatchedPreflights: policy.unmatchedPreflights != .ignore)
    }

    /// The path rewrite of each match: Envoy swaps the prefix the match matched (a route
    /// without a uri match matches prefix `/`), or the whole path for exact and regex matches.
    static func pathRewrites(_ rewrite: HTTPRewrite?, matches: [RouteMatch]) throws(CompiledRegex.CompileError) -> [PathRewrite] {
        guard let rewrite else { return [] }
        if let regex = rewrite.uriRegexRewrite, let pattern = regex.match {
            let compiled = try CompiledRegex(pattern, anchored: false)
            return [.regex(compiled, substitution: regex.rewrite ?? "")]
        }
        guard let uri = rewrite.uri, !uri.isEmpty else { return [] }
        let candidates = matches.isEmpty ? [RouteMatch(name: nil, conditions: [])] : matches
        return candidates.map { match in
            var uriMatcher: StringMatcher?
            for condition in match.conditions {
                if case .uri(let matcher) = condition { uriMatcher = matcher }
            }
            switch uriMatcher {
            case nil, .present?:
                return .replacePrefix(length: 1, with: uri)
            case .prefix(let prefix)?, .prefixIgnoringCase(let prefix)?:
                return .replacePrefix(length: prefix.utf8.count, with: uri)
            case .exact?, .exactIgnoringCase?, .regex?:
                return .replacePath(uri)
            }
        }
    }
}
