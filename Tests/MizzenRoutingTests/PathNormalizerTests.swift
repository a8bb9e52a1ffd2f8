import Testing
@testable import MizzenRouting

/// Paths are normalised as Envoy does behind Istio's `meshConfig.pathNormalization`.
struct PathNormalizerTests {
    /// One path and what each rewriting mode makes of it; `none` leaves every valid path alone.
    struct Rewrite: Sendable, CustomTestStringConvertible {
        let path: String
        let base: String
        let mergeSlashes: String
        let decodeAndMergeSlashes: String

        init(_ path: String, base: String, merge: String? = nil, decode: String? = nil) {
            self.path = path
            self.base = base
            self.mergeSlashes = merge ?? base
            self.decodeAndMergeSlashes = decode ?? merge ?? base
        }

        init(_ path: String, all: String) {
            self.init(path, base: all)
        }

        func expected(_ mode: PathNormalization) -> String {
            switch mode {
            case .none: path
            case .base: base
            case .mergeSlashes: mergeSlashes
            case .decodeAndMergeSlashes: decodeAndMergeSlashes
            }
        }

        var testDescription: String { path.debugDescription }
    }

    static let rewrites: [Rewrite] = [
        // Already normal: no allocation, `.unchanged`.
        Rewrite("/", all: "/"),
        Rewrite("/admin", all: "/admin"),
        Rewrite("/admin/", all: "/admin/"),
        Rewrite("/a/.hidden", all: "/a/.hidden"),
        Rewrite("/...", all: "/..."),
        Rewrite("/a/..b", all: "/a/..b"),
        Rewrite("/a/b..", all: "/a/b.."),
        Rewrite("/caf\u{E9}", all: "/caf\u{E9}"),
        Rewrite("/%2F", base: "/%2F", decode: "/"),
        // Dot segments, plain and escaped.
        Rewrite("/a/../admin", all: "/admin"),
        Rewrite("/%2e%2e/admin", all: "/admin"),
        Rewrite("/%2E%2e/admin", all: "/admin"),
        Rewrite("/.%2e/admin", all: "/admin"),
        Rewrite("/./admin", all: "/admin"),
        Rewrite("/a/./b", all: "/a/b"),
        Rewrite("/a/%2e/b", all: "/a/b"),
        Rewrite("/a/b/./../c", all: "/a/c"),
        Rewrite("/a/b/../../..", all: "/"),
        Rewrite("/a/b/..", all: "/a/"),
        Rewrite("/a/.", all: "/a/"),
        Rewrite("/a/..", all: "/"),
        Rewrite("/..", all: "/"),
        Rewrite("/../", all: "/"),
        Rewrite("/.", all: "/"),
        Rewrite("/../../etc/passwd", all: "/etc/passwd"),
        // Unreserved escapes are decoded; every other escape stays, hex upper-cased.
        Rewrite("/%61dmin", all: "/admin"),
        Rewrite("/%7euser", all: "/~user"),
        Rewrite("/%41%42", all: "/AB"),
        Rewrite("/%2D%2E%5F%7E", all: "/-._~"),
        Rewrite("/%e2%82%ac", all: "/%E2%82%AC"),
        Rewrite("/a%3fb", all: "/a%3Fb"),
        // Decoding is single: `%25` stays, so `%252e` never becomes a dot.
        Rewrite("/%25", all: "/%25"),
        Rewrite("/%252e%252e/admin", all: "/%252e%252e/admin"),
        // Backslash is a separator.
        Rewrite("\\admin", all: "/admin"),
        Rewrite("/a\\b", all: "/a/b"),
        Rewrite("/a\\..\\admin", all: "/admin"),
        // Slashes: kept by base, merged after dot removal (Envoy's order) by the merging modes.
        Rewrite("//admin", base: "//admin", merge: "/admin"),
        Rewrite("/a///b", base: "/a///b", merge: "/a/b"),
        Rewrite("/admin//", base: "/admin//", merge: "/admin/"),
        Rewrite("/a//../b", all: "/a/b"),
        Rewrite("/a/b//..", all: "/a/b/"),
        Rewrite("//./admin", base: "//admin", merge: "/admin"),
        // Escaped separators: only decode-and-merge-slashes turns them into real ones.
        Rewrite("/a%2fb", base: "/a%2Fb", decode: "/a/b"),
        Rewrite("/%2fadmin", base: "/%2Fadmin", decode: "/admin"),
        Rewrite("/a%2F..%2Fadmin", base: "/a%2F..%2Fadmin", decode: "/admin"),
        Rewrite("/a%5c..%5cadmin", base: "/a%5C..%5Cadmin", decode: "/admin"),
        Rewrite("/a/%2E%2E%2f..%2Fadmin", base: "/a/..%2F..%2Fadmin", decode: "/admin"),
        Rewrite("/public/%2e%2e%5cadmin", base: "/public/..%5Cadmin", decode: "/admin"),
    ]

    /// A path every mode but `none` refuses, and whether `none` refuses it too.
    struct Refusal: Sendable, CustomTestStringConvertible {
        let path: String
        let reason: PathRejection
        let refusedByNone: Bool

        var testDescription: String { path.debugDescription }
    }

    static let refusals: [Refusal] = [
        Refusal(path: "/%zz", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/%0", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/%", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/%g0", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/%0g/a", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/ok/%2", reason: .invalidPercentEncoding, refusedByNone: false),
        Refusal(path: "/a%00b", reason: .encodedNul, refusedByNone: false),
        Refusal(path: "/a%00", reason: .encodedNul, refusedByNone: false),
        Refusal(path: "/a b", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "/a\tb", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "/a\u{0}b", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "/a\u{7F}", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "/a\r\nHost: evil", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "/%2e%2e/a\u{1B}", reason: .controlCharacter, refusedByNone: true),
        Refusal(path: "admin", reason: .notAbsolute, refusedByNone: true),
        Refusal(path: "", reason: .notAbsolute, refusedByNone: true),
        Refusal(path: "*", reason: .notAbsolute, refusedByNone: true),
        Refusal(path: "%2Fadmin", reason: .notAbsolute, refusedByNone: true),
        Refusal(path: "../admin", reason: .notAbsolute, refusedByNone: true),
    ]

    static let rewritingModes: [PathNormalization] = [.base, .mergeSlashes, .decodeAndMergeSlashes]

    @Test(arguments: rewrites, rewritingModes)
    func rewritesLikeEnvoy(_ rewrite: Rewrite, _ mode: PathNormalization) {
        let expected = rewrite.expected(mode)
        let result = PathNormalizer.normalize(rewrite.path, mode: mode)
        #expect(result == (expected == rewrite.path ? .unchanged : .normalized(expected)))
    }

    @Test(arguments: rewrites, rewritingModes)
    func normalFormIsAFixedPoint(_ rewrite: Rewrite, _ mode: PathNormalization) {
        // What is forwarded upstream must route the same way if a second proxy normalises it again.
        #expect(PathNormalizer.normalize(rewrite.expected(mode), mode: mode) == .unchanged)
    }

    @Test(arguments: rewrites.filter { $0.path.hasPrefix("/") })
    func noneLeavesValidPathsAlone(_ rewrite: Rewrite) {
        #expect(PathNormalizer.normalize(rewrite.path, mode: .none) == .unchanged)
    }

    @Test func noneDoesNotTreatBackslashAsTheRoot() {
        #expect(PathNormalizer.normalize("\\admin", mode: .none) == .rejected(.notAbsolute))
    }

    @Test(arguments: refusals, rewritingModes)
    func refusesMalformedPaths(_ refusal: Refusal, _ mode: PathNormalization) {
        #expect(PathNormalizer.normalize(refusal.path, mode: mode) == .rejected(refusal.reason))
    }

    @Test(arguments: refusals)
    func noneKeepsTheSecurityFloor(_ refusal: Refusal) {
        let expected: PathNormalizationResult = refusal.refusedByNone ? .rejected(refusal.reason) : .unchanged
        #expect(PathNormalizer.normalize(refusal.path, mode: .none) == expected)
    }

    @Test(arguments: PathNormalization.allCases)
    func tenThousandParentSegmentsStayAtTheRootQuickly(_ mode: PathNormalization) {
        let climb = "/" + String(repeating: "../", count: 10_000) + "admin"
        let descendThenClimb = String(repeating: "/a", count: 10_000) + String(repeating: "/..", count: 10_000)
        let elapsed = ContinuousClock().measure {
            let expected: PathNormalizationResult = mode == .none ? .unchanged : .normalized("/admin")
            #expect(PathNormalizer.normalize(climb, mode: mode) == expected)
            let expectedRoot: PathNormalizationResult = mode == .none ? .unchanged : .normalized("/")
            #expect(PathNormalizer.normalize(descendThenClimb, mode: mode) == expectedRoot)
        }
        // Linear work is well under a millisecond here; a quadratic pop would take seconds.
        #expect(elapsed < .seconds(1))
    }

    @Test func modeNamesAreIstios() {
        #expect(PathNormalization(rawValue: "merge-slashes") == .mergeSlashes)
        #expect(PathNormalization(rawValue: "decode-and-merge-slashes") == .decodeAndMergeSlashes)
        #expect(PathNormalization.allCases.count == 4)
    }
}
