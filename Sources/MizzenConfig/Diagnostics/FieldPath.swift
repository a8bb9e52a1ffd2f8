/// Where a value sits inside an object: `spec.http[0].route[1].weight`.
package struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    package enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    package var components: [Component]

    package init(_ components: [Component] = []) {
        self.components = components
    }

    package static let root = FieldPath()

    package func appending(_ key: String) -> FieldPath {
        var copy = self
        copy.components.append(.key(key))
        return copy
    }

    package func appending(index: Int) -> FieldPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    package static func / (lhs: FieldPath, rhs: String) -> FieldPath { lhs.appending(rhs) }
    package static func / (lhs: FieldPath, rhs: Int) -> FieldPath { lhs.appending(index: rhs) }
    package subscript(index: Int) -> FieldPath { appending(index: index) }

    package var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .key(let key):
                if Self.isPlainName(key) {
                    if !text.isEmpty { text += "." }
                    text += key
                } else {
                    text += "[\"\(key.replacingQuotes())\"]"
                }
            }
        }
        return text
    }

    /// Field names and simple map keys print bare; anything else is quoted in brackets.
    private static func isPlainName(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 80 else { return false }
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "@"):
                continue
            default:
                return false
            }
        }
        return true
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for character in self.prefix(120) {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
