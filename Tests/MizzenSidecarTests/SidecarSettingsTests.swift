import MizzenConfig
import Testing
@testable import MizzenSidecar

/// Pod annotations (and option changes) in, istio-init's flags out.
struct CaptureArgumentsCase: Sendable, CustomTestStringConvertible {
    var name: String
    var annotations: [(String, String)] = []
    var statusPort = 15020
    var proxyUID = 1337
    var arguments: [String]
    var testDescription: String { name }
}

/// The default flags with some replaced: `["-b": "1,2,3"]`; a nil value removes the flag.
private func defaultArguments(_ changes: [String: String] = [:], adding extra: [String] = []) -> [String] {
    let defaults: [(String, String)] = [
        ("-p", "15001"), ("-z", "15006"), ("-u", "1337"), ("-m", "REDIRECT"), ("-i", "*"), ("-x", ""), ("-b", "*"),
        ("-d", "15090,15021,15020"),
    ]
    var arguments: [String] = []
    for (flag, value) in defaults { arguments += [flag, changes[flag] ?? value] }
    return arguments + extra + ["--log_output_level=default:info"]
}

let captureArgumentsCases: [CaptureArgumentsCase] = [
    // istio:pkg/kube/inject/testdata/inject/hello.yaml.injected
    CaptureArgumentsCase(name: "defaults", arguments: defaultArguments()),
    // traffic-annotations.yaml.injected
    CaptureArgumentsCase(name: "traffic annotations", annotations: [
        ("traffic.sidecar.istio.io/includeInboundPorts", "1,2,3"),
        ("traffic.sidecar.istio.io/excludeInboundPorts", "4,5,6"),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "7,8,9"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "127.0.0.1/24,10.96.0.1/24"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.96.0.2/24,10.96.0.3/24"),
    ], arguments: defaultArguments([
        "-i": "127.0.0.1/24,10.96.0.1/24", "-x": "10.96.0.2/24,10.96.0.3/24", "-b": "1,2,3", "-d": "15090,15021,4,5,6,15020",
    ], adding: ["-o", "7,8,9"])),
    // traffic-annotations-wildcards.yaml.injected
    CaptureArgumentsCase(name: "wildcards", annotations: [
        ("traffic.sidecar.istio.io/includeInboundPorts", "*"),
        ("traffic.sidecar.istio.io/excludeInboundPorts", "4,5,6"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "*"),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.96.0.2/24,10.96.0.3/24"),
    ], arguments: defaultArguments(["-x": "10.96.0.2/24,10.96.0.3/24", "-d": "15090,15021,4,5,6,15020"])),
    // traffic-annotations-empty-includes.yaml.injected
    CaptureArgumentsCase(name: "empty includes capture nothing", annotations: [
        ("traffic.sidecar.istio.io/includeInboundPorts", ""),
        ("traffic.sidecar.istio.io/excludeInboundPorts", "4,5,6"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", ""),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.96.0.2/24,10.96.0.3/24"),
    ], arguments: defaultArguments(["-i": "", "-x": "10.96.0.2/24,10.96.0.3/24", "-b": "", "-d": "15090,15021,4,5,6,15020"])),
    // kubevirtInterfaces.yaml.injected (its values set statusPort 123)
    CaptureArgumentsCase(name: "kubevirt interfaces", annotations: [("traffic.sidecar.istio.io/kubevirtInterfaces", "net1")],
                         statusPort: 123, arguments: defaultArguments(["-d": "15090,15021,123"], adding: ["-k", "net1"])),
    // reroute-virtual-interfaces.yaml.injected: the newer annotation wins.
    CaptureArgumentsCase(name: "reroute virtual interfaces", annotations: [
        ("istio.io/reroute-virtual-interfaces", "net0ps2"), ("traffic.sidecar.istio.io/kubevirtInterfaces", "net1"),
    ], statusPort: 123, arguments: defaultArguments(["-d": "15090,15021,123"], adding: ["-k", "net0ps2"])),
    // status_annotations.yaml.injected
    CaptureArgumentsCase(name: "status port annotation", annotations: [("status.sidecar.istio.io/port", "123")],
                         arguments: defaultArguments(["-d": "15090,15021,123"])),
    // status_annotations_zeroport.yaml.injected
    CaptureArgumentsCase(name: "status port off", annotations: [("status.sidecar.istio.io/port", "0")],
                         arguments: defaultArguments(["-d": "15090,15021"])),
    CaptureArgumentsCase(name: "status port already excluded is not added twice", annotations: [
        ("traffic.sidecar.istio.io/excludeInboundPorts", "15020,4"),
    ], arguments: defaultArguments(["-d": "15090,15021,15020,4"])),
    CaptureArgumentsCase(name: "exclusions are trimmed when the status port is appended", annotations: [
        ("traffic.sidecar.istio.io/excludeInboundPorts", " 4 , 5 "),
    ], arguments: defaultArguments(["-d": "15090,15021,4,5,15020"])),
    CaptureArgumentsCase(name: "outbound ports and interfaces", annotations: [
        ("traffic.sidecar.istio.io/includeOutboundPorts", "3306"),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", "25"),
        ("traffic.sidecar.istio.io/excludeInterfaces", "eth1,eth2"),
    ], arguments: defaultArguments(adding: ["-q", "3306", "-o", "25", "-c", "eth1,eth2"])),
    CaptureArgumentsCase(name: "an empty includeOutboundPorts is still passed", annotations: [
        ("traffic.sidecar.istio.io/includeOutboundPorts", ""),
    ], arguments: defaultArguments(adding: ["-q", ""])),
    // hello-tproxy.yaml.injected: -u is 1337 in TPROXY whatever the proxy uid.
    CaptureArgumentsCase(name: "TPROXY", annotations: [("sidecar.istio.io/interceptionMode", "TPROXY")], proxyUID: 1000,
                         arguments: defaultArguments(["-u": "1337", "-m": "TPROXY"])),
    CaptureArgumentsCase(name: "REDIRECT with another proxy uid", proxyUID: 1000, arguments: defaultArguments(["-u": "1000"])),
]

struct SidecarSettingsTests {
    @Test(arguments: captureArgumentsCases)
    func rendersIstioInitFlagsAsIstiosTemplate(_ testCase: CaptureArgumentsCase) throws {
        var options = InjectionOptions()
        options.statusPort = testCase.statusPort
        options.proxyUID = testCase.proxyUID
        let settings = try SidecarSettings.make(
            annotations: StringMap(testCase.annotations), path: .root, options: options,
            context: ErrorContext(file: "t.yaml", document: 1, object: nil))
        #expect(settings.iptablesArguments == testCase.arguments)
        // What the injector renders, `mizzen iptables` accepts.
        #expect(throws: Never.self) { try CaptureSettings.parse(arguments: settings.iptablesArguments, environment: [:]) }
    }

    @Test func agentLogLevelAnnotationSetsTheLogFlag() throws {
        let settings = try SidecarSettings.make(
            annotations: StringMap([("sidecar.istio.io/agentLogLevel", "default:debug")]), path: .root, options: InjectionOptions(),
            context: ErrorContext(file: "t.yaml", document: 1, object: nil))
        #expect(settings.iptablesArguments.last == "--log_output_level=default:debug")
    }

    @Test(arguments: [
        ("100m", true), ("1", true), ("1.5", true), ("128Mi", true), ("2Gi", true), ("1e3", true), ("4000m", true), (".5", true),
        ("", false), ("lots", false), ("1MB", false), ("1.2.3", false), ("m", false),
    ])
    func recognisesResourceQuantities(_ text: String, _ valid: Bool) {
        #expect(SidecarSettings.isResourceQuantity(text) == valid)
    }

    @Test(arguments: [
        ("true", true), ("false", false), ("1", true), ("F", false), ("yes", true),
    ])
    func rewriteAnnotationFollowsGoBooleans(_ text: String, _ rewrite: Bool) throws {
        // "yes" is not a Go boolean: the default (rewrite) stays.
        let settings = try SidecarSettings.make(
            annotations: StringMap([("sidecar.istio.io/rewriteAppHTTPProbers", text)]), path: .root, options: InjectionOptions(),
            context: ErrorContext(file: "t.yaml", document: 1, object: nil))
        #expect(settings.rewriteAppProbes == rewrite)
    }
}
