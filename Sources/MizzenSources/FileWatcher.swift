import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches configuration files and directories with inotify and reports, debounced, that
/// something under them changed: an edit in place, a file replaced by rename (editors,
/// `kubectl cp`), a file added or removed in a watched directory, and the `..data` symlink swap
/// a Kubernetes ConfigMap or Secret volume makes on update. The reader is a thread of its own
/// (blocking `poll`); changes arrive as an `AsyncStream` of the paths that changed.
package final class FileWatcher: Sendable {
    package let changes: AsyncStream<[String]>
    private let continuation: AsyncStream<[String]>.Continuation
    private let fd: Int32
    private let stopped = Atomic<Bool>(false)
    private let debounceMilliseconds: Int32
    /// Watch descriptor to the directory it watches, and the names that matter in it (nil:
    /// every name, for directories named on the command line and below them).
    private let watches: Mutex<[Int32: (directory: String, names: Set<String>?)]>

    /// Watches `paths` (files or directories; directories recursively). Fails when inotify
    /// cannot be set up; a path that does not exist is watched through its parent.
    package init(paths: [String], debounceMilliseconds: Int32 = 100) throws(FileWatcherError) {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw FileWatcherError("inotify_init1 failed: \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.debounceMilliseconds = debounceMilliseconds
        watches = Mutex([:])
        (changes, continuation) = AsyncStream<[String]>.makeStream(bufferingPolicy: .bufferingNewest(1))
        for path in paths {
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                addTree(path)
            } else {
                // A file: its directory, for the names that replace or link it.
                let (directory, name) = Self.split(path)
                add(directory, names: [name])
            }
        }
        let thread = DispatchQueue(label: "mizzen.file-watcher")
        thread.async { self.run() }
    }

    package func stop() {
        stopped.store(true, ordering: .relaxed)
        continuation.finish()
    }

    deinit {
        close(fd)
    }

    private static let mask = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
        | IN_DELETE_SELF | IN_MOVE_SELF)

    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private func add(_ directory: String, names: Set<String>?) {
        let descriptor = inotify_add_watch(fd, directory, Self.mask)
        guard descriptor >= 0 else { return }
        watches.withLock { watches in
            if let existing = watches[descriptor] {
                // One directory, several files in it: the names add up; nil (all) wins.
                let merged: Set<String>? = existing.names.flatMap { old in names.map { old.union($0) } }
                watches[descriptor] = (directory, merged)
            } else {
                watches[descriptor] = (directory, names)
            }
        }
    }

    /// A directory and every directory below it (a ConfigMap's `..2026_...` data directories
    /// included: a swap shows as `..data` moved into the top one).
    private func addTree(_ directory: String) {
        add(directory, names: nil)
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { addTree(path) }
        }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var changed: Set<String> = []
        while !stopped.load(ordering: .relaxed) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // Waiting for a first event: wake up now and then to notice `stop`. Collecting: a
            // quiet `debounce` ends the burst.
            let timeout: Int32 = changed.isEmpty ? 500 : debounceMilliseconds
            let ready = poll(&poller, 1, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if ready == 0 {
                if !changed.isEmpty {
                    continuation.yield(changed.sorted())
                    changed.removeAll()
                }
                continue
            }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (descriptor, mask, length, name) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int, String) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let start = offset + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[start..<min(start + Int(event.len), raw.count)].prefix { $0 != 0 }
                    return (event.wd, event.mask, Int(event.len), String(decoding: nameBytes, as: UTF8.self))
                }
                offset += MemoryLayout<inotify_event>.size + length
                guard let watch = watches.withLock({ $0[descriptor] }) else { continue }
                let path = name.isEmpty ? watch.directory : watch.directory + "/" + name
                if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0, watch.names == nil {
                    addTree(path)
                }
                // In a file's directory only its own name counts, and the `..data` swap of a
                // mounted volume (the file is a symlink through it).
                if let names = watch.names, !name.isEmpty, !names.contains(name), !name.hasPrefix("..") { continue }
                changed.insert(path)
            }
        }
    }
}

/// The watcher could not start.
package struct FileWatcherError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
