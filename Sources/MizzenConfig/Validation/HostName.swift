/// Istio host-name relations (`pkg/config/host/name.go`): wildcards are the whole first label.
package enum HostName {
    /// `Name.Matches`: whether the two names have any name in common.
    package static func matches(_ a: String, _ b: String) -> Bool {
        let aWild = a.hasPrefix("*"), bWild = b.hasPrefix("*")
        switch (aWild, bWild) {
        case (false, false): return a == b
        case (true, true): return a.count > b.count ? a.dropFirst().hasSuffix(b.dropFirst()) : b.dropFirst().hasSuffix(a.dropFirst())
        case (true, false): return b.hasSuffix(a.dropFirst())
        case (false, true): return a.hasSuffix(b.dropFirst())
        }
    }

    /// `Name.SubsetOf`: whether every name `a` covers is also covered by `b`.
    package static func isSubset(_ a: String, of b: String) -> Bool {
        let aWild = a.hasPrefix("*"), bWild = b.hasPrefix("*")
        switch (aWild, bWild) {
        case (false, false): return a == b
        case (true, false): return false
        case (false, true): return a.hasSuffix(b.dropFirst())
        case (true, true): return a.count >= b.count && a.dropFirst().hasSuffix(b.dropFirst())
        }
    }
}
