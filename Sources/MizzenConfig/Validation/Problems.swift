/// Problems found in one object, each at a field path; turned into `Diagnostic`s by the loader.
package struct Problems: Sendable {
    package struct Item: Sendable, Equatable {
        package var severity: Diagnostic.Severity
        package var path: FieldPath
        package var message: String
        /// Point at the key of the last path component rather than its value.
        package var atKey: Bool
    }

    package var items: [Item] = []

    package init() {}

    package mutating func error(_ path: FieldPath, _ message: String, atKey: Bool = false) {
        items.append(Item(severity: .error, path: path, message: message, atKey: atKey))
    }

    package mutating func warning(_ path: FieldPath, _ message: String, atKey: Bool = false) {
        items.append(Item(severity: .warning, path: path, message: message, atKey: atKey))
    }

    package var hasErrors: Bool { items.contains { $0.severity == .error } }

    // MARK: Shared field checks

    mutating func duration(_ value: IstioDuration?, _ path: FieldPath) {
        if let value, let problem = Rules.durationProblem(value) { error(path, problem) }
    }

    mutating func percentage(_ value: Percent?, _ path: FieldPath) {
        guard let value else { return }
        if let problem = Rules.percentageProblem(value.value ?? 0) { error(path / "value", problem) }
    }

    mutating func nonNegative(_ value: Int32?, _ path: FieldPath) {
        if let value, value < 0 { error(path, "must not be negative") }
    }

    mutating func percentRange(_ value: Int32?, _ path: FieldPath) {
        if let value, !(0...100).contains(value) { error(path, "must be between 0 and 100") }
    }

    mutating func port(_ value: UInt32?, _ path: FieldPath, required: Bool = false) {
        guard let value else {
            if required { error(path, "is required") }
            return
        }
        if let problem = Rules.portProblem(value) { error(path, problem) }
    }

    mutating func labels(_ labels: [String: String]?, _ path: FieldPath) {
        for problem in Rules.labelsProblems(labels ?? [:]) { error(path / problem.key, problem.message, atKey: true) }
    }

    mutating func regex(_ pattern: String, _ path: FieldPath) {
        if let problem = Rules.regexProblem(pattern) { error(path, problem) }
    }

    /// `StringMatch`: one of exact/prefix/regex; prefix non-empty unless allowed; regex RE2.
    mutating func stringMatch(_ match: StringMatch, _ path: FieldPath, allowEmptyPrefix: Bool = false, requireType: Bool = false) {
        let set = [match.exact != nil, match.prefix != nil, match.regex != nil].filter { $0 }.count
        if set > 1 {
            error(path, "only one of exact, prefix or regex may be set")
            return
        }
        if set == 0, requireType { error(path, "one of exact, prefix or regex is required") }
        if let prefix = match.prefix, prefix.isEmpty, !allowEmptyPrefix { error(path / "prefix", "must not be empty") }
        if let regex = match.regex { self.regex(regex, path / "regex") }
    }

    /// `exportTo`: `.`, `*` or namespace names, no duplicates, `*` alone; `~` only for ServiceEntry.
    mutating func exportTo(_ entries: [String]?, namespace: String, _ path: FieldPath, allowNobody: Bool) {
        guard let entries, !entries.isEmpty else { return }
        var seen: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let key = entry == "." ? namespace : entry
            if seen.contains(key) {
                error(path[index], entry == "." ? "duplicates the object's own namespace \(namespace)" : "duplicate entry \"\(entry)\"")
                continue
            }
            if entry == "~" {
                if !allowNobody { error(path[index], "\"~\" (export to nobody) is only allowed on ServiceEntry") }
            } else if entry != "." && entry != "*" && !Rules.isDNS1123Label(entry) {
                error(path[index], "must be \".\", \"*\" or a namespace name")
                continue
            }
            seen.insert(key)
        }
        if entries.count > 1 {
            if seen.contains("*") { error(path, "\"*\" (export to all) must be the only entry") }
            if seen.contains("~") { error(path, "\"~\" (export to nobody) must be the only entry") }
        }
    }

    /// A `Destination`: a host (short name, FQDN or `*.`-wildcard; not `*`), subset, port.
    mutating func destination(_ destination: Destination?, _ path: FieldPath) {
        guard let destination else {
            error(path, "is required")
            return
        }
        if let host = destination.host {
            if host == "*" {
                error(path / "host", "must name a service; \"*\" is not allowed")
            } else if host.contains("/") {
                error(path / "host", "must be a host name; \"namespace/name\" is not allowed here")
            } else if let problem = Rules.wildcardDomainProblem(host) {
                error(path / "host", problem)
            }
        } else {
            error(path / "host", "is required")
        }
        if let subset = destination.subset {
            if subset.isEmpty {
                error(path / "subset", "must not be empty")
            } else if !Rules.isDNS1123Label(subset) {
                error(path / "subset", "must be a DNS-1123 label")
            }
        }
        if let port = destination.port { self.port(port.number, path / "port" / "number", required: true) }
    }

    /// Relative weights: none negative, not all zero when there are several (need not total 100).
    mutating func weights(_ weights: [Int32?], _ path: FieldPath) {
        var total: Int64 = 0
        for (index, weight) in weights.enumerated() {
            if let weight, weight < 0 { error(path[index] / "weight", "must not be negative") }
            total += Int64(max(weight ?? 0, 0))
        }
        if weights.count > 1, total == 0, !weights.contains(where: { ($0 ?? 0) < 0 }) {
            error(path, "weights of several destinations must not all be 0")
        }
    }
}
