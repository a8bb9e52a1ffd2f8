/// How much of Envoy's path canonicalisation to apply, as Istio's `meshConfig.pathNormalization` names it.
///
/// The same normalised path is matched against routes and forwarded upstream, so what the
/// gateway authorises is exactly what the backend sees (CVE-2019-9901, CVE-2021-31920).
package enum PathNormalization: String, Sendable, CaseIterable {
    /// Only the security floor: raw control bytes and relative paths are refused, nothing is rewritten.
    case none
    /// Envoy `normalize_path` (Istio's default): decode unreserved escapes, `\` to `/`, remove dot segments.
    case base
    /// `base`, then runs of `/` collapsed into one (Envoy `merge_slashes`).
    case mergeSlashes = "merge-slashes"
    /// `%2F` and `%5C` decoded to `/` first (Envoy `UNESCAPE_AND_FORWARD`), then `mergeSlashes`.
    case decodeAndMergeSlashes = "decode-and-merge-slashes"
}

/// What normalising a path came to.
package enum PathNormalizationResult: Equatable, Sendable {
    /// The path is already in normal form; use it as it is.
    case unchanged
    /// The path to match and forward instead of the one received.
    case normalized(String)
    /// The request must be refused with 400, as Envoy does.
    case rejected(PathRejection)
}

/// Why a path was refused.
package enum PathRejection: String, Sendable {
    /// The path does not begin with `/` (the caller deals with `OPTIONS *` itself).
    case notAbsolute
    /// A raw byte below 0x20, DEL (0x7F) or a space.
    case controlCharacter
    /// `%00`, which truncates the path in C backends.
    case encodedNul
    /// A `%` not followed by two hex digits.
    case invalidPercentEncoding
}

/// Normalises a request path (no query, no fragment) the way Envoy does behind Istio's `pathNormalization`.
package enum PathNormalizer {
    /// Normalises `path` according to `mode`; `.unchanged` costs one scan and no allocation.
    package static func normalize(_ path: String, mode: PathNormalization) -> PathNormalizationResult {
        var path = path
        // `withUTF8` only copies a bridged or small-but-not-contiguous string; native paths are read in place.
        return path.withUTF8 { normalize(bytes: $0, mode: mode) }
    }

    static func normalize(bytes input: UnsafeBufferPointer<UInt8>, mode: PathNormalization) -> PathNormalizationResult {
        let rewrites = mode != .none
        let merges = mode == .mergeSlashes || mode == .decodeAndMergeSlashes
        guard let first = input.first, first == slash || (rewrites && first == backslash) else {
            return .rejected(.notAbsolute)
        }

        // One pass validates everything, so the rewrite below can assume well-formed escapes, and
        // notes whether a rewrite could change anything at all.
        var needsRewrite = false
        var previous: UInt8 = 0
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte <= 0x20 || byte == 0x7F { return .rejected(.controlCharacter) }
            if rewrites {
                switch byte {
                case percent:
                    guard index + 2 < input.count else { return .rejected(.invalidPercentEncoding) }
                    let high = hexValue(input[index + 1]), low = hexValue(input[index + 2])
                    guard high <= 0xF, low <= 0xF else { return .rejected(.invalidPercentEncoding) }
                    if high == 0, low == 0 { return .rejected(.encodedNul) }
                    needsRewrite = true
                case backslash:
                    needsRewrite = true
                case dot where previous == slash:
                    // Conservative: `/.hidden` takes the slow path too and comes out `.unchanged`.
                    needsRewrite = true
                case slash where merges && previous == slash:
                    needsRewrite = true
                default:
                    break
                }
            }
            previous = byte
            index += 1
        }
        guard needsRewrite else { return .unchanged }

        var output = decoded(input, decodingSeparators: mode == .decodeAndMergeSlashes)
        removeDotSegments(&output)
        if merges { mergeSlashes(&output) }
        if output.elementsEqual(input) { return .unchanged }
        return .normalized(String(decoding: output, as: UTF8.self))
    }

    /// Decodes unreserved escapes (and, if asked, escaped separators), upper-cases the hex of the
    /// rest and turns `\` into `/`; the input must already be validated.
    private static func decoded(_ input: UnsafeBufferPointer<UInt8>, decodingSeparators: Bool) -> [UInt8] {
        var output: [UInt8] = []
        // Decoding only ever shrinks the path, so one allocation covers every later pass.
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == percent {
                let value = hexValue(input[index + 1]) << 4 | hexValue(input[index + 2])
                if isUnreserved(value) {
                    output.append(value)
                } else if decodingSeparators && (value == slash || value == backslash) {
                    output.append(slash)
                } else {
                    // Upper-case hex so `%2f` and `%2F` match the same routes (RFC 3986 §6.2.2.1).
                    output.append(percent)
                    output.append(upperHex(input[index + 1]))
                    output.append(upperHex(input[index + 2]))
                }
                index += 3
            } else {
                // Browsers and Envoy's canonicaliser treat `\` as a separator; a backend might too.
                output.append(byte == backslash ? slash : byte)
                index += 1
            }
        }
        return output
    }

    /// Removes `.` and `..` segments in place (RFC 3986 §5.2.4) from a path that begins with `/`.
    ///
    /// Empty segments are kept, so `/a//../b` is `/a/b` as in Envoy, which merges slashes only
    /// afterwards. Each segment is written at most once and removed at most once, so the pass is
    /// linear even for ten thousand `../`.
    private static func removeDotSegments(_ path: inout [UInt8]) {
        let count = path.count
        var read = 0, write = 0
        // Writing never overtakes reading, so one buffer serves as both input and output.
        while read < count {
            var end = read + 1
            while end < count && path[end] != slash { end += 1 }
            let length = end - read - 1
            let isLast = end == count
            if length == 1 && path[read + 1] == dot {
                // `/a/.` keeps its trailing slash: it names the directory.
                if isLast { path[write] = slash; write += 1 }
            } else if length == 2 && path[read + 1] == dot && path[read + 2] == dot {
                // Drop the last output segment with its slash; above the root there is nothing to drop.
                while write > 0 {
                    write -= 1
                    if path[write] == slash { break }
                }
                if isLast { path[write] = slash; write += 1 }
            } else if write == read {
                write = end
            } else {
                for position in read..<end {
                    path[write] = path[position]
                    write += 1
                }
            }
            read = end
        }
        path.removeLast(count - write)
    }

    /// Collapses every run of `/` into one, in place.
    private static func mergeSlashes(_ path: inout [UInt8]) {
        var write = 0
        for read in path.indices {
            let byte = path[read]
            if byte == slash && write > 0 && path[write - 1] == slash { continue }
            path[write] = byte
            write += 1
        }
        path.removeLast(path.count - write)
    }

    /// RFC 3986 §2.3: the characters whose escaped and plain forms are equivalent.
    @inline(__always)
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), dot, UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// The value of a hex digit, or 0xFF for anything else (so one comparison checks validity).
    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        default: return 0xFF
        }
    }

    @inline(__always)
    private static func upperHex(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") ? byte &- 0x20 : byte
    }

    private static let slash = UInt8(ascii: "/")
    private static let backslash = UInt8(ascii: "\\")
    private static let dot = UInt8(ascii: ".")
    private static let percent = UInt8(ascii: "%")
}
