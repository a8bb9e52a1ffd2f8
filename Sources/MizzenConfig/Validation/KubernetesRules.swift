/// Kubernetes' own syntax rules (apimachinery `util/validation`, `pkg/apis/core/validation`) for
/// the manifests that install Mizzen, with Kubernetes' wording where it reads well on its own.
package enum KubernetesRules {
    /// `IsValidPortName` (IANA_SVC_NAME): at most 15 of `[a-z0-9-]`, a letter, no `--`, no `-` at either end.
    package static func portNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.count > 15 { return "must be no more than 15 characters" }
        if bytes.isEmpty { return "must not be empty" }
        if !bytes.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }) {
            return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        }
        if name.contains("--") { return "must not contain consecutive hyphens (-)" }
        if !bytes.contains(where: { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) { return "must contain at least one letter (a-z)" }
        if bytes.first == UInt8(ascii: "-") || bytes.last == UInt8(ascii: "-") { return "must not begin or end with a hyphen (-)" }
        return nil
    }

    /// Port numbers of containers, services and probes.
    package static func portNumberProblem(_ number: Int32) -> String? {
        (1...65535).contains(number) ? nil : "must be between 1 and 65535, inclusive"
    }

    /// Environment variable names (Kubernetes before the 1.34 relaxation, which every cluster accepts).
    package static func envVarNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        let valid = !bytes.isEmpty && !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0])
            && bytes.allSatisfy { Rules.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
        return valid ? nil : "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
    }

    /// `IsConfigMapKey`: the keys of ConfigMap and Secret data, and of volume items.
    package static func configKeyProblem(_ key: String) -> String? {
        if key.utf8.count > 253 { return "must be no more than 253 characters" }
        if key.isEmpty || !key.utf8.allSatisfy({ Rules.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }) {
            return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        }
        if key == "." { return "must not be '.'" }
        if key == ".." { return "must not be '..'" }
        if key.hasPrefix("..") { return "must not start with '..'" }
        return nil
    }

    /// `IsQualifiedName`: `[prefix/]name`, the name at most 63 of `[A-Za-z0-9-_.]` (label keys, finalizers).
    package static func qualifiedNameProblem(_ name: String) -> String? {
        Rules.labelKeyProblem(name).map { $0.replacing("label key", with: "name") }
    }

    /// A volume item's or subPath's path: relative, without `..` elements.
    package static func relativePathProblem(_ path: String) -> String? {
        if path.hasPrefix("/") { return "must be a relative path" }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") { return "must not contain '..'" }
        return nil
    }

    /// Sysctl names: dot- or slash-separated segments of `[a-z0-9-_]`, at most 253 characters.
    package static func isSysctlName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let segments = name.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "." || $0 == "/" })
        return segments.allSatisfy { segment in
            let bytes = Array(segment.utf8)
            guard let first = bytes.first, let last = bytes.last else { return false }
            let lowerOrDigit = { (byte: UInt8) in (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
            return lowerOrDigit(first) && lowerOrDigit(last) && bytes.allSatisfy { lowerOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }
    }

    static let sysctlRegex = #"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"#

    /// The sysctls the kubelet allows without `--allowed-unsafe-sysctls` (Kubernetes 1.29+).
    static let safeSysctls: Set<String> = [
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
    ]

    /// A Linux capability as a container runtime takes it: `NET_ADMIN`, `CAP_NET_ADMIN` or `ALL`.
    package static func isCapabilityName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") }
    }

    /// An `IntOrString` that is a count or a percentage (`maxUnavailable`, `minAvailable`, `maxSurge`).
    package static func intOrPercentProblem(_ value: IntOrString) -> String? {
        switch value {
        case .int(let number):
            return number < 0 ? "must be greater than or equal to 0" : nil
        case .string(let text):
            guard text.hasSuffix("%"), text.count > 1, text.dropLast().allSatisfy({ $0 >= "0" && $0 <= "9" }), let percent = Int(text.dropLast().prefix(9)) else {
                return "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%', or '93%')"
            }
            return percent > 100 ? "must not be greater than 100%" : nil
        }
    }

    /// Whether an `IntOrString` is zero (`0` or `"0%"`).
    static func isZero(_ value: IntOrString?) -> Bool {
        switch value {
        case .int(0)?: return true
        case .string(let text)?: return text.hasSuffix("%") && Int(text.dropLast()) == 0
        default: return false
        }
    }
}

extension Problems {
    /// Kubernetes' `NotSupported`: the value and the values allowed.
    mutating func unsupported(_ value: String?, _ allowed: [String], _ path: FieldPath) {
        guard let value, !allowed.contains(value) else { return }
        error(path, "Unsupported value: \"\(value.prefix(60))\": supported values: \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
    }

    mutating func atLeast(_ value: Int64?, _ minimum: Int64, _ path: FieldPath) {
        if let value, value < minimum { error(path, "must be greater than or equal to \(minimum)") }
    }

    mutating func kubernetesName(_ value: String?, _ path: FieldPath, allowDots: Bool = true, required: Bool = false) {
        guard let value, !value.isEmpty else {
            if required { error(path, "is required") }
            return
        }
        if let problem = Rules.kubernetesNameProblem(value, allowDots: allowDots) { error(path, problem) }
    }

    /// A meta/v1 `LabelSelector`: label keys and values, and each expression's operator and values.
    mutating func labelSelector(_ selector: KubernetesLabelSelector?, _ path: FieldPath) {
        guard let selector else { return }
        labels(selector.matchLabels, path / "matchLabels")
        for (index, requirement) in (selector.matchExpressions ?? []).enumerated() {
            let at = path / "matchExpressions" / index
            if let key = requirement.key, !key.isEmpty {
                if let problem = Rules.labelKeyProblem(key) { error(at / "key", problem) }
            } else {
                error(at / "key", "is required")
            }
            let values = requirement.values ?? []
            switch requirement.operator {
            case "In", "NotIn":
                if values.isEmpty { error(at / "values", "must be specified when `operator` is 'In' or 'NotIn'") }
            case "Exists", "DoesNotExist":
                if !values.isEmpty { error(at / "values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'") }
            case nil:
                error(at / "operator", "is required")
            case let other:
                unsupported(other, ["In", "NotIn", "Exists", "DoesNotExist"], at / "operator")
            }
            for (valueIndex, value) in values.enumerated() where !Rules.isLabelValue(value) || value.utf8.count > 63 {
                error(at / "values" / valueIndex, "label value \"\(value.prefix(80))\" is invalid (at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends)")
            }
        }
    }
}
