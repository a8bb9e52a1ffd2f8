/// Checks on a `Pod` as the API server returns it: the names and addresses Mizzen reads.
///
/// Metadata (name, namespace, labels) is checked by the loader for every kind.
extension KubernetesValidator {
    package static func pod(_ pod: KubernetesPod, into problems: inout Problems) {
        let spec = FieldPath.root / "spec"
        for field in ["serviceAccountName", "serviceAccount", "nodeName"] {
            let value = field == "serviceAccountName" ? pod.spec?.serviceAccountName : field == "serviceAccount" ? pod.spec?.serviceAccount : pod.spec?.nodeName
            if let value, !value.isEmpty, let problem = Rules.kubernetesNameProblem(value, allowDots: true) {
                problems.error(spec / field, problem)
            }
        }
        if let account = pod.spec?.serviceAccount, let name = pod.spec?.serviceAccountName, !account.isEmpty, !name.isEmpty, account != name {
            problems.error(spec / "serviceAccount", "must equal serviceAccountName \"\(name)\" (it is its deprecated alias)")
        }
        var containerNames: Set<String> = []
        for (field, containers) in [("initContainers", pod.spec?.initContainers), ("containers", pod.spec?.containers)] {
            for (index, container) in (containers ?? []).enumerated() {
                let path = spec / field / index / "name"
                guard let name = container.name, !name.isEmpty else {
                    problems.error(path, "is required")
                    continue
                }
                if let problem = Rules.kubernetesNameProblem(name, allowDots: false) { problems.error(path, problem) }
                if !containerNames.insert(name).inserted { problems.error(path, "Duplicate value: \"\(name)\"") }
            }
        }
        guard let status = pod.status else { return }
        let statusPath = FieldPath.root / "status"
        if let ip = status.podIP, !ip.isEmpty, !Rules.isIP(ip) { problems.error(statusPath / "podIP", "\"\(ip.prefix(60))\" must be a valid IP address") }
        if let ip = status.hostIP, !ip.isEmpty, !Rules.isIP(ip) { problems.error(statusPath / "hostIP", "\"\(ip.prefix(60))\" must be a valid IP address") }
        for (field, list) in [("podIPs", status.podIPs), ("hostIPs", status.hostIPs)] {
            guard let list else { continue }
            var seen: Set<String> = []
            var families: Set<Bool> = []
            for (index, entry) in list.enumerated() {
                let path = statusPath / field / index / "ip"
                guard let ip = entry.ip, !ip.isEmpty else {
                    problems.error(path, "is required")
                    continue
                }
                guard Rules.isIP(ip) else {
                    problems.error(path, "\"\(ip.prefix(60))\" must be a valid IP address")
                    continue
                }
                if !seen.insert(ip).inserted { problems.error(path, "Duplicate value: \"\(ip)\"") }
                families.insert(Rules.isIPv4(ip))
            }
            // The API server allows at most one address of each family (dual stack).
            if list.count > 2 || (list.count == 2 && families.count < 2) {
                problems.error(statusPath / field, "may hold at most one IPv4 and one IPv6 address")
            }
            let single = field == "podIPs" ? status.podIP : status.hostIP
            if let first = list.first?.ip, let single, !single.isEmpty, first != single {
                problems.error(statusPath / field / 0 / "ip", "must match \(field == "podIPs" ? "podIP" : "hostIP") \"\(single)\"")
            }
        }
        for (index, condition) in (status.conditions ?? []).enumerated() {
            let path = statusPath / "conditions" / index
            if (condition.type ?? "").isEmpty { problems.error(path / "type", "is required") }
            if let value = condition.status, !["True", "False", "Unknown"].contains(value) {
                problems.error(path / "status", "must be True, False or Unknown")
            }
        }
    }
}
