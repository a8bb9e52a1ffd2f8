import MizzenConfig
import Testing
@testable import MizzenSidecar

/// A JSON text read as the webhook reads request bodies.
func json(_ text: String) throws -> JSONValue {
    switch JSONReader.read(text) {
    case .success(let node): return try JSONValue(node)
    case .failure(let problem): throw problem
    }
}

/// RFC 6902 `add`, `remove` and `replace`, applied one after another as a JSON Patch consumer
/// (the API server's evanphx/json-patch) applies them: written from the RFC, separately from the
/// diff, so that a diff the RFC reads differently fails here.
enum PatchApplier {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func apply(_ patch: JSONPatch, to document: JSONValue) throws -> JSONValue {
        var result = document
        for operation in patch.operations {
            result = try apply(operation, to: result)
        }
        return result
    }

    static func apply(_ operation: JSONPatch.Operation, to document: JSONValue) throws -> JSONValue {
        let tokens = try self.tokens(operation.path)
        return try change(document, tokens[...], operation)
    }

    /// RFC 6901: `""` is the whole document; otherwise `/`-separated tokens, `~1` then `~0` undone.
    static func tokens(_ pointer: String) throws -> [String] {
        guard !pointer.isEmpty else { return [] }
        guard pointer.hasPrefix("/") else { throw Failure(description: "pointer \(pointer) does not start with /") }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    private static func change(_ value: JSONValue, _ tokens: ArraySlice<String>, _ operation: JSONPatch.Operation) throws -> JSONValue {
        guard let token = tokens.first else {
            switch operation {
            case .add(_, let new), .replace(_, let new): return new
            case .remove: throw Failure(description: "cannot remove the whole document")
            }
        }
        let last = tokens.count == 1
        switch value {
        case .object(var members):
            let index = members.firstIndex { $0.key == token }
            if !last {
                guard let index else { throw Failure(description: "no member \(token) on the way to \(operation.path)") }
                members[index].value = try change(members[index].value, tokens.dropFirst(), operation)
                return .object(members)
            }
            switch operation {
            case .add(_, let new):
                if let index { members[index].value = new } else { members.append(JSONValue.Member(token, new)) }
            case .replace(_, let new):
                guard let index else { throw Failure(description: "replace of missing member \(operation.path)") }
                members[index].value = new
            case .remove:
                guard let index else { throw Failure(description: "remove of missing member \(operation.path)") }
                members.remove(at: index)
            }
            return .object(members)
        case .array(var items):
            if last, token == "-", case .add(_, let new) = operation {
                items.append(new)
                return .array(items)
            }
            guard let index = Int(token), index >= 0, String(index) == token else {
                throw Failure(description: "\(token) is not an array index in \(operation.path)")
            }
            if !last {
                guard index < items.count else { throw Failure(description: "index \(index) out of range in \(operation.path)") }
                items[index] = try change(items[index], tokens.dropFirst(), operation)
                return .array(items)
            }
            switch operation {
            case .add(_, let new):
                guard index <= items.count else { throw Failure(description: "add index \(index) out of range") }
                items.insert(new, at: index)
            case .replace(_, let new):
                guard index < items.count else { throw Failure(description: "replace index \(index) out of range") }
                items[index] = new
            case .remove:
                guard index < items.count else { throw Failure(description: "remove index \(index) out of range") }
                items.remove(at: index)
            }
            return .array(items)
        default:
            throw Failure(description: "\(operation.path) goes through a scalar")
        }
    }
}

/// Two documents and the patch between them.
struct DiffCase: Sendable, CustomTestStringConvertible {
    var name: String
    var from: String
    var to: String
    var patch: String
    var testDescription: String { name }
}

let diffCases: [DiffCase] = [
    DiffCase(name: "equal documents: no operation", from: #"{"a":1,"b":[1,2]}"#, to: #"{"a":1,"b":[1,2]}"#, patch: "[]"),
    DiffCase(name: "key order does not matter", from: #"{"a":1,"b":{"x":true,"y":null}}"#, to: #"{"b":{"y":null,"x":true},"a":1}"#, patch: "[]"),
    DiffCase(name: "a new key is added", from: #"{"a":1}"#, to: #"{"a":1,"b":"two"}"#, patch: #"[{"op":"add","path":"/b","value":"two"}]"#),
    DiffCase(name: "a missing key is removed", from: #"{"a":1,"b":2}"#, to: #"{"a":1}"#, patch: #"[{"op":"remove","path":"/b"}]"#),
    DiffCase(name: "a changed scalar is replaced", from: #"{"a":1}"#, to: #"{"a":"1"}"#, patch: #"[{"op":"replace","path":"/a","value":"1"}]"#),
    DiffCase(name: "a new object is added whole", from: #"{"metadata":{"name":"p"}}"#, to: #"{"metadata":{"name":"p","labels":{"app":"web"}}}"#,
             patch: #"[{"op":"add","path":"/metadata/labels","value":{"app":"web"}}]"#),
    DiffCase(name: "nested keys are compared below", from: #"{"metadata":{"labels":{"app":"web"}}}"#,
             to: #"{"metadata":{"labels":{"app":"web","version":"v1"}}}"#,
             patch: #"[{"op":"add","path":"/metadata/labels/version","value":"v1"}]"#),
    DiffCase(name: "slash in a key is ~1", from: #"{"annotations":{}}"#, to: #"{"annotations":{"sidecar.istio.io/status":"{}"}}"#,
             patch: #"[{"op":"add","path":"/annotations/sidecar.istio.io~1status","value":"{}"}]"#),
    DiffCase(name: "tilde in a key is ~0, before slashes", from: #"{}"#, to: #"{"a~/b":1}"#, patch: #"[{"op":"add","path":"/a~0~1b","value":1}]"#),
    DiffCase(name: "an empty key", from: #"{"":1}"#, to: #"{"":2}"#, patch: #"[{"op":"replace","path":"/","value":2}]"#),
    DiffCase(name: "null becomes an object: replaced", from: #"{"metadata":{"annotations":null}}"#, to: #"{"metadata":{"annotations":{"a":"b"}}}"#,
             patch: #"[{"op":"replace","path":"/metadata/annotations","value":{"a":"b"}}]"#),
    DiffCase(name: "an object becomes an array: replaced", from: #"{"a":{"b":1}}"#, to: #"{"a":[1]}"#,
             patch: #"[{"op":"replace","path":"/a","value":[1]}]"#),
    DiffCase(name: "the whole document replaced", from: #"1"#, to: #""x""#, patch: #"[{"op":"replace","path":"","value":"x"}]"#),
    DiffCase(name: "an array the original is a prefix of: appended at /-", from: #"{"v":[{"name":"a"}]}"#,
             to: #"{"v":[{"name":"a"},{"name":"b"},{"name":"c"}]}"#,
             patch: #"[{"op":"add","path":"/v/-","value":{"name":"b"}},{"op":"add","path":"/v/-","value":{"name":"c"}}]"#),
    DiffCase(name: "an empty array filled", from: #"{"v":[]}"#, to: #"{"v":[1,2]}"#,
             patch: #"[{"op":"add","path":"/v/-","value":1},{"op":"add","path":"/v/-","value":2}]"#),
    DiffCase(name: "an array the original is a suffix of: inserted at 0, 1", from: #"{"v":["app"]}"#, to: #"{"v":["init","proxy","app"]}"#,
             patch: #"[{"op":"add","path":"/v/0","value":"init"},{"op":"add","path":"/v/1","value":"proxy"}]"#),
    DiffCase(name: "inserted in the middle", from: #"[1,3]"#, to: #"[1,2,3]"#, patch: #"[{"op":"add","path":"/1","value":2}]"#),
    DiffCase(name: "removed from the middle", from: #"[1,2,3]"#, to: #"[1,3]"#, patch: #"[{"op":"remove","path":"/1"}]"#),
    DiffCase(name: "the tail removed from the highest index down", from: #"[1,2,3]"#, to: #"[1]"#,
             patch: #"[{"op":"remove","path":"/2"},{"op":"remove","path":"/1"}]"#),
    DiffCase(name: "an element edited in place", from: #"[{"name":"app","image":"a:1"}]"#, to: #"[{"name":"app","image":"a:2"}]"#,
             patch: #"[{"op":"replace","path":"/0/image","value":"a:2"}]"#),
    DiffCase(name: "an element naming another entry is replaced whole", from: #"[{"name":"a","x":1},"end"]"#, to: #"[{"name":"b","x":1},"end"]"#,
             patch: #"[{"op":"replace","path":"/0","value":{"name":"b","x":1}}]"#),
    DiffCase(name: "probes rewritten and the proxy appended",
             from: #"{"containers":[{"name":"app","readinessProbe":{"httpGet":{"path":"/health","port":9080}}}]}"#,
             to: #"{"containers":[{"name":"app","readinessProbe":{"httpGet":{"path":"/app-health/app/readyz","port":15020}}},{"name":"istio-proxy"}]}"#,
             patch: #"[{"op":"replace","path":"/containers/0/readinessProbe/httpGet/path","value":"/app-health/app/readyz"},"#
                 + #"{"op":"replace","path":"/containers/0/readinessProbe/httpGet/port","value":15020},"#
                 + #"{"op":"add","path":"/containers/-","value":{"name":"istio-proxy"}}]"#),
    DiffCase(name: "native sidecars before an edited init container", from: #"[{"name":"setup","args":["a"]}]"#,
             to: #"[{"name":"istio-init"},{"name":"istio-proxy"},{"name":"setup","args":["b"]}]"#,
             patch: #"[{"op":"replace","path":"/0","value":{"name":"istio-init"}},{"op":"add","path":"/-","value":{"name":"istio-proxy"}},"#
                 + #"{"op":"add","path":"/-","value":{"name":"setup","args":["b"]}}]"#),
    DiffCase(name: "numbers compare by their text", from: #"{"a":1}"#, to: #"{"a":1.0}"#, patch: #"[{"op":"replace","path":"/a","value":1.0}]"#),
    DiffCase(name: "strings escaped as Go escapes them", from: #"{}"#, to: #"{"a":"<b>&\"\n"}"#,
             patch: #"[{"op":"add","path":"/a","value":"\u003cb\u003e\u0026\"\n"}]"#),
]

/// A YAML scalar and the JSON Kubernetes makes of it.
struct JSONScalarCase: Sendable, CustomTestStringConvertible {
    var yaml: String
    var json: String
    var testDescription: String { yaml }
}

let jsonScalarCases: [JSONScalarCase] = [
    JSONScalarCase(yaml: "v: 12", json: #"{"v":12}"#),
    JSONScalarCase(yaml: "v: 0x1F", json: #"{"v":31}"#),
    JSONScalarCase(yaml: "v: 0o17", json: #"{"v":15}"#),
    JSONScalarCase(yaml: "v: +12", json: #"{"v":12}"#),
    JSONScalarCase(yaml: "v: .5", json: #"{"v":0.5}"#),
    JSONScalarCase(yaml: "v: 1e3", json: #"{"v":1e3}"#),
    JSONScalarCase(yaml: "v: 123456789012345678901234", json: #"{"v":123456789012345678901234}"#),
    JSONScalarCase(yaml: "v: \"12\"", json: #"{"v":"12"}"#),
    JSONScalarCase(yaml: "v: 'true'", json: #"{"v":"true"}"#),
    JSONScalarCase(yaml: "v: True", json: #"{"v":true}"#),
    JSONScalarCase(yaml: "v: ~", json: #"{"v":null}"#),
    JSONScalarCase(yaml: "v:", json: #"{"v":null}"#),
    JSONScalarCase(yaml: "v: !!str 12", json: #"{"v":"12"}"#),
    JSONScalarCase(yaml: "v: [a, {b: c}]", json: #"{"v":["a",{"b":"c"}]}"#),
]

struct JSONPatchTests {
    @Test(arguments: diffCases)
    func diffIsTheExpectedPatch(_ test: DiffCase) throws {
        let patch = JSONPatch.diff(from: try json(test.from), to: try json(test.to))
        #expect(patch.description == test.patch)
    }

    @Test(arguments: diffCases)
    func applyingThePatchGivesTheTarget(_ test: DiffCase) throws {
        let original = try json(test.from), target = try json(test.to)
        let patched = try PatchApplier.apply(JSONPatch.diff(from: original, to: target), to: original)
        #expect(patched == target, "\(patched)")
    }

    @Test(arguments: diffCases)
    func thePatchTextIsJSONThatReadsBack(_ test: DiffCase) throws {
        let text = JSONPatch.diff(from: try json(test.from), to: try json(test.to)).description
        guard case .array(let operations) = try json(text) else {
            Issue.record("not a JSON array: \(text)")
            return
        }
        for operation in operations {
            guard case .string(let op) = operation["op"], case .string = operation["path"] else {
                Issue.record("no op or path: \(operation)")
                continue
            }
            #expect(["add", "remove", "replace"].contains(op))
            #expect((operation["value"] == nil) == (op == "remove"))
        }
    }

    @Test(arguments: [("a", "a"), ("a/b", "a~1b"), ("a~b", "a~0b"), ("~1", "~01"), ("/~", "~1~0"), ("", "")])
    func pointerTokensEscapeTildeThenSlash(_ token: String, _ escaped: String) throws {
        #expect(JSONPatch.escape(token) == escaped)
        #expect(try PatchApplier.tokens("/" + escaped) == [token])
    }

    @Test(arguments: jsonScalarCases)
    func yamlScalarsBecomeTheJSONKubernetesReads(_ test: JSONScalarCase) throws {
        let stream = YAMLComposer.compose(Array(test.yaml.utf8))
        let root = try #require(stream.documents.first?.root, "\(stream.problems)")
        #expect(try JSONValue(root).description == test.json)
    }

    /// Go's encoding/json keeps a repeated key's last value; its place stays the first.
    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        #expect(try json(#"{"b":1,"a":2,"b":3}"#).description == #"{"b":3,"a":2}"#)
    }

    @Test(arguments: ["v: .inf", "v: .nan", "? [a]\n: b"])
    func whatJSONCannotHoldIsRefused(_ yaml: String) throws {
        let root = try #require(YAMLComposer.compose(Array(yaml.utf8)).documents.first?.root)
        #expect(throws: InjectionError.self) { try JSONValue(root) }
    }

    /// Every pod the injector changes: the patch of the change, applied, is the injected pod.
    @Test(arguments: kindCases.prefix(1).map(\.yaml) + [helloDeployment(), helloDeployment(annotations: ["sidecar.istio.io/nativeSidecar": "true"])])
    func thePatchOfAnInjectionRebuildsTheInjectedPod(_ yaml: String) throws {
        let stream = YAMLComposer.compose(Array(yaml.utf8))
        let root = try #require(stream.documents.first?.root)
        let pod = root["kind"]?.scalarValue == "Pod" ? root : try #require(root["spec"]?["template"])
        let injection = try SidecarInjector().inject(pod: pod, namespace: "default", source: "test")
        #expect(injection.note.outcome == .injected)
        let original = try JSONValue(pod), injected = try JSONValue(injection.pod)
        let patch = JSONPatch.diff(from: original, to: injected)
        #expect(!patch.operations.isEmpty)
        #expect(try PatchApplier.apply(patch, to: original) == injected)
        // Nothing the pod had is rewritten wholesale: its containers are edited, not replaced.
        #expect(!patch.operations.contains { $0.path == "/spec/containers" || $0.path == "/spec" || $0.path == "/metadata" })
    }
}
