internal import CPCRE2

/// An RE2-dialect pattern compiled by PCRE2 for full-string matching, as Envoy's `safe_regex`
/// (which Istio programs) matches: the whole value, not a substring.
///
/// PCRE2 accepts more than RE2 (look-around, back-references, possessive quantifiers); those are
/// refused first so that a pattern Istio rejects is rejected here too. PCRE2 rather than Swift
/// `Regex`: 40–50 ns against 1.5–2 µs per match of a 30-byte path (../shared/STACK-NOTES.md).
package final class CompiledRegex: @unchecked Sendable {
    // Safe to share: a compiled pattern is read-only; match data is created per match.
    private let code: OpaquePointer
    package let pattern: String

    package static let maxPatternLength = 1024

    package struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    /// `jit: false` when the pattern is only checked (validation), not matched many times.
    package convenience init(_ pattern: String, jit: Bool = true) throws(CompileError) {
        try self.init(pattern, jit: jit, anchored: true)
    }

    /// `anchored: false` finds the pattern anywhere (for `uriRegexRewrite`, which replaces every
    /// match in the path, as RE2's GlobalReplace does).
    package init(_ pattern: String, jit: Bool = true, anchored: Bool) throws(CompileError) {
        guard pattern.utf8.count <= Self.maxPatternLength else {
            throw CompileError(message: "is \(pattern.utf8.count) bytes long; at most \(Self.maxPatternLength) are allowed")
        }
        if let unsupported = RE2Dialect.unsupportedConstruct(in: pattern) {
            throw CompileError(message: "uses \(unsupported), which RE2 (Istio's regex dialect) does not support")
        }
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        var options = UInt32(PCRE2_UTF) | UInt32(PCRE2_MATCH_INVALID_UTF) | UInt32(PCRE2_NEVER_BACKSLASH_C) | UInt32(PCRE2_DOLLAR_ENDONLY)
        if anchored { options |= UInt32(PCRE2_ANCHORED) | UInt32(PCRE2_ENDANCHORED) }
        let compiled = pattern.utf8CString.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UInt8.self) { bytes in
                pcre2_compile_8(bytes.baseAddress, pattern.utf8.count, options, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let length = pcre2_get_error_message_8(errorCode, &message, message.count)
            let text = length > 0 ? String(decoding: message.prefix(Int(length)), as: UTF8.self) : "invalid pattern"
            throw CompileError(message: "does not compile: \(text) at offset \(errorOffset)")
        }
        code = compiled
        self.pattern = pattern
        if jit { _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE)) }
    }

    deinit {
        pcre2_code_free_8(code)
    }

    /// Whether the whole of `subject` matches. A pattern that exceeds PCRE2's match limit does
    /// not match (a config regex must never stall an event loop).
    package func matches(_ subject: String) -> Bool {
        var subject = subject
        return subject.withUTF8 { bytes in matches(bytes) }
    }

    package func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let matchData = pcre2_match_data_create_from_pattern_8(code, nil) else { return false }
        defer { pcre2_match_data_free_8(matchData) }
        let empty: [UInt8] = [0]
        let result = empty.withUnsafeBufferPointer { fallback in
            pcre2_match_8(code, bytes.baseAddress ?? fallback.baseAddress, bytes.count, 0, 0, matchData, nil)
        }
        return result >= 0
    }
}

extension CompiledRegex {
    /// Every non-overlapping match in `subject` replaced by `substitution`, in which `\\0`–`\\9`
    /// stand for the match and its capture groups (RE2's `GlobalReplace`, which Envoy's
    /// `regex_rewrite` uses). An empty match advances one character, as RE2 does.
    package func replacingAll(in subject: String, with substitution: String) -> String {
        let bytes = Array(subject.utf8)
        let template = Array(substitution.utf8)
        guard let matchData = pcre2_match_data_create_from_pattern_8(code, nil) else { return subject }
        defer { pcre2_match_data_free_8(matchData) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + template.count)
        var offset = 0
        var copiedUpTo = 0
        let empty: [UInt8] = [0]
        while offset <= bytes.count {
            let result = bytes.withUnsafeBufferPointer { buffer in
                empty.withUnsafeBufferPointer { fallback in
                    pcre2_match_8(code, buffer.baseAddress ?? fallback.baseAddress, buffer.count, offset, 0, matchData, nil)
                }
            }
            guard result > 0 else { break }
            let vector = pcre2_get_ovector_pointer_8(matchData)!
            let start = Int(vector[0]), end = Int(vector[1])
            output.append(contentsOf: bytes[copiedUpTo..<start])
            var index = 0
            while index < template.count {
                let byte = template[index]
                if byte == UInt8(ascii: "\\"), index + 1 < template.count {
                    let next = template[index + 1]
                    if next >= UInt8(ascii: "0"), next <= UInt8(ascii: "9") {
                        let group = Int(next - UInt8(ascii: "0"))
                        if group < Int(result) {
                            let groupStart = vector[2 * group], groupEnd = vector[2 * group + 1]
                            if groupStart != PCRE2_UNSET_VALUE { output.append(contentsOf: bytes[Int(groupStart)..<Int(groupEnd)]) }
                        }
                        index += 2
                        continue
                    }
                    if next == UInt8(ascii: "\\") {
                        output.append(next)
                        index += 2
                        continue
                    }
                }
                output.append(byte)
                index += 1
            }
            copiedUpTo = end
            if end == start {
                // An empty match: copy one character and move past it.
                if end < bytes.count { output.append(bytes[end]) }
                copiedUpTo = min(end + 1, bytes.count)
                offset = end + 1
            } else {
                offset = end
            }
        }
        if copiedUpTo < bytes.count { output.append(contentsOf: bytes[copiedUpTo...]) }
        return String(decoding: output, as: UTF8.self)
    }
}

/// PCRE2's "unset" offset for a capture group that took no part in the match.
private let PCRE2_UNSET_VALUE = ~Int(0)

/// Constructs PCRE2 accepts and RE2 does not.
enum RE2Dialect {
    static func unsupportedConstruct(in pattern: String) -> String? {
        let bytes = Array(pattern.utf8)
        var index = 0
        var inClass = false
        while index < bytes.count {
            let byte = bytes[index]
            let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
            if byte == UInt8(ascii: "\\"), let next {
                if !inClass {
                    switch next {
                    case UInt8(ascii: "1")...UInt8(ascii: "9"): return "a back-reference (\\\(Character(UnicodeScalar(next))))"
                    case UInt8(ascii: "g"), UInt8(ascii: "k"): return "a back-reference (\\\(Character(UnicodeScalar(next))))"
                    case UInt8(ascii: "K"): return "\\K"
                    case UInt8(ascii: "R"), UInt8(ascii: "X"), UInt8(ascii: "G"), UInt8(ascii: "Z"): return "\\\(Character(UnicodeScalar(next)))"
                    default: break
                    }
                }
                index += 2
                continue
            }
            if inClass {
                if byte == UInt8(ascii: "]") { inClass = false }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "["):
                inClass = true
                // A leading `]` or `^]` is literal inside the class.
                if next == UInt8(ascii: "^") { index += 1 }
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "]") { index += 1 }
            case UInt8(ascii: "("):
                if next == UInt8(ascii: "*") { return "a backtracking verb \"(*\"" }
                if next == UInt8(ascii: "?"), index + 2 < bytes.count {
                    let kind = bytes[index + 2]
                    switch kind {
                    case UInt8(ascii: "="), UInt8(ascii: "!"): return "a look-ahead \"(?\(Character(UnicodeScalar(kind)))\""
                    case UInt8(ascii: "<"):
                        if index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: "=") || bytes[index + 3] == UInt8(ascii: "!") {
                            return "a look-behind \"(?<\(Character(UnicodeScalar(bytes[index + 3])))\""
                        }
                    case UInt8(ascii: ">"): return "an atomic group \"(?>\""
                    case UInt8(ascii: "("): return "a conditional group \"(?(\""
                    case UInt8(ascii: "R"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "&"), UInt8(ascii: "+"):
                        return "a recursive pattern \"(?\(Character(UnicodeScalar(kind)))\""
                    case UInt8(ascii: "|"): return "a branch-reset group \"(?|\""
                    default: break
                    }
                }
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "}"):
                if next == UInt8(ascii: "+") { return "a possessive quantifier \"\(Character(UnicodeScalar(byte)))+\"" }
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
