package import MizzenConfig

/// Writes composed YAML node trees back as text: block style, two-space indentation, and
/// sequences under a mapping key at the key's own indentation (as kubectl and Istio print them).
///
/// A scalar that was plain in the source is written plain again. Any other is written plain
/// unless reading it back plain would give a different value or type, under the YAML 1.2 core
/// schema Mizzen reads with or the YAML 1.1 rules Kubernetes' own reader (`sigs.k8s.io/yaml`)
/// still applies (`yes`, `on`, `0755`, `1_000`, dates). Then it is single-quoted, or
/// double-quoted with escapes when it holds line breaks, tabs or other characters a
/// single-quoted scalar cannot carry. Anchors and aliases are written out in full, merge keys
/// as the keys they merged; comments are gone (the tree does not hold them).
package enum YAMLEmitter {
    /// One document's text, ending in a newline; an empty document is `null`.
    package static func document(_ root: YAMLNode?) -> String {
        var writer = Writer()
        if let root {
            writer.root(root)
        } else {
            writer.text += "null\n"
        }
        return writer.text
    }

    /// The documents joined by `---` lines.
    package static func stream(_ roots: [YAMLNode?]) -> String {
        roots.map(document).joined(separator: "---\n")
    }

    /// How one scalar is written: its text as it would appear after `key: `.
    package static func scalar(_ node: YAMLNode) -> String {
        guard case .scalar(let value, let style) = node.content else { return "" }
        return ScalarText.render(value: value, style: style, kind: node.resolvedKind, tag: node.tag)
    }
}

private struct Writer {
    var text = ""

    mutating func root(_ node: YAMLNode) {
        switch node.content {
        case .scalar:
            text += properties(node, trailingSpace: true) + scalarOrNull(node) + "\n"
        case .mapping(let pairs) where pairs.isEmpty:
            text += properties(node, trailingSpace: true) + "{}\n"
        case .sequence(let items) where items.isEmpty:
            text += properties(node, trailingSpace: true) + "[]\n"
        case .mapping(let pairs):
            if node.tag != nil { text += properties(node, trailingSpace: false) + "\n" }
            for pair in pairs { self.pair(pair, indent: 0) }
        case .sequence(let items):
            if node.tag != nil { text += properties(node, trailingSpace: false) + "\n" }
            for item in items { self.item(item, indent: 0) }
        }
    }

    /// `key: value` at `indent`, the key implicit when it can be; `inline` when the line is
    /// already started (the first pair of a compact mapping after `-`).
    mutating func pair(_ pair: YAMLNode.Pair, indent: Int, inline: Bool = false) {
        let pad = String(repeating: " ", count: indent)
        if let key = implicitKey(pair.key) {
            text += (inline ? "" : pad) + key + ":"
            value(pair.value, indent: indent)
        } else {
            // Collections as keys, and scalars too long for an implicit key (YAML caps those at 1024
            // characters), take the explicit `? key` / `: value` form.
            text += (inline ? "" : pad) + "?"
            afterIndicator(pair.key, indent: indent)
            text += pad + ":"
            afterIndicator(pair.value, indent: indent)
        }
    }

    /// A sequence entry at `indent`.
    mutating func item(_ node: YAMLNode, indent: Int, inline: Bool = false) {
        text += (inline ? "" : String(repeating: " ", count: indent)) + "-"
        afterIndicator(node, indent: indent)
    }

    /// The value after `key:`; a block mapping goes below, indented, a block sequence below at
    /// the key's indentation (untagged) or indented (tagged, the form every reader accepts).
    mutating func value(_ node: YAMLNode, indent: Int) {
        if let line = inlineForm(node) {
            text += line
            return
        }
        switch node.content {
        case .scalar:
            break
        case .mapping(let pairs):
            text += (node.tag == nil ? "" : " " + properties(node, trailingSpace: false)) + "\n"
            for pair in pairs { self.pair(pair, indent: indent + 2) }
        case .sequence(let items):
            text += (node.tag == nil ? "" : " " + properties(node, trailingSpace: false)) + "\n"
            let itemIndent = node.tag == nil ? indent : indent + 2
            for item in items { self.item(item, indent: itemIndent) }
        }
    }

    /// A node after `-`, `?` or `:` at `indent`: scalars inline, collections in compact form
    /// (the first entry on the indicator's line, the rest aligned under it).
    mutating func afterIndicator(_ node: YAMLNode, indent: Int) {
        let inner = indent + 2
        if let line = inlineForm(node) {
            text += line
            return
        }
        switch node.content {
        case .scalar:
            break
        case .mapping(let pairs):
            if node.tag != nil {
                text += " " + properties(node, trailingSpace: false) + "\n"
                for pair in pairs { self.pair(pair, indent: inner) }
                return
            }
            text += " "
            self.pair(pairs[0], indent: inner, inline: true)
            for pair in pairs.dropFirst() { self.pair(pair, indent: inner) }
        case .sequence(let items):
            if node.tag != nil {
                text += " " + properties(node, trailingSpace: false) + "\n"
                for item in items { self.item(item, indent: inner) }
                return
            }
            text += " "
            self.item(items[0], indent: inner, inline: true)
            for item in items.dropFirst() { self.item(item, indent: inner) }
        }
    }

    /// A scalar or an empty collection, written on the line of its key or indicator (with its
    /// leading space and the newline); nil for a collection with entries.
    func inlineForm(_ node: YAMLNode) -> String? {
        switch node.content {
        case .scalar:
            let written = scalarOrNull(node)
            let props = properties(node, trailingSpace: !written.isEmpty)
            return (props.isEmpty && written.isEmpty ? "" : " ") + props + written + "\n"
        case .mapping(let pairs) where pairs.isEmpty:
            return " " + properties(node, trailingSpace: true) + "{}\n"
        case .sequence(let items) where items.isEmpty:
            return " " + properties(node, trailingSpace: true) + "[]\n"
        default:
            return nil
        }
    }

    /// The key text when the key can be written implicitly (`key:`), else nil.
    func implicitKey(_ key: YAMLNode) -> String? {
        guard case .scalar = key.content else { return nil }
        var written = scalarOrNull(key)
        // An empty plain key (null) must still be visible.
        if written.isEmpty { written = "null" }
        let props = properties(key, trailingSpace: true)
        let full = props + written
        // YAML limits implicit keys to 1024 characters; libyaml counts them.
        guard full.unicodeScalars.count <= 1000 else { return nil }
        return full
    }

    /// A scalar's text; an empty plain null stays empty so `key:` and `-` keep reading as null.
    func scalarOrNull(_ node: YAMLNode) -> String {
        guard case .scalar(let value, let style) = node.content else { return "" }
        if value.isEmpty, node.resolvedKind == .null, node.tag == nil { return "" }
        return ScalarText.render(value: value, style: style, kind: node.resolvedKind, tag: node.tag)
    }

    /// The node's tag as written before it (`!!str `), or "".
    func properties(_ node: YAMLNode, trailingSpace: Bool) -> String {
        guard let tag = node.tag else { return "" }
        let written: String
        if tag.hasPrefix("tag:yaml.org,2002:") {
            written = "!!" + tag.dropFirst("tag:yaml.org,2002:".count)
        } else if tag.hasPrefix("!") {
            written = tag
        } else {
            written = "!<" + tag + ">"
        }
        return trailingSpace ? written + " " : written
    }
}

/// Chooses between plain, single-quoted and double-quoted text for one scalar.
enum ScalarText {
    static func render(value: String, style: YAMLNode.ScalarStyle, kind: YAMLNode.ResolvedKind, tag: String?) -> String {
        if canBePlain(value, style: style, kind: kind, tag: tag) { return value }
        return needsDoubleQuotes(value) ? doubleQuoted(value) : singleQuoted(value)
    }

    /// Whether `value` written plain reads back as the same text and, untagged, the same kind.
    ///
    /// A scalar that was plain in the source stays plain: whatever any reader made of it before,
    /// it makes of it again (`enabled: yes` is still a boolean to Kubernetes' YAML 1.1 reader).
    static func canBePlain(_ value: String, style: YAMLNode.ScalarStyle, kind: YAMLNode.ResolvedKind, tag: String?) -> Bool {
        guard isPlainSyntax(value) else { return false }
        if tag != nil || style == .plain { return true }
        let plainKind = YAMLNode.ResolvedKind(plainScalar: value)
        guard plainKind == kind else { return false }
        // A string that YAML 1.1 readers (Kubernetes' sigs.k8s.io/yaml) would take for something else.
        if kind == .string, isYAML11NonString(value) { return false }
        return true
    }

    /// Plain-scalar syntax in block context: no indicator first, no `: ` or ` #` inside, no edge
    /// spaces, one printable line.
    static func isPlainSyntax(_ value: String) -> Bool {
        let scalars = Array(value.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else { return false }
        if first == " " || last == " " { return false }
        for scalar in scalars where !isPrintable(scalar) || scalar == "\t" { return false }
        switch first {
        case "[", "]", "{", "}", ",", "#", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`":
            return false
        case "-", "?", ":":
            // Allowed first only when followed by a non-space character (`-p`, `:x`).
            guard scalars.count > 1, scalars[1] != " " else { return false }
        default:
            break
        }
        if last == ":" { return false }
        for index in scalars.indices.dropLast() {
            if scalars[index] == ":" && scalars[index + 1] == " " { return false }
            if scalars[index] == " " && scalars[index + 1] == "#" { return false }
        }
        // Document markers would end the document if they ever started a line.
        if value.hasPrefix("---") || value.hasPrefix("...") { return false }
        if value == "<<" { return false }
        return true
    }

    /// Characters a plain or single-quoted scalar can carry as they are.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x20...0x7E: return true
        case 0x2028, 0x2029: return false  // line and paragraph separators break lines
        case 0xA0...0xD7FF: return true
        case 0xE000...0xFFFD: return scalar.value != 0xFEFF
        case 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    static func needsDoubleQuotes(_ value: String) -> Bool {
        value.unicodeScalars.contains { !isPrintable($0) || $0 == "\t" }
    }

    static func singleQuoted(_ value: String) -> String {
        "'" + value.replacing("'", with: "''") + "'"
    }

    static func doubleQuoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0B}": out += "\\v"
            case "\u{0C}": out += "\\f"
            case "\u{1B}": out += "\\e"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value <= 0xFF {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value <= 0xFFFF {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        return out + "\""
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// YAML 1.1 booleans, numbers and dates that the core schema reads as strings.
    static func isYAML11NonString(_ value: String) -> Bool {
        switch value {
        case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF":
            return true
        default:
            break
        }
        let bytes = Array(value.utf8)
        guard let first = bytes.first else { return false }
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        guard isDigit(first) || first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") else {
            return false
        }
        if looksLikeDate(bytes) { return true }
        var body = bytes[...]
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { body = body.dropFirst() }
        guard !body.isEmpty else { return false }
        let text = String(decoding: body.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        guard !text.isEmpty else { return false }
        // 0b1010, 0x1F, 0755, 1_000, 190:20:30 (sexagesimal), 1.5, .5, 1e3.
        if text.hasPrefix("0b"), text.count > 2, text.dropFirst(2).allSatisfy({ $0 == "0" || $0 == "1" }) { return true }
        if text.hasPrefix("0x"), text.count > 2, text.dropFirst(2).allSatisfy(\.isHexDigit) { return true }
        if text.allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        if text.contains(":"), text.first != "0",
           text.split(separator: ":", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) {
            return true
        }
        return isGoFloat(text)
    }

    /// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?` or `\.[0-9]+(...)?`: what go-yaml hands to ParseFloat.
    private static func isGoFloat(_ text: String) -> Bool {
        var rest = Substring(text)
        let mantissaDigits = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(mantissaDigits.count)
        var fractionDigits = 0
        if rest.first == "." {
            rest = rest.dropFirst()
            let fraction = rest.prefix { $0.isASCII && $0.isNumber }
            fractionDigits = fraction.count
            rest = rest.dropFirst(fraction.count)
            if mantissaDigits.isEmpty && fractionDigits == 0 { return false }
        } else if mantissaDigits.isEmpty {
            return false
        }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    /// `2001-12-14` and longer timestamps starting so: go-yaml v2 turns them into times.
    private static func looksLikeDate(_ bytes: [UInt8]) -> Bool {
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        var index = 0
        var groups = 0
        var widths: [Int] = []
        while groups < 3 {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            widths.append(index - start)
            groups += 1
            if groups < 3 {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "-") else { return false }
                index += 1
            }
        }
        return widths[0] == 4 && (1...2).contains(widths[1]) && (1...2).contains(widths[2])
    }
}
