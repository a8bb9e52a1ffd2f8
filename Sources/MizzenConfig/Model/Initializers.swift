// Initialisers other modules use to build values that did not come from YAML (a sidecar's
// default route to a service, tests). Memberwise initialisers are internal to this module.

extension Destination {
    package init(host: String, subset: String? = nil, port: UInt32? = nil) {
        self.host = host
        self.subset = subset
        self.port = port.map { PortSelector(number: $0) }
    }
}

extension HTTPRoute {
    /// A route with nothing set: no timeout, retries, faults or header edits.
    package static var plain: HTTPRoute { HTTPRoute() }
}

extension HTTPRewrite {
    /// A uri rewrite alone (a redirect's `prefixRewrite` is compiled like one).
    package init(uri: String) {
        self.uri = uri
    }
}
