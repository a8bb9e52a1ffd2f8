import Foundation
import Testing
@testable import MizzenTelemetry

/// Envoy's access-log format language: parsing, Istio's defaults byte for byte, typed JSON,
/// and the formats Envoy refuses.
struct AccessLogFormatTests {
    /// A record answering from a table; absent fields are `none`.
    struct FakeRecord: AccessLogSource {
        var values: [AccessLogField: AccessLogValue]
        func value(_ field: AccessLogField) -> AccessLogValue {
            // Headers by name, the alternate when the first is absent (as a record answers).
            if case .request(let names) = field {
                if let value = values[.requestHeader(names.name, alternate: nil)] { return value }
                return names.alternate.flatMap { values[.requestHeader($0, alternate: nil)] } ?? .none
            }
            return values[field] ?? .none
        }
    }

    static let sample = FakeRecord(values: [
        .startTime(format: nil): .text("2020-11-25T21:26:18.409Z"),
        .requestHeader(":method", alternate: nil): .text("GET"),
        .requestHeader(":path", alternate: nil): .text("/status/418"),
        .protocolName: .text("HTTP/1.1"),
        .responseCode: .integer(418),
        .responseFlags: .text("-"),
        .responseCodeDetails: .text("via_upstream"),
        .bytesReceived: .integer(0),
        .bytesSent: .integer(135),
        .duration: .integer(4),
        .responseHeader("x-envoy-upstream-service-time", alternate: nil): .text("4"),
        .requestHeader("user-agent", alternate: nil): .text("curl/7.73.0-DEV"),
        .requestHeader("x-request-id", alternate: nil): .text("84961386-6d84-929d-98bd-c5aee93b5c88"),
        .requestHeader(":authority", alternate: nil): .text("httpbin:8000"),
        .upstreamHost: .text("10.44.1.27:80"),
        .upstreamClusterRaw: .text("outbound|8000||httpbin.foo.svc.cluster.local"),
        .upstreamLocalAddress: .text("10.44.1.23:37652"),
        .downstreamLocalAddress: .text("10.0.45.184:8000"),
        .downstreamRemoteAddress: .text("10.44.1.23:46520"),
        .routeName: .text("default"),
    ])

    @Test("the default TEXT line is Istio's, byte for byte (the istio.io access-log task's example)")
    func istioTextDefault() throws {
        var out: [UInt8] = []
        AccessLogFormat.istioText.write(Self.sample, to: &out)
        let expected = "[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" \"curl/7.73.0-DEV\" "
            + "\"84961386-6d84-929d-98bd-c5aee93b5c88\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local "
            + "10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default\n"
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test("the default JSON line has Istio's keys, numbers as numbers and absent values as null")
    func istioJSONDefault() throws {
        var out: [UInt8] = []
        AccessLogFormat.istioJSON.write(Self.sample, to: &out)
        #expect(out.last == UInt8(ascii: "\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])
        #expect(Set(object.keys) == Set(AccessLogFormat.istioJSONKeys.map(\.0)))
        #expect(object["response_code"] as? Int == 418)
        #expect(object["bytes_sent"] as? Int == 135)
        #expect(object["method"] as? String == "GET")
        #expect(object["upstream_cluster"] as? String == "outbound|8000||httpbin.foo.svc.cluster.local")
        #expect(object["requested_server_name"] is NSNull)
        #expect(object["upstream_service_time"] as? String == "4")
    }

    @Test("a custom JSON format: an operator alone keeps its type, mixed text is a string", arguments: [
        (#"{"code":"%RESPONSE_CODE%","line":"%REQ(:METHOD)% %RESPONSE_CODE%"}"#, "{\"code\":418,\"line\":\"GET 418\"}\n"),
        (#"{"ua":"%REQ(USER-AGENT):4%"}"#, "{\"ua\":\"curl\"}\n"),
        (#"{ "sni" : "%REQUESTED_SERVER_NAME%" }"#, "{\"sni\":null}\n"),
    ])
    func customJSON(format: String, expected: String) throws {
        let parsed = try AccessLogFormat(encoding: .json, format: format)
        var out: [UInt8] = []
        parsed.write(Self.sample, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test("custom text formats: length limits, alternates, a newline added when missing", arguments: [
        ("%REQ(USER-AGENT):4% %RESPONSE_CODE%", "curl 418\n"),
        ("%REQ(X-MISSING?:AUTHORITY)%|%REQ(X-MISSING)%", "httpbin:8000|-\n"),
        ("%RESPONSE_FLAGS% %UPSTREAM_HOST%\n", "- 10.44.1.27:80\n"),
        ("plain text, no operator", "plain text, no operator\n"),
    ])
    func customText(format: String, expected: String) throws {
        let parsed = try AccessLogFormat(encoding: .text, format: format)
        var out: [UInt8] = []
        parsed.write(Self.sample, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test("formats Envoy refuses are refused, with the operator named", arguments: [
        ("%NO_SUCH_THING%", "unknown operator '%NO_SUCH_THING%'"),
        ("[%START_TIME", "unterminated"),
        ("%REQ()%", "a header name is required"),
        ("%REQ(X):zero%", "only ':LENGTH'"),
        ("%DURATION(x)%", "takes no argument"),
        ("%RESPONSE_CODE:3%", "needs an operator with (...)"),
    ])
    func refused(format: String, message: String) {
        #expect {
            _ = try AccessLogFormat(encoding: .text, format: format)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test("a JSON format must be an object of strings", arguments: [#"["%DURATION%"]"#, #"{"a": 1}"#, #"{"a": "%DURATION%""#, #"{"a":"x"} trailing"#])
    func refusedJSON(format: String) {
        #expect(throws: AccessLogFormatError.self) { _ = try AccessLogFormat(encoding: .json, format: format) }
    }

    @Test("START_TIME is UTC with milliseconds; custom strftime formats", arguments: [
        (Int64(1_606_339_578_409_000_000), nil as String?, "2020-11-25T21:26:18.409Z"),
        (0, nil, "1970-01-01T00:00:00.000Z"),
        (951_782_400_000_000_000, nil, "2000-02-29T00:00:00.000Z"),
        (1_606_339_578_409_123_456, "%Y/%m/%d %H:%M:%S.%6f %z", "2020/11/25 21:26:18.409123 +0000"),
        (1_606_339_578_409_123_456, "%s", "1606339578"),
    ])
    func startTime(nanoseconds: Int64, format: String?, expected: String) {
        let text = format.map { UTCTime.format(nanoseconds, $0) } ?? UTCTime.iso8601Milliseconds(nanoseconds)
        #expect(text == expected)
    }
}
