import Testing
@testable import MizzenConfig

/// Istio's `ValidatePeerAuthentication` rules, with Istio's texts.
struct PeerAuthenticationValidationTests {
    static func document(_ spec: String, name: String = "policy") -> String {
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: \(name), namespace: default}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test(arguments: [
        ("port level without selector", "mtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: DISABLE}", "spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS"),
        ("empty port level", "selector: {matchLabels: {app: a}}\nportLevelMtls: {}", "spec.portLevelMtls: port level mTLS, if defined, must have at least one element"),
        ("port out of range", "selector: {matchLabels: {app: a}}\nportLevelMtls:\n  70000: {mode: DISABLE}", "spec.portLevelMtls.70000: port must be in range 1..65535"),
        ("port zero", "selector: {matchLabels: {app: a}}\nportLevelMtls:\n  0: {mode: DISABLE}", "spec.portLevelMtls.0: port must be in range 1..65535"),
        ("wildcard selector", "selector: {matchLabels: {app: \"a*\"}}\nmtls: {mode: STRICT}", #"spec.selector.matchLabels.app: wildcard is not supported in selector: "app=a*""#),
        ("unknown mode", "mtls: {mode: STRICTER}", "spec.mtls.mode"),
    ])
    func invalid(_ name: String, _ spec: String, _ expected: String) {
        let result = load(Self.document(spec))
        let errors = errorLines(result)
        #expect(errors.contains { $0.hasPrefix(expected) }, "\(name): \(errors)")
        #expect(result.snapshot.peerAuthentications.isEmpty, "an invalid policy is left out")
    }

    @Test(arguments: [
        "mtls: {mode: STRICT}",
        "mtls: {mode: PERMISSIVE}",
        "mtls: {mode: UNSET}",
        "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9080: {mode: PERMISSIVE}\n  15021: {mode: DISABLE}",
        "{}",
    ])
    func valid(_ spec: String) {
        let result = load(Self.document(spec))
        #expect(errorLines(result).isEmpty, "\(errorLines(result))")
        #expect(result.snapshot.peerAuthentications.count == 1)
    }

    @Test func selectorWithoutLabelsWarns() {
        let result = load(Self.document("selector: {}\nmtls: {mode: STRICT}"))
        #expect(warningLines(result).contains("spec.selector: workload selector specified without labels"), "\(warningLines(result))")
    }
}

/// Istio's `ValidateSidecar` rules.
struct SidecarValidationTests {
    static func document(_ spec: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: default}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test(arguments: [
        ("empty", "workloadSelector: {labels: {app: a}}", "spec: sidecar: empty configuration provided"),
        ("short egress host", "egress: [{hosts: [\"default/reviews\"]}]", "spec.egress[0].hosts[0]: short names (non FQDN) are not allowed"),
        ("host without namespace", "egress: [{hosts: [\"reviews.default.svc.cluster.local\"]}]", "spec.egress[0].hosts[0]: host must be of form namespace/dnsName"),
        ("egress without hosts", "egress: [{port: {number: 80, protocol: HTTP, name: http}}]", "spec.egress[0].hosts: sidecar: egress listener must contain at least one host"),
        ("port-less egress not last", "egress: [{hosts: [\"./*\"]}, {port: {number: 80, protocol: HTTP, name: http}, hosts: [\"./*\"]}]",
         "spec.egress[0]: sidecar: the egress listener with empty port should be the last listener in the list"),
        ("ingress without port", "ingress: [{defaultEndpoint: \"127.0.0.1:8080\"}]", "spec.ingress[0].port: sidecar: port is required for ingress listeners"),
        ("bad default endpoint", "ingress: [{port: {number: 80, protocol: HTTP, name: http}, defaultEndpoint: \"10.0.0.1:8080\"}]",
         "spec.ingress[0].defaultEndpoint: sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset"),
        ("duplicate ingress port", "ingress: [{port: {number: 80, protocol: HTTP, name: a}}, {port: {number: 80, protocol: HTTP, name: b}}]",
         "spec.ingress[1].port.number: sidecar: ports on IP bound listeners must be unique"),
        ("unknown protocol", "ingress: [{port: {number: 80, protocol: SMTP, name: a}}]", "spec.ingress[0].port.protocol: unsupported protocol: SMTP"),
        ("dynamic DNS", "outboundTrafficPolicy: {mode: ALLOW_ANY_DYNAMIC_DNS}",
         "spec.outboundTrafficPolicy.mode: sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource"),
    ])
    func invalid(_ name: String, _ spec: String, _ expected: String) {
        let result = load(Self.document(spec))
        #expect(errorLines(result).contains(expected), "\(name): \(errorLines(result))")
        #expect(result.snapshot.sidecars.isEmpty)
    }

    @Test(arguments: [
        "egress: [{hosts: [\"./*\", \"istio-system/*\"]}]",
        "outboundTrafficPolicy: {mode: REGISTRY_ONLY}",
        "ingress: [{port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: \"127.0.0.1:8080\"}]\negress: [{hosts: [\"*/*\"]}]",
        "egress: [{port: {number: 80, protocol: HTTP, name: http}, hosts: [\"./*\"]}, {hosts: [\"~/*\"]}]",
    ])
    func valid(_ spec: String) {
        let result = load(Self.document(spec))
        #expect(errorLines(result).isEmpty, "\(errorLines(result))")
        #expect(result.snapshot.sidecars.count == 1)
    }
}
