import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real processes for end-to-end tests: the built `mizzen` binary, the Python peers in
/// `Tests/MizzenSystemTests/Peers`, curl and openssl. Every process is killed when its owner
/// goes away, and every wait has a deadline.
enum Harness {
    static let packageRoot = ValidateCommandTests.packageRoot
    static let peers = packageRoot.appendingPathComponent("Tests/MizzenSystemTests/Peers")

    /// A fresh temporary directory.
    static func temporaryDirectory(_ label: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Test certificates, made once per test run with the openssl CLI (Peers/certs.sh).
    static let certificates: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mizzen-certs-\(getpid())")
        let result = try? run("/bin/bash", [peers.appendingPathComponent("certs.sh").path, directory.path], timeout: 60)
        precondition(result?.status == 0, "certs.sh failed: \(result?.stderr ?? "did not run")")
        return directory
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion. At `timeout` seconds it is sent SIGTERM, 3 s later its
    /// process group SIGKILL; what it wrote until then is returned (status -1 if it could not
    /// be reaped). Its output is read on this thread: no wait depends on another thread's
    /// queue being free.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 30, stdin: Data? = nil,
                    environment: [String: String]? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        process.currentDirectoryURL = packageRoot
        if let environment { process.environment = environment }
        let pipes = try spawn(process, input: stdin != nil)
        var reading = OutputReader(output: pipes.output, error: pipes.error, input: pipes.input, pendingInput: stdin ?? Data())
        let deadline = Date().addingTimeInterval(timeout)
        let pid = process.processIdentifier
        if !reading.readUntilClosed(before: deadline) || !waitForExit(process, until: deadline) {
            kill(pid, SIGTERM)
            let grace = deadline.addingTimeInterval(3)
            if !reading.readUntilClosed(before: grace) || !waitForExit(process, until: grace) {
                killGroup(pid)
                // A descendant that left the group may still hold the pipes: give up on them.
                _ = reading.readUntilClosed(before: grace.addingTimeInterval(2))
            }
        }
        reading.close()
        let exited = waitForExit(process, until: Date().addingTimeInterval(10))
        return Output(status: exited ? process.terminationStatus : -1, stdout: String(decoding: reading.outputData, as: UTF8.self),
                      stderr: String(decoding: reading.errorData, as: UTF8.self))
    }

    /// Every process the tests start is started here, one at a time, with its pipes made under
    /// the same lock and no signal blocked:
    /// - Foundation closes a child's inherited descriptors up to the highest one open when it
    ///   looks; a pipe another thread makes meanwhile would stay open in that child, and whoever
    ///   reads the pipe would wait for that child's end instead of its own command's.
    /// - A child inherits the signal mask of the thread that starts it, and the test threads
    ///   block SIGTERM: a peer or a command started from one ignored `terminate()` and ran until
    ///   SIGKILL, or forever.
    static func spawn(_ process: Process, input: Bool = false) throws -> (output: FileHandle, error: FileHandle, input: FileHandle?) {
        spawnLock.lock()
        defer { spawnLock.unlock() }
        let out = Pipe(), err = Pipe()
        let inputPipe = input ? Pipe() : nil
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inputPipe ?? FileHandle.nullDevice
        var unblocked = sigset_t(), previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        return (out.fileHandleForReading, err.fileHandleForReading, inputPipe?.fileHandleForWriting)
    }

    private static let spawnLock = NSLock()

    /// SIGKILL to the process and its process group (Foundation starts each child as the
    /// leader of a group of its own).
    static func killGroup(_ pid: Int32) {
        guard pid > 0 else { return }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }

    /// Waits until `process` has been reaped, or `deadline`.
    static func waitForExit(_ process: Process, until deadline: Date) -> Bool {
        while process.isRunning && Date() < deadline { usleep(5_000) }
        return !process.isRunning
    }

    /// curl with a deadline; `-s` and a 20 s max time are always added.
    static func curl(_ arguments: [String], timeout: Double = 25) throws -> Output {
        try run("curl", ["-s", "--max-time", "20"] + arguments, timeout: timeout)
    }
}

/// Reads a child's standard output and error with poll(2) until both close or a deadline,
/// writing its standard input as the child takes it.
struct OutputReader {
    private let handles: (output: FileHandle, error: FileHandle, input: FileHandle?)
    private let outputFD: Int32, errorFD: Int32, inputFD: Int32
    private var open: Set<Int32>
    private var pendingInput: Data
    private let onOutput: ((Data) -> Void)?, onError: ((Data) -> Void)?
    private(set) var outputData = Data(), errorData = Data()

    init(output: FileHandle, error: FileHandle, input: FileHandle?, pendingInput: Data,
         onOutput: ((Data) -> Void)? = nil, onError: ((Data) -> Void)? = nil) {
        handles = (output, error, input)
        outputFD = output.fileDescriptor
        errorFD = error.fileDescriptor
        inputFD = input?.fileDescriptor ?? -1
        open = [outputFD, errorFD]
        self.pendingInput = pendingInput
        self.onOutput = onOutput
        self.onError = onError
        if inputFD >= 0 {
            _ = fcntl(inputFD, F_SETFL, fcntl(inputFD, F_GETFL) | O_NONBLOCK)
            open.insert(inputFD)
            if pendingInput.isEmpty { closeInput() }
        }
    }

    /// True when both output pipes closed before `deadline`.
    mutating func readUntilClosed(before deadline: Date) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(outputFD) || open.contains(errorFD) {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return false }
            var polled = open.map { fd in pollfd(fd: fd, events: Int16(fd == inputFD ? POLLOUT : POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), Int32(min(remaining, 1) * 1000) + 1)
            guard ready > 0 else { continue }
            for entry in polled where entry.revents != 0 {
                if entry.fd == inputFD {
                    let written = pendingInput.withUnsafeBytes { write(inputFD, $0.baseAddress, $0.count) }
                    if written > 0 { pendingInput.removeFirst(written) }
                    if written < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                    if written <= 0 || pendingInput.isEmpty { closeInput() }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                guard count > 0 else {
                    open.remove(entry.fd)
                    continue
                }
                let chunk = Data(buffer[0..<count])
                if entry.fd == outputFD {
                    if let onOutput { onOutput(chunk) } else { outputData.append(chunk) }
                } else if let onError { onError(chunk) } else { errorData.append(chunk) }
            }
        }
        return true
    }

    private mutating func closeInput() {
        guard open.remove(inputFD) != nil else { return }
        try? handles.input?.close()
    }

    /// Closes the read ends, and the input's write end if it is still open.
    mutating func close() {
        closeInput()
        try? handles.output.close()
        try? handles.error.close()
        open.removeAll()
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var closed = false
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func append(_ value: Data) { lock.lock(); data.append(value); lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
    /// Marks the end of what is written (a background process's pipe reached its end).
    func close() { lock.lock(); closed = true; lock.unlock() }
    var isClosed: Bool { lock.lock(); defer { lock.unlock() }; return closed }
}

/// Every background process a test started, killed when the test process exits: suite
/// fixtures live in `static let`s, which are never deinitialised.
enum BackgroundProcessRegistry {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pids: Set<Int32> = []
    nonisolated(unsafe) private static var installed = false

    static func register(_ pid: Int32) {
        lock.lock()
        defer { lock.unlock() }
        pids.insert(pid)
        if !installed {
            installed = true
            atexit { BackgroundProcessRegistry.killAll() }
        }
    }

    static func unregister(_ pid: Int32) {
        lock.lock()
        pids.remove(pid)
        lock.unlock()
    }

    static func killAll() {
        lock.lock()
        let all = pids
        pids.removeAll()
        lock.unlock()
        for pid in all { kill(pid, SIGKILL) }
    }
}

/// A long-running process (a peer or the gateway) whose output is collected as it comes;
/// terminated (then killed) on `stop`, deinit, or when the test process exits.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    let stdout = LockedData()
    let stderr = LockedData()
    /// Broadcast when the reader thread has read both pipes to their end.
    private let outputClosed = NSCondition()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        process.currentDirectoryURL = Harness.packageRoot
        let pipes = try Harness.spawn(process)
        BackgroundProcessRegistry.register(process.processIdentifier)
        // One thread per process reads both pipes until they close: collecting output never
        // waits for a shared queue.
        let reader = Thread { [stdout, stderr, outputClosed] in
            var reading = OutputReader(output: pipes.output, error: pipes.error, input: nil, pendingInput: Data(),
                                       onOutput: { stdout.append($0) }, onError: { stderr.append($0) })
            _ = reading.readUntilClosed(before: .distantFuture)
            reading.close()
            outputClosed.lock()
            outputClosed.broadcast()
            outputClosed.unlock()
            stdout.close()
        }
        reader.stackSize = 256 << 10
        reader.start()
    }

    var output: String { String(decoding: stdout.get(), as: UTF8.self) }
    var errors: String { String(decoding: stderr.get(), as: UTF8.self) }

    /// Waits until `predicate` holds on the collected stdout+stderr, or the deadline passes.
    func waitFor(timeout: Double = 20, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(output + errors) { return true }
            if !process.isRunning { return predicate(output + errors) }
            usleep(20_000)
        }
        return false
    }

    /// Resident memory of the process now, in KiB (VmRSS), and the peak (VmHWM).
    func memory() -> (rss: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(name) {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            }
            return 0
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU seconds the process has used (user + system).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        BackgroundProcessRegistry.unregister(process.processIdentifier)
        guard process.isRunning else { return }
        process.terminate()
        if !Harness.waitForExit(process, until: Date().addingTimeInterval(5)) {
            Harness.killGroup(process.processIdentifier)
            _ = Harness.waitForExit(process, until: Date().addingTimeInterval(10))
        }
    }

    /// Waits until the process has exited and been reaped and its output read to the end, at
    /// most `timeout` seconds.
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        guard Harness.waitForExit(process, until: deadline) else { return false }
        outputClosed.lock()
        defer { outputClosed.unlock() }
        while !stdout.isClosed { if !outputClosed.wait(until: deadline) { break } }
        return true
    }

    /// The exit status, or nil while the process runs.
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    deinit { stop() }
}

/// A Python peer from Tests/MizzenSystemTests/Peers: started, and its `READY <port>` awaited.
final class Peer: @unchecked Sendable {
    let background: BackgroundProcess
    let port: Int

    init(_ script: String, _ arguments: [String] = []) throws {
        background = try BackgroundProcess("python3", [Harness.peers.appendingPathComponent(script).path] + arguments + ["--parent-pid", String(getpid())])
        var port = 0
        _ = background.waitFor(timeout: 20) { text in
            for line in text.split(separator: "\n") where line.hasPrefix("READY ") {
                port = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
                return true
            }
            return false
        }
        guard port > 0 else {
            throw HarnessError("peer \(script) did not start: \(background.output) \(background.errors)")
        }
        self.port = port
    }

    func stop() { background.stop() }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `mizzen gateway` on a configuration written for the test, every listener on a free port.
final class GatewayProcess: @unchecked Sendable {
    let background: BackgroundProcess
    let directory: URL
    /// Local port per Gateway port.
    private(set) var ports: [UInt32: Int] = [:]

    /// `yaml` is the configuration; `gatewayPorts` the Gateway ports it declares (each mapped to
    /// a free local port).
    /// `launcher`: a command the binary runs under (e.g. `setpriv` to drop privileges).
    init(yaml: String, gatewayPorts: [UInt32], extraArguments: [String] = [], launcher: [String] = []) throws {
        directory = try Harness.temporaryDirectory("gateway")
        try yaml.write(to: directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let portMap = gatewayPorts.map { "\($0)=0" }.joined(separator: ",")
        let binary = ValidateCommandTests.binary.path
        background = try BackgroundProcess(launcher.first ?? binary, (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [binary]) +
                                           ["gateway", "--config", directory.path, "--bind", "127.0.0.1", "--port-map", portMap,
                                            "--concurrency", "2", "--log-level", "info"] + Self.operatorArguments + extraArguments)
        var found: [UInt32: Int] = [:]
        var operators: [String: Int] = [:]
        _ = background.waitFor(timeout: 30) { text in
            found = [:]
            operators = Self.operatorPorts(text)
            // "listening on 127.0.0.1:PORT (gateway port N, ...)"
            for line in text.split(separator: "\n") {
                guard let range = line.range(of: "listening on 127.0.0.1:") else { continue }
                let rest = line[range.upperBound...]
                let local = Int(rest.prefix { $0.isNumber }) ?? 0
                if let gatewayRange = rest.range(of: "gateway port ") {
                    let gatewayPort = UInt32(rest[gatewayRange.upperBound...].prefix { $0.isNumber }) ?? 0
                    found[gatewayPort] = local
                }
            }
            return found.count == gatewayPorts.count && operators.count == 3
        }
        guard found.count == gatewayPorts.count else {
            throw HarnessError("gateway did not start: \(background.errors)")
        }
        ports = found
        adminPort = operators["admin"] ?? 0
        statsPort = operators["stats"] ?? 0
        statusPort = operators["status"] ?? 0
    }

    /// Test gateways run side by side: the admin, stats and status ports on free loopback
    /// ports, and no drain period on stop (a test that drains asks for one).
    static let operatorArguments = ["--admin-port", "0", "--stats-port", "0", "--status-port", "0", "--operator-bind", "127.0.0.1",
                                    "--drain-duration", "0"]

    /// "admin listening on 127.0.0.1:PORT", "stats (...) listening on ...", "status (...) ...".
    static func operatorPorts(_ text: String) -> [String: Int] {
        var ports: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            for name in ["admin", "stats", "status"] {
                guard line.contains("\(name) listening on ") || line.contains("\(name) (") && line.contains(" listening on "),
                      let range = line.range(of: " listening on ") else { continue }
                let address = line[range.upperBound...]
                guard let colon = address.lastIndex(of: ":") else { continue }
                ports[name] = Int(address[address.index(after: colon)...].prefix { $0.isNumber }) ?? 0
            }
        }
        return ports
    }

    /// The operator ports of this gateway.
    private(set) var adminPort = 0
    private(set) var statsPort = 0
    private(set) var statusPort = 0

    func port(_ gatewayPort: UInt32) -> Int { ports[gatewayPort] ?? 0 }

    func stop() { background.stop() }

    deinit {
        background.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Raw bytes over a TCP socket: what a hostile client sends, and everything the proxy answers
/// until it closes or the deadline passes.
enum RawSocket {
    static func exchange(port: Int, _ request: [UInt8], timeout: Double = 5) -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return [] }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { break }
            sent += written
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return response
    }

    /// The status code of the first response in `bytes`, or nil when there is none.
    static func status(_ bytes: [UInt8]) -> Int? {
        let text = String(decoding: bytes.prefix(64), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.") else { return nil }
        let parts = text.split(separator: " ")
        return parts.count > 1 ? Int(parts[1]) : nil
    }
}

/// The request log an `upstream.py` peer writes: one JSON object per request or connection.
struct UpstreamLog {
    let url: URL

    init() throws {
        url = try Harness.temporaryDirectory("upstream-log").appendingPathComponent("requests.jsonl")
        FileManager.default.createFile(atPath: url.path, contents: nil)
    }

    var entries: [[String: Any]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Requests the upstream read, barrier requests (`UpstreamLog.barrier`) left out.
    var requests: [[String: Any]] { allRequests.filter { !($0["target"] as? String ?? "").contains("mizzen-barrier-") } }
    var allRequests: [[String: Any]] { entries.filter { ($0["event"] as? String) == "request" } }
    var connections: Int { entries.filter { ($0["event"] as? String) == "connection" }.count }
}
