import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two pods on one link, as real as this machine allows: a network namespace each, joined by a
/// veth pair (pod A 10.244.N.1 and fd00:N::1, pod B 10.244.N.2 and fd00:N::2: dual stack;
/// default routes over the link so service VIPs are routable), loopback up. Removed on `remove()` and when the test process exits.
final class PodNetwork: @unchecked Sendable {
    let podA: String
    let podB: String
    let addressA: String
    let addressB: String
    let addressA6: String
    let addressB6: String

    static let ip = "/usr/sbin/ip"

    /// Root, `ip netns` and iptables (with its nat table) present: the sidecar tests run.
    static let available: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: ip) else { return false }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables-restore") || FileManager.default.isExecutableFile(atPath: "/sbin/iptables-restore") else {
            return false
        }
        return probe([["iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner", "--gid-owner", "1337", "-j", "REDIRECT", "--to-ports", "15001"]])
    }()
    static let unavailableNotice: Comment = "the sidecar tests need root, iproute2 and iptables with a nat table, REDIRECT and the owner match (network namespaces): skipped"

    /// The kernel takes TPROXY rules (xt_TPROXY) in a pod's namespace.
    static let tproxyAvailable: Bool = available && probe([["iptables", "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-j", "TPROXY",
                                                            "--tproxy-mark", "1337/0xffffffff", "--on-port", "15006"]])
    static let tproxyUnavailableNotice: Comment = "the kernel takes no TPROXY rules here: the TPROXY test is skipped"

    /// Runs `commands` in a scratch network namespace; true when all succeed.
    static func probe(_ commands: [[String]]) -> Bool {
        let name = "mzprobe\(getpid())x\(UInt16.random(in: 0...9999))"
        guard (try? Harness.run(ip, ["netns", "add", name], timeout: 10))?.status == 0 else { return false }
        defer { _ = try? Harness.run(ip, ["netns", "del", name], timeout: 10) }
        return commands.allSatisfy { (try? Harness.run(ip, ["netns", "exec", name] + $0, timeout: 10))?.status == 0 }
    }

    init() throws {
        // Unique within this run (suites run side by side), and across runs by the pid.
        let tag = "\(getpid() % 10000)x\(PodNetworkRegistry.nextNumber())"
        podA = "mza\(tag)"
        podB = "mzb\(tag)"
        let subnet = Int.random(in: 1...250)  // each pod pair has its own namespaces: a shared subnet is harmless
        addressA = "10.244.\(subnet).1"
        addressB = "10.244.\(subnet).2"
        addressA6 = "fd00:\(subnet)::1"
        addressB6 = "fd00:\(subnet)::2"
        let vethA = "va\(tag)", vethB = "vb\(tag)"
        let steps: [[String]] = [
            ["netns", "add", podA], ["netns", "add", podB],
            ["link", "add", vethA, "type", "veth", "peer", "name", vethB],
            ["link", "set", vethA, "netns", podA], ["link", "set", vethB, "netns", podB],
            ["-n", podA, "addr", "add", "\(addressA)/24", "dev", vethA], ["-n", podB, "addr", "add", "\(addressB)/24", "dev", vethB],
            ["-n", podA, "addr", "add", "\(addressA6)/64", "dev", vethA, "nodad"], ["-n", podB, "addr", "add", "\(addressB6)/64", "dev", vethB, "nodad"],
            ["-n", podA, "link", "set", "lo", "up"], ["-n", podB, "link", "set", "lo", "up"],
            ["-n", podA, "link", "set", vethA, "up"], ["-n", podB, "link", "set", vethB, "up"],
            ["-n", podA, "route", "add", "default", "via", addressB], ["-n", podB, "route", "add", "default", "via", addressA],
        ]
        PodNetworkRegistry.register([podA, podB])
        for step in steps {
            let run = try Harness.run(Self.ip, step, timeout: 10)
            guard run.status == 0 else {
                remove()
                throw HarnessError("ip \(step.joined(separator: " ")): \(run.stderr)")
            }
        }
    }

    /// Runs a command inside `namespace` and waits for it.
    func run(in namespace: String, _ command: [String], timeout: Double = 30, stdin: Data? = nil) throws -> Harness.Output {
        try Harness.run(Self.ip, ["netns", "exec", namespace] + command, timeout: timeout, stdin: stdin)
    }

    /// Starts a long-running command inside `namespace`.
    func start(in namespace: String, _ command: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(Self.ip, ["netns", "exec", namespace] + command)
    }

    func remove() {
        for namespace in [podA, podB] { _ = try? Harness.run(Self.ip, ["netns", "del", namespace], timeout: 10) }
        PodNetworkRegistry.unregister([podA, podB])
    }

    deinit { remove() }
}

/// Namespaces still to remove if the test process exits early.
enum PodNetworkRegistry {
    nonisolated(unsafe) static var names: Set<String> = []
    static let lock = NSLock()
    nonisolated(unsafe) static var installed = false
    nonisolated(unsafe) static var counter = 0

    static func nextNumber() -> Int {
        lock.lock()
        defer { lock.unlock() }
        counter += 1
        return counter
    }

    static func register(_ namespaces: [String]) {
        lock.lock()
        names.formUnion(namespaces)
        if !installed {
            installed = true
            atexit {
                for name in PodNetworkRegistry.names {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: PodNetwork.ip)
                    process.arguments = ["netns", "del", name]
                    try? process.run()
                    process.waitUntilExit()
                }
            }
        }
        lock.unlock()
    }

    static func unregister(_ namespaces: [String]) {
        lock.lock()
        names.subtract(namespaces)
        lock.unlock()
    }
}
