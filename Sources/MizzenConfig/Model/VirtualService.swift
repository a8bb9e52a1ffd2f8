/// `networking.istio.io` VirtualService spec: ordered routing rules for a set of hosts.
package struct VirtualService: ConfigModel {
    package var hosts: [String]?
    package var gateways: [String]?
    package var http: [HTTPRoute]?
    package var tls: [TLSRoute]?
    package var tcp: [TCPRoute]?
    package var exportTo: [String]?
}

package struct HTTPRoute: ConfigModel {
    package var name: String?
    package var match: [HTTPMatchRequest]?
    package var route: [HTTPRouteDestination]?
    package var redirect: HTTPRedirect?
    package var directResponse: HTTPDirectResponse?
    package var delegate: Delegate?
    package var rewrite: HTTPRewrite?
    package var timeout: IstioDuration?
    package var retries: HTTPRetry?
    package var fault: HTTPFaultInjection?
    package var mirror: Destination?
    package var mirrors: [HTTPMirrorPolicy]?
    package var mirrorPercent: UInt32?
    package var mirrorPercentage: Percent?
    package var corsPolicy: CorsPolicy?
    package var headers: Headers?
}

package struct HTTPMatchRequest: ConfigModel {
    package var name: String?
    package var uri: StringMatch?
    package var scheme: StringMatch?
    package var method: StringMatch?
    package var authority: StringMatch?
    package var headers: [String: StringMatch]?
    package var port: UInt32?
    package var sourceLabels: [String: String]?
    package var gateways: [String]?
    package var queryParams: [String: StringMatch]?
    package var ignoreUriCase: Bool?
    package var withoutHeaders: [String: StringMatch]?
    package var sourceNamespace: String?
    package var statPrefix: String?

    /// Istio's catch-all (route.go `IsCatchAllRoute` on the Envoy route the match becomes):
    /// the path matches every request (no uri, a uri without a match type, prefix `/`, or regex
    /// `.*`) and there is no header, withoutHeader, query, method, scheme or authority condition
    /// (whatever the header's name: a header named `uri` is still a header matcher in Envoy).
    /// `ignoreUriCase`, `port`, `gateways`, `sourceLabels` and `sourceNamespace` play no part.
    /// Translation of a VirtualService stops after its first catch-all, and a gateway moves
    /// catch-alls last.
    package var isIstioCatchAll: Bool {
        if scheme != nil || method != nil || authority != nil { return false }
        if !(headers ?? [:]).isEmpty || !(withoutHeaders ?? [:]).isEmpty || !(queryParams ?? [:]).isEmpty { return false }
        guard let uri else { return true }
        if let prefix = uri.prefix { return prefix == "/" }
        if let regex = uri.regex { return regex == ".*" }
        return uri.exact == nil
    }
}

package struct HTTPRouteDestination: ConfigModel {
    package var destination: Destination?
    package var weight: Int32?
    package var headers: Headers?
}

/// A route target: a service-registry host, an optional subset and port.
package struct Destination: ConfigModel {
    package var host: String?
    package var subset: String?
    package var port: PortSelector?
}

package struct PortSelector: ConfigModel {
    package var number: UInt32?
}

package struct Headers: ConfigModel {
    package var request: HeaderOperations?
    package var response: HeaderOperations?

    package struct HeaderOperations: ConfigModel {
        package var set: [String: String]?
        package var add: [String: String]?
        package var remove: [String]?
    }
}

package struct HTTPRedirect: ConfigModel {
    package var uri: String?
    package var authority: String?
    package var port: UInt32?
    package var derivePort: RedirectPortSelection?
    package var scheme: String?
    package var redirectCode: UInt32?
    package var prefixRewrite: String?

    package enum RedirectPortSelection: String, ConfigEnum {
        case fromProtocolDefault = "FROM_PROTOCOL_DEFAULT"
        case fromRequestPort = "FROM_REQUEST_PORT"
    }
}

package struct HTTPDirectResponse: ConfigModel {
    package var status: UInt32?
    package var body: HTTPBody?
}

package struct HTTPBody: ConfigModel {
    package var string: String?
    /// Base64 as written; the validator checks it decodes.
    package var bytes: String?
}

package struct Delegate: ConfigModel {
    package var name: String?
    package var namespace: String?
}

package struct HTTPRewrite: ConfigModel {
    package var uri: String?
    package var authority: String?
    package var uriRegexRewrite: RegexRewrite?
}

package struct RegexRewrite: ConfigModel {
    package var match: String?
    package var rewrite: String?
}

package struct HTTPRetry: ConfigModel {
    package var attempts: Int32?
    package var perTryTimeout: IstioDuration?
    package var retryOn: String?
    package var retryRemoteLocalities: Bool?
    package var retryIgnorePreviousHosts: Bool?
    package var backoff: IstioDuration?
}

package struct HTTPFaultInjection: ConfigModel {
    package var delay: Delay?
    package var abort: Abort?

    package struct Delay: ConfigModel {
        package var percent: Int32?
        package var fixedDelay: IstioDuration?
        package var exponentialDelay: IstioDuration?
        package var percentage: Percent?
    }

    package struct Abort: ConfigModel {
        package var httpStatus: Int32?
        package var grpcStatus: String?
        package var http2Error: String?
        package var percentage: Percent?
    }
}

package struct HTTPMirrorPolicy: ConfigModel {
    package var destination: Destination?
    package var percentage: Percent?
}

package struct CorsPolicy: ConfigModel {
    package var allowOrigin: [String]?
    package var allowOrigins: [StringMatch]?
    package var allowMethods: [String]?
    package var allowHeaders: [String]?
    package var exposeHeaders: [String]?
    package var maxAge: IstioDuration?
    package var allowCredentials: Bool?
    package var unmatchedPreflights: UnmatchedPreflights?

    package enum UnmatchedPreflights: String, ConfigEnum {
        case unspecified = "UNSPECIFIED"
        case forward = "FORWARD"
        case ignore = "IGNORE"
    }
}

package struct TLSRoute: ConfigModel {
    package var match: [TLSMatchAttributes]?
    package var route: [RouteDestination]?
}

package struct TLSMatchAttributes: ConfigModel {
    package var sniHosts: [String]?
    package var destinationSubnets: [String]?
    package var port: UInt32?
    package var sourceLabels: [String: String]?
    package var gateways: [String]?
    package var sourceNamespace: String?
}

package struct RouteDestination: ConfigModel {
    package var destination: Destination?
    package var weight: Int32?
}

package struct TCPRoute: ConfigModel {
    package var match: [L4MatchAttributes]?
    package var route: [RouteDestination]?
}

package struct L4MatchAttributes: ConfigModel {
    package var destinationSubnets: [String]?
    package var port: UInt32?
    package var sourceSubnet: String?
    package var sourceLabels: [String: String]?
    package var gateways: [String]?
    package var sourceNamespace: String?
}
