/// Where a value sits inside an object: `spec.http[0].route[1].weight`.
package struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    package enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The path is a chain of links to its parent: appending (done for every value decoded)
    /// makes one small link, where an array of components was copied whole each time.
    private final class Link: Sendable {
        let parent: Link?
        let component: Component
        let depth: Int

        init(parent: Link?, component: Component) {
            self.parent = parent
            self.component = component
            depth = (parent?.depth ?? 0) + 1
        }
    }

    private let last: Link?

    package init(_ components: [Component] = []) {
        var link: Link?
        for component in components { link = Link(parent: link, component: component) }
        last = link
    }

    private init(last: Link) {
        self.last = last
    }

    package static let root = FieldPath()

    /// The components from the root.
    package var components: [Component] {
        var reversed: [Component] = []
        reversed.reserveCapacity(depth)
        var link = last
        while let current = link {
            reversed.append(current.component)
            link = current.parent
        }
        return reversed.reversed()
    }

    package var isEmpty: Bool { last == nil }

    package var depth: Int { last?.depth ?? 0 }

    package func appending(_ key: String) -> FieldPath {
        FieldPath(last: Link(parent: last, component: .key(key)))
    }

    package func appending(index: Int) -> FieldPath {
        FieldPath(last: Link(parent: last, component: .index(index)))
    }

    package static func / (lhs: FieldPath, rhs: String) -> FieldPath { lhs.appending(rhs) }
    package static func / (lhs: FieldPath, rhs: Int) -> FieldPath { lhs.appending(index: rhs) }
    package subscript(index: Int) -> FieldPath { appending(index: index) }

    package static func == (lhs: FieldPath, rhs: FieldPath) -> Bool {
        guard lhs.depth == rhs.depth else { return false }
        var left = lhs.last, right = rhs.last
        while let one = left, let other = right {
            if one === other { return true }
            guard one.component == other.component else { return false }
            left = one.parent
            right = other.parent
        }
        return true
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(depth)
        var link = last
        while let current = link {
            hasher.combine(current.component)
            link = current.parent
        }
    }

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
