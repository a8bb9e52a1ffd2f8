internal import FoundationEssentials

/// The syntax rules Istio's validation (istio/istio pkg/config/validation) applies to names,
/// hosts, addresses, ports and durations, as pure functions returning a message or nil.
package enum Rules {
    /// Whether `value` is a prime (Maglev table sizes).
    package static func isPrime(_ value: UInt64) -> Bool {
        if value < 2 { return false }
        if value < 4 { return true }
        if value % 2 == 0 || value % 3 == 0 { return false }
        var divisor: UInt64 = 5
        while divisor * divisor <= value {
            if value % divisor == 0 || value % (divisor + 2) == 0 { return false }
            divisor += 6
        }
        return true
    }

    // MARK: Names

    /// DNS-1123 label: at most 63 of `[a-zA-Z0-9-]`, alphanumeric at both ends (Istio allows upper case).
    package static func isDNS1123Label(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isDNS1123Label($0[...]) }
    }

    /// The rules below read names byte by byte: they run on every host and name of every
    /// object loaded (50,000 endpoints and 10,000 VirtualServices in a Kubernetes sync), where
    /// splitting into strings was a tenth of validation.
    static func isDNS1123Label(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// `bytes` split at each dot, empty labels kept (as `split(separator:omittingEmptySubsequences: false)`).
    static func labels(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> [Slice<UnsafeBufferPointer<UInt8>>] {
        bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    }

    /// Kubernetes namespace and object-name rules (lower case; subdomain allows dots, 253 long).
    package static func kubernetesNameProblem(_ name: String, allowDots: Bool) -> String? {
        let limit = allowDots ? 253 : 63
        guard !name.isEmpty else { return "must not be empty" }
        guard name.utf8.count <= limit else { return "must be at most \(limit) characters" }
        var name = name
        let valid = name.withUTF8 { bytes in
            let labels = allowDots ? labels(bytes[...]) : [bytes[...]]
            return labels.allSatisfy { label in
                isDNS1123Label(label) && !label.contains { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
            }
        }
        guard valid else {
            return allowDots
                ? "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)"
                : "must be a lower-case DNS-1123 label (letters, digits and '-', alphanumeric at both ends, no dots)"
        }
        return nil
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// A domain's labels after the first: each a DNS-1123 label, the last not all-numeric, a trailing dot allowed.
    static func dnsLabelsProblem(_ domain: String) -> String? {
        var domain = domain
        return domain.withUTF8 { dnsLabelsProblem($0[...]) }
    }

    static func dnsLabelsProblem(_ domain: Slice<UnsafeBufferPointer<UInt8>>) -> String? {
        let parts = labels(domain)
        // What `Int(_:)` reads starts with a digit or a sign; most last labels start with a letter.
        if let last = parts.last, let first = last.first,
           (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-"),
           Int(String(decoding: last, as: UTF8.self)) != nil {
            return "top-level domain \"\(String(decoding: last, as: UTF8.self))\" must not be all digits"
        }
        for (offset, part) in parts.enumerated() {
            if offset == parts.count - 1, part.isEmpty, parts.count > 1 { continue }
            guard isDNS1123Label(part) else { return "label \"\(String(decoding: part, as: UTF8.self).prefix(70))\" is not a valid DNS label" }
        }
        return nil
    }

    /// `ValidateWildcardDomain`: a DNS name whose first label may be `*`, `*foo` or `*-foo`.
    package static func wildcardDomainProblem(_ domain: String) -> String? {
        guard !domain.isEmpty else { return "must not be empty" }
        guard domain.utf8.count <= 255 else { return "is longer than 255 characters" }
        var domain = domain
        return domain.withUTF8 { bytes in
            let dot = bytes.firstIndex(of: UInt8(ascii: "."))
            let first = bytes[..<(dot ?? bytes.endIndex)]
            if !isWildcardLabel(first) {
                return "label \"\(String(decoding: first, as: UTF8.self).prefix(70))\" is not a valid DNS label (a wildcard may only be the whole first label, as in \"*.example.com\")"
            }
            guard let dot else { return nil }
            return dnsLabelsProblem(bytes[(dot + 1)...])
        }
    }

    static func isWildcardLabel(_ label: String) -> Bool {
        var label = label
        return label.withUTF8 { isWildcardLabel($0[...]) }
    }

    static func isWildcardLabel(_ label: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        let star = UInt8(ascii: "*")
        if label.count == 1, label.first == star { return true }
        var rest = label
        if rest.first == star {
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
        }
        return isDNS1123Label(rest) && label.count <= 63
    }

    /// `ValidateFQDN`: a DNS name without wildcards.
    package static func fqdnProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "must not be empty" }
        guard name.utf8.count <= 255 else { return "is longer than 255 characters" }
        return dnsLabelsProblem(name)
    }

    /// A wildcard anywhere but as the whole first label (`*foo.com`, `foo.*`).
    package static func isPartialWildcard(_ host: String) -> Bool {
        host.contains("*") && host != "*" && !host.hasPrefix("*.")
    }

    // MARK: Addresses

    package static func isIPv4(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var parts = 0
            for part in labels(bytes[...]) {
                parts += 1
                guard parts <= 4, let first = part.first, part.count <= 3 else { return false }
                var value = 0
                for byte in part {
                    guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                }
                guard value <= 255, part.count == 1 || first != UInt8(ascii: "0") else { return false }
            }
            return parts == 4
        }
    }

    package static func isIPv6(_ text: String) -> Bool {
        var text = Substring(text)
        if let zone = text.firstIndex(of: "%") {
            guard text.index(after: zone) < text.endIndex else { return false }
            text = text[..<zone]
        }
        guard text.contains(":"), text.utf8.count <= 45 else { return false }
        var groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if let last = groups.last, last.contains(".") {
            // An embedded IPv4 address stands for the last two groups.
            guard isIPv4(last) else { return false }
            groups.removeLast()
            groups.append("0")
            groups.append("0")
        }
        let doubleColons = text.components(separatedBy: "::").count - 1
        guard doubleColons <= 1 else { return false }
        if doubleColons == 0 {
            guard groups.count == 8 else { return false }
        } else {
            guard groups.count <= 9 else { return false }
        }
        for (offset, group) in groups.enumerated() {
            if group.isEmpty {
                // Empty groups only around the "::".
                let atEdge = offset == 0 || offset == groups.count - 1
                guard doubleColons == 1 || atEdge else { return false }
                continue
            }
            guard group.count <= 4, group.allSatisfy(\.isHexDigit) else { return false }
        }
        return true
    }

    package static func isIP(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    /// An IP address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
    package static func subnetProblem(_ text: String) -> String? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1:
            return isIP(text) ? nil : "\"\(text.prefix(70))\" is not a valid IP address"
        case 2:
            let bits = isIPv4(parts[0]) ? 32 : (isIPv6(parts[0]) && !parts[0].contains("%") ? 128 : 0)
            guard bits > 0, let length = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit), (0...bits).contains(length) else {
                return "\"\(text.prefix(70))\" is not a valid CIDR block"
            }
            return nil
        default:
            return "\"\(text.prefix(70))\" is not a valid IP address or CIDR block"
        }
    }

    /// `unix:///abs/path` or `unix://@abstract`, given the part after `unix://`.
    package static func unixAddressProblem(_ path: String) -> String? {
        if path.isEmpty { return "unix socket address must not be empty" }
        if path.hasPrefix("@") { return nil }
        if !path.hasPrefix("/") || path.hasSuffix("/") { return "\"\(path.prefix(70))\" is not an absolute path to a file" }
        return nil
    }

    // MARK: Ports and protocols

    package static func portProblem(_ number: UInt32) -> String? {
        (1...65535).contains(number) ? nil : "port number \(number) must be between 1 and 65535"
    }

    /// Istio's protocol names (`pkg/config/protocol`), case-insensitive.
    package enum PortProtocol: String, Sendable, CaseIterable {
        case http = "HTTP", http2 = "HTTP2", https = "HTTPS", grpc = "GRPC", grpcWeb = "GRPC-WEB", httpProxy = "HTTP_PROXY"
        case tcp = "TCP", tls = "TLS", udp = "UDP", mongo = "MONGO", redis = "REDIS", mysql = "MYSQL"

        package init?(parsing text: String) {
            self.init(rawValue: text.uppercased())
        }

        package var isHTTP: Bool { [.http, .http2, .httpProxy, .grpc, .grpcWeb].contains(self) }
        package var isTLS: Bool { self == .https || self == .tls }
        package var isTCP: Bool { [.tcp, .https, .tls, .mongo, .redis, .mysql].contains(self) }

        static let listing = "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, MONGO, REDIS, MYSQL, UDP"
    }

    // MARK: Durations and percentages

    /// `ValidateDuration`: at least 1ms and whole milliseconds.
    package static func durationProblem(_ duration: IstioDuration) -> String? {
        if duration.nanoseconds < 1_000_000 { return "duration \(duration) must be at least 1ms" }
        if duration.nanoseconds % 1_000_000 != 0 { return "duration \(duration) must be a whole number of milliseconds" }
        return nil
    }

    package static func percentageProblem(_ value: Double) -> String? {
        if value < 0 || value > 100 { return "percentage \(format(value)) must be between 0 and 100" }
        if value > 0, value < 0.0001 { return "percentage \(format(value)) must be 0 or at least 0.0001" }
        return nil
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    // MARK: Labels and headers

    /// Kubernetes label key (`prefix/name`) problem, or nil.
    package static func labelKeyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts.count == 2 ? parts[1] : parts[0]
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.utf8.count <= 253,
                  prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isDNS1123Label(String($0)) }) else {
                return "label key \"\(key.prefix(80))\" has an invalid prefix (a DNS subdomain of at most 253 characters)"
            }
        }
        guard isLabelValue(name), !name.isEmpty else {
            return "label key \"\(key.prefix(80))\" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"
        }
        guard name.utf8.count <= 63 else { return "label key \"\(key.prefix(80))\" has a name longer than 63 characters" }
        return nil
    }

    /// Kubernetes label value: empty, or alphanumerics with `-_.` inside.
    package static func isLabelValue(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { return true }
        for (offset, byte) in bytes.enumerated() {
            if isAlphanumeric(byte) { continue }
            let inner = offset > 0 && offset < bytes.count - 1
            guard inner, byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") else { return false }
        }
        return true
    }

    package static func labelsProblems(_ labels: [String: String]) -> [(key: String, message: String)] {
        var problems: [(String, String)] = []
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if let problem = labelKeyProblem(key) { problems.append((key, problem)) }
            if !isLabelValue(value) {
                problems.append((key, "label value \"\(value.prefix(80))\" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"))
            }
        }
        return problems
    }

    /// An RFC 9110 token: the characters a header name may use.
    package static func isHeaderToken(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        return name.utf8.allSatisfy { byte in
            isAlphanumeric(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A route-match header name: a token, a pseudo-header, or a JWT claim (`@request.auth.claims.x`).
    package static func matchHeaderNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "header name must not be empty" }
        if isJWTClaimHeader(name) { return nil }
        if [":method", ":scheme", ":authority", ":path", ":status"].contains(name) { return nil }
        return isHeaderToken(name) ? nil : "\"\(name.prefix(80))\" is not a valid header name"
    }

    package static func isJWTClaimHeader(_ name: String) -> Bool {
        let lowered = name.lowercased()
        let prefix = "@request.auth.claims"
        guard lowered.hasPrefix(prefix) else { return false }
        let rest = lowered.dropFirst(prefix.count)
        return (rest.hasPrefix(".") && rest.count > 1) || (rest.hasPrefix("[") && rest.count > 2)
    }

    /// Envoy's header-value formatter syntax: `%VAR%`, `%VAR(args)%`, `%%` for a literal percent.
    package static func headerValueProblem(_ value: String) -> String? {
        for byte in value.utf8 where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            return "header value contains a control character (0x\(String(byte, radix: 16)))"
        }
        let bytes = Array(value.utf8)
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "%") else { index += 1; continue }
            if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "%") { index += 2; continue }
            // A variable runs to the next '%' (arguments in parentheses may hold anything but an unbalanced ')').
            var end = index + 1
            var depth = 0
            while end < bytes.count {
                if bytes[end] == UInt8(ascii: "(") { depth += 1 }
                if bytes[end] == UInt8(ascii: ")") { depth -= 1 }
                if bytes[end] == UInt8(ascii: "%"), depth <= 0 { break }
                end += 1
            }
            guard end < bytes.count else {
                return "header value has an unterminated variable or an unescaped '%' (write a literal percent as %%)"
            }
            let name = bytes[(index + 1)..<end]
            guard let first = name.first, isAlphanumeric(first) || first == UInt8(ascii: "_") else {
                return "header value has an empty or invalid variable name (write a literal percent as %%)"
            }
            index = end + 1
        }
        return nil
    }

    // MARK: Regex

    package static func regexProblem(_ pattern: String) -> String? {
        guard !pattern.isEmpty else { return "regex must not be empty" }
        do {
            _ = try CompiledRegex(pattern, jit: false)
            return nil
        } catch {
            return "regex \(error.message)"
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
