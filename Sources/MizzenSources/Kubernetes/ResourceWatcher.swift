import Logging
import MizzenConfig
import NIOCore

/// client-go's reflector for one scope: list (paged), then watch from the list's
/// resourceVersion with bookmarks; resume from the last version seen when a watch ends; list
/// again on 410 Gone (or an ERROR event saying so); back off exponentially, with jitter, after
/// failures. Every object is decoded and validated as it arrives, into the store.
struct ResourceWatcher: Sendable {
    let scope: WatchScope
    let client: APIClient
    let store: ObjectStore
    let loader: ConfigLoader
    let settings: KubernetesSourceSettings
    let logger: Logger
    /// Called after every change to the store (the source's debouncer listens).
    let changed: @Sendable () -> Void

    enum WatchEnd {
        /// The server ended the stream (its timeout): watch again from here.
        case ended(resourceVersion: String, events: Int)
        /// 410: the version is too old; list again.
        case expired
    }

    struct StatusFailure: Error, CustomStringConvertible {
        var status: Int
        var message: String
        var description: String {
            switch status {
            case 401: "401 Unauthorized: the API server refused the credentials (\(message))"
            case 403: "403 Forbidden: the service account may not do this; check the ClusterRole/Role bindings (\(message))"
            default: "HTTP \(status): \(message)"
            }
        }
    }

    func run() async {
        var resourceVersion: String?
        var backoff = Backoff(initial: settings.initialBackoff, maximum: settings.maximumBackoff)
        while !Task.isCancelled {
            do {
                if resourceVersion == nil {
                    resourceVersion = try await list()
                    backoff.reset()
                }
                let started = ContinuousClock.now
                switch try await watch(from: resourceVersion!) {
                case .expired:
                    store.record(scope) { $0.expired += 1 }
                    logger.info("watch \(scope): resourceVersion \(resourceVersion!) is too old (410 Gone); listing again")
                    resourceVersion = nil
                case .ended(let last, let events):
                    resourceVersion = last
                    // A stream the server ends at once, again and again, is a failure in
                    // disguise: do not spin on it.
                    if events == 0, ContinuousClock.now - started < .seconds(1) {
                        try await backoff.wait()
                    } else {
                        backoff.reset()
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                store.record(scope) {
                    $0.failures += 1
                    $0.lastProblem = "\(error)"
                }
                logger.warning("watch \(scope): \(error); retrying in \(backoff.nextDelayDescription)\(resourceVersion.map { " from resourceVersion \($0)" } ?? " with a list")")
                do { try await backoff.wait() } catch { return }
            }
        }
    }

    // MARK: List

    /// Lists the scope page by page and replaces its objects; returns the list's version.
    ///
    /// The next page is asked for as soon as a page's continue token is read, so the server
    /// makes it while this one is decoded, and a page's objects are decoded on every core: the
    /// first sync of a large cluster is bound by decoding (10,000 VirtualServices in one kind).
    func list() async throws -> String {
        var entries: [ObjectStore.Entry] = []
        var continueToken: String?
        var listVersion = ""
        // Pages start at `firstPage` objects and double (up to the page size) while under half
        // of `largePage` bytes of JSON; past it they are asked smaller. A page's tree is several
        // times its JSON, and smaller pages let the server's encoding and this decoding overlap
        // (the sync was faster in Bench/kubernetes.py than with 500 from the start).
        var limit = max(1, min(settings.pageSize, Self.firstPage))
        var nextPage: Task<APIClient.Response, any Error>?
        defer { nextPage?.cancel() }
        while true {
            let response: APIClient.Response
            if let asked = nextPage {
                nextPage = nil
                response = try await withTaskCancellationHandler { try await asked.value } onCancel: { asked.cancel() }
            } else {
                response = try await client.get(pagePath(limit: limit, continueToken: continueToken))
            }
            if response.status == 410, continueToken != nil {
                // The continue token expired between pages: start the list over (client-go's
                // pager lists again too; ending here would replace the kind with a part of it).
                logger.info("list \(scope): continue token expired (410); listing again from the start")
                entries = []
                continueToken = nil
                continue
            }
            guard response.status == 200 else { throw StatusFailure(status: response.status, message: Self.statusMessage(response.body)) }
            if response.body.count > Self.largePage {
                limit = max(Self.smallestPage, limit * Self.largePage / response.body.count)
            } else if response.body.count < Self.largePage / 2 {
                limit = min(settings.pageSize, limit * 2)
            }
            var root: YAMLNode?
            switch JSONReader.read(response.body) {
            case .success(let node): root = node
            case .failure(let problem): throw APIClientError("list \(scope): the response is not JSON: \(problem)")
            }
            let metadata = root?["metadata"]
            listVersion = metadata?["resourceVersion"]?.scalarValue ?? listVersion
            continueToken = metadata?["continue"]?.scalarValue.flatMap { $0.isEmpty ? nil : $0 }
            if let continueToken {
                let path = pagePath(limit: limit, continueToken: continueToken)
                let client = self.client
                nextPage = Task { try await client.get(path) }
            }
            if case .sequence(let items)? = root?["items"]?.content {
                root = nil
                entries += await decodeConcurrently(consume items)
            }
            if continueToken == nil { break }
        }
        store.replace(scope, with: entries, resourceVersion: listVersion)
        changed()
        logger.info("listed \(scope): \(entries.count) object\(entries.count == 1 ? "" : "s") at resourceVersion \(listVersion)")
        return listVersion
    }

    func pagePath(limit: Int, continueToken: String?) -> String {
        var query = "limit=\(limit)"
        if let continueToken { query += "&continue=\(Self.percentEncode(continueToken))" }
        return "\(scope.kind.path(namespace: scope.namespace))?\(query)"
    }

    /// Decodes a page's objects in up to `decodingTasks` parts at once; each item's tree is
    /// freed once it is decoded (the store keeps the decoded object and its JSON text).
    func decodeConcurrently(_ page: consuming [YAMLNode]) async -> [ObjectStore.Entry] {
        var items = page
        let parts = min(Self.decodingTasks, items.count / Self.itemsPerDecodingTask)
        guard parts > 1 else { return decodeAll(&items) }
        var chunks: [[YAMLNode]] = []
        let size = (items.count + parts - 1) / parts
        while !items.isEmpty {
            chunks.append(Array(items.suffix(size)))
            items.removeLast(min(size, items.count))
        }
        return await withTaskGroup(of: [ObjectStore.Entry].self) { group in
            while var chunk = chunks.popLast() {
                group.addTask { decodeAll(&chunk) }
            }
            var entries: [ObjectStore.Entry] = []
            for await part in group { entries += part }
            return entries
        }
    }

    /// Decodes `items`, emptying it as it goes (each tree freed once decoded).
    func decodeAll(_ items: inout [YAMLNode]) -> [ObjectStore.Entry] {
        var entries: [ObjectStore.Entry] = []
        entries.reserveCapacity(items.count)
        while let item = items.popLast() {
            if let entry = decode(item) { entries.append(entry) }
        }
        return entries
    }

    // MARK: Watch

    func watch(from resourceVersion: String) async throws -> WatchEnd {
        let timeout = Int.random(in: settings.watchTimeoutSeconds)
        let path = "\(scope.kind.path(namespace: scope.namespace))?watch=1&allowWatchBookmarks=true&resourceVersion=\(Self.percentEncode(resourceVersion))&timeoutSeconds=\(timeout)"
        var last = resourceVersion
        var events = 0
        var expired = false
        store.record(scope) { $0.watches += 1 }
        let response = try await client.stream(path, readTimeout: .seconds(Int64(timeout + 30))) { line in
            guard !expired else { return }
            let event: YAMLNode
            switch JSONReader.read(Array(line)) {
            case .success(let node): event = node
            case .failure(let problem): throw APIClientError("watch \(scope): an event is not JSON: \(problem)")
            }
            let type = event["type"]?.scalarValue ?? ""
            guard let object = event["object"] else { throw APIClientError("watch \(scope): a \(type) event without an object") }
            events += 1
            switch type {
            case "ADDED", "MODIFIED":
                guard let entry = decode(object) else { return }
                last = entry.resourceVersion
                store.upsert(scope, entry)
                changed()
            case "DELETED":
                let metadata = object["metadata"]
                let version = metadata?["resourceVersion"]?.scalarValue ?? last
                last = version
                store.delete(scope, namespace: metadata?["namespace"]?.scalarValue ?? "", name: metadata?["name"]?.scalarValue ?? "", resourceVersion: version)
                changed()
            case "BOOKMARK":
                if let version = object["metadata"]?["resourceVersion"]?.scalarValue {
                    last = version
                    store.bookmark(scope, resourceVersion: version)
                }
            case "ERROR":
                let code = object["code"]?.scalarValue.flatMap { Int($0) } ?? 0
                if code == 410 {
                    expired = true
                    return
                }
                throw StatusFailure(status: code, message: object["message"]?.scalarValue ?? "ERROR event")
            default:
                throw APIClientError("watch \(scope): unknown event type \"\(type)\"")
            }
        }
        if expired || response.status == 410 { return .expired }
        guard response.status == 200 else { throw StatusFailure(status: response.status, message: Self.statusMessage(response.body)) }
        return .ended(resourceVersion: last, events: events)
    }

    // MARK: Decoding

    /// The object decoded and validated as a file's would be; nil when it has no name.
    /// Objects of a typed list come without apiVersion and kind: they are filled in.
    func decode(_ object: YAMLNode) -> ObjectStore.Entry? {
        guard case .mapping(var pairs) = object.content else { return nil }
        let metadata = object["metadata"]
        guard let name = metadata?["name"]?.scalarValue else { return nil }
        let namespace = metadata?["namespace"]?.scalarValue ?? ""
        let resourceVersion = metadata?["resourceVersion"]?.scalarValue ?? ""
        var root = object
        if object["apiVersion"] == nil || object["kind"] == nil {
            pairs.removeAll { $0.key.scalarValue == "apiVersion" || $0.key.scalarValue == "kind" }
            let mark = object.mark
            func scalar(_ text: String) -> YAMLNode { YAMLNode(content: .scalar(text, .doubleQuoted), tag: nil, mark: mark, expandedSize: 1) }
            pairs.insert(contentsOf: [YAMLNode.Pair(key: scalar("apiVersion"), value: scalar(scope.kind.apiVersion)),
                                      YAMLNode.Pair(key: scalar("kind"), value: scalar(scope.kind.kind))], at: 0)
            root = YAMLNode(content: .mapping(pairs), tag: nil, mark: mark, expandedSize: object.expandedSize + 4)
        }
        let origin = "\(scope.kind.sourceName) (resourceVersion \(resourceVersion))"
        let result = loader.load(object: root, origin: origin)
        let problems = result.diagnostics.filter { $0.severity != .notice }
        for problem in problems {
            if problem.severity == .error {
                logger.error("\(problem.description) (object left out)")
            } else {
                logger.warning("\(problem.description)")
            }
        }
        let creation = metadata?["creationTimestamp"]?.scalarValue.flatMap(Timestamp.secondsSinceEpoch) ?? 0
        // Diagnostics are placed; the tree is not needed any more: the JSON text is kept for
        // /config_dump instead (not for every kind: see `keepsObjectText`).
        var fragment = result.snapshot
        let text = scope.kind.keepsObjectText ? root.jsonText : nil
        // The source's name is the kind's, one string for all its objects (the resourceVersion
        // is in the metadata).
        let file = scope.kind.sourceName
        fragment.mapSources { source in
            ObjectSource(file: file, mark: source.mark, node: Self.bareNode, json: text)
        }
        return ObjectStore.Entry(namespace: namespace, name: name, resourceVersion: resourceVersion, fragment: fragment,
                                 diagnostics: problems, creationSeconds: creation)
    }

    /// Bytes of JSON past which a list page is large (its tree ~5 times that).
    static let largePage = 1 << 20
    static let firstPage = 100
    static let smallestPage = 20

    /// Tasks a page's objects are decoded in (at most one per core), and the fewest objects
    /// worth a task of their own.
    static let decodingTasks = max(1, System.coreCount)
    static let itemsPerDecodingTask = 25

    static let bareNode = YAMLNode(content: .mapping([]), tag: nil, mark: SourceMark(line: 1, column: 1), expandedSize: 1)

    static func statusMessage(_ body: [UInt8]) -> String {
        if case .success(let node) = JSONReader.read(body), let message = node["message"]?.scalarValue { return message }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "no message" : text
    }

    /// Percent-encodes a query value (continue tokens are base64 with `=` and `/`).
    static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(hex[Int(byte >> 4)])
                output.unicodeScalars.append(hex[Int(byte & 15)])
            }
        }
        return output
    }
}

/// Exponential back-off with full jitter (client-go's: from `initial`, doubling, capped at
/// `maximum`); `reset` after a success.
struct Backoff: Sendable {
    let initial: Duration
    let maximum: Duration
    private var current: Duration

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    mutating func reset() { current = initial }

    var nextDelayDescription: String { "up to \(current)" }

    mutating func wait() async throws {
        let ceiling = Double(current.components.seconds) + Double(current.components.attoseconds) / 1e18
        // Half fixed, half random: never zero, never all clients at once.
        let delay = ceiling * (0.5 + Double.random(in: 0..<0.5))
        try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
        current = min(current * 2, maximum)
    }
}
