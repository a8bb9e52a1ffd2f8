import MizzenConfig

/// Points app containers' probes at the sidecar's status port and remembers the originals, as
/// Istio's injector does (`pkg/kube/inject/app_probe.go`): the kubelet cannot reach the app
/// through mutual TLS, so the sidecar probes it from inside the pod.
///
/// readiness, liveness and startup probes with `httpGet`, `tcpSocket` or `grpc` become
/// `httpGet {path: /app-health/<container>/{readyz,livez,startupz}, port: <status port>}`;
/// `httpGet` keeps its host and headers and loses HTTPS (the sidecar speaks HTTPS to the app
/// itself); `exec` probes stay. preStop and postStart hooks with `httpGet` or `tcpSocket` move to
/// `/app-lifecycle/<container>/{prestopz,poststartz}` the same way.
struct AppProbeRewriter {
    let statusPort: Int
    let reader: ObjectReader

    private static let probes = [("readinessProbe", "readyz"), ("livenessProbe", "livez"), ("startupProbe", "startupz")]
    private static let hooks = [("preStop", "prestopz"), ("postStart", "poststartz")]

    /// One container rewritten, its original probers keyed by URL path, and remarks for the user.
    struct Rewrite {
        var container: YAMLNode
        var probers: [(path: String, prober: GoJSON)] = []
        var remarks: [String] = []
    }

    func rewrite(container: YAMLNode, name: String, at path: FieldPath) throws(InjectionError) -> Rewrite {
        var result = Rewrite(container: container)
        let ports = try namedPorts(container, at: path)
        for (field, suffix) in Self.probes {
            guard let probe = try reader.optionalMapping(container, field, at: path) else { continue }
            let url = "/app-health/\(name)/\(suffix)"
            let probePath = path / field
            guard let handled = try rewriteHandler(probe, url: url, at: probePath, allowGRPC: true) else { continue }
            let original = handled.original
            result.container = result.container.setting(field, to: handled.node)
            if let prober = try prober(original, in: probe, ports: ports, at: probePath, result: &result) {
                var fields = [(original.field, prober)]
                if let timeout = try timeoutSeconds(probe, at: probePath), timeout != 0 { fields.append(("timeoutSeconds", .integer(timeout))) }
                result.probers.append((url, .object(fields)))
            }
        }
        if let lifecycle = try reader.optionalMapping(container, "lifecycle", at: path) {
            var newLifecycle = lifecycle
            for (field, suffix) in Self.hooks {
                guard let hook = try reader.optionalMapping(lifecycle, field, at: path / "lifecycle") else { continue }
                let url = "/app-lifecycle/\(name)/\(suffix)"
                let hookPath = path / "lifecycle" / field
                guard let handled = try rewriteHandler(hook, url: url, at: hookPath, allowGRPC: false) else { continue }
                let original = handled.original
                newLifecycle = newLifecycle.setting(field, to: handled.node)
                if let prober = try prober(original, in: hook, ports: ports, at: hookPath, result: &result) {
                    result.probers.append((url, .object([(original.field, prober)])))
                }
            }
            result.container = result.container.setting("lifecycle", to: newLifecycle)
        }
        return result
    }

    /// `ISTIO_KUBE_APP_PROBERS`: every container's probers in one object, keys in byte order
    /// (Go marshals a map so); nil when there are none.
    static func environmentValue(_ probers: [(path: String, prober: GoJSON)]) -> String? {
        guard !probers.isEmpty else { return nil }
        let sorted = probers.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return GoJSON.object(sorted.map { ($0.path, $0.prober) }).text
    }

    // MARK: - Handlers

    private struct OriginalHandler {
        var field: String
        var node: YAMLNode
    }

    /// The probe or hook with its handler pointed at the status port, and the handler it had;
    /// nil when it has none to rewrite (exec, or nothing).
    private func rewriteHandler(
        _ probe: YAMLNode, url: String, at path: FieldPath, allowGRPC: Bool
    ) throws(InjectionError) -> (node: YAMLNode, original: OriginalHandler)? {
        if let httpGet = try reader.optionalMapping(probe, "httpGet", at: path) {
            var rewritten = httpGet.setting("path", to: .string(url), atStart: true).setting("port", to: .integer(statusPort))
            if try reader.optionalScalar(httpGet, "scheme", at: path / "httpGet") == "HTTPS" {
                rewritten = rewritten.setting("scheme", to: .string("HTTP"))
            }
            return (probe.setting("httpGet", to: rewritten), OriginalHandler(field: "httpGet", node: httpGet))
        }
        let replacement = YAMLNode.mapping([("path", .string(url)), ("port", .integer(statusPort))])
        if let tcpSocket = try reader.optionalMapping(probe, "tcpSocket", at: path) {
            return (probe.renaming("tcpSocket", to: "httpGet", value: replacement), OriginalHandler(field: "tcpSocket", node: tcpSocket))
        }
        if allowGRPC, let grpc = try reader.optionalMapping(probe, "grpc", at: path) {
            return (probe.renaming("grpc", to: "httpGet", value: replacement), OriginalHandler(field: "grpc", node: grpc))
        }
        return nil
    }

    /// The original handler as Istio's `Prober` JSON, named ports resolved; nil when Istio leaves
    /// it out (a port name the container does not declare, or a port already the status port).
    private func prober(
        _ original: OriginalHandler, in probe: YAMLNode, ports: [String: Int], at path: FieldPath, result: inout Rewrite
    ) throws(InjectionError) -> GoJSON? {
        let handlerPath = path / original.field
        let handler = original.node
        guard let portNode = reader.child(handler, "port") else {
            throw reader.context.error(.missingField, handlerPath / "port", handler, "is required")
        }
        guard let portText = portNode.scalarValue else { throw reader.context.wrongType(handlerPath / "port", portNode, expected: "a port number or name") }

        if original.field == "grpc" {
            // gRPC ports are numbers only; Istio copies them as they are.
            guard portNode.resolvedKind == .integer, let port = YAMLNumber.integer(portText) else {
                throw reader.context.wrongType(handlerPath / "port", portNode, expected: "a port number")
            }
            let service = try reader.optionalScalar(handler, "service", at: handlerPath)
            return .object([("port", .integer(Int(port))), ("service", service.map(GoJSON.string) ?? .null)])
        }

        let port: Int
        if portNode.resolvedKind == .integer, let number = YAMLNumber.integer(portText) {
            port = Int(number)
            if port == statusPort { return nil }
        } else if let resolved = ports[portText] {
            port = resolved
        } else {
            result.remarks.append("\(path) names port \"\(portText)\", which the container does not declare; the sidecar will answer it with 400")
            return nil
        }

        if original.field == "tcpSocket" {
            var fields: [(String, GoJSON)] = [("port", .integer(port))]
            if let host = try reader.optionalScalar(handler, "host", at: handlerPath), !host.isEmpty { fields.append(("host", .string(host))) }
            return .object(fields)
        }
        // Go's HTTPGetAction field order: path, port, host, scheme, httpHeaders.
        var fields: [(String, GoJSON)] = []
        if let value = try reader.optionalScalar(handler, "path", at: handlerPath), !value.isEmpty { fields.append(("path", .string(value))) }
        fields.append(("port", .integer(port)))
        if let value = try reader.optionalScalar(handler, "host", at: handlerPath), !value.isEmpty { fields.append(("host", .string(value))) }
        if let value = try reader.optionalScalar(handler, "scheme", at: handlerPath), !value.isEmpty { fields.append(("scheme", .string(value))) }
        if let headers = try reader.optionalSequence(handler, "httpHeaders", at: handlerPath), !headers.isEmpty {
            var list: [GoJSON] = []
            for (index, header) in headers.enumerated() {
                let headerPath = handlerPath / "httpHeaders" / index
                let entry = try reader.mapping(header, at: headerPath)
                let name = try reader.optionalScalar(entry, "name", at: headerPath) ?? ""
                let value = try reader.optionalScalar(entry, "value", at: headerPath) ?? ""
                list.append(.object([("name", .string(name)), ("value", .string(value))]))
            }
            fields.append(("httpHeaders", .array(list)))
        }
        return .object(fields)
    }

    private func timeoutSeconds(_ probe: YAMLNode, at path: FieldPath) throws(InjectionError) -> Int? {
        guard let node = reader.child(probe, "timeoutSeconds") else { return nil }
        guard node.resolvedKind == .integer, let text = node.scalarValue, let value = YAMLNumber.integer(text) else {
            throw reader.context.wrongType(path / "timeoutSeconds", node, expected: "an integer")
        }
        return Int(value)
    }

    /// The container's port names and numbers, for probes that name a port.
    private func namedPorts(_ container: YAMLNode, at path: FieldPath) throws(InjectionError) -> [String: Int] {
        var ports: [String: Int] = [:]
        for (index, port) in (try reader.optionalSequence(container, "ports", at: path) ?? []).enumerated() {
            let portPath = path / "ports" / index
            let entry = try reader.mapping(port, at: portPath)
            guard let name = try reader.optionalScalar(entry, "name", at: portPath), !name.isEmpty,
                  let number = reader.child(entry, "containerPort")?.scalarValue.flatMap(YAMLNumber.integer) else { continue }
            if ports[name] == nil { ports[name] = Int(number) }
        }
        return ports
    }
}
