package import MizzenSidecar

#if canImport(Glibc)
import Glibc
#endif

/// `mizzen iptables`: istio-init. Takes istio-iptables' flags and environment, writes the nat
/// (and, for TPROXY, mangle) rules through `iptables-restore --noflush` with the backend the
/// host uses (legacy or nft: the one already holding rules), then the TPROXY routes; or prints
/// them (`--dry-run`), or removes them (`--cleanup-only`).
package struct IptablesMode {
    package var arguments: [String]
    package var environment: [String: String]

    package init(arguments: [String], environment: [String: String]) {
        self.arguments = arguments
        self.environment = environment
    }

    /// Exit statuses as istio-iptables: 0 done, 1 a rule could not be applied, 2 a bad flag.
    package func run(output: (String) -> Void, errors: (String) -> Void) -> Int32 {
        var settings: CaptureSettings
        let options: CaptureOptions
        do {
            (settings, options) = try CaptureSettings.parse(arguments: arguments, environment: environment, lookupUserID: Self.userID)
            try settings.applyPodEnvironment(interfaceAddresses: Self.interfaceAddresses(), resolvConf: Self.read("/etc/resolv.conf"))
        } catch {
            errors("mizzen iptables: \(error)")
            return 2
        }
        if options.showHelp {
            output(Self.help)
            return 0
        }
        // What istio-iptables does that this does not: said, not silently skipped.
        if options.runValidation {
            errors("mizzen iptables: --run-validation (istio-cni's check of rules another agent wrote) is not supported")
            return 2
        }
        if options.nativeNftables {
            errors("mizzen iptables: --native-nftables is not supported; iptables-restore writes the rules (with the nft backend where the host uses it)")
            return 2
        }
        if !options.networkNamespace.isEmpty {
            errors("mizzen iptables: --network-namespace is not supported; run it inside the pod's namespace (ip netns exec NS mizzen iptables ...)")
            return 2
        }
        if options.cniMode { errors("mizzen iptables: --cni-mode has no effect here (the rules are the same)") }
        if options.forceApply { errors("mizzen iptables: --force-apply has no effect: rules already there are always replaced") }
        if !options.ignoredArguments.isEmpty {
            errors("mizzen iptables: ignored arguments (istio-iptables ignores them too): \(options.ignoredArguments.joined(separator: " "))")
        }
        let rules = captureRules(settings)
        if options.dryRun {
            output(Self.dryRun(rules, cleanupOnly: options.cleanupOnly))
            return 0
        }
        let backend = Backend.pick(forced: options.forceIptablesBinary)
        if options.cleanupOnly {
            for command in rules.ipv4Cleanup { _ = Subprocess.run(backend.iptables, command) }
            if rules.enableIPv6 { for command in rules.ipv6Cleanup { _ = Subprocess.run(backend.ip6tables, command) } }
            output("removed the capture rules (\(backend.name))")
            return 0
        }
        if options.skipRuleApply { return 0 }
        // Run again (a restarted init container, changed flags): the rules there are replaced,
        // not added twice (the chains would already exist).
        var replaced = false
        for (save, cleanup, tool, wanted) in [("\(backend.iptables)-save", rules.ipv4Cleanup, backend.iptables, true),
                                              ("\(backend.ip6tables)-save", rules.ipv6Cleanup, backend.ip6tables, rules.enableIPv6)] where wanted {
            let existing = Subprocess.run(save, [])
            guard existing.status == 0, existing.output.contains("ISTIO_") else { continue }
            for command in cleanup { _ = Subprocess.run(tool, command) }
            replaced = true
        }
        var applied: [(String, String)] = [(backend.iptablesRestore, rules.ipv4Restore)]
        if rules.enableIPv6 { applied.append((backend.ip6tablesRestore, rules.ipv6Restore)) }
        for (tool, text) in applied where !text.isEmpty {
            let result = Subprocess.run(tool, ["--noflush"], stdin: text)
            guard result.status == 0 else {
                errors("mizzen iptables: \(tool) --noflush failed (status \(result.status)): \(result.output)\ninput:\n\(text)")
                return 1
            }
        }
        for route in rules.routeCommands {
            let result = Subprocess.run("ip", route.arguments)
            let exists = result.output.contains("File exists") || result.output.contains("already assigned")
            if result.status != 0 && !(route.toleratesExisting && exists) {
                errors("mizzen iptables: ip \(route.arguments.joined(separator: " ")) failed: \(result.output)")
                return 1
            }
        }
        output("capture rules \(replaced ? "replaced" : "applied") (\(backend.name)\(rules.enableIPv6 ? ", IPv4 and IPv6" : "")): outbound to \(settings.envoyPort), inbound to \(settings.inboundCapturePort)")
        return 0
    }

    /// What would be applied, in iptables-save form (`ip6tables` and `ip` lines as comments
    /// after it), or the removal commands.
    static func dryRun(_ rules: CaptureRuleSet, cleanupOnly: Bool) -> String {
        var lines: [String] = []
        if cleanupOnly {
            lines += rules.ipv4Cleanup.map { "iptables " + $0.joined(separator: " ") }
            if rules.enableIPv6 { lines += rules.ipv6Cleanup.map { "ip6tables " + $0.joined(separator: " ") } }
            return lines.joined(separator: "\n")
        }
        lines.append(rules.ipv4Restore.hasSuffix("\n") ? String(rules.ipv4Restore.dropLast()) : rules.ipv4Restore)
        if rules.enableIPv6, !rules.ipv6Restore.isEmpty {
            lines.append("# ip6tables-restore --noflush:")
            lines.append(rules.ipv6Restore.hasSuffix("\n") ? String(rules.ipv6Restore.dropLast()) : rules.ipv6Restore)
        }
        for route in rules.routeCommands { lines.append("# ip " + route.arguments.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }

    static let help = """
        mizzen iptables: istio-init's capture rules (istio-iptables flags and environment).
          -p PORT   outbound capture port (15001)       -z PORT   inbound capture port (15006)
          -u UIDS   proxy uid(s) not captured (1337)    -g GIDS   proxy gid(s) (= -u)
          -m MODE   REDIRECT or TPROXY                  -b PORTS  inbound ports captured (* = all)
          -d PORTS  inbound ports excluded              -i CIDRS  outbound ranges captured (* = all)
          -x CIDRS  outbound ranges excluded            -q PORTS  outbound ports always captured
          -o PORTS  outbound ports excluded             -k IFS    interfaces treated as outbound
          -c IFS    interfaces never captured           -n, --dry-run  print the rules only
          --cleanup-only  remove the rules; --redirect-dns, --capture-all-dns, --drop-invalid, --dual-stack
        """

    /// The iptables commands of one backend.
    struct Backend {
        var name: String
        var iptables: String
        var ip6tables: String
        var iptablesRestore: String
        var ip6tablesRestore: String

        static func named(_ suffix: String) -> Backend {
            Backend(name: suffix.isEmpty ? "default" : suffix, iptables: "iptables\(suffix.isEmpty ? "" : "-\(suffix)")",
                    ip6tables: "ip6tables\(suffix.isEmpty ? "" : "-\(suffix)")",
                    iptablesRestore: "iptables\(suffix.isEmpty ? "" : "-\(suffix)")-restore",
                    ip6tablesRestore: "ip6tables\(suffix.isEmpty ? "" : "-\(suffix)")-restore")
        }

        /// Istio's detection: the backend that already holds rules (kubelet's and kube-proxy's
        /// live there), else the system default.
        static func pick(forced: String) -> Backend {
            if forced == "legacy" || forced == "nft" { return named(forced) }
            var best: (Backend, Int)?
            for suffix in ["legacy", "nft"] {
                let backend = named(suffix)
                let saved = Subprocess.run("\(backend.iptables)-save", [])
                guard saved.status == 0 else { continue }
                let rules = saved.output.split(separator: "\n").filter { $0.hasPrefix("-A ") }.count
                if rules > (best?.1 ?? 0) { best = (backend, rules) }
            }
            return best?.0 ?? named("")
        }
    }

    /// The uid of a user in /etc/passwd (the `-u` default: istio-proxy's uid, else 1337).
    static func userID(_ name: String) -> String? {
        guard let passwd = read("/etc/passwd") else { return nil }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, fields[0] == name { return String(fields[2]) }
        }
        return nil
    }

    /// The host's interface addresses (`getifaddrs`), as text.
    static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var result: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let address = entry.pointee.ifa_addr {
                var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        var value = pointer.pointee.sin_addr
                        _ = inet_ntop(AF_INET, &value, &buffer, socklen_t(buffer.count))
                    }
                    result.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        var value = pointer.pointee.sin6_addr
                        _ = inet_ntop(AF_INET6, &value, &buffer, socklen_t(buffer.count))
                    }
                    result.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                default:
                    break
                }
            }
            cursor = entry.pointee.ifa_next
        }
        return result
    }

    static func read(_ path: String) -> String? { FileText.read(path) }
}

/// Whole-file reads and writes without Foundation (the binary does not link it).
package enum FileText {
    package static func read(_ path: String) -> String? {
        guard let handle = fopen(path, "r") else { return nil }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, handle)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return ferror(handle) == 0 ? String(decoding: bytes, as: UTF8.self) : nil
    }

    package static func write(_ text: String, to path: String) -> Bool {
        guard let handle = fopen(path, "w") else { return false }
        let bytes = Array(text.utf8)
        let written = fwrite(bytes, 1, bytes.count, handle)
        return fclose(handle) == 0 && written == bytes.count
    }
}

/// Runs a program found on PATH with arguments and optional standard input, and collects its
/// standard output and error together (posix_spawn; the binary does not link Foundation).
enum Subprocess {
    static func run(_ program: String, _ arguments: [String], stdin input: String? = nil) -> (status: Int32, output: String) {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { return (-1, "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
        for fd in inPipe + outPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The child starts with no signal blocked or ignored, whatever mizzen inherited from
        // whoever started it: a blocked SIGTERM would outlive every attempt to stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        close(inPipe[0])
        close(outPipe[1])
        guard spawned == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            return (127, "\(program): cannot run (\(String(cString: strerror(spawned))))")
        }
        if let input {
            // Written whole before reading: restore inputs are small, far below a pipe's buffer
            // in practice; a larger one is written as the child reads.
            var bytes = Array(input.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { write(inPipe[1], $0.baseAddress! + offset, $0.count - offset) }
                if written <= 0 { break }
                offset += written
            }
        }
        close(inPipe[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(outPipe[0], &chunk, chunk.count)
            if count <= 0 { break }
            output.append(contentsOf: chunk[0..<count])
        }
        close(outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exit, String(decoding: output, as: UTF8.self))
    }
}
