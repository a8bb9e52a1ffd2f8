import MizzenTelemetry
import NIOCore
import NIOHTTP1
import Testing
@testable import MizzenConfig
@testable import MizzenProxy
@testable import MizzenRouting

/// The exchange's state machine, event by event: what it asks the shell to do, and the record
/// it finishes with. No sockets: events in, actions out.
struct HTTPExchangeTests {
    // MARK: Fixtures

    /// A gateway on port 80 with service `svc.test` (two endpoints) routed with `route` (YAML of
    /// one http rule's fields, after `route:`), and `policy` as the DestinationRule's
    /// trafficPolicy.
    static func snapshot(routeExtras: String = "", policy: String? = nil, endpoints: Int = 2) -> ProxySnapshot {
        var yaml = ProxyFixtures.gateway + "\n" + ProxyFixtures.serviceEntry((0..<endpoints).map { "10.0.0.\($0 + 1):8080" })
        yaml += "\n" + ProxyFixtures.virtualService(routeExtras: routeExtras)
        if let policy { yaml += "\n" + ProxyFixtures.destinationRule(policy) }
        return ProxyFixtures.snapshot(yaml)
    }

    static let connection = DownstreamConnection(
        listener: ListenerSpec(name: "test", host: "127.0.0.1", port: 0, destination: .listenerPort(80)), listenerPort: 80,
        remoteAddress: try? SocketAddress(ipAddress: "192.0.2.1", port: 40000), localAddress: nil, serverName: nil, tlsServer: nil, isHTTP2: false)

    static let limits = HTTPExchange.Limits(maxRetryBufferBytes: 64 * 1024, maxRequestBodyBytes: nil, streamIdleTimeout: .seconds(300))

    /// A machine started on `head`, and the actions of its start.
    static func started(_ snapshot: ProxySnapshot, method: HTTPMethod = .GET, target: String = "/", headers: [(String, String)] = [],
                        host: String = "svc.test", limits: HTTPExchange.Limits = limits) -> (HTTPExchange, [String]) {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "host", value: host)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        var random = SplitMix64(seed: 7)
        let start = ExchangePlanner.plan(head, connection: connection, snapshot: snapshot, limits: ProxyLimits(), random: &random)
        var machine = HTTPExchange(limits: limits, isHTTP2: false, now: now, wallClockNanoseconds: 0)
        let actions = machine.start(start, head: head, connection: connection, now: now)
        return (machine, actions.all().map(describe))
    }

    static let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func handle(_ machine: inout HTTPExchange, _ event: HTTPExchange.Event, at offset: TimeAmount = .zero) -> [String] {
        machine.handle(event, now: now + offset).all().map(describe)
    }

    /// An action as a short word, for comparing sequences.
    static func describe(_ action: HTTPExchange.Action) -> String {
        switch action {
        case .respondContinue: return "100"
        case .refuse(let error): return "refuse \(error.status)"
        case .respond(let head): return "respond \(head.status.code)"
        case .respondBody(let buffer): return "body \(buffer.readableBytes)"
        case .respondEnd(let trailers): return trailers == nil ? "end" : "end+trailers"
        case .resetDownstream: return "reset"
        case .acquire(let attempt, let avoiding): return avoiding.isEmpty ? "acquire \(attempt)" : "acquire \(attempt) avoiding"
        case .cancelAcquire: return "cancel acquire"
        case .sendRequest(let request): return "send \(request.body.count)\(request.end == nil ? "" : " end")"
        case .forwardBody(let buffer): return "forward \(buffer.readableBytes)"
        case .forwardEnd: return "forward end"
        case .release(let reusable): return reusable ? "release reuse" : "release"
        case .schedule(let timer, _): return "schedule \(timer)"
        case .cancelTimer(let timer): return "cancel \(timer)"
        case .recordOutlier(let endpoint, let outcome): return "outlier \(endpoint) \(outcome)"
        case .startMirrors: return "mirrors"
        case .startTunnel: return "tunnel"
        case .finish: return "finish"
        }
    }

    static func response(_ status: HTTPResponseStatus, _ headers: HTTPHeaders = ["content-length": "2"]) -> HTTPExchange.Event {
        .responseHead(HTTPResponseHead(version: .http1_1, status: status, headers: headers))
    }

    static let body = ByteBuffer(string: "ok")

    // MARK: Cases

    @Test func aPlainRequestGoesUpstreamAndEndsOnce() {
        let snapshot = Self.snapshot()
        var (machine, start) = Self.started(snapshot)
        #expect(start == ["schedule idle", "acquire 1"])
        #expect(Self.handle(&machine, .requestEnd(nil)) == [])
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true)) == ["send 0 end"])
        #expect(Self.handle(&machine, Self.response(.ok)) == ["respond 200"])
        #expect(Self.handle(&machine, .responseBody(Self.body)) == ["body 2"])
        #expect(Self.handle(&machine, .responseEnd(nil), at: .milliseconds(5)) == ["end", "release reuse", "finish"])
        #expect(machine.isFinished)
        // Nothing after the finish: a late close does not finish it twice.
        #expect(Self.handle(&machine, .downstreamClosed) == [])
        let record = machine.record
        #expect(record.responseCode == 200)
        #expect(record.responseFlags.description == "-")
        #expect(record.responseCodeDetails == "via_upstream")
        #expect(record.attempts == 1)
        #expect(record.upstreamHost == "10.0.0.1:8080")
        #expect(record.responseBodyBytes == 2)
        #expect(record.cluster?.name == "outbound|80||svc.test")
        #expect(record.duration == .milliseconds(5))
        #expect(!machine.closeConnection)
    }

    @Test func aConnectFailureIsRetriedOnAnotherEndpoint() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, .upstreamUnavailable(attempt: 1, endpoint: 0, .connectFailure)) == ["schedule backoff"])
        #expect(Self.handle(&machine, .timerFired(.backoff)) == ["acquire 2 avoiding"])
        // A connection for the first attempt arriving late is let go.
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true)) == ["release"])
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 2, endpoint: 1, http1: true)) == ["send 0 end"])
        _ = Self.handle(&machine, Self.response(.ok))
        #expect(Self.handle(&machine, .responseEnd(nil)) == ["end", "release reuse", "finish"])
        #expect(machine.record.attempts == 2)
        #expect(machine.record.responseFlags.isEmpty)
        #expect(machine.record.upstreamHost == "10.0.0.2:8080")
    }

    /// Envoy prints the flags in the order set: the retry gave up, then the connect failure.
    @Test func connectFailuresPastTheRetriesAnswer503WithURXAndUF() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        for attempt in 1...2 {
            _ = Self.handle(&machine, .upstreamUnavailable(attempt: attempt, endpoint: attempt - 1, .connectFailure))
            _ = Self.handle(&machine, .timerFired(.backoff))
        }
        let last = Self.handle(&machine, .upstreamUnavailable(attempt: 3, endpoint: 0, .connectFailure))
        #expect(last == ["respond 503", "body 91", "end", "finish"])
        #expect(machine.record.responseFlags.description == "URX,UF")
        #expect(machine.record.responseCode == 503)
        #expect(machine.record.attempts == 3)
    }

    @Test(arguments: [
        (ProxyError.overflow, "UO", 503), (.noHealthyUpstream, "UH", 503),
    ] as [(ProxyError, String, UInt)])
    func overflowAndNoHealthyUpstreamAreNotRetried(_ error: ProxyError, _ flag: String, _ status: UInt) {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        let actions = Self.handle(&machine, .upstreamUnavailable(attempt: 1, endpoint: error == .overflow ? 0 : nil, error))
        #expect(actions.contains("respond \(status)"))
        #expect(actions.last == "finish")
        #expect(machine.record.responseFlags.description == flag)
        #expect(machine.record.attempts == 1)
    }

    /// A reset before the response is not in Istio's default retryOn: 503 UC (the upstream
    /// connection closed) or UR (the stream was reset), 502 UPE for a malformed response.
    @Test(arguments: [
        (ProxyError.upstreamClosed, "UC", 503), (.upstreamReset, "UR", 503), (.upstreamProtocol, "UPE", 502),
    ] as [(ProxyError, String, UInt)])
    func upstreamFailuresBeforeTheResponse(_ error: ProxyError, _ flag: String, _ status: UInt) {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        let actions = Self.handle(&machine, .upstreamFailed(error))
        #expect(actions.first == "release")
        #expect(actions.contains("respond \(status)"))
        #expect(machine.record.responseFlags.description == flag)
    }

    @Test func aFailureAfterTheResponseStartedResetsTheDownstream() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        _ = Self.handle(&machine, Self.response(.ok))
        #expect(Self.handle(&machine, .upstreamFailed(.upstreamClosed)) == ["release", "reset", "finish"])
        #expect(machine.record.responseCode == 200)
        #expect(machine.record.responseFlags.description == "UC")
        #expect(machine.closeConnection)
    }

    /// A 503 is in Istio's default retry policy (retriable-status-codes 503): retried, and when
    /// the retries run out the upstream's own 503 goes to the client with URX.
    @Test func upstream503IsRetriedThenPassedOnWithURX() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        for attempt in 1...2 {
            _ = Self.handle(&machine, .upstreamConnected(attempt: attempt, endpoint: 0, http1: true))
            #expect(Self.handle(&machine, Self.response(.serviceUnavailable)) == ["release", "schedule backoff"])
            _ = Self.handle(&machine, .timerFired(.backoff))
        }
        _ = Self.handle(&machine, .upstreamConnected(attempt: 3, endpoint: 1, http1: true))
        #expect(Self.handle(&machine, Self.response(.serviceUnavailable)) == ["respond 503"])
        #expect(machine.record.responseFlags.description == "URX")
        #expect(machine.record.responseCodeDetails == "via_upstream")
    }

    @Test func theRouteTimeoutRunsFromTheEndOfTheRequestAndAnswers504() {
        var (machine, start) = Self.started(Self.snapshot(routeExtras: "timeout: 2s"), method: .POST, headers: [("content-length", "4")])
        #expect(start == ["schedule idle", "acquire 1"], "no route timer before the request ends")
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        #expect(Self.handle(&machine, .requestBody(ByteBuffer(string: "data"))) == ["forward 4"])
        #expect(Self.handle(&machine, .requestEnd(nil)) == ["forward end", "schedule route"])
        let timeout = Self.handle(&machine, .timerFired(.route))
        #expect(timeout == ["release", "cancel route", "respond 504", "body 24", "end", "finish"])
        #expect(machine.record.responseFlags.description == "UT")
        #expect(machine.record.responseCodeDetails == "response_timeout")
    }

    @Test func aWaitingRequestIsTakenOffThePoolQueueWhenItsRouteTimesOut() {
        var (machine, _) = Self.started(Self.snapshot(routeExtras: "timeout: 1s"))
        #expect(Self.handle(&machine, .requestEnd(nil)) == ["schedule route"], "the route timer runs while the request waits")
        let timeout = Self.handle(&machine, .timerFired(.route))
        #expect(timeout.first == "cancel acquire")
        #expect(timeout.contains("respond 504"))
    }

    @Test func theClientGoingAwayCancelsTheWaitAndRecordsDC() {
        var (machine, _) = Self.started(Self.snapshot())
        #expect(Self.handle(&machine, .downstreamClosed) == ["cancel acquire", "finish"])
        #expect(machine.record.responseFlags.description == "DC")
        #expect(machine.record.responseCode == 0)
        #expect(machine.record.responseCodeDetails == "downstream_remote_disconnect")
    }

    @Test func theClientGoingAwayMidResponseKeepsTheStatusSent() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        _ = Self.handle(&machine, Self.response(.ok))
        #expect(Self.handle(&machine, .downstreamClosed) == ["release", "finish"])
        #expect(machine.record.responseCode == 200)
        #expect(machine.record.responseFlags.description == "DC")
    }

    @Test func aFaultDelayHoldsTheRequestAndIsRecordedAsDI() {
        var (machine, start) = Self.started(Self.snapshot(routeExtras: "fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}}"))
        #expect(start == ["schedule idle", "schedule faultDelay"])
        #expect(machine.holdsDownstreamReads)
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, .timerFired(.faultDelay)) == ["acquire 1"])
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        _ = Self.handle(&machine, Self.response(.ok))
        _ = Self.handle(&machine, .responseEnd(nil))
        #expect(machine.record.responseFlags.description == "DI")
    }

    @Test func aFaultAbortAnswersWithFI() {
        var (machine, start) = Self.started(Self.snapshot(routeExtras: "fault: {abort: {httpStatus: 418, percentage: {value: 100}}}"))
        #expect(start == ["schedule idle", "respond 418", "body 18", "end"])
        #expect(Self.handle(&machine, .requestEnd(nil)) == ["finish"])
        #expect(machine.record.responseFlags.description == "FI")
        #expect(machine.record.responseCodeDetails == "fault_filter_abort")
    }

    @Test func noRouteIsA404WithNR() {
        var (machine, start) = Self.started(Self.snapshot(), host: "other.test")
        #expect(start.contains("respond 404"))
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(machine.isFinished)
        #expect(machine.record.responseFlags.description == "NR")
        #expect(machine.record.responseCodeDetails == "route_not_found")
        #expect(machine.record.route == nil)
    }

    /// A body kept for replay is sent again, whole, to the next attempt.
    @Test func aRetryReplaysTheBody() {
        var (machine, _) = Self.started(Self.snapshot(), method: .POST, headers: [("content-length", "8")])
        _ = Self.handle(&machine, .requestBody(ByteBuffer(string: "abcd")))
        _ = Self.handle(&machine, .requestBody(ByteBuffer(string: "efgh")))
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true)) == ["send 2 end"])
        _ = Self.handle(&machine, Self.response(.serviceUnavailable))
        _ = Self.handle(&machine, .timerFired(.backoff))
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 2, endpoint: 1, http1: true)) == ["send 2 end"])
    }

    /// Past the retry buffer the request streams on and is no longer retried: a 503, retried
    /// within the buffer (`upstream503IsRetriedThenPassedOnWithURX`), goes to the client.
    @Test func aBodyPastTheRetryBufferIsNotRetried() {
        let small = HTTPExchange.Limits(maxRetryBufferBytes: 4, maxRequestBodyBytes: nil, streamIdleTimeout: .seconds(300))
        var (machine, _) = Self.started(Self.snapshot(), method: .POST, headers: [("content-length", "8")], limits: small)
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        #expect(Self.handle(&machine, .requestBody(ByteBuffer(string: "abcdefgh"))) == ["forward 8"])
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, Self.response(.serviceUnavailable)) == ["respond 503"])
        #expect(machine.record.attempts == 1)
    }

    /// A body that outgrows the retry buffer before any connection is kept whole for the one
    /// attempt (nothing of it went out yet), then not retried.
    @Test func aBodyPastTheRetryBufferWhileWaitingGoesOutWholeOnce() {
        let small = HTTPExchange.Limits(maxRetryBufferBytes: 4, maxRequestBodyBytes: nil, streamIdleTimeout: .seconds(300))
        var (machine, _) = Self.started(Self.snapshot(), method: .POST, headers: [("content-length", "8")], limits: small)
        _ = Self.handle(&machine, .requestBody(ByteBuffer(string: "abcd")))
        _ = Self.handle(&machine, .requestBody(ByteBuffer(string: "efgh")))
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true)) == ["send 2 end"])
        #expect(Self.handle(&machine, Self.response(.serviceUnavailable)) == ["respond 503"])
    }

    @Test func aBodyOverTheLimitIsRefusedWith413AndClosesTheConnection() {
        let tight = HTTPExchange.Limits(maxRetryBufferBytes: 64 * 1024, maxRequestBodyBytes: 4, streamIdleTimeout: .seconds(300))
        var (machine, _) = Self.started(Self.snapshot(), method: .POST, headers: [("content-length", "8")], limits: tight)
        let actions = Self.handle(&machine, .requestBody(ByteBuffer(string: "abcdefgh")))
        #expect(actions.contains("respond 413"))
        #expect(actions.last == "finish")
        #expect(machine.closeConnection)
        #expect(machine.record.responseFlags.description == "DPE")
    }

    @Test func theStreamIdleTimeoutAsksAgainUntilNothingMovedForItsLength() {
        var (machine, _) = Self.started(Self.snapshot())
        _ = Self.handle(&machine, .requestEnd(nil))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        _ = Self.handle(&machine, Self.response(.ok), at: .seconds(200))
        #expect(Self.handle(&machine, .timerFired(.idle), at: .seconds(300)) == ["schedule idle"])
        #expect(Self.handle(&machine, .timerFired(.idle), at: .seconds(500)) == ["release", "reset", "finish"])
        #expect(machine.record.responseFlags.description == "SI")
        #expect(machine.record.responseCodeDetails == "stream_idle_timeout")
    }

    /// Envoy's stream idle timeout before the response: 408 while the request is still
    /// arriving, 504 once it is whole; "stream timeout", SI added to the flags already set,
    /// the connection closed, and one finish.
    @Test func theStreamIdleTimeoutBeforeTheResponseAnswersOnce() {
        var (waiting, _) = Self.started(Self.snapshot(), method: .POST, headers: [("content-length", "4")])
        #expect(Self.handle(&waiting, .timerFired(.idle), at: .seconds(300)) == ["cancel acquire", "respond 408", "body 14", "end", "finish"])
        #expect(waiting.record.responseFlags.description == "SI")
        #expect(waiting.record.responseCodeDetails == "stream_idle_timeout")
        #expect(waiting.closeConnection)

        var (delayed, _) = Self.started(Self.snapshot(routeExtras: "fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}"))
        _ = Self.handle(&delayed, .requestEnd(nil))
        _ = Self.handle(&delayed, .timerFired(.faultDelay), at: .seconds(1))
        #expect(Self.handle(&delayed, .timerFired(.idle), at: .seconds(300)) == ["cancel acquire", "respond 504", "body 14", "end", "finish"])
        #expect(delayed.record.responseFlags.description == "DI,SI")
        #expect(delayed.record.responseCode == 504)
    }

    @Test func aMalformedRestOfTheRequestIsRefused() {
        var (machine, _) = Self.started(Self.snapshot(), method: .POST, headers: [("transfer-encoding", "chunked")])
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        #expect(Self.handle(&machine, .requestMalformed(.badRequest("malformed request"))) == ["release", "refuse 400", "finish"])
        #expect(machine.record.responseFlags.description == "DPE")
        #expect(machine.closeConnection)
    }

    @Test func aWebSocketUpgradeBecomesATunnel() {
        var (machine, _) = Self.started(Self.snapshot(), headers: [("connection", "upgrade"), ("upgrade", "websocket")])
        _ = Self.handle(&machine, .requestEnd(nil))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 1, endpoint: 0, http1: true))
        #expect(Self.handle(&machine, Self.response(.switchingProtocols, [:])) == [])
        #expect(Self.handle(&machine, .responseEnd(nil)) == ["tunnel", "finish"])
        #expect(machine.record.responseCode == 101)
    }

    /// Outlier detection hears of every attempt, for clusters that have it.
    @Test func outlierOutcomesAreReportedPerAttempt() {
        let snapshot = Self.snapshot(policy: "{outlierDetection: {consecutive5xxErrors: 5}}")
        var (machine, _) = Self.started(snapshot)
        _ = Self.handle(&machine, .requestEnd(nil))
        #expect(Self.handle(&machine, .upstreamUnavailable(attempt: 1, endpoint: 1, .connectFailure)).first == "outlier 1 localOriginFailure")
        _ = Self.handle(&machine, .timerFired(.backoff))
        _ = Self.handle(&machine, .upstreamConnected(attempt: 2, endpoint: 0, http1: true))
        #expect(Self.handle(&machine, Self.response(.ok)).first == "outlier 0 status(200)")
    }

    /// Response flags keep the order they were set and print as Envoy's.
    @Test func responseFlagsKeepTheirOrder() {
        var flags = ResponseFlags()
        #expect(flags.description == "-")
        flags.insert(.delayInjected)
        flags.insert(.upstreamRetryLimitExceeded)
        flags.insert(.upstreamConnectionFailure)
        flags.insert(.delayInjected)
        #expect(flags.description == "DI,URX,UF")
        #expect(flags.contains(.upstreamRetryLimitExceeded) && !flags.contains(.noRoute))
        var many = ResponseFlags()
        for flag in ResponseFlag.allCases { many.insert(flag) }
        #expect(many.ordered.count == 10, "ten flags fit the inline storage")
    }
}
