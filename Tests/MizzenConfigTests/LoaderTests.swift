import Testing
@testable import MizzenConfig

struct LoaderTests {
    @Test func objectsKeepFileLineAndNamespace() {
        let result = load("""
        # comment
        apiVersion: networking.istio.io/v1beta1
        kind: Gateway
        metadata:
          name: gw
        spec:
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: networking.istio.io/v1alpha3
        kind: DestinationRule
        metadata: {name: dr, namespace: other}
        spec: {host: a}
        """, namespace: "team-a")
        #expect(result.errorCount == 0)
        let gateway = try! #require(result.snapshot.gateways.first)
        #expect(gateway.reference.description == "Gateway team-a/gw")
        #expect(gateway.source.mark.line == 2)
        #expect(gateway.apiVersion == "networking.istio.io/v1beta1")
        let rule = try! #require(result.snapshot.destinationRules.first)
        #expect(rule.namespace == "other")
        #expect(rule.source.mark.line == 11)
    }

    @Test func unknownFieldSuggestsTheClosestKnownOne() {
        let lines = errorLines(load("""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: [a]
          http:
          - rout:
            - destination: {host: a}
        """))
        #expect(lines.contains("spec.http[0].rout: unknown field (did you mean \"route\"?)"))
        #expect(lines.contains("spec.http[0]: one of route, redirect or directResponse is required"))
    }

    /// Keys are found by scanning small mappings and by an index in large ones, and marked
    /// known by a bit per pair (past 64, a list): unknown fields are found in each size.
    @Test(arguments: [4, 20, 70])
    func unknownFieldsAreFoundInMappingsOfAnySize(_ pairs: Int) {
        let unknown = (0..<(pairs - 3)).map { "x\($0): 1" }
        let rule = (["route: [{destination: {host: a}}]"] + unknown + ["timout: 5s", "retries: {attempts: 2}"]).joined(separator: ", ")
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: [a]
          http: [{\(rule)}]
        """)
        let lines = errorLines(result)
        #expect(lines.count == pairs - 2, "\(lines.prefix(3))")
        #expect(lines.contains("spec.http[0].timout: unknown field (did you mean \"timeout\"?)"))
        #expect(lines.contains("spec.http[0].x0: unknown field"))
        #expect(!lines.contains { $0.hasPrefix("spec.http[0].retries") || $0.hasPrefix("spec.http[0].route") })
    }

    @Test func unknownEnumValueListsTheAllowedOnes() {
        let lines = errorLines(load("""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: dr}
        spec:
          host: a
          trafficPolicy:
            loadBalancer: {simple: FASTEST}
        """))
        #expect(lines.contains("spec.trafficPolicy.loadBalancer.simple: unknown value \"FASTEST\"; expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST"))
    }

    @Test func unimplementedAndRemovedFieldsWarn() {
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: [a]
          http:
          - match:
            - uri: {prefix: /}
              statPrefix: x
            websocketUpgrade: true
            route:
            - destination: {host: a}
        """)
        #expect(result.errorCount == 0)
        let warnings = warningLines(result)
        #expect(warnings.contains("spec.http[0].match[0].statPrefix: accepted, not implemented yet"))
        #expect(warnings.contains("spec.http[0].websocketUpgrade: was removed from the Istio API and is ignored"))
    }

    @Test func listsAndJSONAreRead() {
        let result = load("""
        {"apiVersion": "v1", "kind": "List", "items": [
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"},
           "spec": {"ports": [{"port": 9080, "name": "http"}], "selector": {"app": "reviews"}}},
          {"apiVersion": "networking.istio.io/v1", "kind": "VirtualServiceList", "items": [
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "r"},
             "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}]},
          {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "skipped"}}
        ]}
        """)
        #expect(result.errorCount == 0, "\(errorLines(result))")
        #expect(result.snapshot.services.count == 1)
        #expect(result.snapshot.virtualServices.count == 1)
        #expect(result.skippedCount == 1)
        #expect(result.diagnostics.contains { $0.severity == .notice && $0.message == "skipped: batch/v1 Job is not a kind Mizzen reads" })
    }

    @Test func anInvalidObjectIsPrunedAndTheRestKept() {
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: good}
        spec: {host: a}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: bad}
        spec: {host: "a b"}
        """)
        #expect(result.errorCount == 1)
        #expect(result.snapshot.destinationRules.map(\.name) == ["good"])
    }

    @Test func laterDefinitionReplacesEarlierWithAWarning() {
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: same}
        spec: {host: a}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: same}
        spec: {host: b}
        """)
        #expect(result.snapshot.destinationRules.map { $0.spec.host } == ["b"])
        #expect(warningLines(result) == [": defined again; replaces the definition at case.yaml:1 (as kubectl apply would)"])
    }

    @Test func crossObjectAnalysisWarnsLikeIstioctlAnalyze() {
        let result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: reviews}
        spec: {ports: [{port: 9080, name: http}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec:
          host: reviews
          subsets: [{name: v1, labels: {version: v1}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          gateways: [missing-gateway]
          http:
          - route:
            - destination: {host: reviews, subset: v2}
              weight: 50
            - destination: {host: ratings}
              weight: 50
        """, analyze: true)
        #expect(result.errorCount == 0)
        #expect(Set(warningLines(result)) == [
            "spec.gateways[0]: gateway \"default/missing-gateway\" is not defined by any loaded Gateway",
            "spec.http[0].route[0].destination.subset: subset \"v2\" is not defined by the DestinationRule for \"reviews.default.svc.cluster.local\"",
            "spec.http[0].route[1].destination.host: host \"ratings.default.svc.cluster.local\" matches no Service or ServiceEntry that was loaded",
        ])
    }
}

struct ScalarRuleTests {
    @Test(arguments: [
        ("10s", 10_000_000_000), ("1.5s", 1_500_000_000), ("100ms", 100_000_000), ("1h30m", 5_400_000_000_000),
        ("1m", 60_000_000_000), ("0", 0), ("250us", 250_000), ("-1s", -1_000_000_000),
    ] as [(String, Int64)])
    func goDurationsParse(_ text: String, _ nanoseconds: Int64) {
        #expect(IstioDuration(text)?.nanoseconds == nanoseconds)
    }

    @Test(arguments: ["", "10", "s", "1.5", "10 s", "1d", "ms", "1..5s"])
    func badDurationsDoNotParse(_ text: String) {
        #expect(IstioDuration(text) == nil)
    }

    @Test(arguments: [
        ("/v1/[0-9]+", "/v1/123", true), ("/v1/[0-9]+", "/v1/123/x", false), ("\\d+$", "123", true), ("\\d+$", "a123", false),
        ("(?i)/API", "/api", true), (".*", "", true), ("a|b", "ab", false),
    ] as [(String, String, Bool)])
    func regexMatchesTheWholeValue(_ pattern: String, _ subject: String, _ expected: Bool) throws {
        #expect(try CompiledRegex(pattern).matches(subject) == expected)
    }

    @Test(arguments: ["(?=a)b", "(?!a)", "(?<=a)b", "(a)\\1", "a*+", "(?>a)", "(?R)"])
    func constructsOutsideRE2AreRefused(_ pattern: String) {
        #expect(throws: CompiledRegex.CompileError.self) { try CompiledRegex(pattern) }
    }

    @Test func fieldPathsRender() {
        let path = FieldPath.root / "spec" / "http" / 0 / "match" / 1 / "headers" / "end-user"
        #expect(path.description == "spec.http[0].match[1].headers.end-user")
        #expect((FieldPath.root / "metadata" / "labels" / "app.kubernetes.io/name").description == "metadata.labels[\"app.kubernetes.io/name\"]")
    }

    @Test(arguments: [
        ("2024-05-01T12:00:00Z", 1_714_564_800), ("2024-05-01T14:00:00+02:00", 1_714_564_800), ("1970-01-01T00:00:00.5Z", 0),
    ] as [(String, Int64)])
    func timestampsParse(_ text: String, _ seconds: Int64) {
        #expect(Timestamp.secondsSinceEpoch(text) == seconds)
    }

    @Test(arguments: ["1.2.3.4", "::1", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:7:8"])
    func addressesParse(_ text: String) {
        #expect(Rules.isIP(text))
    }

    @Test(arguments: ["1.2.3", "256.1.1.1", "01.2.3.4", "1:2:3:4:5:6:7:8:9", "1::2::3", "abc", ""])
    func nonAddressesDoNotParse(_ text: String) {
        #expect(!Rules.isIP(text))
    }
}

struct MergeKeyTests {
    @Test func mergeKeysFillInKeysTheMappingDoesNotSet() {
        let result = load("""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
          labels: &common {app: reviews, team: books}
        spec:
          host: reviews
          subsets:
          - name: v1
            labels:
              <<: *common
              version: v1
              team: shelf
        """)
        #expect(result.errorCount == 0, "\(errorLines(result))")
        let labels = result.snapshot.destinationRules.first?.spec.subsets?.first?.labels
        #expect(labels == ["app": "reviews", "team": "shelf", "version": "v1"])
    }
}
