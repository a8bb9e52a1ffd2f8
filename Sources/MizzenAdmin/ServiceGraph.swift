package import MizzenTelemetry

/// The live call graph the seeds' servicegraph drew, made from the Istio metrics this proxy
/// reports: a node per workload and per destination service, an edge per (source, service)
/// with its requests, errors (5xx, or no response) and mean latency; TCP edges with their
/// bytes. Served as JSON and as an HTML page with an SVG drawing (`/graph`).
package struct ServiceGraph: Sendable, Equatable {
    package struct Node: Sendable, Equatable {
        package var id: String
        package var kind: String
        package var label: String
        package var namespace: String
    }

    package struct Edge: Sendable, Equatable {
        package var source: String
        package var target: String
        package var requestProtocol: String
        package var requests: UInt64
        package var errors: UInt64
        package var durationSumMilliseconds: Double
        package var tcpConnections: UInt64
        package var tcpBytes: UInt64

        package var meanMilliseconds: Double { requests == 0 ? 0 : durationSumMilliseconds / Double(requests) }
    }

    package var nodes: [Node]
    package var edges: [Edge]

    /// The graph of `metrics`, as reported by the proxy `identity` names.
    package init(identity: MetricsIdentity, metrics: MetricsSnapshot) {
        var nodes: [String: Node] = [:]
        var edges: [String: Edge] = [:]
        func workloadNode(_ labels: WorkloadLabels) -> String {
            // Without a workload name (no peer metadata), the canonical service and version
            // tell workloads apart (reviews-v1, reviews-v2), as Kiali's versioned app graph does.
            var name = labels.workload
            if name == "unknown", labels.canonicalService != "unknown" {
                name = labels.version == "unknown" ? labels.canonicalService : "\(labels.canonicalService)-\(labels.version)"
            }
            let id = "workload:\(name).\(labels.namespace)"
            if nodes[id] == nil { nodes[id] = Node(id: id, kind: "workload", label: name, namespace: labels.namespace) }
            return id
        }
        func serviceNode(_ peer: DestinationLabels) -> String {
            let id = "service:\(peer.service)"
            if nodes[id] == nil { nodes[id] = Node(id: id, kind: "service", label: peer.service, namespace: peer.serviceNamespace) }
            return id
        }
        func edge(_ source: String, _ target: String, _ proto: String) -> String {
            let key = "\(source)>\(target)>\(proto)"
            if edges[key] == nil {
                edges[key] = Edge(source: source, target: target, requestProtocol: proto, requests: 0, errors: 0, durationSumMilliseconds: 0,
                                  tcpConnections: 0, tcpBytes: 0)
            }
            return key
        }
        for (labels, series) in metrics.requests {
            let client = labels.reporter == .source ? identity.source : labels.peer.workload
            let source = workloadNode(client)
            let service = serviceNode(labels.peer)
            let key = edge(source, service, labels.requestProtocol.label)
            edges[key]!.requests &+= series.count
            // Errors as Kiali counts them: 5xx, and no response at all (flags such as DI on a
            // 200 are not errors).
            if labels.responseCode >= 500 || labels.responseCode == 0 { edges[key]!.errors &+= series.count }
            edges[key]!.durationSumMilliseconds += series.duration.sum
            // Behind the service, the workload that served it, when known.
            let server = labels.reporter == .source ? labels.peer.workload : identity.source
            if server.workload != "unknown" || server.canonicalService != "unknown" {
                let target = workloadNode(server)
                let inner = edge(service, target, labels.requestProtocol.label)
                edges[inner]!.requests &+= series.count
                if labels.responseCode >= 500 || labels.responseCode == 0 { edges[inner]!.errors &+= series.count }
                edges[inner]!.durationSumMilliseconds += series.duration.sum
            }
        }
        for (labels, series) in metrics.tcp {
            let client = labels.reporter == .source ? identity.source : labels.peer.workload
            let key = edge(workloadNode(client), serviceNode(labels.peer), "tcp")
            edges[key]!.tcpConnections &+= series.opened
            edges[key]!.tcpBytes &+= series.sentBytes &+ series.receivedBytes
            if !labels.responseFlags.isEmpty { edges[key]!.errors &+= series.closed }
        }
        self.nodes = nodes.values.sorted { $0.id < $1.id }
        self.edges = edges.values.sorted { ($0.source, $0.target, $0.requestProtocol) < ($1.source, $1.target, $1.requestProtocol) }
    }

    // MARK: JSON

    package var json: String {
        var out = "{\"nodes\":["
        out += nodes.map { node in
            "{\"id\":\(JSONWriter.string(node.id)),\"kind\":\(JSONWriter.string(node.kind)),\"label\":\(JSONWriter.string(node.label)),\"namespace\":\(JSONWriter.string(node.namespace))}"
        }.joined(separator: ",")
        out += "],\"edges\":["
        out += edges.map { edge in
            "{\"source\":\(JSONWriter.string(edge.source)),\"target\":\(JSONWriter.string(edge.target)),\"protocol\":\(JSONWriter.string(edge.requestProtocol)),"
                + "\"requests\":\(edge.requests),\"errors\":\(edge.errors),\"mean_ms\":\(Self.decimal(edge.meanMilliseconds)),"
                + "\"tcp_connections\":\(edge.tcpConnections),\"tcp_bytes\":\(edge.tcpBytes)}"
        }.joined(separator: ",")
        out += "]}\n"
        return out
    }

    // MARK: Drawing

    /// Columns by depth (a node's longest path from a node nothing calls), rows in id order.
    private func layout() -> [String: (column: Int, row: Int)] {
        var depth: [String: Int] = [:]
        for node in nodes { depth[node.id] = 0 }
        // Longest-path relaxation; bounded by the node count (cycles stop growing there).
        for _ in 0..<max(1, nodes.count) {
            var changed = false
            for edge in edges where edge.source != edge.target {
                let candidate = (depth[edge.source] ?? 0) + 1
                if candidate > (depth[edge.target] ?? 0), candidate < nodes.count + 1 {
                    depth[edge.target] = candidate
                    changed = true
                }
            }
            if !changed { break }
        }
        var rows: [Int: Int] = [:]
        var positions: [String: (Int, Int)] = [:]
        for node in nodes {
            let column = depth[node.id] ?? 0
            positions[node.id] = (column, rows[column, default: 0])
            rows[column, default: 0] += 1
        }
        return positions
    }

    package var svg: String {
        let positions = layout()
        let columns = (positions.values.map(\.column).max() ?? 0) + 1
        let rows = (positions.values.map(\.row).max() ?? 0) + 1
        let nodeWidth = 300, nodeHeight = 46, columnGap = 160, rowGap = 40, margin = 20
        let width = margin * 2 + columns * nodeWidth + (columns - 1) * columnGap
        let height = margin * 2 + rows * nodeHeight + (rows - 1) * rowGap
        func origin(_ id: String) -> (x: Int, y: Int) {
            let position = positions[id] ?? (0, 0)
            return (margin + position.column * (nodeWidth + columnGap), margin + position.row * (nodeHeight + rowGap))
        }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
        for edge in edges {
            let from = origin(edge.source), to = origin(edge.target)
            let x1 = from.x + nodeWidth, y1 = from.y + nodeHeight / 2, x2 = to.x, y2 = to.y + nodeHeight / 2
            let failing = edge.errors > 0
            let color = failing ? (edge.errors * 20 > max(edge.requests, edge.tcpConnections) ? "#c0392b" : "#e67e22") : "#27ae60"
            out += "<line class=\"edge\" x1=\"\(x1)\" y1=\"\(y1)\" x2=\"\(x2)\" y2=\"\(y2)\" stroke=\"\(color)\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\n"
            let label = edge.requestProtocol == "tcp"
                ? "tcp \(edge.tcpConnections) conn, \(edge.tcpBytes) B"
                : "\(edge.requestProtocol) \(edge.requests) req, \(edge.errors) err, \(Self.decimal(edge.meanMilliseconds)) ms"
            out += "<text x=\"\((x1 + x2) / 2)\" y=\"\((y1 + y2) / 2 - 6)\" text-anchor=\"middle\" fill=\"#333\">\(Self.escaped(label))</text>\n"
        }
        for node in nodes {
            let at = origin(node.id)
            let fill = node.kind == "service" ? "#eaf2fb" : "#fdf2e9"
            out += "<g class=\"node\"><rect x=\"\(at.x)\" y=\"\(at.y)\" width=\"\(nodeWidth)\" height=\"\(nodeHeight)\" rx=\"6\" fill=\"\(fill)\" stroke=\"#555\"/>"
            out += "<text x=\"\(at.x + nodeWidth / 2)\" y=\"\(at.y + 19)\" text-anchor=\"middle\" font-weight=\"bold\">\(Self.escaped(node.label))</text>"
            out += "<text x=\"\(at.x + nodeWidth / 2)\" y=\"\(at.y + 36)\" text-anchor=\"middle\" fill=\"#666\">\(node.kind) · \(Self.escaped(node.namespace))</text></g>\n"
        }
        out += "</svg>\n"
        return out
    }

    package var html: String {
        """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Mizzen service graph</title>
        <style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
        </head><body><h1>Service graph</h1>
        <p>From the istio_* metrics this proxy reports (refreshes every 5 s; JSON: <a href="?format=json">?format=json</a>, SVG: <a href="?format=svg">?format=svg</a>).</p>
        \(nodes.isEmpty ? "<p>No traffic yet.</p>" : svg)
        <table><tr><th>from</th><th>to</th><th>protocol</th><th>requests</th><th>errors</th><th>mean ms</th><th>tcp bytes</th></tr>
        \(edges.map { "<tr><td>\(Self.escaped($0.source))</td><td>\(Self.escaped($0.target))</td><td>\($0.requestProtocol)</td><td>\($0.requests)</td><td>\($0.errors)</td><td>\(Self.decimal($0.meanMilliseconds))</td><td>\($0.tcpBytes)</td></tr>" }.joined(separator: "\n"))
        </table></body></html>

        """
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    static func decimal(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}
