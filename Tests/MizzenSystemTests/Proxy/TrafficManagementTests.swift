import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// VirtualService traffic management end to end (Istio / Envoy semantics): URI and authority
/// rewrites, redirects, header operations, CORS, direct responses, timeouts, retries, fault
/// injection and mirroring. One gateway serves every case; each feature has its own request
/// host (and, within a host, routes picked by path or an `x-case` header). Every test checks
/// what the client got and what the upstream saw (its echo JSON and its request log).
@Suite(.serialized)
struct TrafficManagementTests {
    final class Fixture: @unchecked Sendable {
        let log: UpstreamLog
        let mirrorLog: UpstreamLog
        let slowMirrorLog: UpstreamLog
        let upstream: Peer
        let mirror: Peer
        let slowMirror: Peer
        let gateway: GatewayProcess

        init() throws {
            log = try UpstreamLog()
            mirrorLog = try UpstreamLog()
            slowMirrorLog = try UpstreamLog()
            upstream = try Peer("upstream.py", ["--name", "tm-upstream", "--log", log.url.path])
            mirror = try Peer("upstream.py", ["--name", "tm-mirror", "--log", mirrorLog.url.path])
            slowMirror = try Peer("upstream.py", ["--name", "tm-slow-mirror", "--delay-ms", "3000", "--log", slowMirrorLog.url.path])
            gateway = try GatewayProcess(yaml: Self.configuration(upstream: upstream.port, mirror: mirror.port, slowMirror: slowMirror.port),
                                         gatewayPorts: [8080])
        }

        var port: Int { gateway.port(8080) }

        static let toUpstream = "route: [{destination: {host: upstream.test, port: {number: 80}}}]"

        /// A VirtualService bound to the gateway for one request host; `http` is the list of
        /// HTTPRoutes written from column 0.
        static func virtualService(_ host: String, _ http: String) -> String {
            let indented = http.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
            return """
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(host.replacingOccurrences(of: ".", with: "-")), namespace: default}
            spec:
              hosts: [\(host)]
              gateways: [edge]
              http:
            \(indented)
            """
        }

        static func configuration(upstream: Int, mirror: Int, slowMirror: Int) -> String {
            let route = toUpstream
            var yaml = EdgeConfig.gateway
            yaml += "\n" + EdgeConfig.serviceEntry("upstream.test", [upstream])
            yaml += "\n" + EdgeConfig.serviceEntry("mirror-target.test", [mirror])
            yaml += "\n" + EdgeConfig.serviceEntry("slow-mirror.test", [slowMirror])
            // Nothing listens on port 1: connections are refused at once.
            yaml += "\n" + EdgeConfig.serviceEntry("dead.test", [1])
            yaml += "\n" + EdgeConfig.serviceEntry("dead-and-live.test", [1, upstream])
            yaml += """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: dead-and-live, namespace: default}
            spec:
              host: dead-and-live.test
              trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
            """

            // 1. rewrite
            yaml += "\n" + virtualService("rewrite.test", """
            - match: [{uri: {exact: /old}}]
              rewrite: {uri: /new}
              \(route)
            - match: [{uri: {prefix: /slash/}}]
              rewrite: {uri: /}
              \(route)
            - match: [{uri: {prefix: /edge}}]
              rewrite: {uri: /}
              \(route)
            - match: [{uri: {prefix: /one}}, {uri: {prefix: /two/three}}]
              rewrite: {uri: /r}
              \(route)
            - match: [{uri: {regex: "/re/[0-9]+"}}]
              rewrite: {uri: /fixed}
              \(route)
            - match: [{uri: {prefix: /service/}}]
              rewrite:
                uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1'}
              \(route)
            - match: [{uri: {prefix: /global/}}]
              rewrite:
                uriRegexRewrite: {match: '-', rewrite: '_'}
              \(route)
            - match: [{uri: {prefix: /authority/}}]
              rewrite: {authority: internal.example.com}
              \(route)
            - match: [{uri: {prefix: /pre}}]
              rewrite: {uri: /bar}
              \(route)
            - \(route)
            """)
            yaml += "\n" + virtualService("rewrite-all.test", """
            - rewrite: {uri: /v2/}
              \(route)
            """)

            // 2. redirect
            yaml += "\n" + virtualService("redirect.test", """
            - match: [{uri: {exact: /r/uri}}]
              redirect: {uri: /new/place}
            - match: [{uri: {exact: /r/authority}}]
              redirect: {authority: other.example.com}
            - match: [{uri: {exact: /r/port}}]
              redirect: {port: 9090}
            - match: [{uri: {exact: /r/scheme}}]
              redirect: {scheme: https}
            - match: [{uri: {exact: /r/302}}]
              redirect: {uri: /moved, redirectCode: 302}
            - match: [{uri: {exact: /r/307}}]
              redirect: {uri: /moved, redirectCode: 307}
            - match: [{uri: {exact: /r/308}}]
              redirect: {uri: /moved, redirectCode: 308}
            - match: [{uri: {exact: /r/from-request-port}}]
              redirect: {derivePort: FROM_REQUEST_PORT}
            - match: [{uri: {exact: /r/from-protocol-default}}]
              redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}
            - match: [{uri: {prefix: /r/old/}}]
              redirect: {prefixRewrite: /r/new/}
            - \(route)
            """)

            // 3. headers
            yaml += "\n" + virtualService("headers.test", """
            - match: [{headers: {x-case: {exact: route}}}]
              headers:
                request:
                  set: {x-set: route-set, x-overwrite: new}
                  add: {x-add: added, x-both: added}
                  remove: [x-remove-me, x-both]
                response:
                  set: {x-replaced: new, x-resp-set: route}
                  add: {x-multi: second}
                  remove: [x-upstream]
              \(route)
            - match: [{headers: {x-case: {exact: destination}}}]
              headers:
                request: {set: {x-conflict: from-route}}
                response: {set: {x-conflict-resp: from-route}}
              route:
              - destination: {host: upstream.test, port: {number: 80}}
                headers:
                  request:
                    set: {x-dest: d, x-conflict: from-destination}
                    add: {x-dest-add: da}
                    remove: [x-dest-remove]
                  response:
                    set: {x-dest-resp: d, x-conflict-resp: from-destination}
                    add: {x-dest-multi: second}
                    remove: [x-drop]
            - match: [{headers: {x-case: {exact: direct}}}]
              directResponse: {status: 200, body: {string: direct answer}}
              headers:
                response:
                  set: {x-direct: direct-set}
                  add: {x-direct-add: one}
            - \(route)
            """)

            // 4. CORS
            yaml += "\n" + virtualService("cors.test", """
            - corsPolicy:
                allowOrigins:
                - exact: "https://exact.example"
                - prefix: "https://prefix."
                - regex: 'https://[a-z]+\\.regex\\.example'
                allowMethods: [GET, POST, PATCH]
                allowHeaders: [x-custom, content-type]
                exposeHeaders: [x-exposed, x-other]
                maxAge: 24h
                allowCredentials: true
              \(route)
            """)
            yaml += "\n" + virtualService("cors-ignore.test", """
            - corsPolicy:
                allowOrigins: [{exact: "https://ok.example"}]
                allowMethods: [GET]
                unmatchedPreflights: IGNORE
              \(route)
            """)
            yaml += "\n" + virtualService("cors-star.test", """
            - corsPolicy:
                allowOrigins: [{exact: "*"}]
                allowMethods: [GET, PUT]
              \(route)
            """)
            yaml += "\n" + virtualService("cors-legacy.test", """
            - corsPolicy:
                allowOrigin: ["https://legacy.example"]
                allowMethods: [DELETE]
              \(route)
            """)

            // 5. directResponse
            yaml += "\n" + virtualService("direct.test", """
            - match: [{uri: {exact: /d/string}}]
              directResponse: {status: 503, body: {string: down for maintenance}}
            - match: [{uri: {exact: /d/bytes}}]
              directResponse: {status: 200, body: {bytes: AAEC/w==}}
            - match: [{uri: {exact: /d/empty}}]
              directResponse: {status: 204}
            - \(route)
            """)

            // 6. timeout
            yaml += "\n" + virtualService("timeout.test", """
            - timeout: 1s
              \(route)
            """)
            yaml += "\n" + virtualService("grpc-timeout.test", """
            - timeout: 5s
              \(route)
            """)

            // 7. retries
            yaml += "\n" + virtualService("retry.test", """
            - match: [{headers: {x-case: {exact: three}}}]
              retries: {attempts: 3, retryOn: 5xx}
              \(route)
            - match: [{headers: {x-case: {exact: one}}}]
              retries: {attempts: 1, retryOn: 5xx}
              \(route)
            - match: [{headers: {x-case: {exact: 4xx}}}]
              retries: {attempts: 2, retryOn: retriable-4xx}
              \(route)
            - match: [{headers: {x-case: {exact: gateway}}}]
              retries: {attempts: 2, retryOn: gateway-error}
              \(route)
            - match: [{headers: {x-case: {exact: codes}}}]
              retries: {attempts: 2, retryOn: "500,connect-failure"}
              \(route)
            - match: [{headers: {x-case: {exact: "off"}}}]
              retries: {attempts: 0}
              \(route)
            - match: [{headers: {x-case: {exact: pertry}}}]
              retries: {attempts: 2, perTryTimeout: 500ms, retryOn: 5xx}
              \(route)
            - match: [{headers: {x-case: {exact: dead}}}]
              route: [{destination: {host: dead-and-live.test, port: {number: 80}}}]
            - \(route)
            """)

            // 8. fault
            yaml += "\n" + virtualService("fault.test", """
            - match: [{headers: {end-user: {exact: jason}}}]
              fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
              \(route)
            - match: [{headers: {x-case: {exact: delay}}}]
              fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
              \(route)
            - match: [{headers: {x-case: {exact: unset}}}]
              fault: {abort: {httpStatus: 500}}
              \(route)
            - match: [{headers: {x-case: {exact: half}}}]
              fault: {abort: {httpStatus: 418, percentage: {value: 50}}}
              \(route)
            - \(route)
            """)
            yaml += "\n" + virtualService("grpc-fault.test", """
            - fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
              \(route)
            """)

            // 9. mirror
            yaml += "\n" + virtualService("mirror.test", """
            - \(route)
              mirror: {host: mirror-target.test, port: {number: 80}}
              mirrorPercentage: {value: 100}
            """)
            yaml += "\n" + virtualService("mirrors.test", """
            - \(route)
              mirrors:
              - destination: {host: mirror-target.test, port: {number: 80}}
                percentage: {value: 100}
              - destination: {host: slow-mirror.test, port: {number: 80}}
                percentage: {value: 100}
            """)
            yaml += "\n" + virtualService("mirror-dead.test", """
            - \(route)
              mirror: {host: dead.test, port: {number: 80}}
              mirrorPercentage: {value: 100}
            """)
            // Barriers (UpstreamLog.barrier) to the upstream and to the mirror target.
            yaml += "\n" + virtualService("barrier.test", "- \(route)")
            yaml += "\n" + virtualService("mirror-barrier.test", "- route: [{destination: {host: mirror-target.test, port: {number: 80}}}]")
            yaml += "\n" + virtualService("mirror-zero.test", """
            - \(route)
              mirror: {host: mirror-target.test, port: {number: 80}}
              mirrorPercentage: {value: 0}
            """)
            return yaml + "\n"
        }
    }

    static let fixture: Result<Fixture, any Error> = Result { try Fixture() }

    static func setUp() throws -> Fixture {
        let f = try fixture.get()
        try #require(f.gateway.background.process.isRunning, "gateway exited: \(f.gateway.background.errors.suffix(2000))")
        return f
    }

    /// Sends a request and returns what the client got plus the upstream's log entries for
    /// targets containing `fragment` (after a short wait for them to be written).
    static func forwarded(_ f: Fixture, host: String, _ target: String, headers: [String] = [], fragment: String) throws -> (HTTPExchange, [[String: Any]]) {
        let exchange = try Traffic.send(f.port, host: host, target, headers: headers)
        return (exchange, f.log.waitForRequests(containing: fragment, count: 1, timeout: 2))
    }

    // MARK: 1. rewrite

    /// Envoy prefix_rewrite: the matched prefix is swapped, the rest of the path and the query
    /// kept. A prefix match is a plain string prefix, so `/pre` also takes `/prefixed`.
    @Test func prefixRewriteReplacesTheMatchedPrefixAndKeepsTheQuery() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (exchange, seen) = try Self.forwarded(f, host: "rewrite.test", "/pre/\(token)?q=1", fragment: token)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["path"] as? String == "/bar/\(token)?q=1", "\(exchange.body)")
        #expect(seen.map { $0["target"] as? String } == ["/bar/\(token)?q=1"])

        let (glued, gluedSeen) = try Self.forwarded(f, host: "rewrite.test", "/prefixed-\(token)", fragment: "fixed-\(token)")
        #expect(glued.json["path"] as? String == "/barfixed-\(token)", "\(glued.body)")
        #expect(gluedSeen.map { $0["target"] as? String } == ["/barfixed-\(token)"])
    }

    /// Envoy's documented trailing-slash edge: prefix `/slash/` + `/` gives `/x`, but prefix
    /// `/edge` + `/` gives `//x`.
    @Test func prefixRewriteTrailingSlashCases() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (slash, slashSeen) = try Self.forwarded(f, host: "rewrite.test", "/slash/\(token)", fragment: token)
        #expect(slash.status == 200)
        #expect(slash.json["path"] as? String == "/\(token)", "\(slash.body)")
        #expect(slashSeen.map { $0["target"] as? String } == ["/\(token)"])

        let other = Traffic.token()
        let (edge, edgeSeen) = try Self.forwarded(f, host: "rewrite.test", "/edge/\(other)", fragment: other)
        #expect(edge.status == 200)
        #expect(edge.json["path"] as? String == "//\(other)", "\(edge.body)")
        #expect(edgeSeen.map { $0["target"] as? String } == ["//\(other)"])
    }

    @Test func exactMatchRewriteReplacesThePathAndKeepsTheQuery() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (exchange, seen) = try Self.forwarded(f, host: "rewrite.test", "/old?k=\(token)", fragment: token)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["path"] as? String == "/new?k=\(token)", "\(exchange.body)")
        #expect(seen.map { $0["target"] as? String } == ["/new?k=\(token)"])
    }

    /// A route without a uri match has the implicit prefix `/`, so rewrite `/v2/` prepends.
    @Test func rewriteWithoutAURIMatchReplacesTheImplicitSlash() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (exchange, seen) = try Self.forwarded(f, host: "rewrite-all.test", "/abc-\(token)?k=1", fragment: token)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["path"] as? String == "/v2/abc-\(token)?k=1", "\(exchange.body)")
        #expect(seen.map { $0["target"] as? String } == ["/v2/abc-\(token)?k=1"])
    }

    /// With several matches in one rule, the prefix replaced is the one of the match that held.
    @Test func rewriteReplacesThePrefixOfTheMatchThatMatched() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (second, secondSeen) = try Self.forwarded(f, host: "rewrite.test", "/two/three/\(token)", fragment: token)
        #expect(second.json["path"] as? String == "/r/\(token)", "\(second.body)")
        #expect(secondSeen.map { $0["target"] as? String } == ["/r/\(token)"])
        let other = Traffic.token()
        let (first, firstSeen) = try Self.forwarded(f, host: "rewrite.test", "/one/\(other)", fragment: other)
        #expect(first.json["path"] as? String == "/r/\(other)", "\(first.body)")
        #expect(firstSeen.map { $0["target"] as? String } == ["/r/\(other)"])
    }

    /// A regex match has no prefix: rewrite.uri replaces the whole path (the query stays).
    @Test func regexMatchRewriteReplacesTheWholePath() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (exchange, seen) = try Self.forwarded(f, host: "rewrite.test", "/re/42?z=\(token)", fragment: token)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["path"] as? String == "/fixed?z=\(token)", "\(exchange.body)")
        #expect(seen.map { $0["target"] as? String } == ["/fixed?z=\(token)"])
    }

    /// uriRegexRewrite: `\1`/`\2` capture references, every match replaced, the query kept.
    @Test func uriRegexRewriteSubstitutesCapturesAndReplacesEveryMatch() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (captures, capturesSeen) = try Self.forwarded(f, host: "rewrite.test", "/service/foo/v1/api?x=\(token)", fragment: token)
        #expect(captures.status == 200, "\(captures.summary)")
        #expect(captures.json["path"] as? String == "/v1/api/instance/foo?x=\(token)", "\(captures.body)")
        #expect(capturesSeen.map { $0["target"] as? String } == ["/v1/api/instance/foo?x=\(token)"])

        let other = Traffic.token()
        let (global, globalSeen) = try Self.forwarded(f, host: "rewrite.test", "/global/a-b-c/\(other)?keep=a-b", fragment: other)
        #expect(global.json["path"] as? String == "/global/a_b_c/\(other)?keep=a-b", "the query is not rewritten: \(global.body)")
        #expect(globalSeen.map { $0["target"] as? String } == ["/global/a_b_c/\(other)?keep=a-b"])
    }

    @Test func authorityRewriteSetsTheUpstreamHost() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let (exchange, seen) = try Self.forwarded(f, host: "rewrite.test", "/authority/\(token)", fragment: token)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(Traffic.values(exchange.json, "host") == ["internal.example.com"], "\(exchange.body)")
        #expect(exchange.json["path"] as? String == "/authority/\(token)", "the path is not touched")
        try #require(seen.count == 1)
        #expect(Traffic.values(seen[0], "host") == ["internal.example.com"])
    }

    // MARK: 2. redirect

    static func expectRedirect(_ f: Fixture, host: String, _ target: String, status: Int, location: String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = f.log.requests.count
        let exchange = try Traffic.send(f.port, host: host, target)
        #expect(exchange.status == status, "\(target): \(exchange.summary)", sourceLocation: sourceLocation)
        #expect(exchange.values("location") == [location], "\(target): \(exchange.summary)", sourceLocation: sourceLocation)
        try f.log.barrier(through: f.port, host: "barrier.test")
        let seen = f.log.requests.dropFirst(before).map { $0["target"] as? String ?? "?" }
        #expect(seen.isEmpty, "a redirect is answered by the gateway; the upstream saw \(seen)", sourceLocation: sourceLocation)
    }

    @Test func redirectReplacesThePathAndKeepsTheQuery() throws {
        let f = try Self.setUp()
        try Self.expectRedirect(f, host: "redirect.test", "/r/uri?x=1&y=2", status: 301, location: "http://redirect.test/new/place?x=1&y=2")
        try Self.expectRedirect(f, host: "redirect.test", "/r/uri", status: 301, location: "http://redirect.test/new/place")
    }

    @Test func redirectAuthorityPortAndScheme() throws {
        let f = try Self.setUp()
        try Self.expectRedirect(f, host: "redirect.test", "/r/authority?a=1", status: 301, location: "http://other.example.com/r/authority?a=1")
        try Self.expectRedirect(f, host: "redirect.test:8080", "/r/port", status: 301, location: "http://redirect.test:9090/r/port")
        try Self.expectRedirect(f, host: "redirect.test", "/r/scheme", status: 301, location: "https://redirect.test/r/scheme")
    }

    /// `prefixRewrite` swaps only the matched prefix; the rest of the path and the query stay.
    @Test func redirectPrefixRewrite() throws {
        let f = try Self.setUp()
        try Self.expectRedirect(f, host: "redirect.test", "/r/old/a/b?k=v", status: 301, location: "http://redirect.test/r/new/a/b?k=v")
    }

    @Test func redirectCodes() throws {
        let f = try Self.setUp()
        for code in [302, 307, 308] {
            try Self.expectRedirect(f, host: "redirect.test", "/r/\(code)?c=\(code)", status: code, location: "http://redirect.test/moved?c=\(code)")
        }
    }

    /// FROM_REQUEST_PORT puts the Gateway server's port (8080 as written, not the local port
    /// the test mapped it to) in the Location; FROM_PROTOCOL_DEFAULT leaves the port out.
    @Test func redirectDerivePort() throws {
        let f = try Self.setUp()
        try Self.expectRedirect(f, host: "redirect.test", "/r/from-request-port", status: 301, location: "http://redirect.test:8080/r/from-request-port")
        try Self.expectRedirect(f, host: "redirect.test:8080", "/r/from-protocol-default?p=1", status: 301,
                                location: "https://redirect.test/r/from-protocol-default?p=1")
    }

    // MARK: 3. headers

    /// Route-level request and response header operations: set replaces, add appends (the old
    /// value stays), remove deletes, removes before adds.
    @Test func routeHeaderOperationsEditRequestAndResponse() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let exchange = try Traffic.send(f.port, host: "headers.test", "/response-headers?x-multi=first&x-replaced=old&t=\(token)",
                                        headers: ["x-case: route", "x-overwrite: old", "x-add: original", "x-remove-me: 1", "x-both: client"])
        #expect(exchange.status == 200, "\(exchange.summary)")
        let echo = exchange.json
        #expect(Traffic.values(echo, "x-set") == ["route-set"], "\(exchange.body)")
        #expect(Traffic.values(echo, "x-overwrite") == ["new"], "set replaces: \(exchange.body)")
        #expect(Traffic.values(echo, "x-add") == ["original", "added"], "add appends: \(exchange.body)")
        #expect(Traffic.values(echo, "x-remove-me").isEmpty, "remove deletes: \(exchange.body)")
        #expect(Traffic.values(echo, "x-both") == ["added"], "removes run before adds: \(exchange.body)")
        let seen = f.log.waitForRequests(containing: token, count: 1)
        try #require(seen.count == 1)
        #expect(Traffic.values(seen[0], "x-add") == ["original", "added"])
        #expect(Traffic.values(seen[0], "x-remove-me").isEmpty)

        #expect(exchange.values("x-multi") == ["first", "second"], "response add appends: \(exchange.summary)")
        #expect(exchange.values("x-replaced") == ["new"], "response set replaces: \(exchange.summary)")
        #expect(exchange.values("x-resp-set") == ["route"])
        #expect(exchange.values("x-upstream").isEmpty, "response remove deletes the upstream's header: \(exchange.summary)")
    }

    /// Header operations on a weighted destination, and the route-level value winning when both
    /// set the same header.
    @Test func destinationHeaderOperationsAndRouteLevelPrecedence() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let exchange = try Traffic.send(f.port, host: "headers.test", "/response-headers?x-dest-multi=first&x-drop=gone&t=\(token)",
                                        headers: ["x-case: destination", "x-dest-remove: 1"])
        #expect(exchange.status == 200, "\(exchange.summary)")
        let echo = exchange.json
        #expect(Traffic.values(echo, "x-dest") == ["d"], "\(exchange.body)")
        #expect(Traffic.values(echo, "x-dest-add") == ["da"])
        #expect(Traffic.values(echo, "x-dest-remove").isEmpty)
        #expect(Traffic.values(echo, "x-conflict") == ["from-route"], "the route-level set wins: \(exchange.body)")
        let seen = f.log.waitForRequests(containing: token, count: 1)
        try #require(seen.count == 1)
        #expect(Traffic.values(seen[0], "x-dest") == ["d"])
        #expect(Traffic.values(seen[0], "x-conflict") == ["from-route"])

        #expect(exchange.values("x-dest-resp") == ["d"], "\(exchange.summary)")
        #expect(exchange.values("x-dest-multi") == ["first", "second"])
        #expect(exchange.values("x-drop").isEmpty)
        #expect(exchange.values("x-conflict-resp") == ["from-route"], "the route-level set wins: \(exchange.summary)")
    }

    @Test func responseHeaderOperationsApplyToDirectResponses() throws {
        let f = try Self.setUp()
        let before = f.log.requests.count
        let exchange = try Traffic.send(f.port, host: "headers.test", "/direct", headers: ["x-case: direct"])
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.body == "direct answer")
        #expect(exchange.values("x-direct") == ["direct-set"], "\(exchange.summary)")
        #expect(exchange.values("x-direct-add") == ["one"])
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests.count == before, "a direct response never reaches the upstream")
    }

    // MARK: 4. CORS

    static func preflight(_ f: Fixture, host: String, origin: String, target: String, method: String = "POST",
                          requestHeaders: String? = nil) throws -> HTTPExchange {
        var headers = ["Origin: \(origin)", "Access-Control-Request-Method: \(method)"]
        if let requestHeaders { headers.append("Access-Control-Request-Headers: \(requestHeaders)") }
        return try Traffic.send(f.port, host: host, target, method: "OPTIONS", headers: headers)
    }

    /// A preflight from an allowed origin (exact, prefix or regex) is answered by the gateway.
    @Test func corsPreflightFromAnAllowedOriginIsAnsweredByTheGateway() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        for origin in ["https://exact.example", "https://prefix.shop.example", "https://abc.regex.example"] {
            let exchange = try Self.preflight(f, host: "cors.test", origin: origin, target: "/preflight/\(token)", requestHeaders: "x-custom")
            #expect(exchange.status == 200, "\(origin): \(exchange.summary)")
            #expect(exchange.values("access-control-allow-origin") == [origin], "\(origin): \(exchange.summary)")
            #expect(exchange.header("access-control-allow-methods") == "GET,POST,PATCH", "\(exchange.summary)")
            #expect(exchange.header("access-control-allow-headers") == "x-custom,content-type", "\(exchange.summary)")
            #expect(exchange.header("access-control-max-age") == "86400", "\(exchange.summary)")
            #expect(exchange.header("access-control-allow-credentials") == "true", "\(exchange.summary)")
            #expect(exchange.header("x-upstream") == nil, "the gateway answered, not the upstream")
        }
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests(containing: token).isEmpty, "allowed preflights never reach the upstream")
    }

    /// unmatchedPreflights unset (FORWARD): a preflight from another origin goes to the upstream.
    @Test func corsPreflightFromAnotherOriginIsForwarded() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let exchange = try Self.preflight(f, host: "cors.test", origin: "https://evil.example", target: "/preflight/\(token)")
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.header("x-upstream") == "tm-upstream", "\(exchange.summary)")
        #expect(exchange.json["method"] as? String == "OPTIONS")
        #expect(exchange.header("access-control-allow-origin") == nil, "\(exchange.summary)")
        let seen = f.log.waitForRequests(containing: token, count: 1)
        #expect(seen.map { $0["method"] as? String } == ["OPTIONS"])
    }

    @Test func corsActualRequestsGetAllowOriginAndExposeHeaders() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let allowed = try Traffic.send(f.port, host: "cors.test", "/actual/\(token)/ok", headers: ["Origin: https://exact.example"])
        #expect(allowed.status == 200, "\(allowed.summary)")
        #expect(allowed.header("x-upstream") == "tm-upstream")
        #expect(allowed.values("access-control-allow-origin") == ["https://exact.example"], "\(allowed.summary)")
        #expect(allowed.header("access-control-expose-headers") == "x-exposed,x-other", "\(allowed.summary)")
        #expect(allowed.header("access-control-allow-credentials") == "true", "\(allowed.summary)")
        let denied = try Traffic.send(f.port, host: "cors.test", "/actual/\(token)/denied", headers: ["Origin: https://evil.example"])
        #expect(denied.status == 200, "\(denied.summary)")
        #expect(denied.corsHeaders.isEmpty, "no CORS headers for an origin not allowed: \(denied.summary)")
        let seen = f.log.waitForRequests(containing: token, count: 2)
        #expect(seen.count == 2, "actual requests are forwarded whatever the origin")
        #expect(Set(seen.compactMap { $0["target"] as? String }) == ["/actual/\(token)/ok", "/actual/\(token)/denied"])
    }

    /// unmatchedPreflights IGNORE: the gateway answers 200 without CORS headers and forwards nothing.
    @Test func corsUnmatchedPreflightsIgnore() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let exchange = try Self.preflight(f, host: "cors-ignore.test", origin: "https://other.example", target: "/ignored/\(token)", method: "GET")
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.corsHeaders.isEmpty, "\(exchange.summary)")
        #expect(exchange.header("x-upstream") == nil)
        let matched = try Self.preflight(f, host: "cors-ignore.test", origin: "https://ok.example", target: "/ignored/\(token)", method: "GET")
        #expect(matched.values("access-control-allow-origin") == ["https://ok.example"], "\(matched.summary)")
        #expect(matched.header("access-control-allow-methods") == "GET")
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests(containing: token).isEmpty)
    }

    /// An exact origin `*` allows every origin (the response names the request's origin); the
    /// deprecated allowOrigin list still works.
    @Test func corsWildcardAndDeprecatedAllowOrigin() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let star = try Self.preflight(f, host: "cors-star.test", origin: "https://anything.example", target: "/star/\(token)", method: "PUT")
        #expect(star.status == 200, "\(star.summary)")
        #expect(star.values("access-control-allow-origin") == ["https://anything.example"], "\(star.summary)")
        #expect(star.header("access-control-allow-methods") == "GET,PUT")
        #expect(star.header("access-control-allow-credentials") == nil, "allowCredentials is unset")
        let legacy = try Self.preflight(f, host: "cors-legacy.test", origin: "https://legacy.example", target: "/legacy/\(token)", method: "DELETE")
        #expect(legacy.status == 200, "\(legacy.summary)")
        #expect(legacy.values("access-control-allow-origin") == ["https://legacy.example"], "\(legacy.summary)")
        #expect(legacy.header("access-control-allow-methods") == "DELETE")
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests(containing: token).isEmpty, "both preflights are answered by the gateway")
    }

    // MARK: 5. directResponse

    @Test func directResponseStringBytesAndEmpty() throws {
        let f = try Self.setUp()
        let before = f.log.requests.count
        let text = try Traffic.send(f.port, host: "direct.test", "/d/string")
        #expect(text.status == 503, "\(text.summary)")
        #expect(text.body == "down for maintenance")
        #expect(text.header("content-type") == "text/plain", "\(text.summary)")
        let bytes = try Traffic.send(f.port, host: "direct.test", "/d/bytes")
        #expect(bytes.status == 200, "\(bytes.summary)")
        #expect(bytes.data == Data([0, 1, 2, 255]), "body.bytes is base64: \(Array(bytes.data))")
        #expect(bytes.header("content-type") == "text/plain")
        let empty = try Traffic.send(f.port, host: "direct.test", "/d/empty")
        #expect(empty.status == 204, "\(empty.summary)")
        #expect(empty.data.isEmpty)
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests.count == before, "direct responses never reach the upstream")
    }

    // MARK: 6. timeout

    /// A gRPC client's own deadline (`grpc-timeout`) applies when it is shorter than the route's
    /// (Istio leaves max_grpc_timeout at 0): a 300 ms deadline ends the call long before the
    /// route's 5 s, answered as gRPC UNAVAILABLE.
    @Test func grpcTimeoutHeaderShortensTheRouteTimeout() throws {
        let f = try Self.setUp()
        let start = Date()
        let raw = try Harness.curl(["--http2-prior-knowledge", "-v", "-H", "Host: grpc-timeout.test", "-H", "content-type: application/grpc",
                                    "-H", "te: trailers", "-H", "grpc-timeout: 300m", "--data-binary", "",
                                    "http://127.0.0.1:\(f.port)/delay/3000"])
        let elapsed = Date().timeIntervalSince(start)
        let everything = (raw.stdout + raw.stderr).lowercased()
        #expect(everything.contains("< http/2 200"), "\(everything.suffix(1500))")
        #expect(everything.contains("grpc-status: 14"), "\(everything.suffix(1500))")
        #expect(elapsed >= 0.25 && elapsed < 3, "answered after \(elapsed) s for a 300 ms deadline under a 5 s route timeout")
    }

    @Test func routeTimeoutAnswers504() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let slow = try Traffic.send(f.port, host: "timeout.test", "/delay/5000?t=\(token)")
        #expect(slow.status == 504, "\(slow.summary)")
        #expect(slow.body == "upstream request timeout", "\(slow.body)")
        #expect(slow.seconds >= 0.8 && slow.seconds < 4, "answered after \(slow.seconds) s for a 1 s timeout")
        #expect(f.log.waitForRequests(containing: token, count: 1).count == 1, "the upstream got the request (and was too slow)")
        let other = Traffic.token()
        let quick = try Traffic.send(f.port, host: "timeout.test", "/delay/100?t=\(other)")
        #expect(quick.status == 200, "\(quick.summary)")
        #expect(quick.json["upstream"] as? String == "tm-upstream")
        #expect(f.log.waitForRequests(containing: other, count: 1).count == 1)
    }

    // MARK: 7. retries

    /// Sends `target` on retry.test with `x-case: case` (none: the route without `retries`) and
    /// returns the exchange and how many times the upstream saw the key.
    static func retried(_ f: Fixture, case name: String?, _ target: String, key: String, method: String? = nil,
                        body: Data? = nil) throws -> (HTTPExchange, [[String: Any]]) {
        let headers = name.map { ["x-case: \($0)"] } ?? []
        let exchange = try Traffic.send(f.port, host: "retry.test", target, method: method, headers: headers, body: body)
        try f.log.barrier(through: f.port, host: "barrier.test")  // an extra attempt has been logged by now
        return (exchange, f.log.requests(containing: key))
    }

    @Test func retriesOn5xxUntilSuccessOrAttemptsRunOut() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let (success, successSeen) = try Self.retried(f, case: "three", "/flaky/\(key)/2/503", key: key)
        #expect(success.status == 200, "\(success.summary)")
        #expect(success.json["attempt"] as? Int == 3, "\(success.body)")
        #expect(successSeen.count == 3, "the upstream saw \(successSeen.count) attempts")

        let other = Traffic.token()
        let (failure, failureSeen) = try Self.retried(f, case: "one", "/flaky/\(other)/3/503", key: other)
        #expect(failure.status == 503, "attempts 1: the second 503 is the answer: \(failure.summary)")
        #expect(failure.json["attempt"] as? Int == 2, "the client gets the upstream's own 503: \(failure.body)")
        #expect(failureSeen.count == 2)
    }

    /// No `retries` field: Istio's default, 2 retries on connect-failure, refused-stream,
    /// unavailable, cancelled and retriable status 503.
    @Test func defaultRetryPolicyRetries503Twice() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let (recovered, recoveredSeen) = try Self.retried(f, case: nil, "/flaky/\(key)/2/503", key: key)
        #expect(recovered.status == 200, "\(recovered.summary)")
        #expect(recoveredSeen.count == 3)

        let exhausted = Traffic.token()
        let (gaveUp, gaveUpSeen) = try Self.retried(f, case: nil, "/flaky/\(exhausted)/5/503", key: exhausted)
        #expect(gaveUp.status == 503, "\(gaveUp.summary)")
        #expect(gaveUpSeen.count == 3, "1 try + 2 retries, saw \(gaveUpSeen.count)")

        let internalError = Traffic.token()
        let (notRetried, notRetriedSeen) = try Self.retried(f, case: nil, "/flaky/\(internalError)/5/500", key: internalError)
        #expect(notRetried.status == 500, "\(notRetried.summary)")
        #expect(notRetriedSeen.count == 1, "a 500 is not retried by default")
    }

    @Test func retryOnRetriable4xxRetries409Only() throws {
        let f = try Self.setUp()
        let conflict = Traffic.token()
        let (retried, retriedSeen) = try Self.retried(f, case: "4xx", "/flaky/\(conflict)/1/409", key: conflict)
        #expect(retried.status == 200, "\(retried.summary)")
        #expect(retriedSeen.count == 2)
        let notFound = Traffic.token()
        let (missing, missingSeen) = try Self.retried(f, case: "4xx", "/flaky/\(notFound)/1/404", key: notFound)
        #expect(missing.status == 404)
        #expect(missingSeen.count == 1)
        let unavailable = Traffic.token()
        let (busy, busySeen) = try Self.retried(f, case: "4xx", "/flaky/\(unavailable)/1/503", key: unavailable)
        #expect(busy.status == 503, "retryOn replaces the default policy: \(busy.summary)")
        #expect(busySeen.count == 1)
    }

    @Test func retryOnGatewayErrorRetries502To504Not500() throws {
        let f = try Self.setUp()
        for code in [502, 503, 504] {
            let key = Traffic.token()
            let (exchange, seen) = try Self.retried(f, case: "gateway", "/flaky/\(key)/1/\(code)", key: key)
            #expect(exchange.status == 200, "\(code): \(exchange.summary)")
            #expect(seen.count == 2, "\(code): \(seen.count) attempts")
        }
        let key = Traffic.token()
        let (exchange, seen) = try Self.retried(f, case: "gateway", "/flaky/\(key)/1/500", key: key)
        #expect(exchange.status == 500, "\(exchange.summary)")
        #expect(seen.count == 1)
    }

    /// Status codes in retryOn ("500,connect-failure") are retried; others are not.
    @Test func retryOnStatusCodes() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let (retried, retriedSeen) = try Self.retried(f, case: "codes", "/flaky/\(key)/1/500", key: key)
        #expect(retried.status == 200, "\(retried.summary)")
        #expect(retriedSeen.count == 2)
        let other = Traffic.token()
        let (kept, keptSeen) = try Self.retried(f, case: "codes", "/flaky/\(other)/1/503", key: other)
        #expect(kept.status == 503, "\(kept.summary)")
        #expect(keptSeen.count == 1)
    }

    @Test func zeroAttemptsDisableRetries() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let (exchange, seen) = try Self.retried(f, case: "off", "/flaky/\(key)/1/503", key: key)
        #expect(exchange.status == 503, "\(exchange.summary)")
        #expect(seen.count == 1, "attempts 0: no retry, even of the default policy's 503")
    }

    /// A per-try timeout counts as a retriable (5xx) failure: the slow first attempt is cut
    /// after 500 ms and the second answers at once.
    @Test func perTryTimeoutRetriesASlowAttempt() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let (exchange, seen) = try Self.retried(f, case: "pertry", "/flaky-delay/\(key)/1/3000", key: key)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["attempt"] as? Int == 2, "\(exchange.body)")
        #expect(exchange.seconds >= 0.4 && exchange.seconds < 2.5, "answered after \(exchange.seconds) s")
        #expect(seen.count == 2)
    }

    /// One endpoint refuses connections; the default policy retries connect failures on the
    /// other, so every request succeeds.
    @Test func connectFailureIsRetriedOnTheLiveEndpoint() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        for index in 0..<6 {
            let exchange = try Traffic.send(f.port, host: "retry.test", "/dead-live/\(key)/\(index)", headers: ["x-case: dead"])
            #expect(exchange.status == 200, "request \(index): \(exchange.summary)")
            #expect(exchange.json["upstream"] as? String == "tm-upstream")
        }
        #expect(f.log.waitForRequests(containing: key, count: 6).count == 6)
    }

    /// A body within --max-retry-buffer-bytes (64 KiB) is replayed whole on every attempt.
    @Test func retriedRequestBodiesArriveWhole() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        var generator = SystemRandomNumberGenerator()
        let body = Data((0..<10 * 1024).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let digest = try Traffic.sha256(body)
        let (exchange, seen) = try Self.retried(f, case: "three", "/flaky/\(key)/2/503", key: key, method: "POST", body: body)
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["body_length"] as? Int == body.count)
        #expect(exchange.json["body_sha256"] as? String == digest, "the final attempt got the same bytes")
        #expect(seen.count == 3)
        #expect(seen.allSatisfy { $0["body_sha256"] as? String == digest && $0["body_length"] as? Int == body.count },
                "every attempt carried the whole body: \(seen.map { $0["body_length"] ?? "?" })")
    }

    /// A body larger than the retry buffer is streamed and not retried.
    @Test func bodiesOverTheRetryBufferAreNotRetried() throws {
        let f = try Self.setUp()
        let key = Traffic.token()
        let body = Data(repeating: 0x62, count: 1 << 20)
        let (exchange, seen) = try Self.retried(f, case: "three", "/flaky/\(key)/1/503", key: key, method: "POST", body: body)
        #expect(exchange.status == 503, "\(exchange.summary)")
        #expect(seen.count == 1, "a 1 MiB body is not buffered for a retry; saw \(seen.count) attempts")
        #expect(seen.first?["body_length"] as? Int == body.count)
    }

    // MARK: 8. fault

    @Test func faultDelayHoldsTheRequestThenForwardsIt() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let delayed = try Traffic.send(f.port, host: "fault.test", "/fault-delay/\(token)", headers: ["x-case: delay"])
        #expect(delayed.status == 200, "\(delayed.summary)")
        #expect(delayed.seconds >= 0.95 && delayed.seconds < 4, "answered after \(delayed.seconds) s for a 1 s delay")
        let seen = f.log.waitForRequests(containing: token, count: 1)
        #expect(seen.count == 1)
        let quick = try Traffic.send(f.port, host: "fault.test", "/fault-delay/\(token)/none")
        #expect(quick.status == 200)
        #expect(quick.seconds < 0.9, "requests outside the fault's match are not delayed: \(quick.seconds) s")
    }

    /// Bookinfo's fault: abort only the requests of end-user jason.
    @Test func faultAbortScopedByAHeaderMatch() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let aborted = try Traffic.send(f.port, host: "fault.test", "/abort/\(token)/jason", headers: ["end-user: jason"])
        #expect(aborted.status == 418, "\(aborted.summary)")
        #expect(aborted.body == "fault filter abort", "\(aborted.body)")
        let served = try Traffic.send(f.port, host: "fault.test", "/abort/\(token)/anyone", headers: ["end-user: someone"])
        #expect(served.status == 200, "\(served.summary)")
        let seen = f.log.waitForRequests(containing: token, count: 1).compactMap { $0["target"] as? String }
        #expect(seen == ["/abort/\(token)/anyone"], "the aborted request never reached the upstream")
    }

    /// Istio: an abort without a percentage aborts nothing.
    @Test func faultAbortWithoutAPercentageNeverAborts() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "fault.test", path: "/unset/\(token)/{i}", requests: 10, headers: ["x-case: unset"])
        #expect(responses.map(\.status) == Array(repeating: 200, count: 10), "\(responses.map(\.status))")
        #expect(f.log.waitForRequests(containing: token, count: 10).count == 10)
    }

    @Test func faultAbortPercentageAbortsAboutHalf() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "fault.test", path: "/half/\(token)/{i}", requests: 200, headers: ["x-case: half"])
        let aborted = responses.filter { $0.status == 418 }.count
        let served = responses.filter { $0.status == 200 }.count
        #expect(aborted + served == 200, "\(Dictionary(grouping: responses.map(\.status), by: { $0 }).mapValues(\.count))")
        #expect((50...150).contains(aborted), "\(aborted) of 200 aborted at 50%")
        #expect(responses.filter { $0.status == 418 }.allSatisfy { $0.body == "fault filter abort" })
        try f.log.barrier(through: f.port, host: "barrier.test")
        #expect(f.log.requests(containing: token).count == served, "the upstream saw exactly the requests not aborted")
    }

    /// A gRPC abort answers HTTP 200 with grpc-status 14 (UNAVAILABLE); nothing is forwarded.
    @Test func faultAbortWithAGRPCStatus() throws {
        let f = try Self.setUp()
        let before = f.log.requests.count
        let raw = try Harness.curl(["--http2-prior-knowledge", "-v", "-H", "Host: grpc-fault.test", "-H", "content-type: application/grpc",
                                    "-H", "te: trailers", "--data-binary", "", "http://127.0.0.1:\(f.port)/mizzen.test.Echo/Say"])
        let everything = (raw.stdout + raw.stderr).lowercased()
        #expect(everything.contains("< http/2 200"), "\(everything.suffix(1500))")
        #expect(everything.contains("grpc-status: 14"), "\(everything.suffix(1500))")
        let client = try Harness.run("python3", [Harness.peers.appendingPathComponent("grpc_client.py").path,
                                                 "--target", "127.0.0.1:\(f.port)", "--authority", "grpc-fault.test", "--timeout", "5", "say"],
                                     timeout: 30)
        #expect(client.status == 1, "\(client.stdout) \(client.stderr)")
        #expect(client.stdout.contains("UNAVAILABLE"), "\(client.stdout) \(client.stderr)")
        try f.log.barrier(through: f.port, host: "barrier.test")
        let seen = f.log.requests.dropFirst(before).compactMap { $0["target"] as? String }.filter { $0.contains("mizzen.test.Echo") }
        #expect(seen.isEmpty, "aborted gRPC calls never reach the upstream: \(seen)")
    }

    // MARK: 9. mirror

    @Test func mirrorSendsACopyWithTheShadowHost() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let body = Data("mirror me \(token)".utf8)
        let withPort = try Traffic.send(f.port, host: "mirror.test:8080", "/mirror/\(token)/a?q=1", method: "POST", body: body)
        #expect(withPort.status == 200, "\(withPort.summary)")
        #expect(withPort.json["upstream"] as? String == "tm-upstream", "the client gets the primary's answer")
        let withoutPort = try Traffic.send(f.port, host: "mirror.test", "/mirror/\(token)/b", method: "POST", body: body)
        #expect(withoutPort.json["upstream"] as? String == "tm-upstream")

        let copies = f.mirrorLog.waitForRequests(containing: token, count: 2)
        try #require(copies.count == 2, "the mirror saw \(copies.count) copies")
        let byTarget = Dictionary(copies.map { ($0["target"] as? String ?? "?", $0) }, uniquingKeysWith: { first, _ in first })
        let a = try #require(byTarget["/mirror/\(token)/a?q=1"], "\(byTarget.keys)")
        #expect(a["method"] as? String == "POST")
        #expect(a["body_sha256"] as? String == withPort.json["body_sha256"] as? String, "the copy carries the same body")
        #expect(Traffic.values(a, "host") == ["mirror.test-shadow:8080"], "\(Traffic.values(a, "host"))")
        let b = try #require(byTarget["/mirror/\(token)/b"])
        #expect(Traffic.values(b, "host") == ["mirror.test-shadow"], "\(Traffic.values(b, "host"))")
        let primary = f.log.requests(containing: token)
        #expect(primary.count == 2)
        #expect(primary.allSatisfy { !(Traffic.values($0, "host").first ?? "").contains("shadow") }, "the primary keeps the original host")
        try f.mirrorLog.barrier(through: f.port, host: "mirror-barrier.test")
        #expect(f.mirrorLog.requests(containing: token).count == 2, "one copy per request")
    }

    /// `mirrors`: a copy to each destination; a mirror that answers after 3 s does not hold up
    /// the client.
    @Test func mirrorsCopyToEachDestinationWithoutWaiting() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let exchange = try Traffic.send(f.port, host: "mirrors.test", "/mirrors/\(token)")
        #expect(exchange.status == 200, "\(exchange.summary)")
        #expect(exchange.json["upstream"] as? String == "tm-upstream")
        #expect(exchange.seconds < 2, "the slow mirror held the primary for \(exchange.seconds) s")
        let fast = f.mirrorLog.waitForRequests(containing: token, count: 1)
        let slow = f.slowMirrorLog.waitForRequests(containing: token, count: 1)
        #expect(fast.count == 1)
        #expect(slow.count == 1)
        #expect(fast.first.map { Traffic.values($0, "host") } == ["mirrors.test-shadow"])
        #expect(slow.first.map { Traffic.values($0, "host") } == ["mirrors.test-shadow"])
        #expect(f.log.requests(containing: token).count == 1)
    }

    @Test func aDeadMirrorDoesNotFailThePrimary() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        for index in 0..<3 {
            let exchange = try Traffic.send(f.port, host: "mirror-dead.test", "/mirror-dead/\(token)/\(index)")
            #expect(exchange.status == 200, "\(exchange.summary)")
            #expect(exchange.json["upstream"] as? String == "tm-upstream")
            #expect(exchange.seconds < 2)
        }
        #expect(f.log.waitForRequests(containing: token, count: 3).count == 3)
    }

    @Test func mirrorPercentageZeroSendsNoCopies() throws {
        let f = try Self.setUp()
        let token = Traffic.token()
        let responses = try Traffic.load(f.port, host: "mirror-zero.test", path: "/mirror-zero/\(token)/{i}", requests: 5)
        #expect(responses.map(\.status) == Array(repeating: 200, count: 5))
        #expect(f.log.waitForRequests(containing: token, count: 5).count == 5)
        try f.mirrorLog.barrier(through: f.port, host: "mirror-barrier.test")
        #expect(f.mirrorLog.requests(containing: token).isEmpty)
    }
}
