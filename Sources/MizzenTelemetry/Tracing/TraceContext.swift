package import NIOHTTP1

/// A trace id as Zipkin and W3C Trace Context carry it: 128 bits, or 64 when a B3 peer sent 16 hex digits.
///
/// Istio turns 128-bit ids on, but B3 peers may still send 64-bit ones; Zipkin joins spans by the
/// id's text, so an id that came in as 16 digits must go out as 16 digits in B3 and Zipkin.
package struct TraceID: Hashable, Sendable {
    /// The upper 64 bits; 0 for a 64-bit id.
    package var high: UInt64
    /// The lower 64 bits.
    package var low: UInt64
    /// Whether the id came in as 16 hex digits, so B3 headers and Zipkin spans repeat that width.
    package var is64Bit: Bool

    /// An id from its two halves; `is64Bit` holds only when `high` is 0.
    package init(high: UInt64, low: UInt64, is64Bit: Bool = false) {
        self.high = high
        self.low = low
        self.is64Bit = is64Bit && high == 0
    }

    /// An id parsed from 16 or 32 lowercase hex digits (blanks around ignored); nil for other text or the zero id.
    package init?(hex: String) {
        guard let id = withUTF8Bytes(hex, { TraceID(lowerHex: $0) }) else { return nil }
        self = id
    }

    /// Parses exactly 16 or 32 lowercase hex digits, rejecting the all-zero id (invalid in B3 and W3C).
    init?(lowerHex bytes: UnsafeBufferPointer<UInt8>) {
        switch bytes.count {
        case 16:
            guard let low = LowerHex.value(bytes, from: 0, count: 16) else { return nil }
            self.init(high: 0, low: low, is64Bit: true)
        case 32:
            guard let high = LowerHex.value(bytes, from: 0, count: 16),
                let low = LowerHex.value(bytes, from: 16, count: 16)
            else { return nil }
            self.init(high: high, low: low)
        default:
            return nil
        }
        if high == 0 && low == 0 { return nil }
    }

    /// The id as B3 and Zipkin write it: 16 lowercase hex digits for a 64-bit id, else 32.
    package var hex: String {
        is64Bit ? LowerHex.string(low) : hex32
    }

    /// The id as 32 lowercase hex digits, the only width `traceparent` and OTLP accept.
    package var hex32: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            LowerHex.write(high, into: buffer, at: 0)
            LowerHex.write(low, into: buffer, at: 16)
            return 32
        }
    }
}

/// The trace position of one request as B3 and W3C Trace Context propagate it.
///
/// `spanID` is the span the headers name: the caller's span after `extract(from:)`, the proxy's
/// own span after `start(...)`, and the one `inject(into:)` hands upstream as the parent.
package struct TraceContext: Sendable, Hashable {
    package var traceID: TraceID
    package var spanID: UInt64
    /// The parent of `spanID`; nil on a root span and whenever only `traceparent` was seen.
    package var parentSpanID: UInt64?
    /// The sampling decision: nil means none was made yet, so the receiver decides.
    package var sampled: Bool?
    /// The B3 debug flag (`x-b3-flags: 1`, `b3: …-d`): force collection; it implies sampled.
    package var debug: Bool
    /// The W3C `tracestate` list, passed through untouched because it belongs to other vendors.
    package var traceState: String?

    package init(
        traceID: TraceID,
        spanID: UInt64,
        parentSpanID: UInt64? = nil,
        sampled: Bool? = nil,
        debug: Bool = false,
        traceState: String? = nil
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampled = debug ? true : sampled
        self.debug = debug
        self.traceState = traceState
    }
}

// MARK: - Extraction

extension TraceContext {
    /// The trace context a request carries: B3 multi `x-b3-*` first, then B3 single `b3`, then W3C
    /// `traceparent` (Envoy's Zipkin tracer with `USE_B3_WITH_W3C_PROPAGATION`: B3 wins, W3C is
    /// the fallback).
    ///
    /// A malformed header counts as absent, so the next format is tried. A `b3` header holding only a
    /// sampling state (`0`, `1`, `d`), or `x-b3-sampled` without ids, names no trace: it yields nil
    /// here and its decision comes from ``samplingDecision(from:)``.
    package static func extract(from headers: HTTPHeaders) -> TraceContext? {
        if let context = b3MultiContext(in: headers) {
            return context
        }
        if let single = headers.first(name: "b3"), let context = b3SingleContext(single) {
            return context
        }
        return traceparentContext(in: headers)
    }

    /// The sampling decision of B3 headers that carry no trace ids; consult it when ``extract(from:)`` returns nil.
    ///
    /// B3 lets a caller say "sample" or "do not sample" without starting a trace (`b3: 0`, or
    /// `x-b3-sampled: 0` alone); a new trace must honour it. `d` and `x-b3-flags: 1` mean sampled.
    package static func samplingDecision(from headers: HTTPHeaders) -> Bool? {
        if let single = headers.first(name: "b3") {
            let state = withUTF8Bytes(single) { bytes -> Bool? in
                guard bytes.count == 1 else { return nil }
                return samplingState(bytes[0])?.sampled
            }
            if let state { return state }
        }
        if let flags = headers.first(name: "x-b3-flags"), isDebugFlag(flags) {
            return true
        }
        return headers.first(name: "x-b3-sampled").flatMap(b3Sampled)
    }

    /// Parses `traceparent` (and `tracestate`) per W3C Trace Context level 1.
    ///
    /// Several `traceparent` headers are invalid (the spec says to restart the trace). A version
    /// above 00 is read by its version-00 prefix, as the spec asks, so a newer caller still joins.
    private static func traceparentContext(in headers: HTTPHeaders) -> TraceContext? {
        let values = headers["traceparent"]
        guard values.count == 1, let value = values.first else { return nil }
        let parsed = withUTF8Bytes(value) { bytes -> (trace: TraceID, span: UInt64, flags: UInt64)? in
            guard bytes.count >= 55,
                let version = LowerHex.value(bytes, from: 0, count: 2), version != 0xff,
                bytes[2] == dash, bytes[35] == dash, bytes[52] == dash,
                let trace = TraceID(lowerHex: UnsafeBufferPointer(rebasing: bytes[3..<35])),
                let span = LowerHex.value(bytes, from: 36, count: 16), span != 0,
                let flags = LowerHex.value(bytes, from: 53, count: 2)
            else { return nil }
            if version == 0 {
                guard bytes.count == 55 else { return nil }
            } else {
                guard bytes.count == 55 || bytes[55] == dash else { return nil }
            }
            return (trace, span, flags)
        }
        guard let parsed else { return nil }
        return TraceContext(
            traceID: parsed.trace,
            spanID: parsed.span,
            sampled: parsed.flags & 0x01 == 0x01,
            traceState: traceState(in: headers)
        )
    }

    /// All `tracestate` headers joined by commas (W3C says repeated headers form one list).
    private static func traceState(in headers: HTTPHeaders) -> String? {
        let members = headers["tracestate"].filter { !$0.allSatisfy { $0 == " " || $0 == "\t" } }
        return members.isEmpty ? nil : members.joined(separator: ",")
    }

    /// Parses `b3: {traceid}-{spanid}[-{sampling}[-{parentspanid}]]`; any bad field voids the header.
    private static func b3SingleContext(_ value: String) -> TraceContext? {
        withUTF8Bytes(value) { bytes -> TraceContext? in
            var fields: [Range<Int>] = []
            fields.reserveCapacity(4)
            var fieldStart = 0
            for index in 0...bytes.count where index == bytes.count || bytes[index] == dash {
                guard fields.count < 4 else { return nil }
                fields.append(fieldStart..<index)
                fieldStart = index + 1
            }
            guard fields.count >= 2,
                let traceID = TraceID(lowerHex: UnsafeBufferPointer(rebasing: bytes[fields[0]])),
                let spanID = parseSpanID(bytes, fields[1])
            else { return nil }
            var sampled: Bool?
            var debug = false
            if fields.count >= 3 {
                guard fields[2].count == 1, let state = samplingState(bytes[fields[2].lowerBound]) else { return nil }
                sampled = state.sampled
                debug = state.debug
            }
            var parentSpanID: UInt64?
            if fields.count == 4 {
                guard let parent = parseSpanID(bytes, fields[3]) else { return nil }
                parentSpanID = parent
            }
            return TraceContext(
                traceID: traceID,
                spanID: spanID,
                parentSpanID: parentSpanID,
                sampled: sampled,
                debug: debug
            )
        }
    }

    /// Parses the `x-b3-*` headers: trace and span ids are required; a malformed parent or decision is dropped.
    private static func b3MultiContext(in headers: HTTPHeaders) -> TraceContext? {
        guard let traceValue = headers.first(name: "x-b3-traceid"),
            let traceID = withUTF8Bytes(traceValue, { TraceID(lowerHex: $0) }),
            let spanValue = headers.first(name: "x-b3-spanid"),
            let spanID = withUTF8Bytes(spanValue, { parseSpanID($0, 0..<$0.count) })
        else { return nil }
        let parentSpanID = headers.first(name: "x-b3-parentspanid").flatMap { value in
            withUTF8Bytes(value) { parseSpanID($0, 0..<$0.count) }
        }
        let debug = headers.first(name: "x-b3-flags").map(isDebugFlag) ?? false
        let sampled = headers.first(name: "x-b3-sampled").flatMap(b3Sampled)
        return TraceContext(
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parentSpanID,
            sampled: sampled,
            debug: debug
        )
    }

    /// A 16-digit, non-zero span id in `range` of `bytes`.
    private static func parseSpanID(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64? {
        guard range.count == 16, let id = LowerHex.value(bytes, from: range.lowerBound, count: 16), id != 0 else {
            return nil
        }
        return id
    }

    /// The B3 single sampling state: `1` accept, `0` deny, `d` debug (which implies accept).
    private static func samplingState(_ byte: UInt8) -> (sampled: Bool, debug: Bool)? {
        switch byte {
        case UInt8(ascii: "1"): (true, false)
        case UInt8(ascii: "0"): (false, false)
        case UInt8(ascii: "d"): (true, true)
        default: nil
        }
    }

    /// `x-b3-sampled`: `1`/`true` or `0`/`false`; the words are what older B3 clients sent, and Envoy reads them too.
    private static func b3Sampled(_ value: String) -> Bool? {
        switch trimmed(value) {
        case "1", "true": true
        case "0", "false": false
        default: nil
        }
    }

    /// Whether `x-b3-flags` says debug; B3 defines only the value 1.
    private static func isDebugFlag(_ value: String) -> Bool {
        trimmed(value) == "1"
    }

    private static func trimmed(_ value: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = value.firstIndex(where: { !isSpace($0) }),
            let last = value.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return value[first...last]
    }
}

// MARK: - Starting the proxy's span

extension TraceContext {
    /// The context of the proxy's own span for a request: a child of `incoming` when there is one, else a new root.
    ///
    /// As in Envoy, a decision that came with the request wins over the local one, even over
    /// `forced` (`x-envoy-force-trace`, `x-client-trace-id`); debug implies sampled. Without an
    /// incoming decision the span is sampled when `forced`, or when a draw from `random` falls
    /// under `samplingPercent` (0...100). `samplingDecision` is the decision of B3 headers that
    /// carried no ids (``samplingDecision(from:)``); it applies only when `incoming` is nil.
    /// The result always holds a decision, so `inject(into:)` always sends one upstream.
    package static func start(
        incoming: TraceContext?,
        samplingDecision: Bool? = nil,
        samplingPercent: Double,
        forced: Bool,
        random: inout some RandomNumberGenerator
    ) -> TraceContext {
        let spanID = nonZeroID(using: &random)
        if let incoming {
            let sampled = incoming.debug || (incoming.sampled ?? draw(samplingPercent, forced: forced, using: &random))
            return TraceContext(
                traceID: incoming.traceID,
                spanID: spanID,
                parentSpanID: incoming.spanID,
                sampled: sampled,
                debug: incoming.debug,
                traceState: incoming.traceState
            )
        }
        let sampled = samplingDecision ?? draw(samplingPercent, forced: forced, using: &random)
        let traceID = TraceID(high: random.next(), low: nonZeroID(using: &random))
        return TraceContext(traceID: traceID, spanID: spanID, sampled: sampled)
    }

    /// The local sampling decision: forced, or a uniform draw in 0..<100 under the percentage.
    private static func draw(_ percent: Double, forced: Bool, using random: inout some RandomNumberGenerator) -> Bool {
        if forced || percent >= 100 { return true }
        guard percent > 0 else { return false }
        // An integer draw in millionths of a percent: Double.random's conversion cost more than
        // the rest of the decision.
        let threshold = UInt64(percent * 1_000_000)
        return random.next() % 100_000_000 < threshold
    }

    /// A random id other than 0, which B3 and W3C both reserve as invalid.
    private static func nonZeroID(using random: inout some RandomNumberGenerator) -> UInt64 {
        while true {
            let id: UInt64 = random.next()
            if id != 0 { return id }
        }
    }
}

// MARK: - Injection

extension TraceContext {
    /// Writes this context into upstream request headers as B3 multi plus W3C `traceparent`, as Envoy's
    /// Zipkin tracer does with `USE_B3_WITH_W3C_PROPAGATION`.
    ///
    /// Every header is replaced, never appended, so stale values from the caller cannot survive.
    /// A `b3` single header is removed because the multi headers now say the same, and absent
    /// parts (no parent, no decision, no debug) remove their header. `x-b3-sampled` is written
    /// even with debug, as Envoy does, for receivers that read only it. `tracestate` is written
    /// when this context carries one and removed otherwise, since it belongs to the trace in
    /// `traceparent`.
    package func inject(into headers: inout HTTPHeaders) {
        let spanHex = LowerHex.string(spanID)
        headers.replaceOrAdd(name: "x-b3-traceid", value: traceID.hex)
        headers.replaceOrAdd(name: "x-b3-spanid", value: spanHex)
        if let parentSpanID {
            headers.replaceOrAdd(name: "x-b3-parentspanid", value: LowerHex.string(parentSpanID))
        } else {
            headers.remove(name: "x-b3-parentspanid")
        }
        if let sampled {
            headers.replaceOrAdd(name: "x-b3-sampled", value: sampled ? "1" : "0")
        } else {
            headers.remove(name: "x-b3-sampled")
        }
        if debug {
            headers.replaceOrAdd(name: "x-b3-flags", value: "1")
        } else {
            headers.remove(name: "x-b3-flags")
        }
        headers.remove(name: "b3")
        headers.replaceOrAdd(name: "traceparent", value: traceparent)
        if let traceState {
            headers.replaceOrAdd(name: "tracestate", value: traceState)
        } else {
            headers.remove(name: "tracestate")
        }
    }

    /// `inject` for headers known to carry none of the tracing headers (`carriesTraceHeaders`
    /// said so): appends, with none of the scans that replacing needs. Most requests at an edge
    /// come without a trace; this is their path.
    package func injectFresh(into headers: inout HTTPHeaders) {
        headers.add(name: "x-b3-traceid", value: traceID.hex)
        headers.add(name: "x-b3-spanid", value: LowerHex.string(spanID))
        if let parentSpanID { headers.add(name: "x-b3-parentspanid", value: LowerHex.string(parentSpanID)) }
        if let sampled { headers.add(name: "x-b3-sampled", value: sampled ? "1" : "0") }
        if debug { headers.add(name: "x-b3-flags", value: "1") }
        headers.add(name: "traceparent", value: traceparent)
        if let traceState { headers.add(name: "tracestate", value: traceState) }
    }

    /// Whether `headers` holds any header tracing reads or writes (`x-b3-*`, `b3`,
    /// `traceparent`, `tracestate`, `x-client-trace-id`, `x-envoy-force-trace`): one pass over
    /// the names, comparing only those whose length and first letter could match.
    package static func carriesTraceHeaders(_ headers: HTTPHeaders) -> Bool {
        for (name, _) in headers {
            let utf8 = name.utf8
            let count = utf8.count
            guard count == 2 || count >= 10 && count <= 19, let first = utf8.first else { continue }
            let lower = first | 0x20
            guard lower == UInt8(ascii: "x") || lower == UInt8(ascii: "b") || lower == UInt8(ascii: "t") else { continue }
            let lowered = name.lowercased()
            if lowered == "b3" || lowered.hasPrefix("x-b3-") || lowered == "traceparent" || lowered == "tracestate"
                || lowered == "x-client-trace-id" || lowered == "x-envoy-force-trace" {
                return true
            }
        }
        return false
    }

    /// The W3C `traceparent` value: version 00, the 32-digit trace id, this span, and the sampled flag.
    package var traceparent: String {
        // 55 bytes written in place: the interpolation made four strings and joined them.
        String(unsafeUninitializedCapacity: 55) { buffer in
            buffer[0] = UInt8(ascii: "0")
            buffer[1] = UInt8(ascii: "0")
            buffer[2] = dash
            LowerHex.write(traceID.high, into: buffer, at: 3)
            LowerHex.write(traceID.low, into: buffer, at: 19)
            buffer[35] = dash
            LowerHex.write(spanID, into: buffer, at: 36)
            buffer[52] = dash
            buffer[53] = UInt8(ascii: "0")
            buffer[54] = sampled == true ? UInt8(ascii: "1") : UInt8(ascii: "0")
            return 55
        }
    }

    /// A span id as B3, W3C, Zipkin and OTLP JSON write it: 16 lowercase hex digits.
    package static func hex(spanID: UInt64) -> String {
        LowerHex.string(spanID)
    }
}

// MARK: - Hex and byte helpers

private let dash = UInt8(ascii: "-")

/// Lowercase hex, the only case B3 and W3C Trace Context allow for ids.
private enum LowerHex {
    /// The value of `count` (at most 16) lowercase hex digits at `start`, or nil if any is not `0-9a-f`.
    static func value(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, count: Int) -> UInt64? {
        guard count > 0, count <= 16, start >= 0, start + count <= bytes.count else { return nil }
        var value: UInt64 = 0
        for index in start..<(start + count) {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// `value` as exactly 16 lowercase hex digits.
    static func string(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            write(value, into: buffer, at: 0)
            return 16
        }
    }

    /// Writes `value` as 16 lowercase hex digits at `offset`; the caller guarantees the room.
    static func write(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int) {
        for position in 0..<16 {
            buffer[offset + position] = digit(value >> UInt64((15 - position) * 4))
        }
    }

    private static func digit(_ value: UInt64) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0x0f)
        return nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }
}

/// Calls `body` with the UTF-8 bytes of `value` minus surrounding spaces and tabs, without copying a native string.
///
/// HTTP allows optional whitespace around field values, and not every producer of `HTTPHeaders` trims it.
private func withUTF8Bytes<Result>(_ value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    var value = value
    return value.withUTF8 { bytes in
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") {
            start += 1
        }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") {
            end -= 1
        }
        return body(UnsafeBufferPointer(rebasing: bytes[start..<end]))
    }
}
