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
}
