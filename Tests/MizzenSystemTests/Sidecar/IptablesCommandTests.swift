import Foundation
import Testing

/// `mizzen iptables` through the binary, without touching the host's rules: `--dry-run`, the
/// exit statuses, and what it refuses instead of skipping silently.
struct IptablesCommandTests {
    @Test func dryRunPrintsTheRulesInIptablesSaveForm() throws {
        let run = try ValidateCommandTests.run(["iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
                                                "-d", "15090,15021,15020", "--dry-run"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.first == "* nat" && lines.contains("-A ISTIO_OUTPUT -j ISTIO_REDIRECT") && lines.last == "COMMIT", "\(run.stdout)")
    }

    @Test(arguments: [
        (["-p", "70000", "--dry-run"], "invalid value \"70000\" for -p"),
        (["-m", "NAT", "--dry-run"], "-m"),
        (["--run-validation", "--dry-run"], "--run-validation"),
        (["--native-nftables", "--dry-run"], "--native-nftables"),
        (["--network-namespace", "/var/run/netns/x", "--dry-run"], "--network-namespace"),
    ])
    func refusedWithTheFlagNamed(_ arguments: [String], _ named: String) throws {
        let run = try ValidateCommandTests.run(["iptables"] + arguments)
        #expect(run.status == 2)
        #expect(run.stderr.contains(named), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func strayArgumentsAreNamed() throws {
        let run = try ValidateCommandTests.run(["iptables", "--dry-run", "stray"])
        #expect(run.status == 0)
        #expect(run.stderr.contains("ignored arguments") && run.stderr.contains("stray"), "\(run.stderr)")
    }

    /// The rule tools start with no signal blocked or ignored, even when mizzen itself was
    /// started with SIGTERM blocked and SIGINT ignored (a child inherits both through exec).
    /// Stand-in tools on PATH record their /proc status instead of touching the host's rules.
    @Test func ruleToolsStartWithNoSignalBlockedOrIgnored() throws {
        let directory = try Harness.temporaryDirectory("fake-iptables")
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("calls.log").path
        let tool = "#!/bin/sh\ncat >/dev/null\necho \"$(basename \"$0\") $(grep -E '^Sig(Blk|Ign)' /proc/self/status | tr -s '\\t\\n' '  ')\" >>\(log)\n"
        for name in ["iptables-legacy", "iptables-legacy-save", "iptables-legacy-restore", "ip6tables-legacy", "ip6tables-legacy-save",
                     "ip6tables-legacy-restore", "ip"] {
            let path = directory.appendingPathComponent(name).path
            try tool.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = directory.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        // python3 blocks SIGTERM and ignores SIGINT, then becomes mizzen (exec keeps both).
        let launcher = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}); " +
            "signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
        let run = try Harness.run("/usr/bin/env", ["python3", "-c", launcher, ValidateCommandTests.binary.path, "iptables", "--force-iptables-binary", "legacy",
                                                   "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-b", "*"],
                                  timeout: 30, environment: environment)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let calls = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(calls.contains("iptables-legacy-restore"), "\(calls)")
        // Signals 1-31; 32 and 33 are glibc's own, which every process here shows as ignored.
        func standardSignals(_ line: Substring, _ field: String) -> UInt64? {
            guard let range = line.range(of: field + ": ") else { return nil }
            return UInt64(line[range.upperBound...].prefix { $0.isHexDigit }, radix: 16).map { $0 & 0x7fff_ffff }
        }
        for line in calls.split(separator: "\n") {
            #expect(standardSignals(line, "SigBlk") == 0 && standardSignals(line, "SigIgn") == 0, "\(line)")
        }
    }
}
