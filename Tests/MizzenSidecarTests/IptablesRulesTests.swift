import Testing
@testable import MizzenSidecar

/// One golden case: istio-iptables flags and environment, what istio-iptables learns from the pod
/// (IPv6, resolv.conf servers), and the text Istio recorded for them.
struct CaptureGolden: Sendable, CustomTestStringConvertible {
    var name: String
    var arguments: [String]
    var environment: [String: String] = [:]
    var enableIPv6 = false
    var dnsServersV4: [String] = []
    var dnsServersV6: [String] = []
    var expected: String

    var testDescription: String { name }
}

/// A command line or environment that istio-iptables must refuse, and how.
struct FlagErrorCase: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var environment: [String: String] = [:]
    var kind: CaptureFlagError.Kind
    var flag: String
    var value: String

    var testDescription: String { "\(arguments) \(environment)" }
}

private func makeRules(_ golden: CaptureGolden) throws -> CaptureRuleSet {
    var settings = try CaptureSettings.parse(arguments: golden.arguments, environment: golden.environment).settings
    settings.enableIPv6 = golden.enableIPv6
    settings.dnsServersV4 = golden.dnsServersV4
    settings.dnsServersV6 = golden.dnsServersV6
    return captureRules(settings)
}

private func parseError(_ arguments: [String], _ environment: [String: String] = [:]) -> CaptureFlagError? {
    do throws(CaptureFlagError) {
        _ = try CaptureSettings.parse(arguments: arguments, environment: environment)
        return nil
    } catch {
        return error
    }
}

private func lines(_ text: String) -> [String] {
    text.split(separator: "\n").map { String($0) }
}

/// The args the injector renders for istio-init (istio:pkg/kube/inject/testdata/inject/hello.yaml.injected).
private let injectedArguments = [
    "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
    "-d", "15090,15021,15020", "--log_output_level=default:info",
]

struct IptablesRulesTests {
    // MARK: Istio's goldens

    @Test(arguments: istioInitGoldens)
    func matchesIstioInitGolden(_ golden: CaptureGolden) throws {
        let rules = try makeRules(golden)
        #expect(rules.dryRunTranscript() == golden.expected)
    }

    @Test(arguments: istioCNIGoldens)
    func matchesIstioCNIGolden(_ golden: CaptureGolden) throws {
        let rules = try makeRules(golden)
        #expect(rules.ipv4Restore == golden.expected + "\n")
        #expect(rules.ipv6Restore.isEmpty)
    }

    // MARK: Derived from run.go (no Istio golden has exactly these inputs)

    /// The injected default: like the CNI `basic` golden, without its `-o 15020` lines and with the
    /// inbound exclusions in `-d` order.
    @Test func injectedDefaultArguments() throws {
        let (settings, options) = try CaptureSettings.parse(arguments: injectedArguments, environment: [:])
        #expect(settings.interceptionMode == .redirect)
        #expect(settings.inboundPorts == "*")
        #expect(settings.localExcludePorts == ["15090", "15021", "15020"])
        #expect(settings.serviceCIDRs == "*")
        #expect(settings.serviceExcludeCIDRs == "")
        #expect(settings.proxyUID == ["1337"])
        #expect(settings.proxyGID == ["1337"])
        #expect(options.ignoredArguments.isEmpty)
        let rules = captureRules(settings)
        #expect(rules.ipv4Restore == """
            * nat
            -N ISTIO_INBOUND
            -N ISTIO_REDIRECT
            -N ISTIO_IN_REDIRECT
            -N ISTIO_OUTPUT
            -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
            -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
            -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
            -A PREROUTING -p tcp -j ISTIO_INBOUND
            -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
            -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
            -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
            -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
            -A OUTPUT -j ISTIO_OUTPUT
            -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
            -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
            -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
            -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
            -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
            -A ISTIO_OUTPUT -j ISTIO_REDIRECT
            COMMIT

            """)
        #expect(rules.ipv6Restore.isEmpty)
        #expect(rules.routeCommands.isEmpty)
    }

    /// `--cleanup-only`: newest first, jumps deleted, rules inside ISTIO_* chains left to the flush.
    @Test func cleanupUndoesInjectedDefault() throws {
        let (settings, options) = try CaptureSettings.parse(arguments: injectedArguments + ["--cleanup"], environment: [:])
        #expect(options.cleanupOnly)
        #expect(captureRules(settings).dryRunTranscript(cleanupOnly: true) == """
            iptables-save
            ip6tables-save
            iptables -t nat -D ISTIO_OUTPUT -j ISTIO_REDIRECT
            iptables -t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
            iptables -t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
            iptables -t nat -D OUTPUT -j ISTIO_OUTPUT
            iptables -t nat -D ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
            iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND
            iptables -t nat -F ISTIO_OUTPUT
            iptables -t nat -X ISTIO_OUTPUT
            iptables -t nat -F ISTIO_INBOUND
            iptables -t nat -X ISTIO_INBOUND
            iptables -t nat -F ISTIO_IN_REDIRECT
            iptables -t nat -X ISTIO_IN_REDIRECT
            iptables -t nat -F ISTIO_REDIRECT
            iptables -t nat -X ISTIO_REDIRECT
            iptables-save
            """)
    }

    /// Cleanup for the `tproxy` golden's config (dual-stack, DNS, an excluded NIC): both families,
    /// `-I` positions dropped, every table's ISTIO_* chains flushed and deleted.
    @Test func cleanupUndoesTProxyDualStack() throws {
        let golden = try #require(istioInitGoldens.first { $0.name == "tproxy" })
        let rules = try makeRules(golden)
        #expect(rules.dryRunTranscript(cleanupOnly: true) == """
            iptables-save
            ip6tables-save
            iptables -t mangle -D OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
            iptables -t mangle -D OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
            iptables -t mangle -D OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
            iptables -t mangle -D OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
            iptables -t mangle -D PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
            iptables -t nat -D ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT
            iptables -t raw -D PREROUTING -j ISTIO_INBOUND
            iptables -t nat -D ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
            iptables -t raw -D OUTPUT -j ISTIO_OUTPUT_DNS
            iptables -t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
            iptables -t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
            iptables -t nat -D OUTPUT -j ISTIO_OUTPUT
            iptables -t mangle -D ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
            iptables -t mangle -D ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
            iptables -t mangle -D PREROUTING -p tcp -j ISTIO_INBOUND
            iptables -t mangle -D OUTPUT -o not-istio-nic -j RETURN
            iptables -t mangle -D PREROUTING -i not-istio-nic -j RETURN
            iptables -t nat -D OUTPUT -o not-istio-nic -j RETURN
            iptables -t nat -D PREROUTING -i not-istio-nic -j RETURN
            iptables -t mangle -F ISTIO_INBOUND
            iptables -t mangle -X ISTIO_INBOUND
            iptables -t nat -F ISTIO_OUTPUT
            iptables -t nat -X ISTIO_OUTPUT
            iptables -t raw -F ISTIO_INBOUND
            iptables -t raw -X ISTIO_INBOUND
            iptables -t raw -F ISTIO_OUTPUT_DNS
            iptables -t raw -X ISTIO_OUTPUT_DNS
            iptables -t nat -F ISTIO_OUTPUT_DNS
            iptables -t nat -X ISTIO_OUTPUT_DNS
            iptables -t mangle -F ISTIO_TPROXY
            iptables -t mangle -X ISTIO_TPROXY
            iptables -t mangle -F ISTIO_DIVERT
            iptables -t mangle -X ISTIO_DIVERT
            iptables -t nat -F ISTIO_IN_REDIRECT
            iptables -t nat -X ISTIO_IN_REDIRECT
            iptables -t nat -F ISTIO_REDIRECT
            iptables -t nat -X ISTIO_REDIRECT
            iptables -t nat -F ISTIO_INBOUND
            iptables -t nat -X ISTIO_INBOUND
            ip6tables -t mangle -D OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
            ip6tables -t mangle -D OUTPUT ! -d ::1/128 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
            ip6tables -t mangle -D OUTPUT ! -d ::1/128 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
            ip6tables -t mangle -D OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
            ip6tables -t mangle -D PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
            ip6tables -t raw -D OUTPUT -j ISTIO_OUTPUT_DNS
            ip6tables -t nat -D ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
            ip6tables -t nat -D ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
            ip6tables -t nat -D OUTPUT -j ISTIO_OUTPUT
            ip6tables -t mangle -D ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
            ip6tables -t mangle -D ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
            ip6tables -t mangle -D PREROUTING -p tcp -j ISTIO_INBOUND
            ip6tables -t mangle -D OUTPUT -o not-istio-nic -j RETURN
            ip6tables -t mangle -D PREROUTING -i not-istio-nic -j RETURN
            ip6tables -t nat -D OUTPUT -o not-istio-nic -j RETURN
            ip6tables -t nat -D PREROUTING -i not-istio-nic -j RETURN
            ip6tables -t mangle -F ISTIO_INBOUND
            ip6tables -t mangle -X ISTIO_INBOUND
            ip6tables -t nat -F ISTIO_OUTPUT
            ip6tables -t nat -X ISTIO_OUTPUT
            ip6tables -t raw -F ISTIO_OUTPUT_DNS
            ip6tables -t raw -X ISTIO_OUTPUT_DNS
            ip6tables -t mangle -F ISTIO_TPROXY
            ip6tables -t mangle -X ISTIO_TPROXY
            ip6tables -t mangle -F ISTIO_DIVERT
            ip6tables -t mangle -X ISTIO_DIVERT
            ip6tables -t nat -F ISTIO_IN_REDIRECT
            ip6tables -t nat -X ISTIO_IN_REDIRECT
            ip6tables -t nat -F ISTIO_REDIRECT
            ip6tables -t nat -X ISTIO_REDIRECT
            ip6tables -t nat -F ISTIO_INBOUND
            ip6tables -t nat -X ISTIO_INBOUND
            iptables-save
            ip6tables-save
            """)
    }

    /// `ip` commands for tools/common/tproxy: the `::6` address whenever IPv6 is on; the policy rule and
    /// local route only for TPROXY with inbound ports.
    @Test func routeCommands() throws {
        var tproxy = try CaptureSettings.parse(arguments: ["-m", "TPROXY", "-b", "*", "-t", "7", "-r", "77"],
                                               environment: [:]).settings
        tproxy.enableIPv6 = true
        #expect(captureRules(tproxy).routeCommands == [
            RouteCommand(arguments: ["-6", "addr", "add", "::6/128", "dev", "lo"], toleratesExisting: true),
            RouteCommand(arguments: ["-4", "rule", "add", "fwmark", "7", "lookup", "77"], toleratesExisting: false),
            RouteCommand(arguments: ["-6", "rule", "add", "fwmark", "7", "lookup", "77"], toleratesExisting: false),
            RouteCommand(arguments: ["-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "77"],
                         toleratesExisting: true),
            RouteCommand(arguments: ["-6", "route", "add", "local", "::/0", "dev", "lo", "table", "77"],
                         toleratesExisting: true),
        ])
        tproxy.enableIPv6 = false
        #expect(captureRules(tproxy).routeCommands.count == 2)
        tproxy.inboundPorts = ""
        #expect(captureRules(tproxy).routeCommands.isEmpty)

        var redirect = CaptureSettings()
        redirect.inboundPorts = "*"
        #expect(captureRules(redirect).routeCommands.isEmpty)
        redirect.enableIPv6 = true
        #expect(captureRules(redirect).routeCommands.map(\.arguments) == [["-6", "addr", "add", "::6/128", "dev", "lo"]])
    }

    /// `-i`/`-x` ranges go to their family's table, written the way Go's netip prints them.
    @Test func rangesAreSplitByFamilyAndNormalised() throws {
        var settings = try CaptureSettings.parse(
            arguments: ["-i", "2001:DB8:0:0:0:0:0:0/32,10.0.0.0/8", "-x", "::ffff:10.1.2.3/128,10.1.0.0/16"],
            environment: [:]
        ).settings
        settings.enableIPv6 = true
        let rules = captureRules(settings)
        let v4 = lines(rules.ipv4Restore)
        let v6 = lines(rules.ipv6Restore)
        #expect(v4.contains("-A ISTIO_OUTPUT -d 10.1.0.0/16 -j RETURN"))
        #expect(v4.contains("-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT"))
        #expect(!v4.contains("-A ISTIO_OUTPUT -d 2001:db8::/32 -j ISTIO_REDIRECT"))
        #expect(v6.contains("-A ISTIO_OUTPUT -d ::ffff:10.1.2.3/128 -j RETURN"))
        #expect(v6.contains("-A ISTIO_OUTPUT -d 2001:db8::/32 -j ISTIO_REDIRECT"))
        #expect(!v6.contains("-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT"))
    }

    /// Istio quirk kept: ISTIO_OUTBOUND_OWNER_GROUPS set but empty captures no outbound traffic at all.
    @Test func emptyOwnerGroupIncludeReturnsEverything() throws {
        let settings = try CaptureSettings.parse(arguments: ["-i", "*"],
                                                 environment: ["ISTIO_OUTBOUND_OWNER_GROUPS": ""]).settings
        let v4 = lines(captureRules(settings).ipv4Restore)
        let returnAll = try #require(v4.firstIndex(of: "-A ISTIO_OUTPUT -j RETURN"))
        let redirectAll = try #require(v4.firstIndex(of: "-A ISTIO_OUTPUT -j ISTIO_REDIRECT"))
        #expect(returnAll < redirectAll)
    }

    /// `--capture-all-dns` needs no resolv.conf servers and captures port 53 in both families.
    @Test func captureAllDNSInBothFamilies() throws {
        var settings = try CaptureSettings.parse(arguments: ["--redirect-dns", "--capture-all-dns"], environment: [:]).settings
        settings.enableIPv6 = true
        let rules = captureRules(settings)
        for text in [rules.ipv4Restore, rules.ipv6Restore] {
            let all = lines(text)
            #expect(all.contains("-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS"))
            #expect(all.contains("-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -j REDIRECT --to-ports 15053"))
            #expect(all.contains("-A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053"))
            #expect(all.contains("-A ISTIO_INBOUND -p udp --sport 53 -j CT --zone 1"))
        }
    }

    // MARK: Flags and environment

    @Test func defaultsAreIstios() throws {
        let (settings, options) = try CaptureSettings.parse(arguments: [], environment: [:])
        #expect(settings == CaptureSettings())
        #expect(options == CaptureOptions())
        #expect(settings.envoyPort == "15001")
        #expect(settings.inboundCapturePort == "15006")
        #expect(settings.inboundTunnelPort == "15008")
        #expect(settings.inboundTProxyMark == "1337")
        #expect(settings.inboundTProxyRouteTable == "133")
        #expect(settings.ownerGroupsInclude == "*")
        #expect(settings.ipv4LoopbackCIDR == "127.0.0.1/32")
        #expect(options.iptablesProbePort == 15002)
        #expect(options.probeTimeout == .seconds(5))
    }

    @Test(arguments: [
        ["-p", "16001"], ["-p16001"], ["-p=16001"], ["--envoy-port", "16001"], ["--envoy-port=16001"],
    ])
    func flagSpellings(_ arguments: [String]) throws {
        #expect(try CaptureSettings.parse(arguments: arguments, environment: [:]).settings.envoyPort == "16001")
    }

    @Test func longFormsOfEveryShorthand() throws {
        let (settings, options) = try CaptureSettings.parse(arguments: [
            "--envoy-port=1", "--inbound-capture-port=2", "--inbound-tunnel-port=3", "--proxy-uid=4", "--proxy-gid=5",
            "--istio-inbound-interception-mode=TPROXY", "--istio-inbound-ports=6,7", "--istio-local-exclude-ports=8",
            "--istio-service-cidr=10.0.0.0/8", "--istio-service-exclude-cidr=10.1.0.0/16",
            "--istio-outbound-ports=9", "--istio-local-outbound-ports-exclude=10", "--kube-virt-interfaces=eth1",
            "--istio-exclude-interfaces=eth2", "--istio-inbound-tproxy-mark=11", "--istio-inbound-tproxy-route-table=12",
            "--dry-run", "--redirect-dns", "--capture-all-dns", "--drop-invalid", "--dual-stack",
        ], environment: [:])
        var expected = CaptureSettings()
        expected.envoyPort = "1"
        expected.inboundCapturePort = "2"
        expected.inboundTunnelPort = "3"
        expected.proxyUID = ["4"]
        expected.proxyGID = ["5"]
        expected.interceptionMode = .tproxy
        expected.inboundPorts = "6,7"
        expected.localExcludePorts = ["8"]
        expected.serviceCIDRs = "10.0.0.0/8"
        expected.serviceExcludeCIDRs = "10.1.0.0/16"
        expected.outboundPorts = ["9"]
        expected.localOutboundPortsExclude = ["10"]
        expected.kubeVirtInterfaces = ["eth1"]
        expected.excludeInterfaces = ["eth2"]
        expected.inboundTProxyMark = "11"
        expected.inboundTProxyRouteTable = "12"
        expected.redirectDNS = true
        expected.captureAllDNS = true
        expected.dropInvalid = true
        expected.dualStack = true
        #expect(settings == expected)
        #expect(options.dryRun)
    }

    @Test func environmentForms() throws {
        let (settings, options) = try CaptureSettings.parse(arguments: [], environment: [
            "INBOUND_CAPTURE_PORT": "16006",
            "INBOUND_TUNNEL_PORT": "16008",
            "PROXY_UID": "101",
            "PROXY_GID": "102",
            "ISTIO_INBOUND_INTERCEPTION_MODE": "TPROXY",
            "ISTIO_INBOUND_PORTS": "80,443",
            "ISTIO_LOCAL_EXCLUDE_PORTS": "15090,15021",
            "ISTIO_SERVICE_CIDR": "10.96.0.0/12",
            "ISTIO_SERVICE_EXCLUDE_CIDR": "10.96.0.1/32",
            "ISTIO_OUTBOUND_PORTS": "3306",
            "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE": "15020",
            "KUBE_VIRT_INTERFACES": "eth1,eth2",
            "ISTIO_EXCLUDE_INTERFACES": "eth3",
            "ISTIO_INBOUND_TPROXY_MARK": "7",
            "ISTIO_INBOUND_TPROXY_ROUTE_TABLE": "77",
            "INVALID_DROP": "true",
            "ISTIO_META_DNS_CAPTURE": "True",
            "CAPTURE_ALL_DNS": "1",
            "ISTIO_DUAL_STACK": "t",
            "ISTIO_OUTBOUND_OWNER_GROUPS": "java,202",
            "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE": "888",
            "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR": "127.0.0.1/8",
            "DRY_RUN": "true",
            "CLEANUP_ONLY": "true",
            "PROBE_TIMEOUT": "1m30s",
            "IPTABLES_PROBE_PORT": "15003",
        ])
        #expect(settings.inboundCapturePort == "16006")
        #expect(settings.inboundTunnelPort == "16008")
        #expect(settings.proxyUID == ["101"])
        #expect(settings.proxyGID == ["102"])
        #expect(settings.interceptionMode == .tproxy)
        #expect(settings.inboundPorts == "80,443")
        #expect(settings.localExcludePorts == ["15090", "15021"])
        #expect(settings.serviceCIDRs == "10.96.0.0/12")
        #expect(settings.serviceExcludeCIDRs == "10.96.0.1/32")
        #expect(settings.outboundPorts == ["3306"])
        #expect(settings.localOutboundPortsExclude == ["15020"])
        #expect(settings.kubeVirtInterfaces == ["eth1", "eth2"])
        #expect(settings.excludeInterfaces == ["eth3"])
        #expect(settings.inboundTProxyMark == "7")
        #expect(settings.inboundTProxyRouteTable == "77")
        #expect(settings.dropInvalid)
        #expect(settings.redirectDNS)
        #expect(settings.captureAllDNS)
        #expect(settings.dualStack)
        #expect(settings.ownerGroupsInclude == "java,202")
        #expect(settings.ownerGroupsExclude == "888")
        #expect(settings.ipv4LoopbackCIDR == "127.0.0.1/8")
        #expect(options.dryRun)
        #expect(options.cleanupOnly)
        #expect(options.probeTimeout == .seconds(90))
        #expect(options.iptablesProbePort == 15003)
    }

    /// root.go binds `envoy-port` with `flag.Bind`, not `flag.BindEnv`.
    @Test func envoyPortHasNoEnvironmentVariable() throws {
        let settings = try CaptureSettings.parse(arguments: [], environment: ["ENVOY_PORT": "16001"]).settings
        #expect(settings.envoyPort == "15001")
    }

    @Test func flagsWinOverEnvironment() throws {
        let (settings, options) = try CaptureSettings.parse(
            arguments: ["-z", "15006", "-b", "*", "--redirect-dns=false", "--dry-run=false", "-m", "REDIRECT"],
            environment: [
                "INBOUND_CAPTURE_PORT": "16006", "ISTIO_INBOUND_PORTS": "80", "ISTIO_META_DNS_CAPTURE": "true",
                "DRY_RUN": "true", "ISTIO_INBOUND_INTERCEPTION_MODE": "TPROXY",
            ]
        )
        #expect(settings.inboundCapturePort == "15006")
        #expect(settings.inboundPorts == "*")
        #expect(!settings.redirectDNS)
        #expect(settings.interceptionMode == .redirect)
        #expect(!options.dryRun)
    }

    /// `flag.AdditionalEnv` runs after `BindEnv`, so the older name wins; unparsable booleans are ignored.
    @Test func additionalEnvironmentNamesAndBadBooleans() throws {
        let dns = try CaptureSettings.parse(arguments: [], environment: [
            "REDIRECT_DNS": "false", "ISTIO_META_DNS_CAPTURE": "true",
            "DROP_INVALID": "true", "INVALID_DROP": "false",
            "DUAL_STACK": "true", "ISTIO_DUAL_STACK": "yes",
        ]).settings
        #expect(dns.redirectDNS)
        #expect(!dns.dropInvalid)
        #expect(dns.dualStack)
        let ignored = try CaptureSettings.parse(arguments: [], environment: ["ISTIO_META_DNS_CAPTURE": "yes"]).settings
        #expect(!ignored.redirectDNS)
    }

    @Test func proxyIDsDefaults() throws {
        let listed = try CaptureSettings.parse(arguments: ["-u", "3,4"], environment: [:]).settings
        #expect(listed.proxyUID == ["3", "4"])
        #expect(listed.proxyGID == ["3", "4"])

        let lookup: (String) -> String? = { $0 == "envoy" ? "101" : nil }
        let looked = try CaptureSettings.parse(arguments: ["-u", ""], environment: ["ENVOY_USER": "envoy"],
                                               lookupUserID: lookup)
        #expect(looked.settings.proxyUID == ["101"])
        #expect(looked.settings.proxyGID == ["101"])
        #expect(looked.options.envoyUser == "envoy")

        let unknown = try CaptureSettings.parse(arguments: ["-g", "7"], environment: [:], lookupUserID: lookup)
        #expect(unknown.settings.proxyUID == ["1337"])
        #expect(unknown.settings.proxyGID == ["7"])
    }

    @Test func shorthandClustersPositionalsAndIgnoredFlags() throws {
        let (settings, options) = try CaptureSettings.parse(
            arguments: ["-nh", "--log_as_json", "--log_output_level", "default:debug", "--log_target=stdout",
                        "stray", "--", "-p", "1"],
            environment: [:]
        )
        #expect(options.dryRun)
        #expect(options.showHelp)
        #expect(options.ignoredArguments == ["stray", "-p", "1"])
        #expect(settings.envoyPort == "15001")
        // pflag takes the next argument as the value even when it starts with "-".
        #expect(parseError(["-z", "-1"])?.value == "-1")
    }

    @Test(arguments: [
        FlagErrorCase(arguments: ["-p", "abc"], kind: .invalidPort, flag: "-p", value: "abc"),
        FlagErrorCase(arguments: ["--envoy-port=70000"], kind: .invalidPort, flag: "--envoy-port", value: "70000"),
        FlagErrorCase(arguments: ["-z", "0"], kind: .invalidPort, flag: "-z", value: "0"),
        FlagErrorCase(arguments: [], environment: ["INBOUND_CAPTURE_PORT": "x"], kind: .invalidPort,
                      flag: "INBOUND_CAPTURE_PORT", value: "x"),
        FlagErrorCase(arguments: ["-b", "80,http"], kind: .invalidPort, flag: "-b", value: "http"),
        FlagErrorCase(arguments: ["-d", "15090,,1509a"], kind: .invalidPort, flag: "-d", value: "1509a"),
        FlagErrorCase(arguments: ["-o", "99999"], kind: .invalidPort, flag: "-o", value: "99999"),
        FlagErrorCase(arguments: ["-q", "080"], kind: .invalidPort, flag: "-q", value: "080"),
        FlagErrorCase(arguments: ["-i", "10.0.0.0/33"], kind: .invalidCIDR, flag: "-i", value: "10.0.0.0/33"),
        FlagErrorCase(arguments: ["-i", "10.0.0.0/8, 11.0.0.0/8"], kind: .invalidCIDR, flag: "-i", value: " 11.0.0.0/8"),
        FlagErrorCase(arguments: ["-x", "*"], kind: .invalidCIDR, flag: "-x", value: "*"),
        FlagErrorCase(arguments: ["-x", "010.0.0.0/8"], kind: .invalidCIDR, flag: "-x", value: "010.0.0.0/8"),
        FlagErrorCase(arguments: [], environment: ["ISTIO_SERVICE_EXCLUDE_CIDR": "fe80::1%eth0/64"], kind: .invalidCIDR,
                      flag: "ISTIO_SERVICE_EXCLUDE_CIDR", value: "fe80::1%eth0/64"),
        FlagErrorCase(arguments: ["-m", "tproxy"], kind: .invalidMode, flag: "-m", value: "tproxy"),
        FlagErrorCase(arguments: [], environment: ["ISTIO_INBOUND_INTERCEPTION_MODE": "NONE"], kind: .invalidMode,
                      flag: "ISTIO_INBOUND_INTERCEPTION_MODE", value: "NONE"),
        FlagErrorCase(arguments: ["-m", "TPROXY", "-t", "0x539"], kind: .invalidNumber, flag: "-t", value: "0x539"),
        FlagErrorCase(arguments: ["--frobnicate"], kind: .unknownFlag, flag: "--frobnicate", value: ""),
        FlagErrorCase(arguments: ["-y"], kind: .unknownFlag, flag: "-y", value: ""),
        FlagErrorCase(arguments: ["-p"], kind: .missingValue, flag: "-p", value: ""),
        FlagErrorCase(arguments: ["--envoy-port"], kind: .missingValue, flag: "--envoy-port", value: ""),
        FlagErrorCase(arguments: ["--dry-run=maybe"], kind: .invalidBool, flag: "--dry-run", value: "maybe"),
        FlagErrorCase(arguments: ["--iptables-probe-port", "70000"], kind: .invalidNumber,
                      flag: "--iptables-probe-port", value: "70000"),
        FlagErrorCase(arguments: ["--probe-timeout", "5 seconds"], kind: .invalidValue,
                      flag: "--probe-timeout", value: "5 seconds"),
        FlagErrorCase(arguments: ["--force-iptables-binary", "iptables"], kind: .invalidValue,
                      flag: "--force-iptables-binary", value: "iptables"),
        FlagErrorCase(arguments: [], environment: ["ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR": "10.0.0.1/32"],
                      kind: .invalidCIDR, flag: "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", value: "10.0.0.1/32"),
        FlagErrorCase(arguments: [], environment: ["ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR": "127.0.0.1/7"],
                      kind: .invalidCIDR, flag: "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", value: "127.0.0.1/7"),
        FlagErrorCase(arguments: [],
                      environment: ["ISTIO_OUTBOUND_OWNER_GROUPS": (1...65).map { String($0) }.joined(separator: ",")],
                      kind: .invalidValue, flag: "ISTIO_OUTBOUND_OWNER_GROUPS",
                      value: (1...65).map { String($0) }.joined(separator: ",")),
    ])
    func rejectsBadValues(_ bad: FlagErrorCase) throws {
        let error = try #require(parseError(bad.arguments, bad.environment))
        #expect(error.kind == bad.kind)
        #expect(error.flag == bad.flag)
        #expect(error.value == bad.value)
    }

    @Test func errorDescriptionsNameFlagAndValue() {
        #expect(parseError(["-p", "abc"])?.description == "invalid value \"abc\" for -p: expected a port number 1-65535")
        #expect(parseError(["--frobnicate"])?.description == "unknown flag: --frobnicate")
        #expect(parseError(["-p"])?.description == "flag needs an argument: -p")
    }

    // MARK: What istio-iptables reads from the pod

    @Test func dnsServersFromResolvConf() {
        let servers = CaptureSettings.dnsServers(fromResolvConf: """
            search default.svc.cluster.local svc.cluster.local
            nameserver 10.96.0.10
            nameserver 2001:DB8::A\r
            nameserver ::127.0.0.53 # local
            options ndots:5
            nameserver bogus
            #nameserver 1.1.1.1
              nameserver 1.0.0.1
            """)
        #expect(servers.ipv4 == ["10.96.0.10", "1.0.0.1"])
        #expect(servers.ipv6 == ["2001:db8::a", "::7f00:35"])
    }

    @Test(arguments: [
        (["127.0.0.1", "10.1.2.3/24", "fd00::5"], false, Optional(false)),
        (["127.0.0.1", "10.1.2.3/24", "fd00::5"], true, Optional(true)),
        (["::1", "fe80::1%eth0", "fd00::5", "10.1.2.3"], false, Optional(true)),
        (["169.254.1.1", "224.0.0.251", "10.0.0.1"], false, Optional(false)),
        (["::ffff:10.1.2.3"], true, Optional(false)),
        (["127.0.0.1", "::1", "fe80::1"], false, Optional<Bool>.none),
    ])
    func podFamilyFromAddresses(_ row: ([String], Bool, Bool?)) {
        let (addresses, dualStack, expected) = row
        #expect(CaptureSettings.podUsesIPv6(interfaceAddresses: addresses, dualStack: dualStack) == expected)
    }

    @Test func applyPodEnvironment() throws {
        let parsed = try CaptureSettings.parse(arguments: ["--redirect-dns"], environment: [:]).settings
        func failure(_ addresses: [String], _ resolvConf: String?) -> CaptureFlagError? {
            var settings = parsed
            do throws(CaptureFlagError) {
                try settings.applyPodEnvironment(interfaceAddresses: addresses, resolvConf: resolvConf)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure(["10.0.0.5"], nil)?.kind == .podEnvironment)
        #expect(failure(["127.0.0.1"], "")?.kind == .podEnvironment)

        var settings = parsed
        try settings.applyPodEnvironment(interfaceAddresses: ["fd00::5"], resolvConf: "nameserver 10.96.0.10\n")
        #expect(settings.enableIPv6)
        #expect(settings.dnsServersV4 == ["10.96.0.10"])
        #expect(settings.dnsServersV6.isEmpty)
    }

    // MARK: Go netip parsing and printing

    @Test(arguments: [
        ("10.0.0.1/8", "10.0.0.1/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8:0:0:0:0:0:0/32", "2001:db8::/32"),
        ("0:0:0:0:0:0:0:1/128", "::1/128"),
        ("1:0:0:2:0:0:0:3/128", "1:0:0:2::3/128"),
        ("1:0:0:2:0:0:3:4/64", "1::2:0:0:3:4/64"),
        ("1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:7:8/128"),
        ("::ffff:1.2.3.4/128", "::ffff:1.2.3.4/128"),
        ("::1.2.3.4/128", "::102:304/128"),
        ("fe80::/10", "fe80::/10"),
    ])
    func prefixesPrintLikeGo(_ text: String, _ printed: String) {
        #expect(IPPrefix(parsing: text)?.description == printed)
    }

    @Test(arguments: [
        "10.0.0.0", "10.0.0.0/08", "10.0.0.0/+8", "1.2.3/8", "256.0.0.0/8", "01.2.3.4/8", "1.2.3.4/33",
        "fe80::1%eth0/64", "1::2::3/64", "12345::/16", "::/129", "1:2:3:4:5:6:7:8:9/64", "1:2:3:4:5:6:7::8/64",
        "1:/64", ":1/64", "::ffff:1.2.3/96", "1.2.3.4::/64", "/8", "",
    ])
    func rejectsWhatGoRejects(_ text: String) {
        #expect(IPPrefix(parsing: text) == nil)
    }
}

// Generated from istio/istio@86c9f01f (tools/istio-iptables/pkg/capture/testdata/*.golden and
// cni/pkg/plugin/testdata/*.txt.golden); the flags restate the configs of run_test.go and
// plugin_dryrun_test.go. Do not edit the expected texts by hand: they are Istio's output.

/// istio-init: the full dry-run transcript (state probes, restore input, final saves).
let istioInitGoldens: [CaptureGolden] = [
    CaptureGolden(
        name: "ipv6-empty-inbound-ports",
        arguments: [],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ip-range",
        arguments: ["-x", "1.1.0.0/16", "-i", "9.9.0.0/16", "--dry-run", "--redirect-dns", "-g", "1,2", "-u", "3,4"],
        dnsServersV4: ["127.0.0.53"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN
        -A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "tproxy",
        arguments: ["-m", "TPROXY", "-b", "*", "-x", "1.1.0.0/16", "-i", "9.9.0.0/16", "-n", "--redirect-dns", "-g", "1337", "-u", "1337", "-c", "not-istio-nic"],
        enableIPv6: true,
        dnsServersV4: ["127.0.0.53"],
        expected: """
        iptables-save
        ip6tables-save
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A PREROUTING -i not-istio-nic -j RETURN
        -A OUTPUT -o not-istio-nic -j RETURN
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A PREROUTING -i not-istio-nic -j RETURN
        -A OUTPUT -o not-istio-nic -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN
        -A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1337 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1
        COMMIT
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A PREROUTING -i not-istio-nic -j RETURN
        -A OUTPUT -o not-istio-nic -j RETURN
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d ::1/128 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d ::1/128 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT ! -d ::1/128 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s ::6/128 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A PREROUTING -i not-istio-nic -j RETURN
        -A OUTPUT -o not-istio-nic -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1337 -j CT --zone 2
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-inbound-ports",
        arguments: ["-b", "4000,5000"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-virt-interfaces",
        arguments: ["-b", "4000,5000", "-k", "eth0,eth1"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-ipnets",
        arguments: ["-b", "4000,5000", "-d", "6000,7000,", "-k", "eth0,eth1", "-x", "2001:db8::/32", "-i", "2001:db8::/32"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        -A ISTIO_OUTPUT -d 2001:db8::/32 -j RETURN
        -I PREROUTING 1 -i eth0 -d 2001:db8::/32 -j ISTIO_REDIRECT
        -I PREROUTING 1 -i eth1 -d 2001:db8::/32 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -d 2001:db8::/32 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-uid-gid",
        arguments: ["-b", "4000,5000", "-d", "6000,7000", "-k", "eth0,eth1", "-g", "1,2", "-u", "3,4", "-x", "2001:db8::/32", "-i", "2001:db8::/32"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth0 -j RETURN
        -I PREROUTING 1 -i eth1 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        -A ISTIO_OUTPUT -d 2001:db8::/32 -j RETURN
        -I PREROUTING 1 -i eth0 -d 2001:db8::/32 -j ISTIO_REDIRECT
        -I PREROUTING 1 -i eth1 -d 2001:db8::/32 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -d 2001:db8::/32 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-outbound-ports",
        arguments: ["-b", "", "-q", "32000,31000"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -p tcp --dport 31000 -j ISTIO_REDIRECT
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        -A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -p tcp --dport 31000 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "empty",
        arguments: [],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "kube-virt-interfaces",
        arguments: ["-k", "eth1,eth2", "-i", "*"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth1 -j RETURN
        -I PREROUTING 1 -i eth2 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        -I PREROUTING 1 -i eth1 -j ISTIO_REDIRECT
        -I PREROUTING 1 -i eth2 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "ipnets",
        arguments: ["-i", "10.0.0.0/8"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "ipnets-with-kube-virt-interfaces",
        arguments: ["-k", "eth1,eth2", "-i", "10.0.0.0/8"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -I PREROUTING 1 -i eth1 -j RETURN
        -I PREROUTING 1 -i eth2 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -I PREROUTING 1 -i eth1 -d 10.0.0.0/8 -j ISTIO_REDIRECT
        -I PREROUTING 1 -i eth2 -d 10.0.0.0/8 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "inbound-ports-include",
        arguments: ["-b", "32000,31000"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 32000 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 31000 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "inbound-ports-wildcard",
        arguments: ["-b", "*"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "inbound-ports-tproxy",
        arguments: ["-b", "32000,31000", "-m", "TPROXY"],
        expected: """
        iptables-save
        ip6tables-save
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 32000 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp --dport 32000 -j ISTIO_TPROXY
        -A ISTIO_INBOUND -p tcp --dport 31000 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp --dport 31000 -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "inbound-ports-wildcard-tproxy",
        arguments: ["-b", "*", "-m", "TPROXY"],
        expected: """
        iptables-save
        ip6tables-save
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "dns-uid-gid",
        arguments: ["--redirect-dns", "-g", "1,2", "-u", "3,4"],
        enableIPv6: true,
        dnsServersV4: ["127.0.0.53"],
        dnsServersV6: ["::127.0.0.53"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d ::127.0.0.53/128 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ::127.0.0.53/128 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ::127.0.0.53/128 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -s ::127.0.0.53/128 -j CT --zone 1
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-dns-uid-gid",
        arguments: ["--redirect-dns", "-g", "1,2", "-u", "3,4"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "outbound-owner-groups",
        arguments: [],
        environment: ["ISTIO_OUTBOUND_OWNER_GROUPS": "java,202"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner ! --gid-owner java -m owner ! --gid-owner 202 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "outbound-owner-groups-exclude",
        arguments: [],
        environment: ["ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE": "888,ftp"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 888 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner ftp -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-dns-outbound-owner-groups",
        arguments: ["--redirect-dns"],
        environment: ["ISTIO_OUTBOUND_OWNER_GROUPS": "java,202"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner ! --gid-owner java -m owner ! --gid-owner 202 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner ! --gid-owner java -m owner ! --gid-owner 202 -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "ipv6-dns-outbound-owner-groups-exclude",
        arguments: ["--redirect-dns"],
        environment: ["ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE": "888,ftp"],
        enableIPv6: true,
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 888 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner ftp -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d ::1/128 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 888 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner ftp -j RETURN
        -A ISTIO_OUTPUT -d ::1/128 -j RETURN
        COMMIT
        iptables-save
        ip6tables-save
        """
    ),
    CaptureGolden(
        name: "outbound-ports-include",
        arguments: ["-q", "32000,31000"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT
        -A ISTIO_OUTPUT -p tcp --dport 31000 -j ISTIO_REDIRECT
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "loopback-outbound-iprange",
        arguments: ["-i", "127.1.2.3/32", "--dry-run", "--redirect-dns", "-g", "1,2", "-u", "3,4"],
        dnsServersV4: ["127.0.0.53"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -d 127.1.2.3/32 -j ISTIO_REDIRECT
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "basic-exclude-nic",
        arguments: ["-c", "not-istio-nic"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A PREROUTING -i not-istio-nic -j RETURN
        -A OUTPUT -o not-istio-nic -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "drop-invalid",
        arguments: ["--drop-invalid"],
        expected: """
        iptables-save
        ip6tables-save
        * mangle
        -N ISTIO_DROP
        -A PREROUTING -m conntrack --ctstate INVALID -j ISTIO_DROP
        -A ISTIO_DROP -j DROP
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        COMMIT
        iptables-save
        """
    ),
    CaptureGolden(
        name: "host-ipv4-loopback-cidr",
        arguments: [],
        environment: ["ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR": "127.0.0.1/8"],
        expected: """
        iptables-save
        ip6tables-save
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/8 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/8 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/8 -j RETURN
        COMMIT
        iptables-save
        """
    ),
]

/// istio-cni: the IPv4 iptables-restore input only (its goldens drop the save lines).
let istioCNIGoldens: [CaptureGolden] = [
    CaptureGolden(
        name: "cni-basic",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020"],
        expected: """
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-include-exclude-ip",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "REDIRECT", "-i", "127.0.0.0/8", "-x", "10.0.0.0/8", "-b", "*", "-d", "15020,15021,15090", "-o", "15020"],
        expected: """
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -d 10.0.0.0/8 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.0/8 -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-include-exclude-ports",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "1111,2222", "-d", "3333,4444,15020,15021,15090", "-o", "5555,6666"],
        expected: """
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 1111 -j ISTIO_IN_REDIRECT
        -A ISTIO_INBOUND -p tcp --dport 2222 -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 5555 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 5555 -j RETURN
        -A ISTIO_OUTPUT -p tcp --dport 6666 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 6666 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-tproxy",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "TPROXY", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020"],
        expected: """
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-dns",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020", "--redirect-dns", "--capture-all-dns"],
        expected: """
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -N ISTIO_OUTPUT_DNS
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p tcp --dport 53 -j REDIRECT --to-ports 15053
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -j REDIRECT --to-port 15053
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        * raw
        -N ISTIO_OUTPUT_DNS
        -N ISTIO_INBOUND
        -A OUTPUT -j ISTIO_OUTPUT_DNS
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 1337 -j CT --zone 2
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1337 -j CT --zone 1
        -A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1337 -j CT --zone 2
        -A PREROUTING -j ISTIO_INBOUND
        -A ISTIO_OUTPUT_DNS -p udp --dport 53 -j CT --zone 2
        -A ISTIO_INBOUND -p udp --sport 53 -j CT --zone 1
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-invalid-drop",
        arguments: ["-p", "15001", "-u", "1337", "-g", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020", "--drop-invalid"],
        expected: """
        * mangle
        -N ISTIO_DROP
        -A PREROUTING -m conntrack --ctstate INVALID -j ISTIO_DROP
        -A ISTIO_DROP -j DROP
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-custom-uid",
        arguments: ["-p", "15001", "-u", "1000670000", "-g", "1000670001", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020"],
        expected: """
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1000670000 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1000670000 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1000670000 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1000670001 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1000670001 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1000670001 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
    CaptureGolden(
        name: "cni-custom-uid-tproxy",
        arguments: ["-p", "15001", "-u", "1000670000", "-g", "1000670001", "-m", "TPROXY", "-i", "*", "-x", "", "-b", "*", "-d", "15020,15021,15090", "-o", "15020"],
        expected: """
        * mangle
        -N ISTIO_DIVERT
        -N ISTIO_TPROXY
        -N ISTIO_INBOUND
        -A ISTIO_DIVERT -j MARK --set-mark 1337
        -A ISTIO_DIVERT -j ACCEPT
        -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
        -A PREROUTING -p tcp -j ISTIO_INBOUND
        -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
        -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
        -A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
        -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
        -A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
        -A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1000670000 -j MARK --set-mark 1338
        -A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1000670001 -j MARK --set-mark 1338
        -A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
        -I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
        -I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
        -I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
        COMMIT
        * nat
        -N ISTIO_INBOUND
        -N ISTIO_REDIRECT
        -N ISTIO_IN_REDIRECT
        -N ISTIO_OUTPUT
        -A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
        -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
        -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
        -A OUTPUT -j ISTIO_OUTPUT
        -A ISTIO_OUTPUT -p tcp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -p udp --dport 15020 -j RETURN
        -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1000670000 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1000670000 -j RETURN
        -A ISTIO_OUTPUT -m owner --uid-owner 1000670000 -j RETURN
        -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1000670001 -j ISTIO_IN_REDIRECT
        -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1000670001 -j RETURN
        -A ISTIO_OUTPUT -m owner --gid-owner 1000670001 -j RETURN
        -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
        -A ISTIO_OUTPUT -j ISTIO_REDIRECT
        COMMIT
        """
    ),
]
