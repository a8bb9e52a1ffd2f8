import Testing
@testable import MizzenConfig

/// Table-driven checks of the Istio admission rules: each invalid document must produce one exact
/// `field: message` error, and each tricky-but-valid document (one Istio accepts) must load without
/// errors. Cases mirror what istiod's validating webhook and the CRD schemas decide
/// (../shared/ISTIO-API.md, ../istio-validation.md); messages are Mizzen's own wording.
struct ValidationCaseTests {
    // MARK: - Invalid configurations

    static let invalidCases: [InvalidCase] = [
        // MARK: Gateway

        InvalidCase("gateway name with dots", field: "metadata.name", message: #"a Gateway name must be a DNS-1123 label (no dots): "public.gateway""#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public.gateway
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("HTTPS server without tls", field: "spec.servers[0].tls", message: "is required for a HTTPS server", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port:
                  number: 443
                  name: https
                  protocol: HTTPS
                hosts:
                - bookinfo.example.com
            """),
        InvalidCase("TLS SIMPLE without any credential", field: "spec.servers[0].tls.serverCertificate",
                    message: "mode SIMPLE needs a certificate: set credentialName, or serverCertificate and privateKey", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
            """),
        InvalidCase("TLS MUTUAL with file certificates but no client CA", field: "spec.servers[0].tls.caCertificates",
                    message: "mode MUTUAL needs a client CA bundle: set caCertificates or use credentialName", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: mtls-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["api.example.com"]
                tls:
                  mode: MUTUAL
                  serverCertificate: /etc/istio/certs/tls.crt
                  privateKey: /etc/istio/certs/tls.key
            """),
        InvalidCase("ISTIO_MUTUAL with a server certificate", field: "spec.servers[0].tls.serverCertificate",
                    message: "must not be set with mode ISTIO_MUTUAL, which uses Istio's workload certificates", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: cross-network
            spec:
              servers:
              - port: {number: 15443, name: tls, protocol: TLS}
                hosts: ["*.local"]
                tls:
                  mode: ISTIO_MUTUAL
                  serverCertificate: /etc/certs/cert-chain.pem
            """),
        InvalidCase("plain HTTP server terminating TLS", field: "spec.servers[0].tls",
                    message: "a plain-text HTTP server may only set tls.httpsRedirect; use protocol HTTPS to terminate TLS", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
                  credentialName: bookinfo-cert
            """),
        InvalidCase("TCP server with TLS settings", field: "spec.servers[0].tls", message: "only HTTPS and TLS servers may have TLS settings", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: mongo-gateway
            spec:
              servers:
              - port: {number: 27017, name: mongo, protocol: MONGO}
                hosts: ["*"]
                tls:
                  mode: SIMPLE
                  credentialName: mongo-cert
            """),
        InvalidCase("two certificate sources on one server", field: "spec.servers[0].tls",
                    message: "only one of credentialName, credentialNames, serverCertificate/privateKey or tlsCertificates may be set", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
                  credentialName: bookinfo-cert
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
            """),
        InvalidCase("caCrl with SIMPLE TLS", field: "spec.servers[0].tls.caCrl",
                    message: "is not supported with mode SIMPLE (no client certificates are verified)", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
                  serverCertificate: /etc/certs/tls.crt
                  privateKey: /etc/certs/tls.key
                  caCrl: /etc/certs/ca.crl
            """),
        InvalidCase("short server host", field: "spec.servers[0].hosts[0]",
                    message: "short name \"bookinfo\" is not allowed; use a fully qualified name such as bookinfo.example.com", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts:
                - bookinfo
            """),
        InvalidCase("partial wildcard server host", field: "spec.servers[0].hosts[1]",
                    message: #"partial wildcard "*bookinfo.example.com" is not allowed; a wildcard must be the whole first label ("*.example.com")"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts:
                - "bookinfo.example.com"
                - "*bookinfo.example.com"
            """),
        InvalidCase("server host in namespace ~", field: "spec.servers[0].hosts[0]",
                    message: #"namespace "~" must be "*", "." or a namespace name"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["~/bookinfo.example.com"]
            """),
        InvalidCase("duplicate server port names", field: "spec.servers[1].port.name",
                    message: #"port name "https" is already used by spec.servers[0]; port names must be unique"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["a.example.com"]
                tls: {mode: SIMPLE, credentialName: a-cert}
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["b.example.com"]
                tls: {mode: SIMPLE, credentialName: b-cert}
            """),
        InvalidCase("unknown server protocol", field: "spec.servers[0].port.protocol",
                    message: #"unknown protocol "HTTP3"; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, MONGO, REDIS, MYSQL, UDP"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: h3, protocol: HTTP3}
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("server port without a name", field: "spec.servers[0].port.name", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port:
                  number: 80
                  protocol: HTTP
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("server port 0 without a unix bind", field: "spec.servers[0].port.number",
                    message: "port number 0 must be between 1 and 65535", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 0, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("bind to a host name", field: "spec.servers[0].bind",
                    message: #"must be an IP address or unix:///path, got "localhost""#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                bind: localhost
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("targetPort on a gateway port", field: "spec.servers[0].port.targetPort",
                    message: "has no effect on a Gateway; remove it", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, targetPort: 8080, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
            """),
        InvalidCase("gateway without servers", field: "spec.servers", message: "must list at least one server", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              selector:
                istio: ingressgateway
              servers: []
            """),

        // MARK: VirtualService

        InvalidCase("negative route weight", field: "spec.http[0].route[1].weight", message: "must not be negative", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 110
                - destination: {host: reviews, subset: v2}
                  weight: -10
            """),
        InvalidCase("all route weights zero", field: "spec.http[0].route", message: "weights of several destinations must not all be 0", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 0
                - destination: {host: reviews, subset: v2}
                  weight: 0
            """),
        InvalidCase("all TCP route weights zero", field: "spec.tcp[0].route", message: "weights of several destinations must not all be 0", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: mongo
            spec:
              hosts: [mongo.db.svc.cluster.local]
              tcp:
              - route:
                - destination: {host: mongo.db.svc.cluster.local, subset: primary}
                  weight: 0
                - destination: {host: mongo.db.svc.cluster.local, subset: replica}
            """),
        InvalidCase("route and redirect together", field: "spec.http[0].redirect",
                    message: "only one of route, redirect or directResponse may be set", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: productpage
            spec:
              hosts: [productpage]
              http:
              - match:
                - uri: {prefix: /old}
                redirect:
                  uri: /new
                route:
                - destination: {host: productpage}
            """),
        InvalidCase("directResponse and route together", field: "spec.http[0].directResponse",
                    message: "only one of route, redirect or directResponse may be set", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: productpage
            spec:
              hosts: [productpage]
              http:
              - directResponse:
                  status: 503
                route:
                - destination: {host: productpage}
            """),
        InvalidCase("rule without route, redirect or directResponse", field: "spec.http[0]",
                    message: "one of route, redirect or directResponse is required", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: productpage
            spec:
              hosts: [productpage]
              http:
              - match:
                - uri: {prefix: /api}
                timeout: 5s
            """),
        InvalidCase("directResponse status 700", field: "spec.http[0].directResponse.status",
                    message: "HTTP status 700 must be between 200 and 599", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: maintenance
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - directResponse:
                  status: 700
                  body:
                    string: "down for maintenance"
            """),
        InvalidCase("directResponse without status", field: "spec.http[0].directResponse.status", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: maintenance
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - directResponse:
                  body:
                    string: "down for maintenance"
            """),
        InvalidCase("redirectCode 200", field: "spec.http[0].redirect.redirectCode",
                    message: "200 is not a redirect status; use 301, 302, 303, 307 or 308", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - redirect:
                  uri: /v2
                  redirectCode: 200
            """),
        InvalidCase("redirect to ftp", field: "spec.http[0].redirect.scheme", message: #"must be "http" or "https""#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
            spec:
              hosts: ["files.example.com"]
              gateways: [public-gateway]
              http:
              - redirect:
                  scheme: ftp
            """),
        InvalidCase("empty redirect", field: "spec.http[0].redirect",
                    message: "must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - redirect: {}
            """),
        InvalidCase("redirect prefixRewrite with an exact match", field: "spec.http[0].redirect.prefixRewrite",
                    message: "needs every uri match of the route to be a prefix match", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - match:
                - uri: {exact: /catalog}
                redirect:
                  prefixRewrite: /products
            """),
        InvalidCase("rewrite together with redirect", field: "spec.http[0].rewrite", message: "must not be set with redirect", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - redirect:
                  authority: www.example.com
                rewrite:
                  uri: /
            """),
        InvalidCase("fault together with directResponse", field: "spec.http[0].fault",
                    message: "must not be set with directResponse (the proxy answers without calling a service)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - directResponse:
                  status: 200
                fault:
                  abort:
                    httpStatus: 500
                    percentage: {value: 10}
            """),
        InvalidCase("rewrite uri and uriRegexRewrite together", field: "spec.http[0].rewrite",
                    message: "only one of uri or uriRegexRewrite may be set", #"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - rewrite:
                  uri: /v2
                  uriRegexRewrite:
                    match: ^/service/([^/]+)(/.*)$
                    rewrite: \2/instance/\1
                route:
                - destination: {host: api}
            """#),
        InvalidCase("uri regex with a look-ahead", field: "spec.http[0].match[0].uri.regex",
                    message: #"regex uses a look-ahead "(?=", which RE2 (Istio's regex dialect) does not support"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - uri:
                    regex: "^/api/(?=v[0-9]+/).*"
                route:
                - destination: {host: api}
            """),
        InvalidCase("header regex with a back-reference", field: "spec.http[0].match[0].headers.x-tenant.regex",
                    message: #"regex uses a back-reference (\1), which RE2 (Istio's regex dialect) does not support"#, #"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - headers:
                    x-tenant:
                      regex: '(\w+)-\1'
                route:
                - destination: {host: api}
            """#),
        InvalidCase("uri regex longer than 1024 bytes", field: "spec.http[0].match[0].uri.regex",
                    message: "regex is 1061 bytes long; at most 1024 are allowed", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - uri:
                    regex: "^(\(String(repeating: "/api/v1/users|", count: 75))/health)$"
                route:
                - destination: {host: api}
            """),
        InvalidCase("uriRegexRewrite that does not compile", field: "spec.http[0].rewrite.uriRegexRewrite.match",
                    message: #"regex uses a look-behind "(?<=", which RE2 (Istio's regex dialect) does not support"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - rewrite:
                  uriRegexRewrite:
                    match: "(?<=/api)/v1"
                    rewrite: /v2
                route:
                - destination: {host: api}
            """),
        InvalidCase("timeout 0s", field: "spec.http[0].timeout", message: "duration 0s must be at least 1ms", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - timeout: 0s
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("timeout 1.5ms", field: "spec.http[0].timeout", message: "duration 1.5ms must be a whole number of milliseconds", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - timeout: 1.5ms
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("timeout quoted number without unit", field: "spec.http[0].timeout",
                    message: #"invalid duration "10"; write a number with a unit: ns, us, ms, s, m or h ("1.5s", "100ms")"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - timeout: "10"
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("timeout as a bare integer", field: "spec.http[0].timeout",
                    message: #"must be a duration string such as "10s" or "100ms", got 10"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - timeout: 10
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("timeout in days", field: "spec.http[0].timeout",
                    message: #"invalid duration "1d"; write a number with a unit: ns, us, ms, s, m or h ("1.5s", "100ms")"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reports
            spec:
              hosts: [reports]
              http:
              - timeout: 1d
                route:
                - destination: {host: reports}
            """),
        InvalidCase("fault abort percentage 150", field: "spec.http[0].fault.abort.percentage.value",
                    message: "percentage 150 must be between 0 and 100", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  abort:
                    httpStatus: 500
                    percentage:
                      value: 150
                route:
                - destination: {host: ratings}
            """),
        InvalidCase("fault delay percentage below 0.0001", field: "spec.http[0].fault.delay.percentage.value",
                    message: "percentage 1e-05 must be 0 or at least 0.0001", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  delay:
                    fixedDelay: 5s
                    percentage:
                      value: 0.00001
                route:
                - destination: {host: ratings}
            """),
        InvalidCase("fault without delay or abort", field: "spec.http[0].fault", message: "needs a delay, an abort, or both", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault: {}
                route:
                - destination: {host: ratings}
            """),
        InvalidCase("unknown gRPC status in abort", field: "spec.http[0].fault.abort.grpcStatus",
                    message: #""UNAVAILBLE" is not a gRPC status name (such as UNAVAILABLE or NOT_FOUND)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  abort:
                    grpcStatus: UNAVAILBLE
                    percentage: {value: 50}
                route:
                - destination: {host: ratings}
            """),
        InvalidCase("abort httpStatus 100", field: "spec.http[0].fault.abort.httpStatus",
                    message: "HTTP status 100 must be between 200 and 599", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  abort:
                    httpStatus: 100
                    percentage: {value: 50}
                route:
                - destination: {host: ratings}
            """),
        InvalidCase("retryOn with a space after the comma", field: "spec.http[0].retries.retryOn",
                    message: #"" reset" is not a retry condition (comma-separated, no spaces: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, or a status code)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - retries:
                  attempts: 3
                  retryOn: "5xx, reset"
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("retryOn with an unknown policy", field: "spec.http[0].retries.retryOn",
                    message: #""timeout" is not a retry condition (comma-separated, no spaces: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, or a status code)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - retries:
                  attempts: 3
                  retryOn: gateway-error,timeout
                route:
                - destination: {host: reviews}
            """),
        // Istio accepts a numeric retryOn entry only if Go's http.StatusText knows the code; 522 is
        // a CDN-specific status with no standard name.
        InvalidCase("retryOn with a non-standard status code", field: "spec.http[0].retries.retryOn",
                    message: #""522" is not a retry condition (comma-separated, no spaces: 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, or a status code)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - retries:
                  attempts: 2
                  retryOn: gateway-error,522
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("retries disabled but perTryTimeout set", field: "spec.http[0].retries.attempts",
                    message: "is 0, which disables retries; remove the other retry settings or set attempts", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - retries:
                  attempts: 0
                  perTryTimeout: 2s
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("negative retry attempts", field: "spec.http[0].retries.attempts", message: "must not be negative", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - retries:
                  attempts: -1
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("CORS method PUTT", field: "spec.http[0].corsPolicy.allowMethods[1]",
                    message: #""PUTT" is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE or *)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - corsPolicy:
                  allowOrigins:
                  - exact: https://app.example.com
                  allowMethods: [GET, PUTT]
                route:
                - destination: {host: api}
            """),
        InvalidCase("CORS maxAge with milliseconds", field: "spec.http[0].corsPolicy.maxAge", message: "must be a whole number of seconds", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - corsPolicy:
                  allowOrigins:
                  - prefix: https://
                  maxAge: 1500ms
                route:
                - destination: {host: api}
            """),
        InvalidCase("CORS origin with an empty exact", field: "spec.http[0].corsPolicy.allowOrigins[0]",
                    message: "needs a non-empty exact, prefix or regex", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - corsPolicy:
                  allowOrigins:
                  - exact: ""
                route:
                - destination: {host: api}
            """),
        InvalidCase("CORS allowHeaders with a space", field: "spec.http[0].corsPolicy.allowHeaders[0]",
                    message: #""X Custom" is not a valid header name"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - corsPolicy:
                  allowOrigins:
                  - exact: https://app.example.com
                  allowHeaders: ["X Custom"]
                route:
                - destination: {host: api}
            """),
        InvalidCase("match header name with a space", field: #"spec.http[0].match[0].headers["end user"]"#,
                    message: #""end user" is not a valid header name"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - headers:
                    end user:
                      exact: jason
                route:
                - destination: {host: reviews, subset: v2}
              - route:
                - destination: {host: reviews, subset: v1}
            """),
        InvalidCase("header match with an empty prefix", field: "spec.http[0].match[0].headers.x-version.prefix",
                    message: "must not be empty", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - headers:
                    x-version:
                      prefix: ""
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("header value with a lone percent", field: "spec.http[0].headers.response.set.x-discount",
                    message: "header value has an unterminated variable or an unescaped '%' (write a literal percent as %%)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - headers:
                  response:
                    set:
                      x-discount: "50% off"
                route:
                - destination: {host: shop}
            """),
        InvalidCase("header value ending in %% after a variable", field: "spec.http[0].route[0].headers.request.add.x-start",
                    message: "header value has an unterminated variable or an unescaped '%' (write a literal percent as %%)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - route:
                - destination: {host: shop}
                  headers:
                    request:
                      add:
                        x-start: "%START_TIME%%"
            """),
        InvalidCase("pseudo-header in request remove", field: "spec.http[0].headers.request.remove[0]",
                    message: #"pseudo-header ":path" cannot be changed"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - headers:
                  request:
                    remove: [":path"]
                route:
                - destination: {host: shop}
            """),
        InvalidCase("pseudo-header in request set", field: #"spec.http[0].headers.request.set[":method"]"#,
                    message: #"pseudo-header ":method" cannot be changed (only :authority)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - headers:
                  request:
                    set:
                      ":method": POST
                route:
                - destination: {host: shop}
            """),
        InvalidCase("Host header set on the response", field: "spec.http[0].headers.response.set.Host",
                    message: "the Host header cannot be changed here (use rewrite.authority)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - headers:
                  response:
                    set:
                      Host: shop.example.com
                route:
                - destination: {host: shop}
            """),
        InvalidCase("authority rewritten twice", field: "spec.http[0].headers.request.set.host",
                    message: "rewrites the authority again; spec.http[0].rewrite.authority already does (only one authority rewrite per route)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - rewrite:
                  authority: shop.internal
                headers:
                  request:
                    set:
                      host: shop.example.com
                route:
                - destination: {host: shop}
            """),
        InvalidCase("mirror and mirrors together", field: "spec.http[0].mirrors", message: "only one of mirror or mirrors may be set", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: httpbin
            spec:
              hosts: [httpbin]
              http:
              - route:
                - destination: {host: httpbin, subset: v1}
                mirror:
                  host: httpbin
                  subset: v2
                mirrors:
                - destination: {host: httpbin, subset: v3}
            """),
        InvalidCase("mirrorPercentage above 100", field: "spec.http[0].mirrorPercentage.value",
                    message: "percentage 101 must be between 0 and 100", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: httpbin
            spec:
              hosts: [httpbin]
              http:
              - route:
                - destination: {host: httpbin, subset: v1}
                mirror:
                  host: httpbin
                  subset: v2
                mirrorPercentage:
                  value: 101
            """),
        InvalidCase("destination host *", field: "spec.http[0].route[0].destination.host",
                    message: #"must name a service; "*" is not allowed"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: catch-all
            spec:
              hosts: ["*.example.com"]
              gateways: [public-gateway]
              http:
              - route:
                - destination:
                    host: "*"
            """),
        InvalidCase("destination host as namespace/name", field: "spec.http[0].route[0].destination.host",
                    message: #"must be a host name; "namespace/name" is not allowed here"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination:
                    host: default/reviews
            """),
        InvalidCase("destination subset with a dot", field: "spec.http[0].route[0].destination.subset",
                    message: "must be a DNS-1123 label", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination:
                    host: reviews
                    subset: v1.2
            """),
        InvalidCase("destination port out of range", field: "spec.tcp[0].route[0].destination.port.number",
                    message: "port number 70000 must be between 1 and 65535", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: mysql
            spec:
              hosts: [mysql]
              tcp:
              - route:
                - destination:
                    host: mysql
                    port:
                      number: 70000
            """),
        InvalidCase("delegate VirtualService with gateways", field: "spec.gateways",
                    message: "must be empty in a delegate VirtualService (one without hosts)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews-delegate
            spec:
              gateways: [public-gateway]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("delegate VirtualService delegating again", field: "spec.http[0].delegate",
                    message: "a delegate VirtualService cannot delegate again", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews-delegate
            spec:
              http:
              - match:
                - uri: {prefix: /reviews/v2}
                delegate:
                  name: reviews-v2
            """),
        InvalidCase("delegate VirtualService with a tcp route", field: "spec.tcp",
                    message: "must be empty in a delegate VirtualService (one without hosts)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: db-delegate
            spec:
              tcp:
              - route:
                - destination: {host: db}
            """),
        InvalidCase("VirtualService without http, tcp or tls", field: "spec", message: "at least one of http, tcp or tls must be set", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
            """),
        InvalidCase("* host on a mesh VirtualService", field: "spec.hosts[0]",
                    message: #""*" is not allowed for a VirtualService that applies to sidecars (gateways empty or listing mesh)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: everything
            spec:
              hosts: ["*"]
              gateways: [public-gateway, mesh]
              http:
              - route:
                - destination: {host: frontend}
            """),
        InvalidCase("overlapping hosts", field: "spec.hosts[1]", message: #"overlaps hosts[0] "*.example.com"; each host may appear once"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts:
              - "*.example.com"
              - shop.example.com
              gateways: [public-gateway]
              http:
              - route:
                - destination: {host: shop}
            """),
        InvalidCase("host with a wildcard in the middle", field: "spec.hosts[0]",
                    message: #"label "*" is not a valid DNS label"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: ["shop.*.example.com"]
              gateways: [public-gateway]
              http:
              - route:
                - destination: {host: shop}
            """),
        InvalidCase("gateway reference with a * name", field: "spec.gateways[0]", message: #"gateway name "*" is not a valid name"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: ["shop.example.com"]
              gateways: ["istio-system/*"]
              http:
              - route:
                - destination: {host: shop}
            """),
        InvalidCase("JWT claim match on a mesh VirtualService", field: #"spec.http[0].match[0].headers["@request.auth.claims.group"]"#,
                    message: "JWT claim matches are supported at gateways only; this VirtualService applies to sidecars", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - headers:
                    "@request.auth.claims.group":
                      exact: admin
                route:
                - destination: {host: reviews, subset: v2}
            """),
        // Istio checks JWT claim keys whenever `gateways` is empty, which includes every delegate
        // VirtualService (ValidateVirtualService: `if !appliesToGateway`).
        InvalidCase("JWT claim match in a delegate VirtualService", field: #"spec.http[0].match[0].headers["@request.auth.claims.group"]"#,
                    message: "JWT claim matches are supported at gateways only; this VirtualService applies to sidecars", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews-delegate
            spec:
              http:
              - match:
                - headers:
                    "@request.auth.claims.group":
                      exact: admin
                route:
                - destination: {host: reviews, subset: v2}
            """),
        InvalidCase("match port out of range", field: "spec.http[0].match[0].port", message: "port number 80800 must be between 1 and 65535", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - port: 80800
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("sourceLabels value with a slash", field: "spec.http[0].match[0].sourceLabels.version",
                    message: #"label value "v1/beta" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - sourceLabels:
                    app: productpage
                    version: v1/beta
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("TLS route SNI host outside the hosts", field: "spec.tls[0].match[0].sniHosts[0]",
                    message: #""web.example.com" is not within any of the VirtualService's hosts (api.example.com)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: passthrough
            spec:
              hosts: [api.example.com]
              gateways: [passthrough-gateway]
              tls:
              - match:
                - port: 443
                  sniHosts: [web.example.com]
                route:
                - destination: {host: web.default.svc.cluster.local}
            """),
        InvalidCase("TLS route without match", field: "spec.tls[0].match", message: "must list at least one match (with sniHosts)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: passthrough
            spec:
              hosts: [api.example.com]
              gateways: [passthrough-gateway]
              tls:
              - route:
                - destination: {host: api.default.svc.cluster.local}
            """),
        InvalidCase("TCP route without route", field: "spec.tcp[0].route", message: "a TCP route needs at least one destination", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: mongo
            spec:
              hosts: [mongo]
              tcp:
              - match:
                - port: 27017
            """),
        InvalidCase("TCP destinationSubnets with a /33 prefix", field: "spec.tcp[0].match[0].destinationSubnets[0]",
                    message: #""10.0.0.0/33" is not a valid CIDR block"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: mongo
            spec:
              hosts: [mongo]
              tcp:
              - match:
                - destinationSubnets: [10.0.0.0/33]
                route:
                - destination: {host: mongo}
            """),
        InvalidCase("exportTo own namespace twice", field: "spec.exportTo[1]", message: "duplicates the object's own namespace default", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
              namespace: default
            spec:
              hosts: [reviews]
              exportTo: [default, "."]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("exportTo * with other entries", field: "spec.exportTo", message: #""*" (export to all) must be the only entry"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              exportTo: ["*", "."]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("exportTo ~ on a VirtualService", field: "spec.exportTo[0]",
                    message: #""~" (export to nobody) is only allowed on ServiceEntry"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              exportTo: ["~"]
              http:
              - route:
                - destination: {host: reviews}
            """),

        // MARK: DestinationRule

        InvalidCase("maglev table size not prime", field: "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
                    message: "65536 is not a prime number (Maglev needs a prime table size, such as 65537)", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    httpHeaderName: x-user-id
                    maglev:
                      tableSize: 65536
            """),
        InvalidCase("maglev table size too large", field: "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
                    message: "must be less than 5000011", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    useSourceIp: true
                    maglev:
                      tableSize: 5000011
            """),
        InvalidCase("consistentHash with two hash keys", field: "spec.trafficPolicy.loadBalancer.consistentHash",
                    message: "only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    httpHeaderName: x-user-id
                    useSourceIp: true
            """),
        InvalidCase("simple and consistentHash together", field: "spec.trafficPolicy.loadBalancer",
                    message: "only one of simple or consistentHash may be set", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  simple: ROUND_ROBIN
                  consistentHash:
                    httpHeaderName: x-user-id
            """),
        InvalidCase("hash cookie without a name", field: "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
                    message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    httpCookie:
                      path: /
                      ttl: 0s
            """),
        InvalidCase("deprecated minimumRingSize with maglev", field: "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
                    message: "must not be set with ringHash or maglev", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    httpHeaderName: x-user-id
                    minimumRingSize: 1024
                    maglev:
                      tableSize: 65537
            """),
        InvalidCase("negative maxConnections", field: "spec.trafficPolicy.connectionPool.tcp.maxConnections", message: "must not be negative", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  tcp:
                    maxConnections: -1
            """),
        InvalidCase("negative maxRequestsPerConnection in a subset", field: "spec.subsets[0].trafficPolicy.connectionPool.http.maxRequestsPerConnection",
                    message: "must not be negative", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy:
                  connectionPool:
                    http:
                      maxRequestsPerConnection: -1
            """),
        InvalidCase("empty connectionPool", field: "spec.trafficPolicy.connectionPool", message: "must set tcp or http", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                connectionPool: {}
            """),
        InvalidCase("empty trafficPolicy", field: "spec.trafficPolicy", message: "must set at least one field", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy: {}
            """),
        InvalidCase("HTTP idleTimeout 0s", field: "spec.trafficPolicy.connectionPool.http.idleTimeout",
                    message: "duration 0s must be at least 1ms", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  http:
                    idleTimeout: 0s
            """),
        InvalidCase("useClientProtocol with h2 UPGRADE", field: "spec.trafficPolicy.connectionPool.http.useClientProtocol",
                    message: "must not be true when h2UpgradePolicy is UPGRADE", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  http:
                    h2UpgradePolicy: UPGRADE
                    useClientProtocol: true
            """),
        InvalidCase("outlier maxEjectionPercent 150", field: "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
                    message: "must be between 0 and 100", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                outlierDetection:
                  consecutive5xxErrors: 5
                  interval: 10s
                  baseEjectionTime: 30s
                  maxEjectionPercent: 150
            """),
        InvalidCase("local origin failures without split", field: "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
                    message: "has no effect unless splitExternalLocalOriginErrors is true", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                outlierDetection:
                  consecutiveLocalOriginFailures: 3
                  interval: 5s
            """),
        InvalidCase("outlier interval 500us", field: "spec.trafficPolicy.outlierDetection.interval",
                    message: "duration 500us must be at least 1ms", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                outlierDetection:
                  consecutive5xxErrors: 3
                  interval: 500us
            """),
        InvalidCase("locality weights not totalling 100", field: "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to",
                    message: "locality weights must total 100", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                loadBalancer:
                  localityLbSetting:
                    enabled: true
                    distribute:
                    - from: us-west/zone1/*
                      to:
                        "us-west/zone1/*": 60
                        "us-west/zone2/*": 30
            """),
        InvalidCase("locality failover to the same region", field: "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]",
                    message: "from and to must name different regions", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                outlierDetection:
                  consecutive5xxErrors: 5
                loadBalancer:
                  localityLbSetting:
                    enabled: true
                    failover:
                    - from: us-east
                      to: us-east
            """),
        InvalidCase("duplicate subset names", field: "spec.subsets[1].name", message: #"subset "v1" is already defined by subsets[0]"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels: {version: v1}
              - name: v1
                labels: {version: v2}
            """),
        InvalidCase("subset name with a dot", field: "spec.subsets[0].name", message: "must be a DNS-1123 label", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1.0
                labels: {version: "1.0"}
            """),
        InvalidCase("subset without a name", field: "spec.subsets[0].name", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - labels: {version: v1}
            """),
        InvalidCase("DestinationRule without host", field: "spec.host", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              subsets:
              - name: v1
                labels: {version: v1}
            """),
        InvalidCase("client TLS MUTUAL without a client certificate", field: "spec.trafficPolicy.tls.clientCertificate",
                    message: "mode MUTUAL needs a client certificate (or credentialName)", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: payments
            spec:
              host: payments.example.com
              trafficPolicy:
                tls:
                  mode: MUTUAL
                  privateKey: /etc/certs/client.key
                  caCertificates: /etc/certs/ca.pem
            """),
        InvalidCase("client TLS credentialName with caCertificates", field: "spec.trafficPolicy.tls.credentialName",
                    message: "must not be set with clientCertificate, privateKey, caCertificates or caCrl", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: payments
            spec:
              host: payments.example.com
              trafficPolicy:
                tls:
                  mode: SIMPLE
                  credentialName: payments-ca
                  caCertificates: /etc/certs/ca.pem
            """),
        InvalidCase("insecureSkipVerify with subjectAltNames", field: "spec.trafficPolicy.portLevelSettings[0].tls.insecureSkipVerify",
                    message: "cannot be true with caCertificates, credentialName or subjectAltNames", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: payments
            spec:
              host: payments.example.com
              trafficPolicy:
                portLevelSettings:
                - port: {number: 443}
                  tls:
                    mode: SIMPLE
                    insecureSkipVerify: true
                    subjectAltNames: [payments.example.com]
            """),
        InvalidCase("portLevelSettings without port", field: "spec.trafficPolicy.portLevelSettings[0].port", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                portLevelSettings:
                - loadBalancer:
                    simple: LEAST_REQUEST
            """),
        InvalidCase("workloadSelector DestinationRule exported to all", field: "spec.exportTo",
                    message: #"a DestinationRule with workloadSelector may only be exported to its own namespace (".")"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: payments-from-checkout
            spec:
              host: payments.example.com
              workloadSelector:
                matchLabels:
                  app: checkout
              exportTo: ["*"]
              trafficPolicy:
                tls:
                  mode: SIMPLE
            """),
        InvalidCase("tunnel with protocol GET", field: "spec.trafficPolicy.tunnel.protocol", message: #"must be "CONNECT" or "POST""#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: egress-tunnel
            spec:
              host: egress-gateway.istio-system.svc.cluster.local
              trafficPolicy:
                tunnel:
                  protocol: GET
                  targetHost: external.example.com
                  targetPort: 443
            """),

        // MARK: ServiceEntry

        InvalidCase("DNS resolution with a unix socket endpoint", field: "spec.endpoints[0].address",
                    message: #""unix:///lon/google/com" is neither an IP address nor a host name (resolution DNS resolves host names)"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: dns-unix
            spec:
              hosts: ["*.google.com"]
              ports:
              - number: 80
                name: http
                protocol: HTTP
              resolution: DNS
              endpoints:
              - address: unix:///lon/google/com
            """),
        InvalidCase("DNS resolution with an endpoint reached only through a network", field: "spec.endpoints[0].address",
                    message: #""" is neither an IP address nor a host name (resolution DNS resolves host names)"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: dns-net
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS
              endpoints:
              - network: remote-net
            """),
        InvalidCase("DYNAMIC_DNS inside the mesh behind a waypoint", field: "spec.location",
                    message: "MESH_INTERNAL with resolution DYNAMIC_DNS is not supported behind a waypoint (istio.io/use-waypoint: my-waypoint)", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: dynamic
              labels:
                istio.io/use-waypoint: my-waypoint
            spec:
              hosts: ["*.google.com"]
              location: MESH_INTERNAL
              ports:
              - number: 80
                name: http
                protocol: HTTP
              resolution: DYNAMIC_DNS
            """),
        InvalidCase("resolution NONE with endpoints", field: "spec.endpoints",
                    message: "must be empty with resolution NONE (traffic goes to the original destination)", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-db
            spec:
              hosts: [db.example.com]
              ports:
              - number: 5432
                name: tcp-postgres
                protocol: TCP
              resolution: NONE
              endpoints:
              - address: 10.1.2.3
            """),
        InvalidCase("STATIC resolution with a host name endpoint", field: "spec.endpoints[0].address",
                    message: #""db.example.com" must be an IP address with resolution STATIC"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-db
            spec:
              hosts: [db.internal]
              addresses: [240.0.0.10]
              ports:
              - number: 5432
                name: tcp-postgres
                protocol: TCP
              resolution: STATIC
              endpoints:
              - address: db.example.com
            """),
        InvalidCase("DNS_ROUND_ROBIN with two endpoints", field: "spec.endpoints",
                    message: "resolution DNS_ROUND_ROBIN allows at most one endpoint", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: https
                protocol: TLS
              resolution: DNS_ROUND_ROBIN
              endpoints:
              - address: api-1.example.com
              - address: api-2.example.com
            """),
        InvalidCase("duplicate ServiceEntry port numbers", field: "spec.ports[1].number", message: "port 443 is already used by ports[0]", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: https
                protocol: TLS
              - number: 443
                name: grpc
                protocol: GRPC
              resolution: DNS
            """),
        InvalidCase("duplicate ServiceEntry port names", field: "spec.ports[1].name", message: #"port name "http" is already used by ports[0]"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 80
                name: http
                protocol: HTTP
              - number: 8080
                name: http
                protocol: HTTP
              resolution: DNS
            """),
        InvalidCase("ServiceEntry port name with an underscore", field: "spec.ports[0].name", message: "must be a DNS-1123 label", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: https_443
                protocol: TLS
              resolution: DNS
            """),
        InvalidCase("ServiceEntry host *", field: "spec.hosts[0]", message: #""*" is not allowed; name the hosts"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: everything
            spec:
              hosts: ["*"]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: NONE
            """),
        InvalidCase("ServiceEntry without hosts", field: "spec.hosts", message: "must list at least one host", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-ip
            spec:
              addresses: [203.0.113.10]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: STATIC
              endpoints:
              - address: 203.0.113.10
            """),
        InvalidCase("DNS resolution of a wildcard host without endpoints", field: "spec.hosts[0]",
                    message: "resolution DNS without endpoints resolves the hosts themselves, so each must be a fully qualified name without wildcards", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: google-apis
            spec:
              hosts: ["*.googleapis.com"]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS
            """),
        InvalidCase("CIDR address with DNS resolution", field: "spec.addresses",
                    message: "CIDR blocks are only allowed with resolution NONE or STATIC", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: partner
            spec:
              hosts: [partner.example.com]
              addresses: [192.0.2.0/24]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS
            """),
        InvalidCase("ServiceEntry address out of range", field: "spec.addresses[0]", message: #""10.0.0.300" is not a valid IP address"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: legacy-db
            spec:
              hosts: [legacy-db.internal]
              addresses: [10.0.0.300]
              ports:
              - number: 3306
                name: mysql
                protocol: MYSQL
              resolution: STATIC
              endpoints:
              - address: 10.0.0.30
            """),
        InvalidCase("several hosts with a TCP port", field: "spec.ports[0]",
                    message: "a ServiceEntry with several hosts can only have HTTP or TLS ports (TCP cannot tell the hosts apart)", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: caches
            spec:
              hosts: [cache-a.example.com, cache-b.example.com]
              ports:
              - number: 6379
                name: redis
                protocol: TCP
              resolution: DNS
            """),
        InvalidCase("DYNAMIC_DNS with a plain host", field: "spec.hosts[0]",
                    message: #"resolution DYNAMIC_DNS needs wildcard hosts ("*.example.com")"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: dynamic
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DYNAMIC_DNS
            """),
        InvalidCase("exportTo ~ with another entry", field: "spec.exportTo", message: #""~" (export to nobody) must be the only entry"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS
              exportTo: ["~", "."]
            """),
        InvalidCase("workloadSelector and endpoints together", field: "spec", message: "only one of workloadSelector or endpoints may be set", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: vm-app
            spec:
              hosts: [vm-app.example.com]
              location: MESH_INTERNAL
              ports:
              - number: 8080
                name: http
                protocol: HTTP
              resolution: STATIC
              workloadSelector:
                labels:
                  app: vm-app
              endpoints:
              - address: 10.0.0.5
            """),
        InvalidCase("endpoint port naming no service port", field: "spec.endpoints[0].ports.grpc", message: "names no port of the ServiceEntry", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: vm-app
            spec:
              hosts: [vm-app.example.com]
              ports:
              - number: 8080
                name: http
                protocol: HTTP
              resolution: STATIC
              endpoints:
              - address: 10.0.0.5
                ports:
                  grpc: 9090
            """),
        InvalidCase("unix endpoint with two service ports", field: "spec.endpoints[0].address",
                    message: "a unix socket endpoint needs exactly one service port", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: local-agent
            spec:
              hosts: [agent.local]
              ports:
              - number: 80
                name: http
                protocol: HTTP
              - number: 9090
                name: grpc
                protocol: GRPC
              resolution: STATIC
              endpoints:
              - address: unix:///var/run/agent.sock
            """),
        InvalidCase("unknown resolution", field: "spec.resolution",
                    message: #"unknown value "DNS_ROUNDROBIN"; expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS"#, """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-api
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS_ROUNDROBIN
            """),

        // MARK: WorkloadEntry

        InvalidCase("WorkloadEntry without address or network", field: "spec.address",
                    message: "is required (or network, for an endpoint reached through a gateway)", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: vm-1
            spec:
              labels:
                app: vm-app
              serviceAccount: vm-app
            """),
        InvalidCase("WorkloadEntry relative unix path", field: "spec.address",
                    message: #""var/run/app.sock" is not an absolute path to a file"#, """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: local-app
            spec:
              address: unix://var/run/app.sock
            """),
        InvalidCase("WorkloadEntry address with a port", field: "spec.address",
                    message: #""10.0.0.1:8080" is neither an IP address nor a host name"#, """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: vm-1
            spec:
              address: "10.0.0.1:8080"
              labels:
                app: vm-app
            """),
        InvalidCase("WorkloadEntry port 0", field: "spec.ports.http", message: "port number 0 must be between 1 and 65535", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: vm-1
            spec:
              address: 10.0.0.1
              ports:
                http: 0
            """),
        InvalidCase("WorkloadEntry label key with a space", field: #"spec.labels["app name"]"#,
                    message: #"label key "app name" is invalid (letters, digits, '-', '_' and '.', alphanumeric at both ends)"#, """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: vm-1
            spec:
              address: 10.0.0.1
              labels:
                app name: billing
            """),

        // MARK: Kubernetes objects

        InvalidCase("Service port out of range", field: "spec.ports[0].port", message: "port number 70000 must be between 1 and 65535", """
            apiVersion: v1
            kind: Service
            metadata:
              name: reviews
            spec:
              selector:
                app: reviews
              ports:
              - port: 70000
                targetPort: 9080
            """),
        InvalidCase("Service with two ports and one unnamed", field: "spec.ports[1].name",
                    message: "is required when a Service has several ports", """
            apiVersion: v1
            kind: Service
            metadata:
              name: reviews
            spec:
              selector:
                app: reviews
              ports:
              - name: http
                port: 9080
              - port: 9090
            """),
        InvalidCase("Service port names repeated", field: "spec.ports[1].name", message: #"port name "http" is used twice"#, """
            apiVersion: v1
            kind: Service
            metadata:
              name: reviews
            spec:
              ports:
              - name: http
                port: 9080
              - name: http
                port: 9090
            """),
        InvalidCase("Service protocol in lower case", field: "spec.ports[0].protocol", message: "must be TCP, UDP or SCTP", """
            apiVersion: v1
            kind: Service
            metadata:
              name: dns
            spec:
              ports:
              - name: dns
                port: 53
                protocol: udp
            """),
        InvalidCase("Service clusterIP not an address", field: "spec.clusterIP", message: #"must be an IP address or "None""#, """
            apiVersion: v1
            kind: Service
            metadata:
              name: reviews
            spec:
              clusterIP: none
              ports:
              - name: http
                port: 9080
            """),
        InvalidCase("Endpoints with a host name as ip", field: "subsets[0].addresses[1].ip", message: "must be an IP address", """
            apiVersion: v1
            kind: Endpoints
            metadata:
              name: legacy-db
            subsets:
            - addresses:
              - ip: 10.0.0.12
              - ip: db-1.example.com
              ports:
              - name: postgres
                port: 5432
            """),
        InvalidCase("Endpoints port 0", field: "subsets[0].ports[0].port", message: "port number 0 must be between 1 and 65535", """
            apiVersion: v1
            kind: Endpoints
            metadata:
              name: legacy-db
            subsets:
            - addresses:
              - ip: 10.0.0.12
              ports:
              - name: postgres
                port: 0
            """),
        InvalidCase("EndpointSlice with an unknown address type", field: "addressType", message: "must be IPv4, IPv6 or FQDN", """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: reviews-abc12
              labels:
                kubernetes.io/service-name: reviews
            addressType: IP
            endpoints:
            - addresses: [10.1.0.7]
            ports:
            - name: http
              port: 9080
            """),
        InvalidCase("EndpointSlice IPv4 with an IPv6 address", field: "endpoints[1].addresses[0]",
                    message: #""fd00::7" is not a valid IPv4 address"#, """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: reviews-abc12
              labels:
                kubernetes.io/service-name: reviews
            addressType: IPv4
            endpoints:
            - addresses: [10.1.0.7]
              conditions: {ready: true}
            - addresses: ["fd00::7"]
              conditions: {ready: true}
            """),
        InvalidCase("Secret data that is not base64", field: #"data["tls.crt"]"#, message: "must be base64 (use stringData for plain text)", """
            apiVersion: v1
            kind: Secret
            metadata:
              name: bookinfo-cert
              namespace: istio-system
            type: kubernetes.io/tls
            data:
              tls.crt: "-----BEGIN CERTIFICATE-----"
              tls.key: c2VjcmV0
            """),

        // MARK: Decoding

        InvalidCase("hosts given as a string", field: "spec.hosts", message: #"must be a list, got string "reviews""#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: reviews
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("match given as an object", field: "spec.http[0].match", message: "must be a list, got an object", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                  uri:
                    prefix: /reviews
                route:
                - destination: {host: reviews}
            """),
        InvalidCase("destination given as a string", field: "spec.http[0].route[0].destination", message: #"must be an object, got string "reviews""#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: reviews
            """),
        InvalidCase("quoted weight", field: "spec.http[0].route[0].weight", message: #"must be an integer, got string "90""#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: "90"
                - destination: {host: reviews, subset: v2}
                  weight: 10
            """),
        InvalidCase("fractional weight", field: "spec.http[0].route[0].weight", message: #"must be an integer, got number "50.5""#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 50.5
                - destination: {host: reviews, subset: v2}
                  weight: 49.5
            """),
        InvalidCase("weight beyond int32", field: "spec.http[0].route[0].weight",
                    message: "must be an integer between -2147483648 and 2147483647, got 3000000000", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews}
                  weight: 3000000000
            """),
        InvalidCase("quoted gateway port number", field: "spec.servers[0].port.number", message: #"must be an integer, got string "443""#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port:
                  number: "443"
                  name: https
                  protocol: HTTPS
                hosts: ["bookinfo.example.com"]
                tls: {mode: SIMPLE, credentialName: bookinfo-cert}
            """),
        InvalidCase("quoted boolean", field: "spec.servers[0].tls.httpsRedirect", message: #"must be true or false, got string "true""#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
                tls:
                  httpsRedirect: "true"
            """),
        InvalidCase("numeric label value", field: "metadata.labels.version", message: #"must be a string, got integer 2; quote it: "2""#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
              labels:
                app: reviews
                version: 2
            spec:
              host: reviews
            """),
        InvalidCase("numeric subset label value", field: "spec.subsets[0].labels.version", message: #"must be a string, got number 1.0; quote it: "1.0""#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels:
                  version: 1.0
            """),
        InvalidCase("null entry in hosts", field: "spec.hosts[1]", message: "must not be null", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts:
              - reviews
              -
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("misspelt route field", field: "spec.http[0].rout", message: #"unknown field (did you mean "route"?)"#, """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - rout:
                - destination: {host: reviews}
            """),
        InvalidCase("hosts instead of host on a DestinationRule", field: "spec.hosts", message: #"unknown field (did you mean "host"?)"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              hosts: reviews
              subsets:
              - name: v1
                labels: {version: v1}
            """),
        InvalidCase("matchLabels in a ServiceEntry workloadSelector", field: "spec.workloadSelector.matchLabels",
                    message: "unknown field", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: vm-app
            spec:
              hosts: [vm-app.example.com]
              location: MESH_INTERNAL
              ports:
              - number: 8080
                name: http
                protocol: HTTP
              resolution: STATIC
              workloadSelector:
                matchLabels:
                  app: vm-app
            """),
        InvalidCase("snake_case field name", field: "spec.servers[0].tls.credential_name",
                    message: #"unknown field (did you mean "credentialName"?)"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
                  credential_name: bookinfo-cert
            """),
        InvalidCase("misspelt metadata field", field: "metadata.namspace", message: #"unknown field (did you mean "namespace"?)"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
              namspace: bookinfo
            spec:
              host: reviews
            """),
        InvalidCase("misspelt top-level spec", field: "sepc", message: #"unknown field (did you mean "spec"?)"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            sepc:
              host: reviews
            """),
        InvalidCase("unknown load balancer", field: "spec.trafficPolicy.loadBalancer.simple",
                    message: #"unknown value "ROUND_ROBBIN"; expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                loadBalancer:
                  simple: ROUND_ROBBIN
            """),
        InvalidCase("lower-case TLS mode", field: "spec.trafficPolicy.tls.mode",
                    message: #"unknown value "istio_mutual"; expected one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL"#, """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              trafficPolicy:
                tls:
                  mode: istio_mutual
            """),
        InvalidCase("unknown gateway TLS mode", field: "spec.servers[0].tls.mode",
                    message: #"unknown value "PASSTHRU"; expected one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL"#, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: passthrough-gateway
            spec:
              servers:
              - port: {number: 443, name: tls, protocol: TLS}
                hosts: ["*.example.com"]
                tls:
                  mode: PASSTHRU
            """),

        // MARK: Metadata and object type

        InvalidCase("upper-case object name", field: "metadata.name",
                    message: "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: Reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("object name with an underscore", field: "metadata.name",
                    message: "must be a lower-case DNS-1123 subdomain (letters, digits, '-' and '.', alphanumeric at both ends)", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews_v2
            spec:
              host: reviews
            """),
        InvalidCase("object without a name", field: "metadata.name", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              namespace: default
            spec:
              hosts: [api.example.com]
              ports:
              - number: 443
                name: tls
                protocol: TLS
              resolution: DNS
            """),
        InvalidCase("namespace with a dot", field: "metadata.namespace",
                    message: "must be a lower-case DNS-1123 label (letters, digits and '-', alphanumeric at both ends, no dots)", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
              namespace: team.a
            spec:
              host: reviews
            """),
        InvalidCase("missing apiVersion", field: "apiVersion", message: "is required", """
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("missing kind", field: "kind", message: "is required", """
            apiVersion: networking.istio.io/v1
            metadata:
              name: reviews
            spec:
              host: reviews
            """),
        InvalidCase("unsupported Istio API version", field: "apiVersion",
                    message: #"unsupported version "v2" of networking.istio.io; use v1, v1beta1 or v1alpha3"#, """
            apiVersion: networking.istio.io/v2
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews}
            """),
        InvalidCase("Istio object without spec", field: "spec", message: "is required", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            """),
    ]

    @Test(arguments: invalidCases)
    func invalidConfigurationIsRejected(_ testCase: InvalidCase) {
        let lines = errorLines(load(testCase.yaml))
        let expected = "\(testCase.field): \(testCase.message)"
        let actual = lines.isEmpty ? "  (none)" : lines.map { "  " + $0 }.joined(separator: "\n")
        #expect(lines.contains(expected), "expected the error\n  \(expected)\nactual errors:\n\(actual)")
    }

    // MARK: - Valid configurations

    static let validCases: [ValidCase] = [
        ValidCase("weights 550 and 500 need not total 100", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 550
                - destination: {host: reviews, subset: v2}
                  weight: 500
            """),
        ValidCase("single destination with weight 0", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 0
            """),
        ValidCase("zero weight beside a positive one", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v1}
                  weight: 100
                - destination: {host: reviews, subset: v2}
                  weight: 0
            """),
        ValidCase("empty uri prefix", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: frontend
            spec:
              hosts: [frontend]
              http:
              - match:
                - uri:
                    prefix: ""
                route:
                - destination: {host: frontend}
            """),
        ValidCase("withoutHeaders regex * means header present", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - withoutHeaders:
                    x-debug:
                      regex: "*"
                route:
                - destination: {host: reviews, subset: v1}
              - route:
                - destination: {host: reviews, subset: v2}
            """),
        ValidCase("header presence match with {}", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
            spec:
              hosts: [reviews]
              http:
              - match:
                - headers:
                    end-user: {}
                  withoutHeaders:
                    x-canary: {}
                route:
                - destination: {host: reviews, subset: v2}
              - route:
                - destination: {host: reviews, subset: v1}
            """),
        ValidCase("query parameter exact empty and presence", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: search
            spec:
              hosts: [search]
              http:
              - match:
                - queryParams:
                    debug:
                      exact: ""
                    page: {}
                route:
                - destination: {host: search, subset: debug}
              - route:
                - destination: {host: search, subset: stable}
            """),
        ValidCase("regexes with (?i) and escapes", #"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - match:
                - uri:
                    regex: '(?i)/api/v\d+/users/[^/]+'
                  headers:
                    x-request-id:
                      regex: '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}'
                rewrite:
                  uriRegexRewrite:
                    match: '^/api/v\d+/(.*)$'
                    rewrite: '/\1'
                route:
                - destination: {host: api}
            """#),
        ValidCase("delegate root VirtualService and its delegate", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: bookinfo-root
              namespace: istio-system
            spec:
              hosts: ["bookinfo.example.com"]
              gateways: [public-gateway]
              http:
              - match:
                - uri: {prefix: /reviews}
                delegate:
                  name: reviews
                  namespace: bookinfo
              - route:
                - destination: {host: productpage.bookinfo.svc.cluster.local}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
              namespace: bookinfo
            spec:
              exportTo: [istio-system]
              http:
              - match:
                - uri: {prefix: /reviews/v2}
                route:
                - destination: {host: reviews, subset: v2}
              - route:
                - destination: {host: reviews, subset: v1}
            """),
        ValidCase("outbound_ SNI hosts at an east-west gateway", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: istiod-passthrough
              namespace: istio-system
            spec:
              hosts:
              - "outbound_.15012_._.istiod.istio-system.svc.cluster.local"
              gateways: [eastwest-gateway]
              tls:
              - match:
                - port: 15012
                  sniHosts:
                  - "outbound_.15012_._.istiod.istio-system.svc.cluster.local"
                route:
                - destination:
                    host: istiod.istio-system.svc.cluster.local
                    port: {number: 15012}
            """),
        ValidCase("IP addresses as gateway and VirtualService hosts", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: ip-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["192.168.10.20"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: by-ip
            spec:
              hosts: ["192.168.10.20"]
              gateways: [ip-gateway]
              http:
              - route:
                - destination: {host: frontend}
            """),
        ValidCase("* host on a gateway-only VirtualService", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: catch-all
            spec:
              hosts: ["*"]
              gateways: [istio-system/public-gateway]
              http:
              - route:
                - destination: {host: frontend.web.svc.cluster.local}
            """),
        ValidCase("JWT claim match at a gateway", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: claims
            spec:
              hosts: ["api.example.com"]
              gateways: [public-gateway]
              http:
              - match:
                - headers:
                    "@request.auth.claims.groups":
                      exact: admin
                    "@request.auth.claims[nested][key]":
                      prefix: team-
                route:
                - destination: {host: admin-api}
              - route:
                - destination: {host: api}
            """),
        ValidCase("legacy FQDN gateway reference (warning only)", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: legacy-gateway-ref
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway.istio-system.svc.cluster.local]
              http:
              - route:
                - destination: {host: shop}
            """),
        ValidCase("upper-case letters and a trailing dot in hosts", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: ["Shop.Example.COM", "www.example.com."]
              gateways: [public-gateway]
              http:
              - route:
                - destination: {host: shop}
            """),
        ValidCase("wildcard destination host", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: wiki
            spec:
              hosts: ["*.wikipedia.org"]
              gateways: [mesh]
              tls:
              - match:
                - port: 443
                  sniHosts: ["*.wikipedia.org"]
                route:
                - destination:
                    host: "*.wikipedia.org"
            """),
        ValidCase("tcp idleTimeout 0s disables the timeout", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: mysql
            spec:
              host: mysql
              trafficPolicy:
                connectionPool:
                  tcp:
                    maxConnections: 0
                    idleTimeout: 0s
            """),
        ValidCase("httpsRedirect on an HTTP server with a tls block", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["bookinfo.example.com"]
                tls:
                  httpsRedirect: true
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["bookinfo.example.com"]
                tls:
                  mode: SIMPLE
                  credentialName: bookinfo-cert
            """),
        ValidCase("PASSTHROUGH tls block on an HTTP server", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: plain-gateway
            spec:
              servers:
              - port: {number: 8080, name: http-alt, protocol: http}
                hosts: ["*/*"]
                tls:
                  mode: PASSTHROUGH
            """),
        ValidCase("gateway hosts with namespaces, IP bind and unix socket", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: internal-gateway
            spec:
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                bind: 10.0.0.1
                hosts: ["./internal.example.com", "team-a/*.team-a.example.com"]
              - port: {number: 0, name: uds, protocol: HTTP}
                bind: unix:///var/run/gateway.sock
                hosts: ["*"]
            """),
        ValidCase("TLS 1.3 only with a removed cipher suite", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata:
              name: strict-gateway
            spec:
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["secure.example.com"]
                tls:
                  mode: MUTUAL
                  credentialName: secure-cert
                  minProtocolVersion: TLSV1_3
                  cipherSuites: ["-ECDHE-RSA-AES128-SHA"]
            """),
        ValidCase("v1alpha3 API version", """
            apiVersion: networking.istio.io/v1alpha3
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels: {version: v1}
            """),
        ValidCase("v1beta1 API version", """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata:
              name: public-gateway
            spec:
              selector:
                istio: ingressgateway
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            """),
        ValidCase("JSON document", """
            {
              "apiVersion": "networking.istio.io/v1",
              "kind": "VirtualService",
              "metadata": {"name": "reviews", "namespace": "bookinfo"},
              "spec": {
                "hosts": ["reviews"],
                "http": [
                  {"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 75},
                             {"destination": {"host": "reviews", "subset": "v2"}, "weight": 25}]}
                ]
              }
            }
            """),
        ValidCase("List of objects of several kinds", """
            apiVersion: v1
            kind: List
            metadata:
              resourceVersion: ""
            items:
            - apiVersion: v1
              kind: Service
              metadata:
                name: reviews
              spec:
                selector: {app: reviews}
                ports:
                - name: http
                  port: 9080
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata:
                name: reviews
              spec:
                host: reviews
            """),
        ValidCase("VirtualServiceList as kubectl get prints it", """
            apiVersion: networking.istio.io/v1
            kind: VirtualServiceList
            metadata:
              continue: ""
              resourceVersion: "123456"
            items:
            - apiVersion: networking.istio.io/v1
              kind: VirtualService
              metadata:
                name: ratings
                namespace: bookinfo
                resourceVersion: "1001"
                generation: 2
                creationTimestamp: "2024-05-01T12:00:00Z"
              spec:
                hosts: [ratings]
                http:
                - route:
                  - destination: {host: ratings}
            """),
        ValidCase("durations 1h30m and 100ms", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reports
            spec:
              hosts: [reports]
              http:
              - timeout: 1h30m
                retries:
                  attempts: 3
                  perTryTimeout: 100ms
                  backoff: 25ms
                  retryOn: 5xx,503,429,retriable-4xx
                route:
                - destination: {host: reports}
            """),
        ValidCase("attempts 0 with only a backoff", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: payments
            spec:
              hosts: [payments]
              http:
              - retries:
                  attempts: 0
                  backoff: 50ms
                route:
                - destination: {host: payments}
            """),
        ValidCase("maglev tableSize 65537 as a quoted uint64", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: cart
            spec:
              host: cart
              trafficPolicy:
                loadBalancer:
                  consistentHash:
                    httpCookie:
                      name: session
                      ttl: 0s
                    maglev:
                      tableSize: "65537"
            """),
        ValidCase("DestinationRule for host *", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: mesh-wide-mtls
              namespace: istio-system
            spec:
              host: "*"
              trafficPolicy:
                tls:
                  mode: ISTIO_MUTUAL
            """),
        ValidCase("DestinationRule policies in every position", """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews.bookinfo.svc.cluster.local
              trafficPolicy:
                loadBalancer:
                  simple: LEAST_REQUEST
                connectionPool:
                  http:
                    http2MaxRequests: 1000
                    maxRequestsPerConnection: 1
                outlierDetection:
                  splitExternalLocalOriginErrors: true
                  consecutiveLocalOriginFailures: 2
                  consecutive5xxErrors: 5
                  interval: 1s
                  baseEjectionTime: 3m
                  maxEjectionPercent: 100
                portLevelSettings:
                - port: {number: 9080}
                  loadBalancer:
                    simple: ROUND_ROBIN
                - port: {number: 9443}
                  tls:
                    mode: SIMPLE
                    sni: reviews.example.com
              subsets:
              - name: v1
                labels: {version: v1}
              - name: v2
                labels: {version: v2}
                trafficPolicy:
                  loadBalancer:
                    simple: RANDOM
            """),
        ValidCase("ServiceEntry DNS without endpoints and FQDN hosts", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: external-apis
            spec:
              hosts:
              - api.example.com
              - auth.example.com
              location: MESH_EXTERNAL
              ports:
              - number: 443
                name: https
                protocol: TLS
              resolution: DNS
            """),
        ValidCase("ServiceEntry STATIC with a CIDR and IPv6 endpoint", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: legacy-db
            spec:
              hosts: [legacy-db.internal]
              addresses: [10.20.0.0/16]
              ports:
              - number: 5432
                name: postgres
                protocol: TCP
                targetPort: 15432
              resolution: STATIC
              endpoints:
              - address: 10.20.1.5
                labels: {role: primary}
              - address: "2001:db8::5"
                ports:
                  postgres: 25432
                weight: 0
            """),
        ValidCase("ServiceEntry exported to nobody", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: private-api
            spec:
              hosts: [private.example.com]
              ports:
              - number: 80
                name: http
                protocol: HTTP
              resolution: DNS
              exportTo: ["~"]
            """),
        ValidCase("unix socket endpoint with one port", """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata:
              name: local-agent
            spec:
              hosts: [agent.local]
              ports:
              - number: 80
                name: http
                protocol: HTTP
              resolution: STATIC
              endpoints:
              - address: unix:///var/run/agent.sock
              - address: unix://@abstract-agent
            """),
        ValidCase("WorkloadEntry with a network and no address", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: remote-vm
            spec:
              network: vm-network
              labels:
                app: billing
              serviceAccount: billing
            """),
        // Istio only warns ("abort configured, but error type not set") and the warning is dropped.
        ValidCase("fault abort with only a percentage", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  abort:
                    percentage: {value: 10}
                route:
                - destination: {host: ratings}
            """),
        // validateHTTPFaultInjectionDelay has no default case and the CRD's oneOf allows neither
        // fixedDelay nor exponentialDelay.
        ValidCase("fault delay with only a percentage", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: ratings
            spec:
              hosts: [ratings]
              http:
              - fault:
                  delay:
                    percentage: {value: 10}
                route:
                - destination: {host: ratings}
            """),
        ValidCase("status 600 for directResponse and abort", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: teapot
            spec:
              hosts: [teapot]
              http:
              - match:
                - uri: {exact: /brew}
                directResponse:
                  status: 600
              - fault:
                  abort:
                    httpStatus: 600
                    percentage: {value: 0.0001}
                route:
                - destination: {host: teapot}
            """),
        ValidCase("redirect with derivePort and 308", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: to-https
            spec:
              hosts: ["shop.example.com"]
              gateways: [public-gateway]
              http:
              - match:
                - uri: {prefix: /old/}
                redirect:
                  prefixRewrite: /new/
                  derivePort: FROM_REQUEST_PORT
                  redirectCode: 308
              - redirect:
                  scheme: https
                  redirectCode: 301
            """),
        ValidCase("header values with variables and %%, one authority rewrite", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: shop
            spec:
              hosts: [shop]
              http:
              - headers:
                  request:
                    set:
                      host: shop.internal
                      x-client: "%DOWNSTREAM_REMOTE_ADDRESS%"
                    add:
                      x-progress: "100%%"
                    remove: [x-internal-debug]
                  response:
                    set:
                      x-served-by: "%HOSTNAME%"
                    remove: [server]
                route:
                - destination: {host: shop}
                  headers:
                    response:
                      add:
                        x-tab: "a\\tb"
            """),
        ValidCase("mirrors with fractional and zero percentages", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: httpbin
            spec:
              hosts: [httpbin]
              http:
              - route:
                - destination: {host: httpbin, subset: v1}
                mirrors:
                - destination: {host: httpbin, subset: v2}
                  percentage: {value: 0.5}
                - destination: {host: httpbin-shadow.test.svc.cluster.local}
                  percentage: {value: 0}
            """),
        ValidCase("CORS policy with a regex origin and * headers", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: api
            spec:
              hosts: [api]
              http:
              - corsPolicy:
                  allowOrigins:
                  - regex: "https://.*\\\\.example\\\\.com"
                  allowMethods: [GET, POST, "*"]
                  allowHeaders: ["*", x-request-id]
                  exposeHeaders: [x-ratelimit-remaining]
                  maxAge: 24h
                  allowCredentials: true
                  unmatchedPreflights: IGNORE
                route:
                - destination: {host: api}
            """),
        ValidCase("Service with a named targetPort", """
            apiVersion: v1
            kind: Service
            metadata:
              name: productpage
              labels:
                app: productpage
                app.kubernetes.io/part-of: bookinfo
            spec:
              type: ClusterIP
              clusterIP: None
              selector:
                app: productpage
              ports:
              - port: 9080
                targetPort: http-web
                appProtocol: http
            """),
        ValidCase("EndpointSlice with FQDN addresses", """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: external-abc12
              labels:
                kubernetes.io/service-name: external
            addressType: FQDN
            endpoints:
            - addresses: [db-1.example.com]
              conditions: {ready: true, serving: true, terminating: false}
            ports:
            - name: postgres
              port: 5432
              protocol: TCP
            """),
        ValidCase("Secret with wrapped base64 and stringData", """
            apiVersion: v1
            kind: Secret
            metadata:
              name: bookinfo-cert
              namespace: istio-system
            type: kubernetes.io/tls
            data:
              tls.crt: |
                LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJqRENDQVRPZ0F3SUJBZ0lV
                cGxhY2Vob2xkZXJwbGFjZWhvbGRlcgotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0t
                Cg==
              tls.key: ""
            stringData:
              ca.crt: "-----BEGIN CERTIFICATE-----"
            """),
        ValidCase("anchors and aliases", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews
              labels:
                app: reviews
                team: bookinfo
            spec:
              hosts: [reviews]
              http:
              - match:
                - headers:
                    end-user: &jason {exact: jason}
                route:
                - destination: &v2 {host: reviews, subset: v2}
                retries: &retries
                  attempts: 2
                  perTryTimeout: 2s
              - match:
                - headers:
                    x-user: *jason
                route:
                - destination: *v2
                retries: *retries
              - route:
                - destination: {host: reviews, subset: v1}
                retries: *retries
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
              labels: &labels
                app: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels: *labels
              - name: v2
                labels:
                  version: &v2 v2
                  track: *v2
            """),
        ValidCase("multi-document file with comments and empty documents", """
            # Bookinfo routing, generated by hand.
            ---
            ---
            # reviews goes to v1 only
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: reviews  # same name as the service
            spec:
              hosts:
              - reviews # short name, expanded with the namespace
              http:
              - route:
                - destination:
                    host: reviews
                    subset: v1
            ---
            # (intentionally empty)
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                labels:
                  version: v1
            ...
            """),
    ]

    @Test(arguments: validCases)
    func validConfigurationIsAccepted(_ testCase: ValidCase) {
        let lines = errorLines(load(testCase.yaml))
        let actual = lines.map { "  " + $0 }.joined(separator: "\n")
        #expect(lines.isEmpty, "expected no errors, got:\n\(actual)")
    }

    // MARK: - Warnings

    /// A configuration Istio accepts with a warning: the warning expected (field: message), or
    /// nil for none of the kind the case is about (`about` is a fragment of that message).
    struct WarningCase: CustomStringConvertible, Sendable {
        var name: String
        var warning: String?
        var about: String
        var yaml: String
        var description: String { name }
    }

    static func serviceEntry(labels: String = "", _ spec: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: entry
        \(labels.isEmpty ? "" : "  labels: {\(labels)}\n")spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static let addressesNeeded = "needs addresses"
    static let sharedAddress = "one address for several hosts"

    static let warningCases: [WarningCase] = [
        WarningCase(name: "TCP port, no address, resolution NONE",
                    warning: "spec.ports[0]: needs addresses: a TCP port (or one without protocol) of a ServiceEntry without an address cannot be told apart from other services' traffic, and no address is allocated automatically (resolution NONE)",
                    about: addressesNeeded, yaml: serviceEntry("""
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
                    resolution: NONE
                    """)),
        WarningCase(name: "port without protocol, no address, resolution NONE", warning: "spec.ports[0]: needs addresses: a TCP port (or one without protocol) of a ServiceEntry without an address cannot be told apart from other services' traffic, and no address is allocated automatically (resolution NONE)",
                    about: addressesNeeded, yaml: serviceEntry("""
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: postgres}]
                    """)),
        WarningCase(name: "DNS resolution opted out of auto-allocation",
                    warning: "spec.ports[0]: needs addresses: a TCP port (or one without protocol) of a ServiceEntry without an address cannot be told apart from other services' traffic, and no address is allocated automatically (networking.istio.io/enable-autoallocate-ip: false)",
                    about: addressesNeeded, yaml: serviceEntry(labels: "networking.istio.io/enable-autoallocate-ip: \"false\"", """
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
                    resolution: DNS
                    """)),
        WarningCase(name: "the opt-out label's value is read case-insensitively (strings.EqualFold)",
                    warning: "spec.ports[0]: needs addresses: a TCP port (or one without protocol) of a ServiceEntry without an address cannot be told apart from other services' traffic, and no address is allocated automatically (networking.istio.io/enable-autoallocate-ip: false)",
                    about: addressesNeeded, yaml: serviceEntry(labels: "networking.istio.io/enable-autoallocate-ip: \"False\"", """
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
                    resolution: DNS
                    """)),
        WarningCase(name: "DNS resolution gets an address allocated", warning: nil, about: addressesNeeded, yaml: serviceEntry("""
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
                    resolution: DNS
                    """)),
        WarningCase(name: "lower-case tcp is compared as written", warning: nil, about: addressesNeeded, yaml: serviceEntry("""
                    hosts: [db.example.com]
                    ports: [{number: 5432, name: tcp-postgres, protocol: tcp}]
                    resolution: NONE
                    """)),
        WarningCase(name: "an address given", warning: nil, about: addressesNeeded, yaml: serviceEntry("""
                    hosts: [db.example.com]
                    addresses: [240.0.0.1]
                    ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
                    resolution: NONE
                    """)),
        WarningCase(name: "several hosts, one address and an HTTPS port under DNS",
                    warning: "spec.addresses: one address for several hosts with a TCP-based port (TCP, TLS, HTTPS, MONGO, REDIS, MYSQL): the hosts cannot be told apart on it",
                    about: sharedAddress, yaml: serviceEntry("""
                    hosts: [httpbin.org, wikipedia.org]
                    addresses: [10.10.10.10]
                    ports: [{number: 443, name: https, protocol: HTTPS}]
                    resolution: DNS
                    """)),
        WarningCase(name: "several hosts, one address and an HTTP port under DNS", warning: nil, about: sharedAddress, yaml: serviceEntry("""
                    hosts: [httpbin.org, wikipedia.org]
                    addresses: [10.10.10.10]
                    ports: [{number: 80, name: http, protocol: HTTP}]
                    resolution: DNS
                    """)),
    ]

    @Test(arguments: warningCases)
    func warningsAsIstioGivesThem(_ testCase: WarningCase) {
        let result = load(testCase.yaml)
        #expect(errorLines(result).isEmpty, "\(errorLines(result))")
        let related = warningLines(result).filter { $0.contains(testCase.about) }
        if let warning = testCase.warning {
            #expect(related == [warning], "\(warningLines(result))")
        } else {
            #expect(related.isEmpty, "\(related)")
        }
    }

    /// Without the waypoint label (or with `none`), DYNAMIC_DNS inside the mesh is accepted.
    @Test(arguments: ["", "istio.io/use-waypoint: none"])
    func dynamicDNSInsideTheMeshWithoutAWaypointIsValid(_ labels: String) {
        let yaml = Self.serviceEntry(labels: labels, """
        hosts: ["*.google.com"]
        location: MESH_INTERNAL
        ports: [{number: 80, name: http, protocol: HTTP}]
        resolution: DYNAMIC_DNS
        """)
        #expect(errorLines(load(yaml)).isEmpty)
    }
}
