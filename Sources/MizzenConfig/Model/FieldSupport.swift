// Fields Mizzen decodes and validates but no part of it acts on, now or in the planned data plane
// (routing, proxy, traffic management). `mizzen validate` warns "accepted, not implemented yet"
// when one is set. Remove a name here in the change that implements it.

extension Server {
    package static var unimplementedFields: Set<String> { ["defaultEndpoint"] }
}

extension ServerTLSSettings {
    package static var unimplementedFields: Set<String> {
        ["caCrl", "caCertCredentialName", "verifyCertificateSpki", "verifyCertificateHash", "insecureSkipVerify"]
    }
}

extension HTTPRoute {
    package static var unimplementedFields: Set<String> { ["delegate"] }
}

extension HTTPMatchRequest {
    package static var unimplementedFields: Set<String> { ["statPrefix"] }
}

extension LoadBalancerSettings {
    package static var unimplementedFields: Set<String> { ["localityLbSetting", "zoneAwareLbSetting", "warmupDurationSecs", "warmup"] }
}

extension ConnectionPoolSettings.TCPSettings {
    package static var unimplementedFields: Set<String> { ["maxConnectionDuration"] }
}

extension ConnectionPoolSettings.HTTPSettings {
    /// `maxConcurrentStreams`: the gateway keeps one HTTP/2 connection per endpoint and event
    /// loop rather than opening more when it is full.
    package static var unimplementedFields: Set<String> { ["http2KeepAlive", "useClientProtocol", "maxConcurrentStreams"] }
}

extension ClientTLSSettings {
    package static var unimplementedFields: Set<String> { ["caCrl"] }
}

extension TrafficPolicy {
    package static var unimplementedFields: Set<String> { ["tunnel", "proxyProtocol", "retryBudget"] }
}

extension DestinationRule {
    package static var unimplementedFields: Set<String> { ["workloadSelector"] }
}

extension WorkloadEntry {
    package static var unimplementedFields: Set<String> { ["network", "locality"] }
}

extension L4MatchAttributes {
    package static var unimplementedFields: Set<String> { ["sourceSubnet"] }
}

// Fields the Istio API removed (reserved names in istio/api's protos).

extension HTTPRoute {
    package static var removedFields: Set<String> {
        ["websocketUpgrade", "appendHeaders", "removeResponseHeaders", "appendResponseHeaders", "removeRequestHeaders", "appendRequestHeaders"]
    }
}

extension HTTPRouteDestination {
    package static var removedFields: Set<String> {
        ["removeResponseHeaders", "appendResponseHeaders", "removeRequestHeaders", "appendRequestHeaders"]
    }
}

extension TLSMatchAttributes {
    package static var removedFields: Set<String> { ["sourceSubnet"] }
}

extension PortSelector {
    package static var removedFields: Set<String> { ["name"] }
}
