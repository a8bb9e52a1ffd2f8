package import MizzenConfig

/// A readable outline of a loaded configuration: each Gateway's servers, the VirtualServices
/// bound to it and their rules in order, then the subsets each DestinationRule defines.
///
/// It shows the configuration as written; how the routing engine compiles and decides is
/// `mizzen routes` (issue: routing engine).
package enum ConfigSummary {
    package static func text(_ snapshot: ConfigSnapshot) -> String {
        var lines: [String] = []
        for gateway in snapshot.gateways.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let selector = (gateway.spec.selector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            lines.append("Gateway \(gateway.namespace)/\(gateway.name) (selector \(selector.isEmpty ? "all workloads" : selector))")
            for server in gateway.spec.servers ?? [] {
                let port = server.port
                var line = "  server \(port?.protocol ?? "?") \(port?.number.map(String.init) ?? "?") hosts \((server.hosts ?? []).joined(separator: ", "))"
                if let tls = server.tls {
                    line += tls.httpsRedirect == true ? " (redirects to https)" : " tls \((tls.mode ?? .passthrough).rawValue)"
                    if let credential = tls.credentialName { line += " credential \(credential)" }
                }
                lines.append(line)
            }
            let key = "\(gateway.namespace)/\(gateway.name)"
            for vs in snapshot.virtualServices where (vs.spec.gateways ?? []).contains(where: { ConfigAnalyzer.gatewayKey($0, namespace: vs.namespace) == key }) {
                lines.append(contentsOf: virtualService(vs, indent: "  "))
            }
        }
        let meshBound = snapshot.virtualServices.filter { ($0.spec.gateways ?? []).isEmpty || ($0.spec.gateways ?? []).contains("mesh") }
        if !meshBound.isEmpty {
            lines.append("Sidecars (gateway mesh)")
            for vs in meshBound { lines.append(contentsOf: virtualService(vs, indent: "  ")) }
        }
        for rule in snapshot.destinationRules {
            let subsets = (rule.spec.subsets ?? []).map { subset in
                "\(subset.name ?? "?")[\((subset.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))]"
            }
            lines.append("DestinationRule \(rule.namespace)/\(rule.name) host \(rule.spec.host ?? "?") subsets \(subsets.isEmpty ? "none" : subsets.joined(separator: " "))")
        }
        for entry in snapshot.serviceEntries {
            let endpoints = (entry.spec.endpoints ?? []).map { endpoint in
                let ports = (endpoint.ports ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
                let labels = (endpoint.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                return "\(endpoint.address ?? "?")[\(ports)]\(labels.isEmpty ? "" : "{\(labels)}")"
            }
            lines.append("ServiceEntry \(entry.namespace)/\(entry.name) hosts \((entry.spec.hosts ?? []).joined(separator: ", ")) \((entry.spec.resolution ?? .none).rawValue) \(endpoints.joined(separator: " "))")
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    static func virtualService(_ vs: ConfigResource<VirtualService>, indent: String) -> [String] {
        var lines = ["\(indent)VirtualService \(vs.namespace)/\(vs.name) hosts \((vs.spec.hosts ?? []).joined(separator: ", "))"]
        for (index, route) in (vs.spec.http ?? []).enumerated() {
            let conditions = (route.match ?? []).map(describe).joined(separator: " or ")
            var action: String
            if let redirect = route.redirect {
                action = "redirect \(redirect.redirectCode ?? 301) to \(redirect.scheme.map { "\($0)://" } ?? "")\(redirect.authority ?? "")\(redirect.uri ?? "")"
            } else if let response = route.directResponse {
                action = "respond \(response.status ?? 0)"
            } else {
                action = (route.route ?? []).map { destination in
                    let target = destination.destination
                    var text = "\(target?.host ?? "?")"
                    if let subset = target?.subset { text += " \(subset)" }
                    if let port = target?.port?.number { text += ":\(port)" }
                    if (route.route ?? []).count > 1 { text += " (weight \(destination.weight ?? 0))" }
                    return text
                }.joined(separator: ", ")
                action = "to " + action
            }
            if let fault = route.fault {
                if let delay = fault.delay?.fixedDelay { action += "; delay \(delay) for \(Int(fault.delay?.percentage?.value ?? 0))%" }
                if let status = fault.abort?.httpStatus { action += "; abort \(status) for \(Int(fault.abort?.percentage?.value ?? 0))%" }
            }
            if let timeout = route.timeout { action += "; timeout \(timeout)" }
            lines.append("\(indent)  http[\(index)] \(conditions.isEmpty ? "every request" : conditions) -> \(action)")
        }
        for (index, route) in (vs.spec.tcp ?? []).enumerated() {
            lines.append("\(indent)  tcp[\(index)] -> \((route.route ?? []).compactMap { $0.destination?.host }.joined(separator: ", "))")
        }
        for (index, route) in (vs.spec.tls ?? []).enumerated() {
            let sni = (route.match ?? []).flatMap { $0.sniHosts ?? [] }.joined(separator: ", ")
            lines.append("\(indent)  tls[\(index)] sni \(sni) -> \((route.route ?? []).compactMap { $0.destination?.host }.joined(separator: ", "))")
        }
        return lines
    }

    static func describe(_ match: HTTPMatchRequest) -> String {
        var parts: [String] = []
        func text(_ value: StringMatch) -> String {
            if let exact = value.exact { return "= \(exact)" }
            if let prefix = value.prefix { return "prefix \(prefix)" }
            if let regex = value.regex { return "~ \(regex)" }
            return "present"
        }
        if let uri = match.uri { parts.append("uri \(text(uri))") }
        if let method = match.method { parts.append("method \(text(method))") }
        if let authority = match.authority { parts.append("authority \(text(authority))") }
        for (name, value) in (match.headers ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("header \(name) \(text(value))") }
        for (name, value) in (match.queryParams ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("query \(name) \(text(value))") }
        for name in (match.withoutHeaders ?? [:]).keys.sorted() { parts.append("without header \(name)") }
        if let port = match.port { parts.append("port \(port)") }
        return parts.isEmpty ? "every request" : "(" + parts.joined(separator: " and ") + ")"
    }
}
