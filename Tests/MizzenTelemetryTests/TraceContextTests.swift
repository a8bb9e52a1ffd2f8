import NIOHTTP1
import Testing

@testable import MizzenTelemetry

/// A deterministic generator (SplitMix64), so sampling draws and new ids repeat from run to run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// One request's trace headers and the context they should yield (nil: none).
struct ExtractionCase: Sendable, CustomTestStringConvertible {
    var label: String
    var headers: [(String, String)]
    var expected: TraceContext?

    var testDescription: String { label }

    var httpHeaders: HTTPHeaders { HTTPHeaders(headers) }
}

private let traceHigh: UInt64 = 0x80f1_98ee_5634_3ba8
private let traceLow: UInt64 = 0x64fe_8b2a_57d3_eff7
private let trace128 = TraceID(high: traceHigh, low: traceLow)
private let trace64 = TraceID(high: 0, low: traceLow, is64Bit: true)
private let span: UInt64 = 0xe457_b5a2_e4d8_6bd1
private let parent: UInt64 = 0x05e3_ac9a_4f6e_3b90
private let trace128Hex = "80f198ee56343ba864fe8b2a57d3eff7"
private let trace64Hex = "64fe8b2a57d3eff7"
private let spanHex = "e457b5a2e4d86bd1"
private let parentHex = "05e3ac9a4f6e3b90"

struct TraceContextTests {
    static let validCases: [ExtractionCase] = [
        ExtractionCase(
            label: "traceparent sampled",
            headers: [("traceparent", "00-\(trace128Hex)-\(spanHex)-01")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "traceparent not sampled, unknown flag bits ignored",
            headers: [("traceparent", "00-\(trace128Hex)-\(spanHex)-02")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: false)
        ),
        ExtractionCase(
            label: "traceparent with tracestate headers joined",
            headers: [
                ("traceparent", "00-\(trace128Hex)-\(spanHex)-01"),
                ("tracestate", "congo=t61rcWkgMzE"),
                ("tracestate", "rojo=00f067aa0ba902b7"),
            ],
            expected: TraceContext(
                traceID: trace128,
                spanID: span,
                sampled: true,
                traceState: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
            )
        ),
        ExtractionCase(
            label: "traceparent of a future version read by its 00 prefix",
            headers: [("traceparent", "cc-\(trace128Hex)-\(spanHex)-01-what-the-future-holds")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "traceparent with surrounding blanks",
            headers: [("traceparent", "  00-\(trace128Hex)-\(spanHex)-01\t")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "b3 wins over traceparent (Envoy: B3 first, W3C the fallback)",
            headers: [
                ("b3", "\(trace128Hex)-\(spanHex)-1"),
                ("traceparent", "00-\(trace128Hex)-\(parentHex)-00"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "b3 single, all four fields",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-1-\(parentHex)")],
            expected: TraceContext(traceID: trace128, spanID: span, parentSpanID: parent, sampled: true)
        ),
        ExtractionCase(
            label: "b3 single, 64-bit trace id, no decision",
            headers: [("b3", "\(trace64Hex)-\(spanHex)")],
            expected: TraceContext(traceID: trace64, spanID: span)
        ),
        ExtractionCase(
            label: "b3 single, deny",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-0")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: false)
        ),
        ExtractionCase(
            label: "b3 single, debug implies sampled",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-d")],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true, debug: true)
        ),
        ExtractionCase(
            label: "malformed traceparent falls back to b3",
            headers: [
                ("traceparent", "00-\(trace128Hex.uppercased())-\(spanHex)-01"),
                ("b3", "\(trace128Hex)-\(spanHex)-1"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "tracestate without traceparent is dropped",
            headers: [("b3", "\(trace128Hex)-\(spanHex)"), ("tracestate", "rojo=1")],
            expected: TraceContext(traceID: trace128, spanID: span)
        ),
        ExtractionCase(
            label: "b3 multi wins over b3 single",
            headers: [
                ("x-b3-traceid", trace128Hex), ("x-b3-spanid", spanHex),
                ("b3", "\(trace64Hex)-\(parentHex)"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span)
        ),
        ExtractionCase(
            label: "malformed b3 single falls back to b3 multi",
            headers: [
                ("b3", "\(trace128Hex)-\(spanHex)-x"),
                ("x-b3-traceid", trace128Hex), ("x-b3-spanid", spanHex),
            ],
            expected: TraceContext(traceID: trace128, spanID: span)
        ),
        ExtractionCase(
            label: "b3 multi, everything",
            headers: [
                ("X-B3-TraceId", trace128Hex), ("X-B3-SpanId", spanHex),
                ("X-B3-ParentSpanId", parentHex), ("X-B3-Sampled", "1"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span, parentSpanID: parent, sampled: true)
        ),
        ExtractionCase(
            label: "b3 multi, sampled false as a word",
            headers: [("x-b3-traceid", trace64Hex), ("x-b3-spanid", spanHex), ("x-b3-sampled", "false")],
            expected: TraceContext(traceID: trace64, spanID: span, sampled: false)
        ),
        ExtractionCase(
            label: "b3 multi, sampled true as a word",
            headers: [("x-b3-traceid", trace64Hex), ("x-b3-spanid", spanHex), ("x-b3-sampled", "true")],
            expected: TraceContext(traceID: trace64, spanID: span, sampled: true)
        ),
        ExtractionCase(
            label: "b3 multi, debug flag overrides a deny",
            headers: [
                ("x-b3-traceid", trace128Hex), ("x-b3-spanid", spanHex),
                ("x-b3-sampled", "0"), ("x-b3-flags", "1"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span, sampled: true, debug: true)
        ),
        ExtractionCase(
            label: "b3 multi, malformed parent and sampled are dropped",
            headers: [
                ("x-b3-traceid", trace128Hex), ("x-b3-spanid", spanHex),
                ("x-b3-parentspanid", "xyz"), ("x-b3-sampled", "yes"),
            ],
            expected: TraceContext(traceID: trace128, spanID: span)
        ),
    ]

    static let malformedCases: [ExtractionCase] = [
        ExtractionCase(label: "no headers", headers: [], expected: nil),
        ExtractionCase(label: "traceparent empty", headers: [("traceparent", "")], expected: nil),
        ExtractionCase(
            label: "traceparent uppercase",
            headers: [("traceparent", "00-\(trace128Hex.uppercased())-\(spanHex)-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent all-zero trace id",
            headers: [("traceparent", "00-00000000000000000000000000000000-\(spanHex)-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent all-zero span id",
            headers: [("traceparent", "00-\(trace128Hex)-0000000000000000-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent version ff",
            headers: [("traceparent", "ff-\(trace128Hex)-\(spanHex)-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent version 00 with extra fields",
            headers: [("traceparent", "00-\(trace128Hex)-\(spanHex)-01-extra")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent future version glued to more text",
            headers: [("traceparent", "cc-\(trace128Hex)-\(spanHex)-01x")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent 64-bit trace id",
            headers: [("traceparent", "00-\(trace64Hex)-\(spanHex)-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent bad flags",
            headers: [("traceparent", "00-\(trace128Hex)-\(spanHex)-0g")],
            expected: nil
        ),
        ExtractionCase(
            label: "traceparent wrong separator",
            headers: [("traceparent", "00_\(trace128Hex)-\(spanHex)-01")],
            expected: nil
        ),
        ExtractionCase(
            label: "two traceparent headers",
            headers: [
                ("traceparent", "00-\(trace128Hex)-\(spanHex)-01"),
                ("traceparent", "00-\(trace128Hex)-\(parentHex)-01"),
            ],
            expected: nil
        ),
        ExtractionCase(label: "b3 sampling only", headers: [("b3", "1")], expected: nil),
        ExtractionCase(label: "b3 garbage", headers: [("b3", "not-a-trace")], expected: nil),
        ExtractionCase(label: "b3 trace id only", headers: [("b3", trace128Hex)], expected: nil),
        ExtractionCase(
            label: "b3 trace id of 20 digits",
            headers: [("b3", "\(trace128Hex.prefix(20))-\(spanHex)")],
            expected: nil
        ),
        ExtractionCase(
            label: "b3 uppercase",
            headers: [("b3", "\(trace128Hex.uppercased())-\(spanHex.uppercased())")],
            expected: nil
        ),
        ExtractionCase(
            label: "b3 zero span id",
            headers: [("b3", "\(trace128Hex)-0000000000000000")],
            expected: nil
        ),
        ExtractionCase(
            label: "b3 bad sampling state",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-true")],
            expected: nil
        ),
        ExtractionCase(
            label: "b3 bad parent",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-1-123")],
            expected: nil
        ),
        ExtractionCase(
            label: "b3 five fields",
            headers: [("b3", "\(trace128Hex)-\(spanHex)-1-\(parentHex)-1")],
            expected: nil
        ),
        ExtractionCase(label: "b3 empty", headers: [("b3", "")], expected: nil),
        ExtractionCase(label: "b3 dashes only", headers: [("b3", "---")], expected: nil),
        ExtractionCase(
            label: "x-b3 without span id",
            headers: [("x-b3-traceid", trace128Hex), ("x-b3-sampled", "1")],
            expected: nil
        ),
        ExtractionCase(
            label: "x-b3 trace id of 15 digits",
            headers: [("x-b3-traceid", String(trace64Hex.dropFirst())), ("x-b3-spanid", spanHex)],
            expected: nil
        ),
        ExtractionCase(
            label: "x-b3 non-hex span id",
            headers: [("x-b3-traceid", trace128Hex), ("x-b3-spanid", "e457b5a2e4d86bdz")],
            expected: nil
        ),
        ExtractionCase(
            label: "non-ASCII everywhere",
            headers: [
                ("traceparent", "00-ü\(trace128Hex.dropFirst())-\(spanHex)-01"),
                ("b3", "é-ü"),
                ("x-b3-traceid", "ß"),
            ],
            expected: nil
        ),
    ]

    @Test("extract reads the context a request carries", arguments: validCases)
    func extractReadsValidHeaders(_ testCase: ExtractionCase) {
        #expect(TraceContext.extract(from: testCase.httpHeaders) == testCase.expected)
    }

    @Test("extract ignores malformed headers", arguments: malformedCases)
    func extractIgnoresMalformedHeaders(_ testCase: ExtractionCase) {
        #expect(TraceContext.extract(from: testCase.httpHeaders) == nil)
    }

    @Test(
        "a sampling decision without ids is read on its own",
        arguments: [
            ([("b3", "0")], false),
            ([("b3", "1")], true),
            ([("b3", "d")], true),
            ([("b3", " 0 ")], false),
            ([("x-b3-sampled", "0")], false),
            ([("x-b3-sampled", "true")], true),
            ([("x-b3-flags", "1")], true),
            ([("b3", "x")], nil),
            ([("x-b3-sampled", "maybe")], nil),
            ([], nil),
        ] as [([(String, String)], Bool?)]
    )
    func samplingDecisionWithoutIDs(_ headers: [(String, String)], _ expected: Bool?) {
        #expect(TraceContext.samplingDecision(from: HTTPHeaders(headers)) == expected)
    }

    @Test("TraceID text keeps the width it came in")
    func traceIDWidth() throws {
        let wide = try #require(TraceID(hex: trace128Hex))
        #expect(wide == trace128)
        #expect(wide.hex == trace128Hex)
        #expect(wide.hex32 == trace128Hex)

        let narrow = try #require(TraceID(hex: trace64Hex))
        #expect(narrow.is64Bit)
        #expect(narrow.high == 0)
        #expect(narrow.hex == trace64Hex)
        #expect(narrow.hex32 == "0000000000000000" + trace64Hex)

        let zeroHigh = try #require(TraceID(hex: "0000000000000000" + trace64Hex))
        #expect(!zeroHigh.is64Bit)
        #expect(zeroHigh.hex.count == 32)

        #expect(TraceID(hex: "0000000000000000") == nil)
        #expect(TraceID(hex: String(repeating: "a", count: 24)) == nil)
        #expect(TraceID(high: 1, low: 2, is64Bit: true).is64Bit == false)
    }

    @Test(
        "a request without context starts a new root trace",
        arguments: [
            (100.0, false, true),
            (0.0, false, false),
            (0.0, true, true),
        ]
    )
    func startWithoutContext(percent: Double, forced: Bool, sampled: Bool) {
        var random = SeededGenerator(state: 7)
        let context = TraceContext.start(incoming: nil, samplingPercent: percent, forced: forced, random: &random)
        #expect(context.traceID.hex.count == 32)
        #expect(!context.traceID.is64Bit)
        #expect(context.traceID.low != 0)
        #expect(context.spanID != 0)
        #expect(context.parentSpanID == nil)
        #expect(context.sampled == sampled)
        #expect(context.debug == false)
        #expect(context.traceState == nil)
    }

    @Test("new traces get distinct ids")
    func startGivesDistinctIDs() {
        var random = SeededGenerator(state: 1)
        let first = TraceContext.start(incoming: nil, samplingPercent: 100, forced: false, random: &random)
        let second = TraceContext.start(incoming: nil, samplingPercent: 100, forced: false, random: &random)
        #expect(first.traceID != second.traceID)
        #expect(first.spanID != second.spanID)
    }

    @Test("random sampling keeps about the configured share")
    func randomSamplingRate() {
        var random = SeededGenerator(state: 42)
        let sampled = (0..<10_000).filter { _ in
            TraceContext.start(incoming: nil, samplingPercent: 10, forced: false, random: &random).sampled == true
        }.count
        #expect((800...1200).contains(sampled))
    }

    @Test(
        "a decision from B3 headers without ids is honoured by a new trace",
        arguments: [(false, 100.0, true, false), (true, 0.0, false, true)]
    )
    func startHonoursDecisionWithoutIDs(decision: Bool, percent: Double, forced: Bool, sampled: Bool) {
        var random = SeededGenerator(state: 3)
        let context = TraceContext.start(
            incoming: nil,
            samplingDecision: decision,
            samplingPercent: percent,
            forced: forced,
            random: &random
        )
        #expect(context.sampled == sampled)
        #expect(context.parentSpanID == nil)
    }

    /// The incoming decision, the local percentage, forced, and the decision the proxy's span ends with.
    static let continuationCases: [(Bool?, Bool, Double, Bool, Bool)] = [
        (true, false, 0, false, true),  // an accept is honoured at 0 %
        (false, false, 100, false, false),  // a deny is honoured at 100 %
        (false, false, 100, true, false),  // a deny wins over forced, as in Envoy
        (nil, false, 0, false, false),  // no decision: decided locally
        (nil, false, 100, false, true),
        (nil, false, 0, true, true),
        (nil, true, 0, false, true),  // debug implies sampled
    ]

    @Test(
        "a continued trace keeps the trace id, parents on the caller and honours its decision",
        arguments: continuationCases
    )
    func startContinuesIncomingTrace(
        incomingSampled: Bool?,
        debug: Bool,
        percent: Double,
        forced: Bool,
        sampled: Bool
    ) {
        var random = SeededGenerator(state: 11)
        let incoming = TraceContext(
            traceID: trace64,
            spanID: span,
            parentSpanID: parent,
            sampled: incomingSampled,
            debug: debug,
            traceState: "rojo=1"
        )
        let context = TraceContext.start(incoming: incoming, samplingPercent: percent, forced: forced, random: &random)
        #expect(context.traceID == trace64)
        #expect(context.traceID.hex == trace64Hex)
        #expect(context.parentSpanID == span)
        #expect(context.spanID != span)
        #expect(context.spanID != 0)
        #expect(context.sampled == sampled)
        #expect(context.debug == debug)
        #expect(context.traceState == "rojo=1")
    }

    @Test("inject replaces the B3 headers, removes b3 and writes traceparent")
    func injectRootSpan() {
        var headers = HTTPHeaders([
            ("b3", "\(trace64Hex)-\(parentHex)-1"),
            ("x-b3-traceid", "stale"),
            ("X-B3-TraceId", "stale-again"),
            ("x-b3-parentspanid", parentHex),
            ("x-b3-flags", "1"),
            ("tracestate", "stale=1"),
            ("traceparent", "00-\(trace128Hex)-\(parentHex)-00"),
            ("x-request-id", "keep-me"),
        ])
        let context = TraceContext(traceID: trace128, spanID: span, sampled: true)
        context.inject(into: &headers)

        #expect(headers["x-b3-traceid"] == [trace128Hex])
        #expect(headers["x-b3-spanid"] == [spanHex])
        #expect(headers["x-b3-parentspanid"] == [])
        #expect(headers["x-b3-sampled"] == ["1"])
        #expect(headers["x-b3-flags"] == [])
        #expect(headers["b3"] == [])
        #expect(headers["traceparent"] == ["00-\(trace128Hex)-\(spanHex)-01"])
        #expect(headers["tracestate"] == [])
        #expect(headers["x-request-id"] == ["keep-me"])
    }

    @Test("inject writes parent, debug, tracestate, and a 64-bit id padded only in traceparent")
    func injectChildSpan() {
        var headers = HTTPHeaders()
        let context = TraceContext(
            traceID: trace64,
            spanID: span,
            parentSpanID: parent,
            sampled: true,
            debug: true,
            traceState: "congo=t61rcWkgMzE"
        )
        context.inject(into: &headers)

        #expect(headers["x-b3-traceid"] == [trace64Hex])
        #expect(headers["x-b3-spanid"] == [spanHex])
        #expect(headers["x-b3-parentspanid"] == [parentHex])
        #expect(headers["x-b3-sampled"] == ["1"])
        #expect(headers["x-b3-flags"] == ["1"])
        #expect(headers["traceparent"] == ["00-0000000000000000\(trace64Hex)-\(spanHex)-01"])
        #expect(headers["tracestate"] == ["congo=t61rcWkgMzE"])
    }

    @Test(
        "inject writes a deny or no decision, and clears the traceparent sampled flag",
        arguments: [false, nil] as [Bool?]
    )
    func injectUnsampled(_ sampled: Bool?) {
        var headers = HTTPHeaders([("x-b3-sampled", "1")])
        TraceContext(traceID: trace128, spanID: span, sampled: sampled).inject(into: &headers)
        #expect(headers["x-b3-sampled"] == (sampled == false ? ["0"] : []))
        #expect(headers["traceparent"] == ["00-\(trace128Hex)-\(spanHex)-00"])
    }

    @Test("what inject writes, extract reads back")
    func injectThenExtract() {
        var random = SeededGenerator(state: 5)
        let incoming = TraceContext.extract(from: HTTPHeaders([("b3", "\(trace128Hex)-\(spanHex)-1-\(parentHex)")]))
        let context = TraceContext.start(incoming: incoming, samplingPercent: 0, forced: false, random: &random)
        var headers = HTTPHeaders()
        context.inject(into: &headers)

        let upstream = TraceContext.extract(from: headers)
        #expect(upstream?.traceID == context.traceID)
        #expect(upstream?.spanID == context.spanID)
        #expect(upstream?.sampled == true)

        headers.remove(name: "traceparent")
        #expect(TraceContext.extract(from: headers) == context)
    }
}
