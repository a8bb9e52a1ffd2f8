import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The harness every end-to-end test stands on: a command always ends by its deadline, a
/// child is started with no signal blocked, and a pipe made while another child starts is not
/// held open by that child. A CI run once hung for its whole 90 minutes on a command that
/// ignored the SIGTERM meant to end it: test threads block SIGTERM, and children inherited that.
@Suite struct HarnessTests {
    /// "SigBlk" of a process's /proc status: the signals it blocks, as a hexadecimal mask.
    static func blockedSignals(_ status: String) -> UInt64? {
        status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") }
            .flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) }
    }

    @Test func childrenStartWithNoSignalBlocked() throws {
        let output = try Harness.run("/bin/cat", ["/proc/self/status"])
        let blocked = try #require(Self.blockedSignals(output.stdout), "\(output.stdout.prefix(300))")
        #expect(blocked == 0, "the child blocks signals \(String(blocked, radix: 16))")
        let background = try BackgroundProcess("/bin/sleep", ["30"])
        defer { background.stop() }
        let status = try String(contentsOfFile: "/proc/\(background.process.processIdentifier)/status", encoding: .utf8)
        #expect(Self.blockedSignals(status) == 0)
    }

    @Test func aCommandPastItsDeadlineIsTerminated() throws {
        let started = Date()
        let output = try Harness.run("/bin/sleep", ["60"], timeout: 1)
        let took = Date().timeIntervalSince(started)
        #expect(output.status == SIGTERM, "ended by SIGTERM, status \(output.status)")
        #expect(took < 20, "returned after \(took) s; the deadline was 1 s")
    }

    @Test func aCommandIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let started = Date()
        let output = try Harness.run("/bin/bash", ["-c", "trap '' TERM; echo armed; sleep 60 & wait"], timeout: 1)
        let took = Date().timeIntervalSince(started)
        #expect(output.stdout == "armed\n")
        #expect(took < 30, "returned after \(took) s; the deadline was 1 s and the grace 3 s")
    }

    @Test func aBackgroundProcessIgnoringSIGTERMIsKilledOnStop() throws {
        let background = try BackgroundProcess("/bin/bash", ["-c", "trap '' TERM; echo armed; sleep 60 & wait"])
        #expect(background.waitFor(timeout: 10) { $0.contains("armed") })
        let started = Date()
        background.stop()
        #expect(!background.process.isRunning)
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// Commands run side by side from many threads, while long-lived children run, each get
    /// their own output and end promptly. (The spawn lock's descriptor race is rare: this
    /// checks that the lock costs nothing, not that it closes the race.)
    @Test func concurrentCommandsEndWithTheirOwnCommand() throws {
        let long = try (0..<4).map { _ in try BackgroundProcess("/bin/sleep", ["60"]) }
        defer { long.forEach { $0.stop() } }
        let outputs = LockedList<[Harness.Output]>()
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            let output = try? Harness.run("/bin/sh", ["-c", "echo \(index)"], timeout: 30)
            outputs.append(output.map { [$0] } ?? [])
        }
        let took = Date().timeIntervalSince(started)
        let all = outputs.value
        #expect(all.count == 16)
        #expect(Set(all.map { $0.stdout }) == Set((0..<16).map { "\($0)\n" }))
        #expect(took < 30, "16 one-line commands took \(took) s")
    }
}

/// Values appended from several threads.
final class LockedList<Element>: @unchecked Sendable where Element: RangeReplaceableCollection {
    private let lock = NSLock()
    private var stored = Element()
    func append(_ values: Element) { lock.lock(); stored.append(contentsOf: values); lock.unlock() }
    var value: Element { lock.lock(); defer { lock.unlock() }; return stored }
}
