import Testing
@testable import MizzenConfig
@testable import MizzenRouting

/// How routes compile their traffic-management settings: rewrites (Envoy's prefix_rewrite and
/// regex_rewrite), retries (Istio's translation and defaults), faults, CORS, mirrors, timeouts.
struct RoutePolicyTests {
    static let gateway = """
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: {name: gw, namespace: default}
    spec:
      selector: {istio: ingressgateway}
      servers:
      - port: {number: 80, name: http, protocol: HTTP}
        hosts: ["*"]
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: svc, namespace: default}
    spec:
      hosts: [svc.example.com, mirror.example.com]
      ports: [{number: 80, name: http, protocol: HTTP}]
      resolution: STATIC
      endpoints: [{address: 10.0.0.1}]
    ---

    """

    /// The policy of the route a request takes, with the index of the match that took it.
    static func policy(_ http: String, target: String = "/", method: String = "GET") -> (RoutePolicy, Int)? {
        let yaml = gateway + """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [gw]
          http:
        \(http)
        """
        let table = RouteTable.compile(snapshot(yaml: yaml), for: .defaultGateway)
        let decision = table.decide(RequestAttributes(method: method, authority: "svc.example.com", target: target, headers: [], port: 80), random: 0)
        guard let route = decision.route else { return nil }
        return (route.policy, decision.matchIndex ?? 0)
    }

    struct RewriteCase: Sendable, CustomTestStringConvertible {
        var name: String
        var http: String
        var request: String
        var expected: String?
        var testDescription: String { name }
    }

    static let rewriteCases: [RewriteCase] = [
        RewriteCase(name: "prefix swapped", http: """
          - match: [{uri: {prefix: /foo}}]
            rewrite: {uri: /bar}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/foo/x", expected: "/bar/x"),
        RewriteCase(name: "prefix with trailing slash to /", http: """
          - match: [{uri: {prefix: /foo/}}]
            rewrite: {uri: /}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/foo/x", expected: "/x"),
        RewriteCase(name: "prefix without trailing slash to / keeps the slash (Envoy)", http: """
          - match: [{uri: {prefix: /foo}}]
            rewrite: {uri: /}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/foo/x", expected: "//x"),
        RewriteCase(name: "prefix equal to the path", http: """
          - match: [{uri: {prefix: /foo}}]
            rewrite: {uri: /}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/foo", expected: "/"),
        RewriteCase(name: "exact match replaces the whole path", http: """
          - match: [{uri: {exact: /old}}]
            rewrite: {uri: /new/place}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/old", expected: "/new/place"),
        RewriteCase(name: "regex match replaces the whole path", http: """
          - match: [{uri: {regex: "/v[0-9]+/.*"}}]
            rewrite: {uri: /latest}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/v2/items", expected: "/latest"),
        RewriteCase(name: "no uri match: the implicit prefix / is swapped", http: """
          - rewrite: {uri: /v2/}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/abc", expected: "/v2/abc"),
        RewriteCase(name: "the match that matched decides the prefix", http: """
          - match: [{uri: {prefix: /first}}, {uri: {prefix: /second/long}}]
            rewrite: {uri: /new}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/second/long/tail", expected: "/new/tail"),
        RewriteCase(name: "ignoreUriCase prefix cut by length", http: """
          - match: [{uri: {prefix: /API}, ignoreUriCase: true}]
            rewrite: {uri: /internal}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/api/v1", expected: "/internal/v1"),
        RewriteCase(name: "uriRegexRewrite with capture references", http: #"""
          - match: [{uri: {prefix: /service}}]
            rewrite: {uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1"}}
            route: [{destination: {host: svc.example.com}}]
        """#, request: "/service/foo/v1/api", expected: "/v1/api/instance/foo"),
        RewriteCase(name: "uriRegexRewrite replaces every match", http: #"""
          - rewrite: {uriRegexRewrite: {match: "a+", rewrite: "b"}}
            route: [{destination: {host: svc.example.com}}]
        """#, request: "/aa/xa/aaa", expected: "/b/xb/b"),
        RewriteCase(name: "redirect prefixRewrite swaps the matched prefix", http: """
          - match: [{uri: {prefix: /v1/}}]
            redirect: {prefixRewrite: /v2/, authority: new.example.com}
        """, request: "/v1/items", expected: "/v2/items"),
        RewriteCase(name: "authority only: the path stays", http: """
          - rewrite: {authority: other.example.com}
            route: [{destination: {host: svc.example.com}}]
        """, request: "/keep", expected: nil),
    ]

    @Test(arguments: rewriteCases)
    func pathRewrites(_ testCase: RewriteCase) throws {
        let (policy, matchIndex) = try #require(Self.policy(testCase.http, target: testCase.request))
        #expect(policy.rewrittenPath(testCase.request, matchIndex: matchIndex) == testCase.expected)
    }

    @Test func authorityRewrite() throws {
        let (policy, _) = try #require(Self.policy("""
          - rewrite: {authority: other.example.com}
            route: [{destination: {host: svc.example.com}}]
        """))
        #expect(policy.authorityRewrite == "other.example.com")
    }

    struct RetryCase: Sendable, CustomTestStringConvertible {
        var name: String
        var retries: String?
        var expectedRetries: Int
        var status: [(UInt, Bool)]
        var connectFailure: Bool
        var testDescription: String { name }
    }

    static let retryCases: [RetryCase] = [
        RetryCase(name: "absent: Istio's default (2 on connect-failure, refused-stream, 503)", retries: nil, expectedRetries: 2,
                  status: [(503, true), (500, false), (502, false), (409, false)], connectFailure: true),
        RetryCase(name: "attempts without retryOn: the default conditions", retries: "{attempts: 4}", expectedRetries: 4,
                  status: [(503, true), (500, false)], connectFailure: true),
        RetryCase(name: "attempts 0 disables", retries: "{attempts: 0}", expectedRetries: 0,
                  status: [(503, false)], connectFailure: false),
        RetryCase(name: "5xx", retries: "{attempts: 3, retryOn: 5xx}", expectedRetries: 3,
                  status: [(500, true), (503, true), (599, true), (404, false)], connectFailure: true),
        RetryCase(name: "gateway-error", retries: "{attempts: 1, retryOn: gateway-error}", expectedRetries: 1,
                  status: [(502, true), (503, true), (504, true), (500, false)], connectFailure: true),
        RetryCase(name: "retriable-4xx is 409 only", retries: "{attempts: 1, retryOn: retriable-4xx}", expectedRetries: 1,
                  status: [(409, true), (404, false), (503, false)], connectFailure: false),
        RetryCase(name: "numeric codes become retriable status codes", retries: "{attempts: 2, retryOn: \"500,connect-failure\"}", expectedRetries: 2,
                  status: [(500, true), (503, false)], connectFailure: true),
        RetryCase(name: "reset only", retries: "{attempts: 2, retryOn: reset}", expectedRetries: 2,
                  status: [(503, false)], connectFailure: true),
    ]

    @Test(arguments: retryCases)
    func retryPolicies(_ testCase: RetryCase) throws {
        let retries = testCase.retries.map { "    retries: \($0)\n" } ?? ""
        let (policy, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
        \(retries)
        """))
        #expect(policy.retry.retries == testCase.expectedRetries)
        for (status, retried) in testCase.status {
            #expect(policy.retry.retries(status: status, grpcStatus: nil) == retried, "status \(status)")
        }
        #expect(policy.retry.retries(failure: .connectFailure) == testCase.connectFailure)
    }

    @Test func retryDetails() throws {
        let (policy, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            retries: {attempts: 3, perTryTimeout: 250ms, retryOn: "unavailable,deadline-exceeded", backoff: 100ms, retryIgnorePreviousHosts: false}
        """))
        #expect(policy.retry.perTryTimeout == 250_000_000)
        #expect(policy.retry.backoffBase == 100_000_000)
        #expect(policy.retry.avoidPreviousHosts == false)
        #expect(policy.retry.retries(status: 200, grpcStatus: 14))
        #expect(policy.retry.retries(status: 200, grpcStatus: 4))
        #expect(!policy.retry.retries(status: 200, grpcStatus: 13))
        #expect(policy.retry.retries(failure: .perTryTimeout) == false)
    }

    @Test func timeoutAndNoTimeout() throws {
        let (timed, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            timeout: 1.5s
        """))
        #expect(timed.timeout == 1_500_000_000)
        let (plain, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
        """))
        #expect(plain.timeout == nil)
        #expect(plain === RoutePolicy.plain)
    }

    struct FaultCase: Sendable, CustomTestStringConvertible {
        var name: String
        var fault: String
        var delay: (Int64, Double)?
        var abort: (FaultPolicy.Abort, Double)?
        var testDescription: String { name }
    }

    static let faultCases: [FaultCase] = [
        FaultCase(name: "delay with percentage", fault: "{delay: {fixedDelay: 7s, percentage: {value: 100}}}", delay: (7_000_000_000, 1.0), abort: nil),
        FaultCase(name: "delay without percentage never fires (API text)", fault: "{delay: {fixedDelay: 7s}}", delay: nil, abort: nil),
        FaultCase(name: "deprecated integer percent", fault: "{delay: {fixedDelay: 1s, percent: 30}}", delay: (1_000_000_000, 0.3), abort: nil),
        FaultCase(name: "fractional percentage", fault: "{abort: {httpStatus: 503, percentage: {value: 0.5}}}", delay: nil, abort: (.http(503), 0.005)),
        FaultCase(name: "gRPC abort by name", fault: "{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}", delay: nil, abort: (.grpc(14), 1.0)),
        FaultCase(name: "delay and abort", fault: "{delay: {fixedDelay: 100ms, percentage: {value: 50}}, abort: {httpStatus: 418, percentage: {value: 10}}}",
                  delay: (100_000_000, 0.5), abort: (.http(418), 0.1)),
    ]

    @Test(arguments: faultCases)
    func faults(_ testCase: FaultCase) throws {
        let (policy, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            fault: \(testCase.fault)
        """))
        #expect(policy.fault?.delay?.nanoseconds == testCase.delay?.0)
        if let fraction = testCase.delay?.1 { #expect(abs((policy.fault?.delay?.fraction ?? -1) - fraction) < 1e-9) }
        #expect(policy.fault?.abort?.status == testCase.abort?.0)
        if let fraction = testCase.abort?.1 { #expect(abs((policy.fault?.abort?.fraction ?? -1) - fraction) < 1e-9) }
    }

    struct OriginCase: Sendable, CustomTestStringConvertible {
        var origins: String
        var origin: String
        var allowed: Bool
        var testDescription: String { "\(origins) ← \(origin)" }
    }

    static let originCases: [OriginCase] = [
        OriginCase(origins: "allowOrigins: [{exact: https://a.example}]", origin: "https://a.example", allowed: true),
        OriginCase(origins: "allowOrigins: [{exact: https://a.example}]", origin: "https://b.example", allowed: false),
        OriginCase(origins: "allowOrigins: [{exact: https://a.example}]", origin: "https://A.example", allowed: false),
        OriginCase(origins: "allowOrigins: [{prefix: https://app.}]", origin: "https://app.example", allowed: true),
        OriginCase(origins: "allowOrigins: [{regex: \"https://.*\\\\.example\\\\.com\"}]", origin: "https://x.example.com", allowed: true),
        OriginCase(origins: "allowOrigins: [{regex: \"https://.*\\\\.example\\\\.com\"}]", origin: "http://x.example.com", allowed: false),
        OriginCase(origins: "allowOrigins: [{exact: \"*\"}]", origin: "https://anything.test", allowed: true),
        OriginCase(origins: "allowOrigin: [https://legacy.example]", origin: "https://legacy.example", allowed: true),
    ]

    @Test(arguments: originCases)
    func corsOrigins(_ testCase: OriginCase) throws {
        let (policy, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            corsPolicy: {\(testCase.origins), allowMethods: [GET, POST], allowHeaders: [x-a, x-b], exposeHeaders: [x-c], maxAge: 24h, allowCredentials: true}
        """))
        let cors = try #require(policy.cors)
        #expect(cors.allows(origin: testCase.origin) == testCase.allowed)
        #expect(cors.allowMethods == "GET,POST")
        #expect(cors.allowHeaders == "x-a,x-b")
        #expect(cors.exposeHeaders == "x-c")
        #expect(cors.maxAge == "86400")
        #expect(cors.allowCredentials)
        #expect(cors.forwardUnmatchedPreflights)
    }

    @Test func mirrorsAndHeaders() throws {
        let (policy, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            mirrors:
            - destination: {host: mirror.example.com}
              percentage: {value: 25}
            - destination: {host: svc.example.com}
            headers:
              request: {set: {X-Set: a}, add: {x-add: b}, remove: [X-Gone]}
              response: {remove: [server]}
        """))
        #expect(policy.mirrors.map(\.cluster) == ["outbound|80||mirror.example.com", "outbound|80||svc.example.com"])
        #expect(policy.mirrors.map(\.fraction) == [0.25, 1.0])
        #expect(policy.requestHeaders.set.map(\.name) == ["x-set"])
        #expect(policy.requestHeaders.add.map(\.value) == ["b"])
        #expect(policy.requestHeaders.remove == ["x-gone"])
        #expect(policy.responseHeaders.remove == ["server"])

        let (single, _) = try #require(Self.policy("""
          - route: [{destination: {host: svc.example.com}}]
            mirror: {host: mirror.example.com}
            mirrorPercentage: {value: 0}
        """))
        #expect(single.mirrors.isEmpty)
    }
}
