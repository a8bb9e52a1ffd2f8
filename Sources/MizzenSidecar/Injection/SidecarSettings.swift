import MizzenConfig

/// What one pod's annotations and the injector's options decide about its sidecar, read and
/// checked the way Istio's injection template and `pkg/kube/inject/validate.go` read and check them.
struct SidecarSettings: Sendable, Equatable {
    /// REDIRECT, TPROXY or NONE (`sidecar.istio.io/interceptionMode`).
    var interceptionMode: String
    /// istio-init's flags, everything after the subcommand.
    var iptablesArguments: [String]
    /// Where app probes are rewritten to; 0 turns the sidecar's own probes and the rewrite off.
    var statusPort: Int
    var readinessInitialDelaySeconds: Int
    var readinessPeriodSeconds: Int
    var readinessFailureThreshold: Int
    var resources: ProxyResources
    var image: String
    var nativeSidecar: Bool
    var rewriteAppProbes: Bool

    var isTPROXY: Bool { interceptionMode == "TPROXY" }

    /// Reads `annotations` (found at `path`, each value's node in `nodes`), refusing values Istio refuses.
    static func make(
        annotations: StringMap,
        path: FieldPath,
        options: InjectionOptions,
        context: ErrorContext
    ) throws(InjectionError) -> SidecarSettings {
        func invalid(_ key: String, _ message: String) -> InjectionError {
            context.error(.invalidAnnotation, path / key, annotations.node(key), message)
        }
        try validate(annotations, invalid: invalid)

        func value(_ key: String, _ fallback: String) -> String { annotations[key] ?? fallback }

        let mode = value(Annotation.interceptionMode, options.interceptionMode)
        let statusPortText = value(Annotation.statusPort, String(options.statusPort))
        let statusPort = Int(statusPortText.trimmingSpaces) ?? options.statusPort

        var resources = options.resources
        let resourceKeys = [Annotation.proxyCPU, Annotation.proxyMemory, Annotation.proxyCPULimit, Annotation.proxyMemoryLimit]
        if resourceKeys.contains(where: { annotations[$0] != nil }) {
            // Any of them replaces the defaults wholesale (the template's "resources" block).
            resources = ProxyResources(
                requestsCPU: annotations[Annotation.proxyCPU],
                requestsMemory: annotations[Annotation.proxyMemory],
                limitsCPU: annotations[Annotation.proxyCPULimit],
                limitsMemory: annotations[Annotation.proxyMemoryLimit])
        }

        var image = options.image
        if let override = annotations[Annotation.proxyImage], !override.isEmpty { image = override }

        // The template: `ne (annotation | default NativeSidecars) "false"`; any other set value means yes.
        var native = options.nativeSidecars
        if let text = annotations[Annotation.nativeSidecar], !text.isEmpty { native = text != "false" }

        var rewrite = options.rewriteAppProbes
        if let text = annotations[Annotation.rewriteAppHTTPProbers], let flag = parseGoBoolean(text) { rewrite = flag }

        return SidecarSettings(
            interceptionMode: mode,
            iptablesArguments: iptablesArguments(annotations: annotations, options: options, mode: mode, statusPort: statusPortText),
            statusPort: statusPort,
            readinessInitialDelaySeconds: Int(value(Annotation.readinessInitialDelay, String(options.readinessInitialDelaySeconds))) ?? 0,
            readinessPeriodSeconds: Int(value(Annotation.readinessPeriod, String(options.readinessPeriodSeconds))) ?? 0,
            readinessFailureThreshold: Int(value(Annotation.readinessFailureThreshold, String(options.readinessFailureThreshold))) ?? 0,
            resources: resources,
            image: image,
            nativeSidecar: native,
            rewriteAppProbes: rewrite)
    }

    /// The istio-iptables flags the injection template renders for these annotations.
    static func iptablesArguments(annotations: StringMap, options: InjectionOptions, mode: String, statusPort: String) -> [String] {
        func value(_ key: String, _ fallback: String) -> String { annotations[key] ?? fallback }
        var arguments = [
            "-p", "15001",
            "-z", "15006",
            "-u", mode == "TPROXY" ? "1337" : String(options.proxyUID),
            "-m", mode,
            "-i", value(Annotation.includeOutboundIPRanges, options.includeIPRanges),
            "-x", value(Annotation.excludeOutboundIPRanges, options.excludeIPRanges),
            "-b", value(Annotation.includeInboundPorts, options.includeInboundPorts),
        ]
        // The status port joins the inbound exclusions after the user's, and only once.
        let excluded = excludeInboundPort(statusPort, from: value(Annotation.excludeInboundPorts, options.excludeInboundPorts))
        arguments += ["-d", excluded.isEmpty ? "15090,15021" : "15090,15021," + excluded]
        if annotations[Annotation.includeOutboundPorts] != nil || !options.includeOutboundPorts.isEmpty {
            arguments += ["-q", value(Annotation.includeOutboundPorts, options.includeOutboundPorts)]
        }
        if annotations[Annotation.excludeOutboundPorts] != nil || !options.excludeOutboundPorts.isEmpty {
            arguments += ["-o", value(Annotation.excludeOutboundPorts, options.excludeOutboundPorts)]
        }
        if let interfaces = annotations[Annotation.rerouteVirtualInterfaces] {
            arguments += ["-k", interfaces]
        } else if let interfaces = annotations[Annotation.kubevirtInterfaces] {
            arguments += ["-k", interfaces]
        }
        if let interfaces = annotations[Annotation.excludeInterfaces] {
            arguments += ["-c", interfaces]
        }
        arguments.append("--log_output_level=" + value(Annotation.agentLogLevel, options.logLevel))
        return arguments
    }

    /// Istio's `excludeInboundPort`: `port` appended to the list unless it is 0, empty or already there.
    static func excludeInboundPort(_ port: String, from list: String) -> String {
        let port = port.trimmingSpaces
        if port.isEmpty || port == "0" { return list }
        var kept: [String] = []
        for entry in list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            if entry == port { return list }
            let trimmed = entry.trimmingSpaces
            if !trimmed.isEmpty { kept.append(trimmed) }
        }
        kept.append(port)
        return kept.joined(separator: ",")
    }

    // MARK: - Validation (Istio's AnnotationValidation)

    private static func validate(_ annotations: StringMap, invalid: (String, String) -> InjectionError) throws(InjectionError) {
        for (key, value) in annotations.entries {
            switch key {
            case Annotation.interceptionMode:
                guard ["REDIRECT", "TPROXY", "NONE"].contains(value) else {
                    throw invalid(key, "interceptionMode invalid, use REDIRECT,TPROXY,NONE: \(value)")
                }
            case Annotation.statusPort:
                guard parseUnsigned(value.trimmingSpaces, max: 65535) != nil else {
                    throw invalid(key, "failed parsing port '\(value)'")
                }
            case Annotation.readinessInitialDelay, Annotation.readinessPeriod, Annotation.readinessFailureThreshold:
                guard parseUnsigned(value, max: UInt64(UInt32.max)) != nil else {
                    throw invalid(key, "'\(value)' is not a non-negative 32-bit integer")
                }
            case Annotation.includeOutboundIPRanges:
                if value != "*", let bad = firstBadCIDR(value) {
                    throw invalid(key, "includeIPRanges invalid: failed parsing cidr '\(bad)'")
                }
            case Annotation.excludeOutboundIPRanges:
                if let bad = firstBadCIDR(value) {
                    throw invalid(key, "excludeIPRanges invalid: failed parsing cidr '\(bad)'")
                }
            case Annotation.includeInboundPorts:
                if value != "*", let bad = firstBadPort(value) {
                    throw invalid(key, "includeInboundPorts invalid: failed parsing port '\(bad)'")
                }
            case Annotation.excludeInboundPorts, Annotation.excludeOutboundPorts, Annotation.includeOutboundPorts:
                // Istio checks the first two only; a bad includeOutboundPorts would stop istio-init
                // at pod start instead, so it is refused here too.
                if let bad = firstBadPort(value) {
                    let name = String(key.dropFirst("traffic.sidecar.istio.io/".count))
                    throw invalid(key, "\(name) invalid: failed parsing port '\(bad)'")
                }
            case Annotation.excludeInterfaces, Annotation.kubevirtInterfaces, Annotation.rerouteVirtualInterfaces:
                if let problem = interfaceProblem(value) { throw invalid(key, problem) }
            case Annotation.prometheusMergeMetrics:
                guard parseGoBoolean(value) != nil else { throw invalid(key, "'\(value)' is not a boolean") }
            case Annotation.proxyCPU, Annotation.proxyMemory, Annotation.proxyCPULimit, Annotation.proxyMemoryLimit:
                guard isResourceQuantity(value) else { throw invalid(key, "'\(value)' is not a resource quantity") }
            default:
                continue
            }
        }
    }

    private static func firstBadCIDR(_ list: String) -> String? {
        guard !list.isEmpty else { return nil }
        return list.split(separator: ",", omittingEmptySubsequences: false).map(String.init).first { IPPrefix(parsing: $0) == nil }
    }

    /// Istio's `parsePorts`: the list trimmed, then each entry trimmed and parsed as a 16-bit number.
    private static func firstBadPort(_ list: String) -> String? {
        let list = list.trimmingSpaces
        guard !list.isEmpty else { return nil }
        return list.split(separator: ",", omittingEmptySubsequences: false).map(String.init).first {
            parseUnsigned($0.trimmingSpaces, max: 65535) == nil
        }
    }

    /// Istio's `ValidateInterfaceNames`.
    private static func interfaceProblem(_ list: String) -> String? {
        guard !list.isEmpty else { return nil }
        for entry in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(entry).trimmingSpaces
            if name.isEmpty { return "empty interface name" }
            if name.utf8.count > 15 { return "interface name \"\(name)\" too long (max 15 chars)" }
            let bytes = Array(name.utf8)
            let isLetter = { (byte: UInt8) in (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
            let valid = isLetter(bytes[0]) && bytes.allSatisfy {
                isLetter($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
            }
            if !valid { return "interface name \"\(name)\" contains invalid characters" }
        }
        return nil
    }

    /// A Kubernetes quantity: `100m`, `1.5`, `128Mi`, `1e3`, `2G`.
    static func isResourceQuantity(_ text: String) -> Bool {
        var rest = Substring(text)
        if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
        let whole = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(whole.count)
        var fraction: Substring = ""
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return false }
        switch rest {
        case "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei":
            return true
        default:
            guard let e = rest.first, e == "e" || e == "E" else { return false }
            var exponent = rest.dropFirst()
            if let sign = exponent.first, sign == "+" || sign == "-" { exponent = exponent.dropFirst() }
            return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
        }
    }
}

/// Go's `strconv.ParseUint(text, 10, bits)`: ASCII digits only, no sign, at most `max`.
func parseUnsigned(_ text: String, max: UInt64) -> UInt64? {
    guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = UInt64(text), value <= max else { return nil }
    return value
}

/// Go's `strconv.ParseBool`.
func parseGoBoolean(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": return true
    case "0", "f", "F", "FALSE", "false", "False": return false
    default: return nil
    }
}

extension String {
    /// Go's `strings.TrimSpace` for the ASCII whitespace annotations carry.
    var trimmingSpaces: String {
        let isSpace = { (c: Character) in c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}

/// The annotation and label names the injector reads or writes.
enum Annotation {
    static let inject = "sidecar.istio.io/inject"
    static let status = "sidecar.istio.io/status"
    static let interceptionMode = "sidecar.istio.io/interceptionMode"
    static let proxyImage = "sidecar.istio.io/proxyImage"
    static let proxyCPU = "sidecar.istio.io/proxyCPU"
    static let proxyMemory = "sidecar.istio.io/proxyMemory"
    static let proxyCPULimit = "sidecar.istio.io/proxyCPULimit"
    static let proxyMemoryLimit = "sidecar.istio.io/proxyMemoryLimit"
    static let nativeSidecar = "sidecar.istio.io/nativeSidecar"
    static let rewriteAppHTTPProbers = "sidecar.istio.io/rewriteAppHTTPProbers"
    static let agentLogLevel = "sidecar.istio.io/agentLogLevel"
    static let statusPort = "status.sidecar.istio.io/port"
    static let readinessInitialDelay = "readiness.status.sidecar.istio.io/initialDelaySeconds"
    static let readinessPeriod = "readiness.status.sidecar.istio.io/periodSeconds"
    static let readinessFailureThreshold = "readiness.status.sidecar.istio.io/failureThreshold"
    static let includeOutboundIPRanges = "traffic.sidecar.istio.io/includeOutboundIPRanges"
    static let excludeOutboundIPRanges = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
    static let includeInboundPorts = "traffic.sidecar.istio.io/includeInboundPorts"
    static let excludeInboundPorts = "traffic.sidecar.istio.io/excludeInboundPorts"
    static let includeOutboundPorts = "traffic.sidecar.istio.io/includeOutboundPorts"
    static let excludeOutboundPorts = "traffic.sidecar.istio.io/excludeOutboundPorts"
    static let kubevirtInterfaces = "traffic.sidecar.istio.io/kubevirtInterfaces"
    static let excludeInterfaces = "traffic.sidecar.istio.io/excludeInterfaces"
    static let rerouteVirtualInterfaces = "istio.io/reroute-virtual-interfaces"
    static let prometheusMergeMetrics = "prometheus.istio.io/merge-metrics"
    static let proxyConfig = "proxy.istio.io/config"
    static let revision = "istio.io/rev"
    static let defaultContainer = "kubectl.kubernetes.io/default-container"
    static let defaultLogsContainer = "kubectl.kubernetes.io/default-logs-container"
    static let prometheusScrape = "prometheus.io/scrape"
    static let prometheusPort = "prometheus.io/port"
    static let prometheusPath = "prometheus.io/path"

    static let tlsModeLabel = "security.istio.io/tlsMode"
    static let canonicalNameLabel = "service.istio.io/canonical-name"
    static let canonicalRevisionLabel = "service.istio.io/canonical-revision"
}
