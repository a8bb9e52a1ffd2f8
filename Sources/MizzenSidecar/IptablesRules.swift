// The istio-init (`istio-iptables`) rule generator behind `mizzen iptables`.
//
// Mirrors istio:tools/istio-iptables/pkg/capture/run.go, the rule builder in
// tools/istio-iptables/pkg/builder/iptables_builder_impl.go, the flags of pkg/cmd/root.go
// and the defaults of tools/common/config/config.go: the same flags give the same
// iptables-restore lines in the same order. Pure values, standard library only; running
// `iptables-restore`, `ip` and reading /etc/resolv.conf or the pod's addresses is the caller's job.

// MARK: - Settings

/// How inbound connections are handed to the proxy (`-m`).
package enum InterceptionMode: String, Sendable, Hashable {
    /// nat REDIRECT to the inbound capture port; the original destination comes from SO_ORIGINAL_DST.
    case redirect = "REDIRECT"
    /// mangle TPROXY plus a policy route; keeps the downstream source address visible to the app.
    case tproxy = "TPROXY"
}

/// What istio-iptables captures, in Istio's vocabulary and with Istio's defaults.
///
/// Lists hold the comma-separated entries with empty entries dropped (Istio's `config.Split`).
/// `inboundPorts`, `serviceCIDRs`, `serviceExcludeCIDRs` and the owner-group strings keep the raw
/// text because `""`, `"*"` and a list mean different things there.
package struct CaptureSettings: Sendable, Hashable {
    /// `-p`: where outbound TCP is redirected.
    package var envoyPort = "15001"
    /// `-z`: where inbound TCP is redirected (or TPROXY'd).
    package var inboundCapturePort = "15006"
    /// `-e`: the HBONE tunnel port, never captured inbound.
    package var inboundTunnelPort = "15008"
    /// `-u`: uids whose traffic is not redirected.
    package var proxyUID: [String] = ["1337"]
    /// `-g`: gids whose traffic is not redirected (defaults to the `-u` value).
    package var proxyGID: [String] = ["1337"]
    /// `-m`.
    package var interceptionMode: InterceptionMode = .redirect
    /// `-b`: `""` captures no inbound port, `"*"` all of them, otherwise a port list.
    package var inboundPorts = ""
    /// `-d`: inbound ports left alone; only honoured with `-b '*'`.
    package var localExcludePorts: [String] = []
    /// `-i`: outbound destinations captured: `""` none, `"*"` all, otherwise a CIDR list.
    package var serviceCIDRs = ""
    /// `-x`: outbound destinations never captured (CIDR list).
    package var serviceExcludeCIDRs = ""
    /// `-q`: outbound ports always captured.
    package var outboundPorts: [String] = []
    /// `-o`: outbound ports never captured (TCP and UDP).
    package var localOutboundPortsExclude: [String] = []
    /// `-k`: interfaces whose inbound traffic (from a VM) is treated as outbound.
    package var kubeVirtInterfaces: [String] = []
    /// `-c`: interfaces never captured in either direction.
    package var excludeInterfaces: [String] = []
    /// `-t`: the packet mark TPROXY sets and the policy rule matches.
    package var inboundTProxyMark = "1337"
    /// `-r`: the routing table the TPROXY policy rule points at.
    package var inboundTProxyRouteTable = "133"
    /// `--redirect-dns` (env `REDIRECT_DNS`, `ISTIO_META_DNS_CAPTURE`).
    package var redirectDNS = false
    /// `--capture-all-dns`: capture port 53 to any server, not only those in resolv.conf.
    package var captureAllDNS = false
    /// `--drop-invalid` (env `DROP_INVALID`, `INVALID_DROP`).
    package var dropInvalid = false
    /// `--dual-stack` (env `DUAL_STACK`, `ISTIO_DUAL_STACK`): only changes how `enableIPv6` is detected.
    package var dualStack = false
    /// Env `ISTIO_OUTBOUND_OWNER_GROUPS`: groups whose traffic is captured; `"*"` is every group.
    package var ownerGroupsInclude = "*"
    /// Env `ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE`: groups never captured (with include `"*"`).
    package var ownerGroupsExclude = ""
    /// Env `ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR`: written into rules as given.
    package var ipv4LoopbackCIDR = "127.0.0.1/32"
    /// Istio's `EnableIPv6`: set from the pod's addresses, not a flag (see `applyPodEnvironment`).
    /// When true, ip6tables rules are produced as well.
    package var enableIPv6 = false
    /// DNS servers from /etc/resolv.conf, read only when `redirectDNS && !captureAllDNS`.
    package var dnsServersV4: [String] = []
    package var dnsServersV6: [String] = []

    package init() {}
}

/// The flags of istio-iptables that steer the run rather than the rules.
package struct CaptureOptions: Sendable, Hashable {
    /// `-n`/`--dry-run`: print, run nothing (routes are skipped too).
    package var dryRun = false
    /// `--cleanup-only` (Mizzen also accepts `--cleanup`): remove the rules these settings would add.
    package var cleanupOnly = false
    package var skipRuleApply = false
    package var runValidation = false
    package var iptablesProbePort: UInt16 = 15002
    package var probeTimeout: Duration = .seconds(5)
    package var networkNamespace = ""
    package var cniMode = false
    package var reconcile = false
    package var forceApply = false
    /// `--native-nftables`: Istio then writes nftables instead; accepted, not implemented here.
    package var nativeNftables = false
    /// `--force-iptables-binary`: `""`, `legacy` or `nft`.
    package var forceIptablesBinary = ""
    /// Env `ENVOY_USER`: whose uid `-u` defaults to.
    package var envoyUser = "istio-proxy"
    /// `-h`/`--help`.
    package var showHelp = false
    /// Positional arguments; istio-iptables (cobra, no arg check) ignores them silently.
    package var ignoredArguments: [String] = []

    package init() {}
}

/// A bad flag, environment variable or value; `flag` is spelled as the user gave it.
package struct CaptureFlagError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        case unknownFlag, missingValue, invalidBool, invalidNumber, invalidPort, invalidCIDR, invalidMode, invalidValue
        /// No usable pod address, or resolv.conf unreadable while DNS capture needs it.
        case podEnvironment
    }

    package let kind: Kind
    /// `-p`, `--envoy-port` or an environment variable name such as `INBOUND_CAPTURE_PORT`.
    package let flag: String
    /// The offending value (for a list, the offending entry).
    package let value: String
    package let reason: String

    package var description: String {
        switch kind {
        case .unknownFlag: return "unknown flag: \(flag)"
        case .missingValue: return "flag needs an argument: \(flag)"
        case .podEnvironment: return reason
        default: return "invalid value \"\(value)\" for \(flag): \(reason)"
        }
    }

    static func unknownFlag(_ flag: String) -> Self {
        Self(kind: .unknownFlag, flag: flag, value: "", reason: "unknown flag")
    }

    static func missingValue(_ flag: String) -> Self {
        Self(kind: .missingValue, flag: flag, value: "", reason: "flag needs an argument")
    }

    static func invalid(_ kind: Kind, _ source: String, _ value: String, _ reason: String) -> Self {
        Self(kind: kind, flag: source, value: value, reason: reason)
    }
}

// MARK: - Flag parsing

private enum FlagValueKind: Sendable {
    case text, boolean, port16, duration
}

/// One istio-iptables flag: the long name, the shorthand, and the environment variables that set it
/// (applied in order, so a later one wins, and all before the command line).
private struct FlagSpec: Sendable {
    let name: String
    let short: Character?
    let kind: FlagValueKind
    let environment: [String]
}

// Order and env names follow root.go's bindCmdlineFlags: `flag.BindEnv` derives the name
// (upper-cased, `-` to `_`) and `flag.AdditionalEnv` adds one more that wins over it.
// `envoy-port` is bound with `flag.Bind`, so `ENVOY_PORT` is deliberately not read.
private let captureFlagSpecs: [FlagSpec] = [
    FlagSpec(name: "envoy-port", short: "p", kind: .text, environment: []),
    FlagSpec(name: "inbound-capture-port", short: "z", kind: .text, environment: ["INBOUND_CAPTURE_PORT"]),
    FlagSpec(name: "inbound-tunnel-port", short: "e", kind: .text, environment: ["INBOUND_TUNNEL_PORT"]),
    FlagSpec(name: "proxy-uid", short: "u", kind: .text, environment: ["PROXY_UID"]),
    FlagSpec(name: "proxy-gid", short: "g", kind: .text, environment: ["PROXY_GID"]),
    FlagSpec(name: "istio-inbound-interception-mode", short: "m", kind: .text,
             environment: ["ISTIO_INBOUND_INTERCEPTION_MODE"]),
    FlagSpec(name: "istio-inbound-ports", short: "b", kind: .text, environment: ["ISTIO_INBOUND_PORTS"]),
    FlagSpec(name: "istio-local-exclude-ports", short: "d", kind: .text, environment: ["ISTIO_LOCAL_EXCLUDE_PORTS"]),
    FlagSpec(name: "istio-exclude-interfaces", short: "c", kind: .text, environment: ["ISTIO_EXCLUDE_INTERFACES"]),
    FlagSpec(name: "istio-service-cidr", short: "i", kind: .text, environment: ["ISTIO_SERVICE_CIDR"]),
    FlagSpec(name: "istio-service-exclude-cidr", short: "x", kind: .text, environment: ["ISTIO_SERVICE_EXCLUDE_CIDR"]),
    FlagSpec(name: "istio-outbound-ports", short: "q", kind: .text, environment: ["ISTIO_OUTBOUND_PORTS"]),
    FlagSpec(name: "istio-local-outbound-ports-exclude", short: "o", kind: .text,
             environment: ["ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE"]),
    FlagSpec(name: "kube-virt-interfaces", short: "k", kind: .text, environment: ["KUBE_VIRT_INTERFACES"]),
    FlagSpec(name: "istio-inbound-tproxy-mark", short: "t", kind: .text, environment: ["ISTIO_INBOUND_TPROXY_MARK"]),
    FlagSpec(name: "istio-inbound-tproxy-route-table", short: "r", kind: .text,
             environment: ["ISTIO_INBOUND_TPROXY_ROUTE_TABLE"]),
    FlagSpec(name: "dry-run", short: "n", kind: .boolean, environment: ["DRY_RUN"]),
    FlagSpec(name: "iptables-probe-port", short: nil, kind: .port16, environment: ["IPTABLES_PROBE_PORT"]),
    FlagSpec(name: "probe-timeout", short: nil, kind: .duration, environment: ["PROBE_TIMEOUT"]),
    FlagSpec(name: "skip-rule-apply", short: nil, kind: .boolean, environment: ["SKIP_RULE_APPLY"]),
    FlagSpec(name: "run-validation", short: nil, kind: .boolean, environment: ["RUN_VALIDATION"]),
    FlagSpec(name: "redirect-dns", short: nil, kind: .boolean, environment: ["REDIRECT_DNS", "ISTIO_META_DNS_CAPTURE"]),
    FlagSpec(name: "drop-invalid", short: nil, kind: .boolean, environment: ["DROP_INVALID", "INVALID_DROP"]),
    FlagSpec(name: "dual-stack", short: nil, kind: .boolean, environment: ["DUAL_STACK", "ISTIO_DUAL_STACK"]),
    FlagSpec(name: "capture-all-dns", short: nil, kind: .boolean, environment: ["CAPTURE_ALL_DNS"]),
    FlagSpec(name: "network-namespace", short: nil, kind: .text, environment: ["NETWORK_NAMESPACE"]),
    FlagSpec(name: "cni-mode", short: nil, kind: .boolean, environment: ["CNI_MODE"]),
    FlagSpec(name: "reconcile", short: nil, kind: .boolean, environment: ["RECONCILE"]),
    FlagSpec(name: "cleanup-only", short: nil, kind: .boolean, environment: ["CLEANUP_ONLY"]),
    FlagSpec(name: "force-apply", short: nil, kind: .boolean, environment: ["FORCE_APPLY"]),
    FlagSpec(name: "native-nftables", short: nil, kind: .boolean, environment: ["NATIVE_NFTABLES"]),
    FlagSpec(name: "force-iptables-binary", short: nil, kind: .text, environment: ["FORCE_IPTABLES_BINARY"]),
    // istio's log options (pkg/log AttachCobraFlags): accepted and ignored.
    FlagSpec(name: "log_output_level", short: nil, kind: .text, environment: []),
    FlagSpec(name: "log_stacktrace_level", short: nil, kind: .text, environment: []),
    FlagSpec(name: "log_caller", short: nil, kind: .text, environment: []),
    FlagSpec(name: "log_target", short: nil, kind: .text, environment: []),
    FlagSpec(name: "log_as_json", short: nil, kind: .boolean, environment: []),
    FlagSpec(name: "help", short: "h", kind: .boolean, environment: []),
]

/// Long names Mizzen accepts besides Istio's.
private let captureFlagAliases: [String: String] = ["cleanup": "cleanup-only"]

/// A collected flag value and where it came from, for error messages.
private struct RawFlagValue {
    let value: String
    let source: String
}

extension CaptureSettings {
    /// Parses istio-iptables' command line and environment the way its cobra/pflag front end does.
    ///
    /// Environment variables are applied first and flags override them. Long flags take
    /// `--name=value` or `--name value`; shorthands take `-p 15001`, `-p15001` or `-p=15001` and
    /// boolean shorthands combine (`-nh`). A value is taken even if it starts with `-` (pflag does
    /// the same, which is what lets `-x ""` work). Environment values that do not parse as a
    /// boolean, port or duration are ignored, as Istio ignores them; a bad value on the command line
    /// is an error. `lookupUserID` maps a user name to its uid, for the `-u` default (`ENVOY_USER`,
    /// else `istio-proxy`; 1337 when unknown).
    package static func parse(
        arguments: [String],
        environment: [String: String],
        lookupUserID: (String) -> String? = { _ in nil }
    ) throws(CaptureFlagError) -> (settings: CaptureSettings, options: CaptureOptions) {
        var raw: [String: RawFlagValue] = [:]
        var options = CaptureOptions()

        for spec in captureFlagSpecs {
            for name in spec.environment {
                guard let value = environment[name] else { continue }
                switch spec.kind {
                case .text:
                    raw[spec.name] = RawFlagValue(value: value, source: name)
                case .boolean:
                    if let flag = parseGoBool(value) {
                        raw[spec.name] = RawFlagValue(value: flag ? "true" : "false", source: name)
                    }
                case .port16:
                    if UInt16(value) != nil { raw[spec.name] = RawFlagValue(value: value, source: name) }
                case .duration:
                    if parseGoDuration(value) != nil { raw[spec.name] = RawFlagValue(value: value, source: name) }
                }
            }
        }

        var index = 0
        var onlyPositional = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositional || argument == "-" || !argument.hasPrefix("-") {
                options.ignoredArguments.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositional = true
                continue
            }
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                var name = String(body)
                var inline: String? = nil
                if let equals = body.firstIndex(of: "=") {
                    name = String(body[..<equals])
                    inline = String(body[body.index(after: equals)...])
                }
                let spelled = "--" + name
                let canonical = captureFlagAliases[name] ?? name
                guard let spec = captureFlagSpecs.first(where: { $0.name == canonical }) else {
                    throw .unknownFlag(spelled)
                }
                var value: String
                if spec.kind == .boolean {
                    value = inline ?? "true"
                } else if let inline {
                    value = inline
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    throw .missingValue(spelled)
                }
                value = try checkedFlagValue(value, kind: spec.kind, source: spelled)
                raw[spec.name] = RawFlagValue(value: value, source: spelled)
                continue
            }
            var cluster = argument.dropFirst()
            while let letter = cluster.first {
                cluster = cluster.dropFirst()
                let spelled = "-" + String(letter)
                guard let spec = captureFlagSpecs.first(where: { $0.short == letter }) else {
                    throw .unknownFlag(spelled)
                }
                var inline: String? = nil
                if cluster.first == "=" {
                    inline = String(cluster.dropFirst())
                    cluster = ""
                }
                var value: String
                if spec.kind == .boolean {
                    value = inline ?? "true"
                } else if let inline {
                    value = inline
                } else if !cluster.isEmpty {
                    value = String(cluster)
                    cluster = ""
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    throw .missingValue(spelled)
                }
                value = try checkedFlagValue(value, kind: spec.kind, source: spelled)
                raw[spec.name] = RawFlagValue(value: value, source: spelled)
            }
        }

        var settings = CaptureSettings()
        func isSet(_ name: String) -> Bool { raw[name]?.value == "true" }

        if let port = raw["envoy-port"] { settings.envoyPort = try checkedPort(port) }
        if let port = raw["inbound-capture-port"] { settings.inboundCapturePort = try checkedPort(port) }
        if let port = raw["inbound-tunnel-port"] { settings.inboundTunnelPort = try checkedPort(port) }

        // FillConfigFromEnvironment: an empty -u means "the uid of ENVOY_USER"; an empty -g means "same as -u".
        options.envoyUser = environment["ENVOY_USER"] ?? "istio-proxy"
        var uids = raw["proxy-uid"]?.value ?? ""
        if uids.isEmpty { uids = lookupUserID(options.envoyUser) ?? "1337" }
        var gids = raw["proxy-gid"]?.value ?? ""
        if gids.isEmpty { gids = uids }
        settings.proxyUID = splitList(uids)
        settings.proxyGID = splitList(gids)

        if let mode = raw["istio-inbound-interception-mode"] {
            switch mode.value {
            case "", "REDIRECT": settings.interceptionMode = .redirect
            case "TPROXY": settings.interceptionMode = .tproxy
            default: throw .invalid(.invalidMode, mode.source, mode.value, "expected REDIRECT or TPROXY")
            }
        }

        if let ports = raw["istio-inbound-ports"] {
            if ports.value != "*" { _ = try checkedPortList(ports) }
            settings.inboundPorts = ports.value
        }
        if let ports = raw["istio-local-exclude-ports"] { settings.localExcludePorts = try checkedPortList(ports) }
        if let ports = raw["istio-outbound-ports"] { settings.outboundPorts = try checkedPortList(ports) }
        if let ports = raw["istio-local-outbound-ports-exclude"] {
            settings.localOutboundPortsExclude = try checkedPortList(ports)
        }

        if let cidrs = raw["istio-service-cidr"] {
            if cidrs.value != "*" { try checkCIDRList(cidrs) }
            settings.serviceCIDRs = cidrs.value
        }
        if let cidrs = raw["istio-service-exclude-cidr"] {
            if cidrs.value == "*" {
                throw .invalid(.invalidCIDR, cidrs.source, cidrs.value, "the wildcard is not allowed for exclusions")
            }
            try checkCIDRList(cidrs)
            settings.serviceExcludeCIDRs = cidrs.value
        }

        if let names = raw["kube-virt-interfaces"] { settings.kubeVirtInterfaces = splitList(names.value) }
        if let names = raw["istio-exclude-interfaces"] { settings.excludeInterfaces = splitList(names.value) }

        if let mark = raw["istio-inbound-tproxy-mark"] { settings.inboundTProxyMark = mark.value }
        if let table = raw["istio-inbound-tproxy-route-table"] { settings.inboundTProxyRouteTable = table.value }
        if settings.interceptionMode == .tproxy {
            // tproxy.ConfigureRoutes reads both with strconv.Atoi.
            let mark = raw["istio-inbound-tproxy-mark"] ?? RawFlagValue(value: settings.inboundTProxyMark, source: "-t")
            let table = raw["istio-inbound-tproxy-route-table"]
                ?? RawFlagValue(value: settings.inboundTProxyRouteTable, source: "-r")
            for number in [mark, table] where canonicalDecimal(Substring(number.value), max: UInt64(UInt32.max)) == nil {
                throw .invalid(.invalidNumber, number.source, number.value, "expected a decimal number")
            }
        }

        settings.redirectDNS = isSet("redirect-dns")
        settings.captureAllDNS = isSet("capture-all-dns")
        settings.dropInvalid = isSet("drop-invalid")
        settings.dualStack = isSet("dual-stack")

        // Environment-only settings (constants.go); a variable set to "" counts as set.
        settings.ownerGroupsInclude = environment["ISTIO_OUTBOUND_OWNER_GROUPS"] ?? "*"
        settings.ownerGroupsExclude = environment["ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE"] ?? ""
        if settings.ownerGroupsInclude != "*" && splitList(settings.ownerGroupsInclude).count > 64 {
            throw .invalid(.invalidValue, "ISTIO_OUTBOUND_OWNER_GROUPS", settings.ownerGroupsInclude,
                           "at most 64 owner groups can be captured")
        }
        settings.ipv4LoopbackCIDR = environment["ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR"] ?? "127.0.0.1/32"
        try checkLoopbackCIDR(settings.ipv4LoopbackCIDR)

        options.dryRun = isSet("dry-run")
        options.cleanupOnly = isSet("cleanup-only")
        options.skipRuleApply = isSet("skip-rule-apply")
        options.runValidation = isSet("run-validation")
        options.cniMode = isSet("cni-mode")
        options.reconcile = isSet("reconcile")
        options.forceApply = isSet("force-apply")
        options.nativeNftables = isSet("native-nftables")
        options.showHelp = isSet("help")
        if let port = raw["iptables-probe-port"], let number = UInt16(port.value) { options.iptablesProbePort = number }
        if let timeout = raw["probe-timeout"], let duration = parseGoDuration(timeout.value) {
            options.probeTimeout = duration
        }
        options.networkNamespace = raw["network-namespace"]?.value ?? ""
        if let binary = raw["force-iptables-binary"] {
            guard ["", "legacy", "nft"].contains(binary.value) else {
                throw .invalid(.invalidValue, binary.source, binary.value, "expected legacy or nft")
            }
            options.forceIptablesBinary = binary.value
        }
        return (settings, options)
    }

    /// Fills what istio-iptables learns from the pod rather than its flags (`FillConfigFromEnvironment`):
    /// `enableIPv6` from the pod's interface addresses, and the DNS servers from resolv.conf when
    /// DNS capture is on without `--capture-all-dns`.
    package mutating func applyPodEnvironment(interfaceAddresses: [String], resolvConf: String?) throws(CaptureFlagError) {
        guard let ipv6 = Self.podUsesIPv6(interfaceAddresses: interfaceAddresses, dualStack: dualStack) else {
            throw .invalid(.podEnvironment, "interfaces", "", "no valid local IP address found")
        }
        enableIPv6 = ipv6
        if redirectDNS && !captureAllDNS {
            guard let resolvConf else {
                throw .invalid(.podEnvironment, "/etc/resolv.conf", "", "failed to load /etc/resolv.conf")
            }
            let servers = Self.dnsServers(fromResolvConf: resolvConf)
            dnsServersV4 = servers.ipv4
            dnsServersV6 = servers.ipv6
        }
    }

    /// Whether the pod is IPv6 (Istio's `getLocalIP`): the family of the first address that is not
    /// loopback or link-local, or with `dualStack`, true if any such address is IPv6. Nil when there
    /// is none. Entries may carry a `/prefix` suffix.
    package static func podUsesIPv6(interfaceAddresses: [String], dualStack: Bool) -> Bool? {
        var found = false
        for entry in interfaceAddresses {
            guard let parsed = IPAddress(parsing: String(entry.prefix(while: { $0 != "/" }))) else { continue }
            let address = parsed.unmapped
            if address.isLoopback || address.isLinkLocalUnicast || address.isLinkLocalMulticast { continue }
            let isIPv6 = !address.isIPv4
            if !dualStack || isIPv6 { return isIPv6 }
            found = true
        }
        return found ? false : nil
    }

    /// The `nameserver` addresses of a resolv.conf, split by family and written the way Go's
    /// netip prints them (unparsable entries are dropped, as Istio drops them).
    package static func dnsServers(fromResolvConf text: String) -> (ipv4: [String], ipv6: [String]) {
        var ipv4: [String] = []
        var ipv6: [String] = []
        for line in text.split(whereSeparator: { $0.isNewline }) {
            let fields = line.split(whereSeparator: { $0.isWhitespace })
            guard fields.count > 1, fields[0] == "nameserver",
                  let address = IPAddress(parsing: String(fields[1])) else { continue }
            if address.isIPv4 { ipv4.append(address.description) } else { ipv6.append(address.description) }
        }
        return (ipv4, ipv6)
    }
}

private func checkedFlagValue(_ value: String, kind: FlagValueKind, source: String) throws(CaptureFlagError) -> String {
    switch kind {
    case .text:
        return value
    case .boolean:
        guard let flag = parseGoBool(value) else {
            throw .invalid(.invalidBool, source, value, "expected true or false")
        }
        return flag ? "true" : "false"
    case .port16:
        guard UInt16(value) != nil else { throw .invalid(.invalidNumber, source, value, "expected a number 0-65535") }
        return value
    case .duration:
        guard parseGoDuration(value) != nil else {
            throw .invalid(.invalidValue, source, value, "expected a duration such as 5s")
        }
        return value
    }
}

private func checkedPort(_ raw: RawFlagValue) throws(CaptureFlagError) -> String {
    guard let port = canonicalDecimal(Substring(raw.value), max: 65535), port >= 1 else {
        throw .invalid(.invalidPort, raw.source, raw.value, "expected a port number 1-65535")
    }
    return raw.value
}

private func checkedPortList(_ raw: RawFlagValue) throws(CaptureFlagError) -> [String] {
    let ports = splitList(raw.value)
    for port in ports {
        _ = try checkedPort(RawFlagValue(value: port, source: raw.source))
    }
    return ports
}

private func checkCIDRList(_ raw: RawFlagValue) throws(CaptureFlagError) {
    for entry in splitList(raw.value) where IPPrefix(parsing: entry) == nil {
        throw .invalid(.invalidCIDR, raw.source, entry, "expected an IP range in CIDR form")
    }
}

/// Istio's `ValidateIPv4LoopbackCidr`.
private func checkLoopbackCIDR(_ text: String) throws(CaptureFlagError) {
    let source = "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR"
    guard let prefix = IPPrefix(parsing: text) else {
        throw .invalid(.invalidCIDR, source, text, "expected an IPv4 loopback range in CIDR form")
    }
    guard prefix.address.isIPv4, prefix.address.isLoopback else {
        throw .invalid(.invalidCIDR, source, text, "expected an IPv4 loopback address")
    }
    guard (8...32).contains(prefix.bits) else {
        throw .invalid(.invalidCIDR, source, text, "expected a mask length between 8 and 32")
    }
}

/// Go's `strconv.ParseBool`.
private func parseGoBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": return true
    case "0", "f", "F", "FALSE", "false", "False": return false
    default: return nil
    }
}

/// Go's `time.ParseDuration` ("5s", "1m30s", "1.5h", "300ms").
func parseGoDuration(_ text: String) -> Duration? {
    var rest = Substring(text)
    var negative = false
    if let sign = rest.first, sign == "-" || sign == "+" {
        negative = sign == "-"
        rest = rest.dropFirst()
    }
    if rest == "0" { return .zero }
    if rest.isEmpty { return nil }
    var nanoseconds = 0.0
    while !rest.isEmpty {
        var whole = ""
        var fraction = ""
        while let c = rest.first, c.isASCII, c.isNumber {
            whole.append(c)
            rest = rest.dropFirst()
        }
        if rest.first == "." {
            rest = rest.dropFirst()
            while let c = rest.first, c.isASCII, c.isNumber {
                fraction.append(c)
                rest = rest.dropFirst()
            }
        }
        if whole.isEmpty && fraction.isEmpty { return nil }
        var unit = ""
        while let c = rest.first, !(c.isASCII && (c.isNumber || c == ".")) {
            unit.append(c)
            rest = rest.dropFirst()
        }
        let scale: Double
        switch unit {
        case "ns": scale = 1
        case "us", "\u{00B5}s", "\u{03BC}s": scale = 1e3
        case "ms": scale = 1e6
        case "s": scale = 1e9
        case "m": scale = 60e9
        case "h": scale = 3600e9
        default: return nil
        }
        guard let number = Double((whole.isEmpty ? "0" : whole) + "." + (fraction.isEmpty ? "0" : fraction)) else {
            return nil
        }
        nanoseconds += number * scale
    }
    guard nanoseconds < 9.2e18 else { return nil }
    let whole = Int64(nanoseconds.rounded())
    return .nanoseconds(negative ? -whole : whole)
}

/// Digits only, no sign and no leading zero, at most `max`.
private func canonicalDecimal(_ text: Substring, max: UInt64) -> UInt64? {
    guard !text.isEmpty, text.utf8.count <= 20 else { return nil }
    if text.utf8.count > 1 && text.first == "0" { return nil }
    var value: UInt64 = 0
    for byte in text.utf8 {
        guard byte >= 48 && byte <= 57 else { return nil }
        value = value * 10 + UInt64(byte - 48)
        if value > max { return nil }
    }
    return value
}

/// Istio's `config.Split`: comma-separated, empty entries dropped, no trimming.
private func splitList(_ text: String) -> [String] {
    text.split(separator: ",").map { String($0) }
}

// MARK: - Rule set

/// One `ip` invocation standing in for the netlink calls of istio:tools/common/tproxy.
package struct RouteCommand: Sendable, Hashable {
    /// Arguments after `ip`, e.g. `["-4", "rule", "add", "fwmark", "1337", "lookup", "133"]`.
    package var arguments: [String]
    /// Istio ignores "file exists" for addresses and routes (not for rules).
    package var toleratesExisting: Bool
}

/// Everything istio-init would do for one set of settings.
package struct CaptureRuleSet: Sendable, Hashable {
    /// Whether ip6tables is programmed too (Istio's `EnableIPv6`).
    package var enableIPv6: Bool
    /// Input for `iptables-restore --noflush`.
    package var ipv4Restore: String
    /// Input for `ip6tables-restore --noflush`; empty unless `enableIPv6`.
    package var ipv6Restore: String
    /// `iptables` argument lists that undo the rules (`--cleanup-only`); run each, ignoring failures.
    package var ipv4Cleanup: [[String]]
    /// The same for `ip6tables`; empty unless `enableIPv6`.
    package var ipv6Cleanup: [[String]]
    /// `ip` commands run after the rules (not in dry-run): the `::6` loopback address with IPv6,
    /// and the TPROXY policy rule and local route.
    package var routeCommands: [RouteCommand]

    /// What `istio-iptables --dry-run` records (its stub's `ExecutedAll`, which Istio's goldens hold):
    /// the state probes, then the restore input, or with `cleanupOnly` the undo commands, then the
    /// final saves.
    package func dryRunTranscript(cleanupOnly: Bool = false) -> String {
        var lines = ["iptables-save", "ip6tables-save"]
        if cleanupOnly {
            for command in ipv4Cleanup { lines.append((["iptables"] + command).joined(separator: " ")) }
            if enableIPv6 {
                for command in ipv6Cleanup { lines.append((["ip6tables"] + command).joined(separator: " ")) }
            }
        } else {
            lines += ipv4Restore.split(separator: "\n").map { String($0) }
            if enableIPv6 { lines += ipv6Restore.split(separator: "\n").map { String($0) } }
        }
        lines.append("iptables-save")
        if enableIPv6 { lines.append("ip6tables-save") }
        return lines.joined(separator: "\n")
    }
}

/// Builds the rules istio-iptables would install for `settings`, in its order.
///
/// Settings are assumed to have come through `CaptureSettings.parse`; unparsable CIDRs are skipped
/// here and a wildcard exclusion (which Istio rejects) is ignored.
package func captureRules(_ settings: CaptureSettings) -> CaptureRuleSet {
    var rules = RuleBuilder(ipv6Enabled: settings.enableIPv6)
    let tproxy = settings.interceptionMode == .tproxy
    let loopback4 = settings.ipv4LoopbackCIDR
    let loopback6 = "::1/128"
    let mark = settings.inboundTProxyMark
    let tunnelPort = settings.inboundTunnelPort
    let excluded = OutboundRanges(settings.serviceExcludeCIDRs)
    let included = OutboundRanges(settings.serviceCIDRs)
    // With neither --capture-all-dns nor a server from resolv.conf there is nothing to capture.
    let redirectDNS = settings.redirectDNS
        && (settings.captureAllDNS || !settings.dnsServersV4.isEmpty || !settings.dnsServersV6.isEmpty)

    for nic in settings.excludeInterfaces {
        rules.append("nat", "PREROUTING", ["-i", nic, "-j", "RETURN"])
        rules.append("nat", "OUTPUT", ["-o", nic, "-j", "RETURN"])
    }
    if tproxy {
        for nic in settings.excludeInterfaces {
            rules.append("mangle", "PREROUTING", ["-i", nic, "-j", "RETURN"])
            rules.append("mangle", "OUTPUT", ["-o", nic, "-j", "RETURN"])
        }
    }
    for nic in settings.kubeVirtInterfaces {
        rules.insert("nat", "PREROUTING", at: 1, ["-i", nic, "-j", "RETURN"])
    }
    if settings.dropInvalid {
        // Drop out-of-window packets instead of letting them reset the connection.
        rules.append("mangle", "PREROUTING", ["-m", "conntrack", "--ctstate", "INVALID", "-j", "ISTIO_DROP"])
        rules.append("mangle", "ISTIO_DROP", ["-j", "DROP"])
    }

    rules.append("nat", "ISTIO_INBOUND", ["-p", "tcp", "--dport", tunnelPort, "-j", "RETURN"])
    rules.append("nat", "ISTIO_REDIRECT", ["-p", "tcp", "-j", "REDIRECT", "--to-ports", settings.envoyPort])
    rules.append("nat", "ISTIO_IN_REDIRECT", ["-p", "tcp", "-j", "REDIRECT", "--to-ports", settings.inboundCapturePort])

    if !settings.inboundPorts.isEmpty {
        let table = tproxy ? "mangle" : "nat"
        if tproxy {
            rules.append("mangle", "ISTIO_DIVERT", ["-j", "MARK", "--set-mark", mark])
            rules.append("mangle", "ISTIO_DIVERT", ["-j", "ACCEPT"])
            rules.appendPerFamily("mangle", "ISTIO_TPROXY", ipv4: loopback4, ipv6: loopback6) { loopback in
                ["!", "-d", loopback, "-p", "tcp", "-j", "TPROXY",
                 "--tproxy-mark", mark + "/0xffffffff", "--on-port", settings.inboundCapturePort]
            }
        }
        rules.append(table, "PREROUTING", ["-p", "tcp", "-j", "ISTIO_INBOUND"])
        if settings.inboundPorts == "*" {
            for port in settings.localExcludePorts {
                rules.append(table, "ISTIO_INBOUND", ["-p", "tcp", "--dport", port, "-j", "RETURN"])
            }
            if tproxy {
                // Packets of established sockets go straight to the proxy's socket; new ones via TPROXY.
                rules.append("mangle", "ISTIO_INBOUND",
                             ["-p", "tcp", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ISTIO_DIVERT"])
                rules.append("mangle", "ISTIO_INBOUND", ["-p", "tcp", "-j", "ISTIO_TPROXY"])
            } else {
                rules.append("nat", "ISTIO_INBOUND", ["-p", "tcp", "-j", "ISTIO_IN_REDIRECT"])
            }
        } else {
            for port in splitList(settings.inboundPorts) {
                if tproxy {
                    rules.append("mangle", "ISTIO_INBOUND", ["-p", "tcp", "--dport", port, "-m", "conntrack",
                                                             "--ctstate", "RELATED,ESTABLISHED", "-j", "ISTIO_DIVERT"])
                    rules.append("mangle", "ISTIO_INBOUND", ["-p", "tcp", "--dport", port, "-j", "ISTIO_TPROXY"])
                } else {
                    rules.append("nat", "ISTIO_INBOUND", ["-p", "tcp", "--dport", port, "-j", "ISTIO_IN_REDIRECT"])
                }
            }
        }
    }

    rules.append("nat", "OUTPUT", ["-j", "ISTIO_OUTPUT"])
    for port in settings.localOutboundPortsExclude {
        rules.append("nat", "ISTIO_OUTPUT", ["-p", "tcp", "--dport", port, "-j", "RETURN"])
        rules.append("nat", "ISTIO_OUTPUT", ["-p", "udp", "--dport", port, "-j", "RETURN"])
    }
    // 127.0.0.6 (::6) is the source the inbound passthrough cluster binds for proxy-to-app connections.
    rules.appendPerFamily("nat", "ISTIO_OUTPUT", ipv4: "127.0.0.6/32", ipv6: "::6/128") { source in
        ["-o", "lo", "-s", source, "-j", "RETURN"]
    }

    // A proxy connection on lo to a non-loopback address is an app calling itself through a VIP:
    // send it to inbound capture. Other app traffic on lo stays local unless -i names a loopback range.
    let keepLoopbackLocal = !included.includesLoopback
    for uid in settings.proxyUID {
        rules.appendPerFamily("nat", "ISTIO_OUTPUT", ipv4: loopback4, ipv6: loopback6) { loopback in
            if redirectDNS {
                // DNS from the agent must reach the upstream server, not the inbound listener.
                return ["-o", "lo", "!", "-d", loopback, "-p", "tcp", "-m", "multiport", "!", "--dports",
                        "53," + tunnelPort, "-m", "owner", "--uid-owner", uid, "-j", "ISTIO_IN_REDIRECT"]
            }
            return ["-o", "lo", "!", "-d", loopback, "-p", "tcp", "!", "--dport", tunnelPort,
                    "-m", "owner", "--uid-owner", uid, "-j", "ISTIO_IN_REDIRECT"]
        }
        if keepLoopbackLocal {
            if redirectDNS {
                // TCP DNS to a server on localhost is still captured.
                rules.append("nat", "ISTIO_OUTPUT", ["-o", "lo", "-p", "tcp", "!", "--dport", "53",
                                                     "-m", "owner", "!", "--uid-owner", uid, "-j", "RETURN"])
            } else {
                rules.append("nat", "ISTIO_OUTPUT", ["-o", "lo", "-m", "owner", "!", "--uid-owner", uid, "-j", "RETURN"])
            }
        }
        rules.append("nat", "ISTIO_OUTPUT", ["-m", "owner", "--uid-owner", uid, "-j", "RETURN"])
    }
    for gid in settings.proxyGID {
        // Unlike the uid rule, Istio never adds the port 53 exception here.
        rules.appendPerFamily("nat", "ISTIO_OUTPUT", ipv4: loopback4, ipv6: loopback6) { loopback in
            ["-o", "lo", "!", "-d", loopback, "-p", "tcp", "!", "--dport", tunnelPort,
             "-m", "owner", "--gid-owner", gid, "-j", "ISTIO_IN_REDIRECT"]
        }
        if keepLoopbackLocal {
            if redirectDNS {
                rules.append("nat", "ISTIO_OUTPUT", ["-o", "lo", "-p", "tcp", "!", "--dport", "53",
                                                     "-m", "owner", "!", "--gid-owner", gid, "-j", "RETURN"])
            } else {
                rules.append("nat", "ISTIO_OUTPUT", ["-o", "lo", "-m", "owner", "!", "--gid-owner", gid, "-j", "RETURN"])
            }
        }
        rules.append("nat", "ISTIO_OUTPUT", ["-m", "owner", "--gid-owner", gid, "-j", "RETURN"])
    }

    if settings.ownerGroupsInclude == "*" {
        for group in splitList(settings.ownerGroupsExclude) {
            rules.append("nat", "ISTIO_OUTPUT", ["-m", "owner", "--gid-owner", group, "-j", "RETURN"])
        }
    } else {
        // One rule matching "in none of these groups"; with an empty list it returns everything.
        var matchers: [String] = []
        for group in splitList(settings.ownerGroupsInclude) {
            matchers += ["-m", "owner", "!", "--gid-owner", group]
        }
        rules.append("nat", "ISTIO_OUTPUT", matchers + ["-j", "RETURN"])
    }

    if redirectDNS {
        addDNSCapture(&rules, settings)
    }

    // Envoy-aware apps and container-to-container traffic use localhost explicitly.
    rules.appendPerFamily("nat", "ISTIO_OUTPUT", ipv4: loopback4, ipv6: loopback6) { loopback in
        ["-d", loopback, "-j", "RETURN"]
    }
    if !excluded.isWildcard {
        for cidr in excluded.ipv4 { rules.append("nat", "ISTIO_OUTPUT", ["-d", cidr, "-j", "RETURN"], .ipv4) }
        for cidr in excluded.ipv6 { rules.append("nat", "ISTIO_OUTPUT", ["-d", cidr, "-j", "RETURN"], .ipv6) }
    }
    for port in settings.outboundPorts {
        rules.append("nat", "ISTIO_OUTPUT", ["-p", "tcp", "--dport", port, "-j", "ISTIO_REDIRECT"])
    }
    for family in [RuleFamily.ipv4, .ipv6] {
        if included.isWildcard {
            rules.append("nat", "ISTIO_OUTPUT", ["-j", "ISTIO_REDIRECT"], family)
            for nic in settings.kubeVirtInterfaces {
                rules.insert("nat", "PREROUTING", at: 1, ["-i", nic, "-j", "ISTIO_REDIRECT"], family)
            }
        } else {
            for cidr in family == .ipv4 ? included.ipv4 : included.ipv6 {
                for nic in settings.kubeVirtInterfaces {
                    rules.insert("nat", "PREROUTING", at: 1, ["-i", nic, "-d", cidr, "-j", "ISTIO_REDIRECT"], family)
                }
                rules.append("nat", "ISTIO_OUTPUT", ["-d", cidr, "-j", "ISTIO_REDIRECT"], family)
            }
        }
    }

    if tproxy {
        // Keep the mark envoy's original_src listener filter sets, as a connection mark.
        rules.append("mangle", "PREROUTING", ["-p", "tcp", "-m", "mark", "--mark", mark, "-j", "CONNMARK", "--save-mark"])
        // Already-marked envoy-to-app packets are left alone.
        rules.append("mangle", "OUTPUT", ["-p", "tcp", "-o", "lo", "-m", "mark", "--mark", mark, "-j", "RETURN"])
        // app -> VIP -> envoy outbound -(mark 1338)-> envoy inbound -> app.
        for uid in settings.proxyUID {
            rules.appendPerFamily("mangle", "OUTPUT", ipv4: loopback4, ipv6: loopback6) { loopback in
                ["!", "-d", loopback, "-p", "tcp", "-o", "lo", "-m", "owner", "--uid-owner", uid,
                 "-j", "MARK", "--set-mark", outboundMark]
            }
        }
        for gid in settings.proxyGID {
            rules.appendPerFamily("mangle", "OUTPUT", ipv4: loopback4, ipv6: loopback6) { loopback in
                ["!", "-d", loopback, "-p", "tcp", "-o", "lo", "-m", "owner", "--gid-owner", gid,
                 "-j", "MARK", "--set-mark", outboundMark]
            }
        }
        rules.append("mangle", "OUTPUT", ["-p", "tcp", "-m", "connmark", "--mark", mark, "-j", "CONNMARK", "--restore-mark"])
        rules.insert("mangle", "ISTIO_INBOUND", at: 1, ["-p", "tcp", "-m", "mark", "--mark", mark, "-j", "RETURN"])
        rules.insert("mangle", "ISTIO_INBOUND", at: 2, ["-p", "tcp", "-s", "127.0.0.6/32", "-i", "lo", "-j", "RETURN"], .ipv4)
        rules.insert("mangle", "ISTIO_INBOUND", at: 2, ["-p", "tcp", "-s", "::6/128", "-i", "lo", "-j", "RETURN"], .ipv6)
        rules.insert("mangle", "ISTIO_INBOUND", at: 3,
                     ["-p", "tcp", "-i", "lo", "-m", "mark", "!", "--mark", outboundMark, "-j", "RETURN"])
    }

    return CaptureRuleSet(
        enableIPv6: settings.enableIPv6,
        ipv4Restore: RuleBuilder.restoreText(rules.ipv4),
        ipv6Restore: settings.enableIPv6 ? RuleBuilder.restoreText(rules.ipv6) : "",
        ipv4Cleanup: RuleBuilder.cleanupCommands(rules.ipv4),
        ipv6Cleanup: settings.enableIPv6 ? RuleBuilder.cleanupCommands(rules.ipv6) : [],
        routeCommands: routeCommands(settings)
    )
}

/// The mark TPROXY mode puts on envoy-outbound-to-envoy-inbound packets (constants.OutboundMark).
private let outboundMark = "1338"
/// The agent's DNS listener.
private let agentDNSPort = "15053"

/// Istio's `SetupDNSRedir` and `addDNSConntrackZones`.
private func addDNSCapture(_ rules: inout RuleBuilder, _ settings: CaptureSettings) {
    let all = settings.captureAllDNS
    let servers4 = settings.dnsServersV4
    let servers6 = settings.dnsServersV6

    rules.append("raw", "OUTPUT", ["-j", "ISTIO_OUTPUT_DNS"])
    // Jump only in the families that have something to capture.
    if all || !servers4.isEmpty { rules.append("nat", "ISTIO_OUTPUT", ["-j", "ISTIO_OUTPUT_DNS"], .ipv4) }
    if all || !servers6.isEmpty { rules.append("nat", "ISTIO_OUTPUT", ["-j", "ISTIO_OUTPUT_DNS"], .ipv6) }

    // Only the resolv.conf servers are captured otherwise, so a local dnsmasq cannot loop through the agent.
    for (proto, toPort) in [("tcp", "--to-ports"), ("udp", "--to-port")] {
        if all {
            rules.append("nat", "ISTIO_OUTPUT_DNS", ["-p", proto, "--dport", "53", "-j", "REDIRECT", toPort, agentDNSPort])
        } else {
            for server in servers4 {
                rules.append("nat", "ISTIO_OUTPUT_DNS", ["-p", proto, "--dport", "53", "-d", server + "/32",
                                                         "-j", "REDIRECT", toPort, agentDNSPort], .ipv4)
            }
            for server in servers6 {
                rules.append("nat", "ISTIO_OUTPUT_DNS", ["-p", proto, "--dport", "53", "-d", server + "/128",
                                                         "-j", "REDIRECT", toPort, agentDNSPort], .ipv6)
            }
        }
    }

    // Separate conntrack zones against UDP conntrack races: agent <-> upstream in zone 1,
    // app <-> agent in zone 2.
    for (owner, ids) in [("--uid-owner", settings.proxyUID), ("--gid-owner", settings.proxyGID)] {
        for id in ids {
            rules.append("raw", "ISTIO_OUTPUT_DNS", ["-p", "udp", "--dport", "53", "-m", "owner", owner, id,
                                                     "-j", "CT", "--zone", "1"])
            rules.append("raw", "ISTIO_OUTPUT_DNS", ["-p", "udp", "--sport", agentDNSPort, "-m", "owner", owner, id,
                                                     "-j", "CT", "--zone", "2"])
        }
    }
    if all {
        rules.append("raw", "PREROUTING", ["-j", "ISTIO_INBOUND"])
        rules.append("raw", "ISTIO_OUTPUT_DNS", ["-p", "udp", "--dport", "53", "-j", "CT", "--zone", "2"])
        rules.append("raw", "ISTIO_INBOUND", ["-p", "udp", "--sport", "53", "-j", "CT", "--zone", "1"])
        return
    }
    for (family, servers, length) in [(RuleFamily.ipv4, servers4, "/32"), (RuleFamily.ipv6, servers6, "/128")] {
        if !servers.isEmpty { rules.append("raw", "PREROUTING", ["-j", "ISTIO_INBOUND"], family) }
        for server in servers {
            rules.append("raw", "ISTIO_OUTPUT_DNS", ["-p", "udp", "--dport", "53", "-d", server + length,
                                                     "-j", "CT", "--zone", "2"], family)
            rules.append("raw", "ISTIO_INBOUND", ["-p", "udp", "--sport", "53", "-s", server + length,
                                                  "-j", "CT", "--zone", "1"], family)
        }
    }
}

/// `tproxy.ConfigureRoutes` as `ip` commands: the `::6` address first, then the policy rules, then routes.
private func routeCommands(_ settings: CaptureSettings) -> [RouteCommand] {
    var commands: [RouteCommand] = []
    if settings.enableIPv6 {
        // IPv6 lo only binds ::1 by default; the passthrough cluster needs ::6 as a source.
        commands.append(RouteCommand(arguments: ["-6", "addr", "add", "::6/128", "dev", "lo"], toleratesExisting: true))
    }
    guard !settings.inboundPorts.isEmpty, settings.interceptionMode == .tproxy else { return commands }
    let mark = settings.inboundTProxyMark
    let table = settings.inboundTProxyRouteTable
    var families = ["-4"]
    if settings.enableIPv6 { families.append("-6") }
    for family in families {
        commands.append(RouteCommand(arguments: [family, "rule", "add", "fwmark", mark, "lookup", table],
                                     toleratesExisting: false))
    }
    for family in families {
        let everything = family == "-4" ? "0.0.0.0/0" : "::/0"
        commands.append(RouteCommand(arguments: [family, "route", "add", "local", everything, "dev", "lo", "table", table],
                                     toleratesExisting: true))
    }
    return commands
}

// MARK: - Rule builder

enum RuleFamily: Sendable, Hashable {
    case both, ipv4, ipv6
}

/// One rule as istio-iptables holds it: the table, the chain, and `-A chain ...` or `-I chain n ...`.
struct IptablesRule: Sendable, Hashable {
    var table: String
    var chain: String
    var arguments: [String]
}

/// Collects rules per family in call order, and renders them the way Istio's builder does.
struct RuleBuilder {
    let ipv6Enabled: Bool
    private(set) var ipv4: [IptablesRule] = []
    private(set) var ipv6: [IptablesRule] = []

    init(ipv6Enabled: Bool) {
        self.ipv6Enabled = ipv6Enabled
    }

    /// Chains and targets iptables already knows; never created or deleted.
    static let builtInChainsAndTargets: Set<String> = [
        "INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING", "ACCEPT", "RETURN", "DROP",
    ]

    mutating func append(_ table: String, _ chain: String, _ arguments: [String], _ family: RuleFamily = .both) {
        add(IptablesRule(table: table, chain: chain, arguments: ["-A", chain] + arguments), family)
    }

    mutating func insert(
        _ table: String, _ chain: String, at position: Int, _ arguments: [String], _ family: RuleFamily = .both
    ) {
        add(IptablesRule(table: table, chain: chain, arguments: ["-I", chain, String(position)] + arguments), family)
    }

    /// Appends the IPv4 then the IPv6 form of a rule that names a family-specific address.
    mutating func appendPerFamily(
        _ table: String, _ chain: String, ipv4 address4: String, ipv6 address6: String, _ make: (String) -> [String]
    ) {
        append(table, chain, make(address4), .ipv4)
        append(table, chain, make(address6), .ipv6)
    }

    private mutating func add(_ rule: IptablesRule, _ family: RuleFamily) {
        if family != .ipv6 { ipv4.append(rule) }
        if family != .ipv4 && ipv6Enabled { ipv6.append(rule) }
    }

    /// iptables-restore input: per table (sorted by name), `-N` for each chain in order of first
    /// use, then for chains only jumped to, then every rule in call order; empty tables are left out.
    static func restoreText(_ rules: [IptablesRule]) -> String {
        var byTable: [String: [String]] = ["filter": [], "nat": [], "mangle": []]
        var known = Set<String>()
        for rule in rules {
            let isNew = known.insert(rule.chain + ":" + rule.table).inserted
            if isNew && !builtInChainsAndTargets.contains(rule.chain) {
                byTable[rule.table, default: []].append("-N " + rule.chain)
            }
        }
        for rule in rules {
            let arguments = rule.arguments
            guard arguments.count >= 2, arguments[arguments.count - 2] == "-j" else { continue }
            let target = arguments[arguments.count - 1]
            let isNew = known.insert(target + ":" + rule.table).inserted
            if isNew && !builtInChainsAndTargets.contains(target) {
                byTable[rule.table, default: []].append("-N " + target)
            }
        }
        for rule in rules {
            byTable[rule.table, default: []].append(rule.arguments.joined(separator: " "))
        }
        var text = ""
        for table in byTable.keys.sorted() {
            guard let lines = byTable[table], !lines.isEmpty else { continue }
            text += "* " + table + "\n"
            for line in lines { text += line + "\n" }
            text += "COMMIT\n"
        }
        return text
    }

    /// Istio's `buildCleanupRules`: newest first, each rule as `-D` except those inside ISTIO_*
    /// chains that do not jump to an ISTIO_* chain (the flush removes those), then `-F` and `-X`
    /// for every ISTIO_* chain, in the same newest-first order.
    static func cleanupCommands(_ rules: [IptablesRule]) -> [[String]] {
        let newestFirst = Array(rules.reversed())
        var commands: [[String]] = []
        for rule in newestFirst {
            if let undo = undoArguments(rule.arguments) { commands.append(["-t", rule.table] + undo) }
        }
        var seen = Set<String>()
        for rule in newestFirst where !builtInChainsAndTargets.contains(rule.chain) {
            if seen.insert(rule.chain + ":" + rule.table).inserted {
                commands.append(["-t", rule.table, "-F", rule.chain])
                commands.append(["-t", rule.table, "-X", rule.chain])
            }
        }
        return commands
    }

    /// Istio's `UndoRules` for one rule, or nil when the rule needs no explicit delete.
    private static func undoArguments(_ arguments: [String]) -> [String]? {
        var result: [String] = []
        var skip = false
        var insertAt = -1
        for (index, element) in arguments.enumerated() {
            if insertAt >= 0 && index == insertAt + 2 { continue }  // the -I position
            let addsRule = element == "-A" || element == "--append" || element == "-I" || element == "--insert"
            if element == "-I" || element == "--insert" { insertAt = index }
            result.append(addsRule ? "-D" : element)
            let next = index + 1 < arguments.count ? arguments[index + 1] : ""
            if addsRule && next.hasPrefix("ISTIO_") {
                skip = true
            } else if (element == "-j" || element == "--jump") && next.hasPrefix("ISTIO_") {
                skip = false
            }
        }
        return skip ? nil : result
    }
}

/// `-i`/`-x` split by family (Istio's `SeparateV4V6`), each range written as Go's netip prints it.
struct OutboundRanges {
    var isWildcard = false
    var ipv4: [String] = []
    var ipv6: [String] = []
    /// A loopback range was listed: app traffic on lo is then captured too.
    var includesLoopback = false

    init(_ text: String) {
        if text == "*" {
            isWildcard = true
            return
        }
        for entry in splitList(text) {
            guard let prefix = IPPrefix(parsing: entry) else { continue }
            if prefix.address.isIPv4 { ipv4.append(prefix.description) } else { ipv6.append(prefix.description) }
            if prefix.address.isLoopback { includesLoopback = true }
        }
    }
}

// MARK: - Addresses (Go net/netip semantics)

/// An IPv4 (4 bytes) or IPv6 (16 bytes, optional zone) address, parsed and printed like Go's netip.Addr.
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    var bytes: [UInt8]
    var zone: String = ""

    var isIPv4: Bool { bytes.count == 4 }

    var isIPv4MappedIPv6: Bool {
        bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
    }

    var unmapped: IPAddress { isIPv4MappedIPv6 ? IPAddress(bytes: Array(bytes[12..<16])) : self }

    var isLoopback: Bool {
        let address = unmapped
        if address.isIPv4 { return address.bytes[0] == 127 }
        return address.bytes[0..<15].allSatisfy { $0 == 0 } && address.bytes[15] == 1
    }

    var isLinkLocalUnicast: Bool {
        let address = unmapped
        if address.isIPv4 { return address.bytes[0] == 169 && address.bytes[1] == 254 }
        return address.bytes[0] == 0xfe && address.bytes[1] & 0xc0 == 0x80
    }

    var isLinkLocalMulticast: Bool {
        let address = unmapped
        if address.isIPv4 { return address.bytes[0] == 224 && address.bytes[1] == 0 && address.bytes[2] == 0 }
        return address.bytes[0] == 0xff && address.bytes[1] & 0x0f == 0x02
    }

    var description: String {
        if isIPv4 { return bytes.map { String($0) }.joined(separator: ".") }
        var text: String
        if isIPv4MappedIPv6 {
            text = "::ffff:" + bytes[12..<16].map { String($0) }.joined(separator: ".")
        } else {
            text = Self.groupsText(bytes)
        }
        if !zone.isEmpty { text += "%" + zone }
        return text
    }

    /// RFC 5952 as Go writes it: lower-case hex, the first longest run of two or more zero groups as `::`.
    private static func groupsText(_ bytes: [UInt8]) -> String {
        var groups: [UInt16] = []
        for index in 0..<8 { groups.append(UInt16(bytes[2 * index]) << 8 | UInt16(bytes[2 * index + 1])) }
        var zeroStart = -1
        var zeroEnd = -1
        for start in 0..<8 {
            var end = start
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - start >= 2 && end - start > zeroEnd - zeroStart {
                zeroStart = start
                zeroEnd = end
            }
        }
        var text = ""
        var index = 0
        while index < 8 {
            if index == zeroStart {
                text += "::"
                index = zeroEnd
                if index >= 8 { break }
            } else if index > 0 {
                text += ":"
            }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    init(bytes: [UInt8], zone: String = "") {
        self.bytes = bytes
        self.zone = zone
    }

    /// Go's `netip.ParseAddr`: dotted quad without leading zeros, or IPv6 with an optional
    /// embedded IPv4 tail and `%zone`.
    init?(parsing text: String) {
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard let quad = Self.parseIPv4(Array(text.utf8)[...]) else { return nil }
                self = IPAddress(bytes: quad)
                return
            }
            if byte == UInt8(ascii: ":") {
                guard let parsed = Self.parseIPv6(text) else { return nil }
                self = parsed
                return
            }
            if byte == UInt8(ascii: "%") { return nil }
        }
        return nil
    }

    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var quad: [UInt8] = []
        var value = 0
        var digits = 0
        for byte in text {
            if byte >= 48 && byte <= 57 {
                if digits == 1 && value == 0 { return nil }  // leading zero
                value = value * 10 + Int(byte - 48)
                if value > 255 { return nil }
                digits += 1
            } else if byte == UInt8(ascii: ".") {
                if digits == 0 || quad.count == 3 { return nil }
                quad.append(UInt8(value))
                value = 0
                digits = 0
            } else {
                return nil
            }
        }
        if digits == 0 || quad.count != 3 { return nil }
        quad.append(UInt8(value))
        return quad
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: return Int(byte - 48)
        case 97...102: return Int(byte - 87)
        case 65...70: return Int(byte - 55)
        default: return nil
        }
    }

    private static func parseIPv6(_ text: String) -> IPAddress? {
        var characters = Array(text.utf8)
        var zone = ""
        if let percent = characters.firstIndex(of: UInt8(ascii: "%")) {
            zone = String(decoding: characters[(percent + 1)...], as: UTF8.self)
            if zone.isEmpty { return nil }
            characters = Array(characters[..<percent])
        }
        let colon = UInt8(ascii: ":")
        var address = [UInt8](repeating: 0, count: 16)
        var ellipsis = -1
        var position = 0
        var filled = 0
        if characters.count >= 2 && characters[0] == colon && characters[1] == colon {
            ellipsis = 0
            position = 2
            if position == characters.count { return IPAddress(bytes: address, zone: zone) }
        }
        while filled < 16 {
            var value = 0
            var digits = 0
            while position + digits < characters.count, let digit = hexValue(characters[position + digits]) {
                value = value * 16 + digit
                digits += 1
                if digits > 4 { return nil }
            }
            if digits == 0 { return nil }
            if position + digits < characters.count && characters[position + digits] == UInt8(ascii: ".") {
                // Embedded IPv4: it must end the address.
                if ellipsis < 0 && filled != 12 { return nil }
                if filled + 4 > 16 { return nil }
                guard let quad = parseIPv4(characters[position...]) else { return nil }
                for offset in 0..<4 { address[filled + offset] = quad[offset] }
                filled += 4
                position = characters.count
                break
            }
            address[filled] = UInt8(value >> 8)
            address[filled + 1] = UInt8(value & 0xff)
            filled += 2
            position += digits
            if position == characters.count { break }
            if characters[position] != colon || position + 1 == characters.count { return nil }
            position += 1
            if characters[position] == colon {
                if ellipsis >= 0 { return nil }
                ellipsis = filled
                position += 1
                if position == characters.count { break }
            }
        }
        if position != characters.count { return nil }
        if filled < 16 {
            if ellipsis < 0 { return nil }
            let gap = 16 - filled
            var index = filled - 1
            while index >= ellipsis {
                address[index + gap] = address[index]
                index -= 1
            }
            for index in ellipsis..<(ellipsis + gap) { address[index] = 0 }
        } else if ellipsis >= 0 {
            return nil
        }
        return IPAddress(bytes: address, zone: zone)
    }
}

/// An address and mask length, parsed and printed like Go's netip.Prefix (the address is not masked).
struct IPPrefix: Sendable, Hashable, CustomStringConvertible {
    var address: IPAddress
    var bits: Int

    var description: String { address.description + "/" + String(bits) }

    init?(parsing text: String) {
        guard let slash = text.lastIndex(of: "/") else { return nil }
        guard let address = IPAddress(parsing: String(text[..<slash])), address.zone.isEmpty else { return nil }
        let limit: UInt64 = address.isIPv4 ? 32 : 128
        guard let bits = canonicalDecimal(text[text.index(after: slash)...], max: limit) else { return nil }
        self.address = address
        self.bits = Int(bits)
    }
}
