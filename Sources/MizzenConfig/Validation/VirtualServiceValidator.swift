/// Istio's rules for a VirtualService (`ValidateVirtualService`, pkg/config/validation/virtualservice.go).
package enum VirtualServiceValidator {
    static let retryOnPolicies: Set<String> = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream",
        "retriable-status-codes", "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    ]
    static let grpcStatuses: Set<String> = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
    /// The status codes Go's `http.StatusText` names: the ones Istio accepts in `retryOn`.
    static let knownStatusCodes: Set<Int> = Set(
        Array(100...103) + Array(200...208) + [226] + Array(300...305) + [307, 308] + Array(400...418)
            + Array(421...426) + [428, 429, 431, 451] + Array(500...508) + [510, 511])
    static let corsMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]

    package static func validate(_ vs: VirtualService, namespace: String, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        let hosts = vs.hosts ?? []
        let isDelegate = hosts.isEmpty
        let gateways = vs.gateways ?? []
        let appliesToMesh = gateways.isEmpty || gateways.contains("mesh")

        if isDelegate {
            if !gateways.isEmpty { problems.error(spec / "gateways", "must be empty in a delegate VirtualService (one without hosts)") }
            if !(vs.tls ?? []).isEmpty { problems.error(spec / "tls", "must be empty in a delegate VirtualService (one without hosts)") }
            if !(vs.tcp ?? []).isEmpty { problems.error(spec / "tcp", "must be empty in a delegate VirtualService (one without hosts)") }
        }
        gatewayNames(gateways, spec / "gateways", into: &problems)

        var hostsValid = true
        let hasSNIRoutes = (vs.tls ?? []).contains { !($0.match ?? []).flatMap { $0.sniHosts ?? [] }.isEmpty }
        for (index, host) in hosts.enumerated() {
            let path = spec / "hosts" / index
            if host.contains("/") {
                problems.error(path, "must be a host name; \"namespace/name\" is not allowed here")
                hostsValid = false
            } else if !appliesToMesh, hasSNIRoutes, host.hasPrefix("outbound_") {
                if let problem = outboundSNIProblem(host) { problems.error(path, problem); hostsValid = false }
            } else if let problem = Rules.wildcardDomainProblem(host), !Rules.isIP(host) {
                problems.error(path, problem)
                hostsValid = false
            } else if host == "*", appliesToMesh {
                problems.error(path, "\"*\" is not allowed for a VirtualService that applies to sidecars (gateways empty or listing mesh)")
            }
        }
        if hostsValid {
            for i in hosts.indices {
                for j in hosts.indices where j > i && HostName.matches(hosts[i], hosts[j]) {
                    problems.error(spec / "hosts" / j, "overlaps hosts[\(i)] \"\(hosts[i])\"; each host may appear once")
                }
            }
        }
        if (vs.http ?? []).isEmpty, (vs.tcp ?? []).isEmpty, (vs.tls ?? []).isEmpty {
            problems.error(spec, "at least one of http, tcp or tls must be set")
        }
        for (index, route) in (vs.http ?? []).enumerated() {
            httpRoute(route, spec / "http" / index, isDelegate: isDelegate, appliesToMesh: appliesToMesh, gateways: gateways, into: &problems)
        }
        for (index, route) in (vs.tls ?? []).enumerated() {
            tlsRoute(route, spec / "tls" / index, hosts: hosts, gatewayBound: !gateways.contains("mesh"), into: &problems)
        }
        for (index, route) in (vs.tcp ?? []).enumerated() {
            tcpRoute(route, spec / "tcp" / index, into: &problems)
        }
        problems.exportTo(vs.exportTo, namespace: namespace, spec / "exportTo", allowNobody: false)
        unreachableRules(vs, spec, into: &problems)
    }

    /// Gateway references: `name`, `ns/name`, `mesh`, or the legacy `name.ns.svc.cluster.local`.
    static func gatewayNames(_ names: [String], _ path: FieldPath, into problems: inout Problems) {
        for (index, name) in names.enumerated() {
            let itemPath = path / index
            if name == "mesh" { continue }
            if name.contains("/") {
                let parts = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                if parts[0].isEmpty || parts[1].isEmpty {
                    problems.error(itemPath, "namespace and gateway name must both be set in \"namespace/name\"")
                    continue
                }
                if !Rules.isDNS1123Label(parts[0]) { problems.error(itemPath, "namespace \"\(parts[0].prefix(70))\" is not a valid namespace name") }
                if !Rules.isDNS1123Label(parts[1]) { problems.error(itemPath, "gateway name \"\(parts[1].prefix(70))\" is not a valid name") }
            } else {
                if let problem = Rules.fqdnProblem(name) {
                    problems.error(itemPath, "gateway name \(problem)")
                } else if name.contains(".") {
                    let parts = name.split(separator: ".")
                    problems.warning(itemPath, "uses the legacy gateway name form; prefer \"\(parts[1])/\(parts[0])\"")
                }
            }
        }
    }

    /// `outbound_.<port>_.<subset>_.<host>` names of AUTO_PASSTHROUGH gateways.
    static func outboundSNIProblem(_ host: String) -> String? {
        let parts = host.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, parts[0] == "outbound",
              parts[1].contains(where: \.isNumber), parts[3].contains(where: \.isLetter) else {
            return "must have the form outbound_.<port>_.<subset>_.<host>"
        }
        return nil
    }

    static func httpRoute(_ route: HTTPRoute, _ path: FieldPath, isDelegate: Bool, appliesToMesh: Bool, gateways: [String], into problems: inout Problems) {
        let hasRoute = !(route.route ?? []).isEmpty
        if route.delegate != nil {
            if isDelegate { problems.error(path / "delegate", "a delegate VirtualService cannot delegate again") }
            if route.redirect != nil { problems.error(path / "redirect", "must not be set with delegate") }
            if route.route != nil { problems.error(path / "route", "must not be set with delegate") }
            if let delegate = route.delegate, (delegate.name ?? "").isEmpty { problems.error(path / "delegate" / "name", "is required") }
        } else if route.redirect != nil {
            if hasRoute { problems.error(path / "redirect", "only one of route, redirect or directResponse may be set") }
            if route.fault != nil { problems.error(path / "fault", "must not be set with redirect (the proxy answers without calling a service)") }
            if route.rewrite != nil { problems.error(path / "rewrite", "must not be set with redirect") }
            if route.directResponse != nil { problems.error(path / "directResponse", "only one of route, redirect or directResponse may be set") }
        } else if route.directResponse != nil {
            if hasRoute { problems.error(path / "directResponse", "only one of route, redirect or directResponse may be set") }
            if route.fault != nil { problems.error(path / "fault", "must not be set with directResponse (the proxy answers without calling a service)") }
            if route.rewrite != nil { problems.error(path / "rewrite", "must not be set with directResponse") }
        } else if !hasRoute {
            problems.error(path, "one of route, redirect or directResponse is required")
        }
        if route.mirror != nil, !(route.mirrors ?? []).isEmpty {
            problems.error(path / "mirrors", "only one of mirror or mirrors may be set")
        }

        for (index, match) in (route.match ?? []).enumerated() {
            httpMatch(match, path / "match" / index, appliesToMesh: appliesToMesh, gateways: gateways, into: &problems)
        }
        if let headers = route.headers { headerOperations(headers, path / "headers", into: &problems) }
        authorityRewrites(route, path, into: &problems)
        if let cors = route.corsPolicy { corsPolicy(cors, path / "corsPolicy", into: &problems) }
        if let fault = route.fault { self.fault(fault, path / "fault", into: &problems) }
        if let percent = route.mirrorPercent {
            problems.warning(path / "mirrorPercent", "is deprecated; use mirrorPercentage")
            if percent > 100 { problems.error(path / "mirrorPercent", "must be between 0 and 100") }
        }
        if let percentage = route.mirrorPercentage, let value = percentage.value, value < 0 || value > 100 {
            problems.error(path / "mirrorPercentage" / "value", "percentage \(Rules.format(value)) must be between 0 and 100")
        }
        if let mirror = route.mirror { problems.destination(mirror, path / "mirror") }
        for (index, mirror) in (route.mirrors ?? []).enumerated() {
            let mirrorPath = path / "mirrors" / index
            problems.destination(mirror.destination, mirrorPath / "destination")
            if let percentage = mirror.percentage, let value = percentage.value, value < 0 || value > 100 {
                problems.error(mirrorPath / "percentage" / "value", "percentage \(Rules.format(value)) must be between 0 and 100")
            }
        }
        if let redirect = route.redirect { self.redirect(redirect, matches: route.match ?? [], path / "redirect", into: &problems) }
        if let response = route.directResponse { directResponse(response, path / "directResponse", into: &problems) }
        if let rewrite = route.rewrite { self.rewrite(rewrite, path / "rewrite", into: &problems) }
        if let retries = route.retries { self.retries(retries, path / "retries", into: &problems) }
        problems.duration(route.timeout, path / "timeout")

        let destinations = route.route ?? []
        for (index, destination) in destinations.enumerated() {
            let destinationPath = path / "route" / index
            problems.destination(destination.destination, destinationPath / "destination")
            if let headers = destination.headers { headerOperations(headers, destinationPath / "headers", into: &problems) }
        }
        problems.weights(destinations.map(\.weight), path / "route")
    }

    static func httpMatch(_ match: HTTPMatchRequest, _ path: FieldPath, appliesToMesh: Bool, gateways: [String], into problems: inout Problems) {
        if let uri = match.uri { problems.stringMatch(uri, path / "uri", allowEmptyPrefix: true) }
        if let scheme = match.scheme { problems.stringMatch(scheme, path / "scheme") }
        if let method = match.method { problems.stringMatch(method, path / "method") }
        if let authority = match.authority { problems.stringMatch(authority, path / "authority") }
        for (key, value) in (match.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            headerMatch(key: key, value: value, path / "headers", appliesToMesh: appliesToMesh, gateways: gateways, negated: false, into: &problems)
        }
        for (key, value) in (match.withoutHeaders ?? [:]).sorted(by: { $0.key < $1.key }) {
            headerMatch(key: key, value: value, path / "withoutHeaders", appliesToMesh: appliesToMesh, gateways: gateways, negated: true, into: &problems)
        }
        for (key, value) in (match.queryParams ?? [:]).sorted(by: { $0.key < $1.key }) {
            if key.isEmpty { problems.error(path / "queryParams", "query parameter names must not be empty") }
            problems.stringMatch(value, path / "queryParams" / key)
        }
        if let port = match.port, port != 0, let problem = Rules.portProblem(port) { problems.error(path / "port", problem) }
        problems.labels(match.sourceLabels, path / "sourceLabels")
        gatewayNames(match.gateways ?? [], path / "gateways", into: &problems)
        if let namespace = match.sourceNamespace, !namespace.isEmpty, !Rules.isDNS1123Label(namespace) {
            problems.error(path / "sourceNamespace", "must be a namespace name")
        }
        if let ignoreCase = match.ignoreUriCase, ignoreCase, match.uri?.regex != nil {
            problems.warning(path / "ignoreUriCase", "applies to exact and prefix matches only; write (?i) in the regex instead")
        }
    }

    static func headerMatch(key: String, value: StringMatch, _ path: FieldPath, appliesToMesh: Bool, gateways: [String], negated: Bool, into problems: inout Problems) {
        let itemPath = path / key
        if let problem = Rules.matchHeaderNameProblem(key) { problems.error(itemPath, problem, atKey: true) }
        if Rules.isJWTClaimHeader(key), appliesToMesh {
            problems.error(itemPath, "JWT claim matches are supported at gateways only; this VirtualService applies to sidecars", atKey: true)
        }
        if negated, value.regex == "*" { return }
        problems.stringMatch(value, itemPath)
    }

    static func headerOperations(_ headers: Headers, _ path: FieldPath, into problems: inout Problems) {
        if let request = headers.request {
            let requestPath = path / "request"
            for (operation, entries) in [("set", request.set), ("add", request.add)] {
                for (name, value) in (entries ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let itemPath = requestPath / operation / name
                    let lowered = name.lowercased()
                    if name.isEmpty {
                        problems.error(requestPath / operation, "header names must not be empty")
                    } else if name.hasPrefix(":"), lowered != ":authority" {
                        problems.error(itemPath, "pseudo-header \"\(name)\" cannot be changed (only :authority)", atKey: true)
                    }
                    if let problem = Rules.headerValueProblem(value) { problems.error(itemPath, problem) }
                }
            }
            for (index, name) in (request.remove ?? []).enumerated() {
                if let problem = removableHeaderProblem(name) { problems.error(requestPath / "remove" / index, problem) }
            }
        }
        if let response = headers.response {
            let responsePath = path / "response"
            for (operation, entries) in [("set", response.set), ("add", response.add)] {
                for (name, value) in (entries ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let itemPath = responsePath / operation / name
                    if let problem = removableHeaderProblem(name) { problems.error(itemPath, problem, atKey: !name.isEmpty) }
                    if let problem = Rules.headerValueProblem(value) { problems.error(itemPath, problem) }
                }
            }
            for (index, name) in (response.remove ?? []).enumerated() {
                if let problem = removableHeaderProblem(name) { problems.error(responsePath / "remove" / index, problem) }
            }
        }
    }

    static func removableHeaderProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name must not be empty" }
        if name.lowercased() == "host" { return "the Host header cannot be changed here (use rewrite.authority)" }
        if name.hasPrefix(":") { return "pseudo-header \"\(name)\" cannot be changed" }
        return nil
    }

    /// The authority may be rewritten once: by rewrite.authority or a request `:authority`/`host` header.
    static func authorityRewrites(_ route: HTTPRoute, _ path: FieldPath, into problems: inout Problems) {
        var sources: [FieldPath] = []
        if let authority = route.rewrite?.authority, !authority.isEmpty { sources.append(path / "rewrite" / "authority") }
        for operation in ["set", "add"] {
            let entries = operation == "set" ? route.headers?.request?.set : route.headers?.request?.add
            for name in (entries ?? [:]).keys.sorted() where [":authority", "host"].contains(name.lowercased()) {
                sources.append(path / "headers" / "request" / operation / name)
            }
        }
        if sources.count > 1 {
            problems.error(sources[1], "rewrites the authority again; \(sources[0]) already does (only one authority rewrite per route)")
        }
    }

    static func corsPolicy(_ cors: CorsPolicy, _ path: FieldPath, into problems: inout Problems) {
        for (index, origin) in (cors.allowOrigins ?? []).enumerated() {
            let originPath = path / "allowOrigins" / index
            let value = origin.exact ?? origin.prefix ?? origin.regex
            if value == nil || value == "" {
                problems.error(originPath, "needs a non-empty exact, prefix or regex")
            } else {
                problems.stringMatch(origin, originPath)
            }
        }
        if cors.allowOrigin != nil { problems.warning(path / "allowOrigin", "is deprecated; use allowOrigins") }
        for (index, method) in (cors.allowMethods ?? []).enumerated() where !corsMethods.contains(method) {
            problems.error(path / "allowMethods" / index, "\"\(method.prefix(40))\" is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE or *)")
        }
        for field in ["allowHeaders", "exposeHeaders"] {
            let names = (field == "allowHeaders" ? cors.allowHeaders : cors.exposeHeaders) ?? []
            for (index, name) in names.enumerated() where name != "*" && !Rules.isHeaderToken(name) {
                problems.error(path / field / index, name.isEmpty ? "header name must not be empty" : "\"\(name.prefix(60))\" is not a valid header name")
            }
        }
        if let maxAge = cors.maxAge {
            problems.duration(maxAge, path / "maxAge")
            if maxAge.nanoseconds % 1_000_000_000 != 0 { problems.error(path / "maxAge", "must be a whole number of seconds") }
        }
    }

    static func fault(_ fault: HTTPFaultInjection, _ path: FieldPath, into problems: inout Problems) {
        if fault.delay == nil, fault.abort == nil { problems.error(path, "needs a delay, an abort, or both") }
        if let abort = fault.abort {
            let abortPath = path / "abort"
            problems.percentage(abort.percentage, abortPath / "percentage")
            let kinds = [abort.httpStatus != nil, abort.grpcStatus != nil, abort.http2Error != nil].filter { $0 }.count
            if kinds > 1 { problems.error(abortPath, "only one of httpStatus, grpcStatus or http2Error may be set") }
            if let status = abort.httpStatus, !(200...600).contains(status) {
                problems.error(abortPath / "httpStatus", "HTTP status \(status) must be between 200 and 599")
            }
            if let status = abort.grpcStatus, !grpcStatuses.contains(status) {
                problems.error(abortPath / "grpcStatus", "\"\(status.prefix(40))\" is not a gRPC status name (such as UNAVAILABLE or NOT_FOUND)")
            }
            if abort.http2Error != nil { problems.error(abortPath / "http2Error", "HTTP/2 error aborts are not supported (Istio rejects them too)") }
            if kinds == 0 { problems.warning(abortPath, "has no httpStatus or grpcStatus, so nothing is aborted") }
            if abort.percentage == nil { problems.warning(abortPath / "percentage", "is unset, so no request is aborted; set percentage.value (0-100)") }
        }
        if let delay = fault.delay {
            let delayPath = path / "delay"
            problems.percentage(delay.percentage, delayPath / "percentage")
            if let percent = delay.percent {
                problems.warning(delayPath / "percent", "is deprecated; use percentage.value")
                if !(0...100).contains(percent) { problems.error(delayPath / "percent", "must be between 0 and 100") }
            }
            if delay.fixedDelay != nil, delay.exponentialDelay != nil {
                problems.error(delayPath, "only one of fixedDelay or exponentialDelay may be set")
            }
            problems.duration(delay.fixedDelay, delayPath / "fixedDelay")
            if delay.exponentialDelay != nil { problems.error(delayPath / "exponentialDelay", "is not supported (Istio rejects it too)") }
            if delay.fixedDelay == nil, delay.exponentialDelay == nil { problems.warning(delayPath, "has no fixedDelay, so nothing is delayed") }
            if delay.percentage == nil, delay.percent == nil {
                problems.warning(delayPath / "percentage", "is unset, so no request is delayed; set percentage.value (0-100)")
            }
        }
    }

    static func redirect(_ redirect: HTTPRedirect, matches: [HTTPMatchRequest], _ path: FieldPath, into problems: inout Problems) {
        if redirect.uri != nil, redirect.prefixRewrite != nil {
            problems.error(path, "only one of uri or prefixRewrite may be set")
        }
        if redirect.prefixRewrite != nil, matches.contains(where: { $0.uri != nil && $0.uri?.prefix == nil }) {
            problems.error(path / "prefixRewrite", "needs every uri match of the route to be a prefix match")
        }
        let empty = (redirect.uri ?? "").isEmpty && (redirect.prefixRewrite ?? "").isEmpty && (redirect.authority ?? "").isEmpty
            && (redirect.scheme ?? "").isEmpty && redirect.port == nil && redirect.derivePort == nil
        if empty { problems.error(path, "must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort") }
        if redirect.port != nil, redirect.derivePort != nil { problems.error(path, "only one of port or derivePort may be set") }
        if let code = redirect.redirectCode, code != 0, !(300...399).contains(code) {
            problems.error(path / "redirectCode", "\(code) is not a redirect status; use 301, 302, 303, 307 or 308")
        } else if let code = redirect.redirectCode, ![0, 301, 302, 303, 307, 308].contains(code) {
            problems.warning(path / "redirectCode", "\(code) is accepted but not a redirect Envoy can send; 301 is used")
        }
        if let scheme = redirect.scheme, !scheme.isEmpty, scheme != "http", scheme != "https" {
            problems.error(path / "scheme", "must be \"http\" or \"https\"")
        }
        if let port = redirect.port, port > 0, let problem = Rules.portProblem(port) { problems.error(path / "port", problem) }
    }

    static func directResponse(_ response: HTTPDirectResponse, _ path: FieldPath, into problems: inout Problems) {
        if let status = response.status {
            if !(200...600).contains(status) { problems.error(path / "status", "HTTP status \(status) must be between 200 and 599") }
        } else {
            problems.error(path / "status", "is required")
        }
        guard let body = response.body else { return }
        if body.string != nil, body.bytes != nil { problems.error(path / "body", "only one of string or bytes may be set") }
        var size = body.string?.utf8.count ?? 0
        if let bytes = body.bytes {
            if let decoded = Base64.decodedCount(bytes) {
                size = decoded
            } else {
                problems.error(path / "body" / "bytes", "must be base64")
            }
        }
        if size > 1 << 20 {
            problems.error(path / "body", "is \(size) bytes; a direct response body must be under 1 MiB")
        } else if size > 100 << 10 {
            problems.warning(path / "body", "is \(size) bytes; large direct responses slow every configuration push")
        }
    }

    static func rewrite(_ rewrite: HTTPRewrite, _ path: FieldPath, into problems: inout Problems) {
        if rewrite.uri != nil, rewrite.uriRegexRewrite != nil {
            problems.error(path, "only one of uri or uriRegexRewrite may be set")
        }
        if (rewrite.uri ?? "").isEmpty, rewrite.uriRegexRewrite == nil, (rewrite.authority ?? "").isEmpty {
            problems.error(path, "must set at least one of uri, uriRegexRewrite or authority")
        }
        if let regexRewrite = rewrite.uriRegexRewrite {
            let regexPath = path / "uriRegexRewrite"
            if let match = regexRewrite.match, !match.isEmpty { problems.regex(match, regexPath / "match") } else { problems.error(regexPath / "match", "is required") }
            if regexRewrite.rewrite == nil { problems.error(regexPath / "rewrite", "is required") }
        }
    }

    static func retries(_ retry: HTTPRetry, _ path: FieldPath, into problems: inout Problems) {
        let attempts = retry.attempts ?? 0
        if attempts < 0 { problems.error(path / "attempts", "must not be negative") }
        if attempts == 0, retry.perTryTimeout != nil || !(retry.retryOn ?? "").isEmpty || retry.retryRemoteLocalities != nil {
            problems.error(path / "attempts", "is 0, which disables retries; remove the other retry settings or set attempts")
        }
        problems.duration(retry.perTryTimeout, path / "perTryTimeout")
        problems.duration(retry.backoff, path / "backoff")
        if let retryOn = retry.retryOn, !retryOn.isEmpty {
            for policy in retryOn.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                if retryOnPolicies.contains(policy) { continue }
                if let code = Int(policy), policy.allSatisfy(\.isNumber), knownStatusCodes.contains(code) { continue }
                problems.error(path / "retryOn", "\"\(policy.prefix(40))\" is not a retry condition (comma-separated, no spaces: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, or a status code)")
            }
        }
    }

    static func tlsRoute(_ route: TLSRoute, _ path: FieldPath, hosts: [String], gatewayBound: Bool, into problems: inout Problems) {
        let matches = route.match ?? []
        if matches.isEmpty { problems.error(path / "match", "must list at least one match (with sniHosts)") }
        for (index, match) in matches.enumerated() {
            let matchPath = path / "match" / index
            let sniHosts = match.sniHosts ?? []
            if sniHosts.isEmpty { problems.error(matchPath / "sniHosts", "must list at least one SNI host") }
            for (hostIndex, sni) in sniHosts.enumerated() {
                let sniPath = matchPath / "sniHosts" / hostIndex
                if Rules.isIP(sni) {
                    problems.warning(sniPath, "an IP address as SNI goes against RFC 6066; most clients never send one")
                    continue
                }
                if gatewayBound, sni.hasPrefix("outbound_") {
                    if let problem = outboundSNIProblem(sni) { problems.error(sniPath, problem) }
                } else if let problem = Rules.wildcardDomainProblem(sni) {
                    problems.error(sniPath, problem)
                    continue
                }
                if !hosts.contains(where: { HostName.isSubset(sni, of: $0) }) {
                    problems.error(sniPath, "\"\(sni)\" is not within any of the VirtualService's hosts (\(hosts.joined(separator: ", ")))")
                }
            }
            l4Match(subnets: match.destinationSubnets, port: match.port, sourceLabels: match.sourceLabels, gateways: match.gateways, sourceNamespace: match.sourceNamespace, matchPath, into: &problems)
        }
        routeDestinations(route.route, path / "route", kind: "TLS", into: &problems)
    }

    static func tcpRoute(_ route: TCPRoute, _ path: FieldPath, into problems: inout Problems) {
        for (index, match) in (route.match ?? []).enumerated() {
            let matchPath = path / "match" / index
            l4Match(subnets: match.destinationSubnets, port: match.port, sourceLabels: match.sourceLabels, gateways: match.gateways, sourceNamespace: match.sourceNamespace, matchPath, into: &problems)
            if let subnet = match.sourceSubnet, let problem = Rules.subnetProblem(subnet) { problems.error(matchPath / "sourceSubnet", problem) }
        }
        routeDestinations(route.route, path / "route", kind: "TCP", into: &problems)
    }

    static func l4Match(subnets: [String]?, port: UInt32?, sourceLabels: [String: String]?, gateways: [String]?, sourceNamespace: String?, _ path: FieldPath, into problems: inout Problems) {
        for (index, subnet) in (subnets ?? []).enumerated() {
            if let problem = Rules.subnetProblem(subnet) { problems.error(path / "destinationSubnets" / index, problem) }
        }
        if let port, port != 0, let problem = Rules.portProblem(port) { problems.error(path / "port", problem) }
        problems.labels(sourceLabels, path / "sourceLabels")
        gatewayNames(gateways ?? [], path / "gateways", into: &problems)
        if let sourceNamespace, !sourceNamespace.isEmpty, !Rules.isDNS1123Label(sourceNamespace) {
            problems.error(path / "sourceNamespace", "must be a namespace name")
        }
    }

    static func routeDestinations(_ destinations: [RouteDestination]?, _ path: FieldPath, kind: String, into problems: inout Problems) {
        let destinations = destinations ?? []
        if destinations.isEmpty {
            problems.error(path, "a \(kind) route needs at least one destination")
            return
        }
        for (index, destination) in destinations.enumerated() {
            problems.destination(destination.destination, path / index / "destination")
        }
        problems.weights(destinations.map(\.weight), path)
    }

    /// istiod's "rule not used" warnings: rules after a catch-all, and matches repeated from an earlier rule.
    static func unreachableRules(_ vs: VirtualService, _ spec: FieldPath, into problems: inout Problems) {
        var catchAll: Int?
        var seenMatches: [String: Int] = [:]
        for (index, route) in (vs.http ?? []).enumerated() {
            let path = spec / "http" / index
            let matches = route.match ?? []
            if let earlier = catchAll {
                problems.warning(path, "is never used: http[\(earlier)] before it matches every request")
                continue
            }
            if matches.isEmpty || matches.contains(where: isCatchAll) {
                catchAll = index
            }
            var duplicates = 0
            for (matchIndex, match) in matches.enumerated() {
                let key = matchKey(match)
                if let earlier = seenMatches[key] {
                    duplicates += 1
                    problems.warning(path / "match" / matchIndex, "is never used: http[\(earlier)] has the same match")
                } else {
                    seenMatches[key] = index
                }
            }
            if !matches.isEmpty, duplicates == matches.count {
                problems.warning(path, "is never used: every match is taken by earlier rules")
            }
        }
    }

    /// A match that takes every request wherever it applies: Istio's catch-all (after which
    /// translation stops), or a uri prefix "" (Envoy matches every path with it, so later
    /// rules are unreachable though Istio still translates them), with no port, gateway or
    /// source condition.
    static func isCatchAll(_ match: HTTPMatchRequest) -> Bool {
        var path = match
        if path.uri?.prefix == "" { path.uri = nil }
        return path.isIstioCatchAll && match.port == nil && (match.sourceLabels ?? [:]).isEmpty && (match.gateways ?? []).isEmpty
            && match.sourceNamespace == nil
    }

    static func matchKey(_ match: HTTPMatchRequest) -> String {
        func text(_ value: StringMatch?) -> String {
            guard let value else { return "-" }
            return "e:\(value.exact ?? "")|p:\(value.prefix ?? "")|r:\(value.regex ?? "")|\(value.exact != nil)\(value.prefix != nil)\(value.regex != nil)"
        }
        func map(_ value: [String: StringMatch]?) -> String {
            (value ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\(text($0.value))" }.joined(separator: ";")
        }
        let labels = (match.sourceLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
        return [text(match.uri), text(match.scheme), text(match.method), text(match.authority), map(match.headers),
                map(match.withoutHeaders), map(match.queryParams), "\(match.port ?? 0)", labels,
                (match.gateways ?? []).joined(separator: ","), match.sourceNamespace ?? "", "\(match.ignoreUriCase ?? false)"]
            .joined(separator: "#")
    }
}

package enum Base64 {
    /// The bytes standard base64 text stands for, or nil if it is not base64.
    package static func decode(_ text: String) -> [UInt8]? {
        guard let count = decodedCount(text) else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(count)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            default: continue
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }

    /// The decoded length of standard base64 text, or nil if it is not base64.
    static func decodedCount(_ text: String) -> Int? {
        let bytes = text.utf8.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard bytes.count % 4 == 0 else { return nil }
        var padding = 0
        for (offset, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "=") {
                guard offset >= bytes.count - 2 else { return nil }
                padding += 1
            } else {
                guard padding == 0, Rules.isAlphanumeric(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") else { return nil }
            }
        }
        return bytes.count / 4 * 3 - padding
    }
}
