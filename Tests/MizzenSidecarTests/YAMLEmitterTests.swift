import MizzenConfig
import Testing
@testable import MizzenSidecar

/// A YAML text whose tree must survive emit and re-parse.
struct RoundTripCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var testDescription: String { name }
}

/// How one string scalar must be written after `key: `.
struct ScalarCase: Sendable, CustomTestStringConvertible {
    var value: String
    var written: String
    var testDescription: String { "\(value.debugDescription) -> \(written)" }
}

private func compose(_ text: String) throws -> [YAMLNode?] {
    let stream = YAMLComposer.compose(Array(text.utf8))
    if let problem = stream.problems.first {
        throw RoundTripFailure(message: "line \(problem.mark.line), column \(problem.mark.column): \(problem.message)\n\(text)")
    }
    return stream.documents.map(\.root)
}

private struct RoundTripFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Same structure, same scalar text (any spelling of null is null), same kinds and tags.
func sameTree(_ a: YAMLNode?, _ b: YAMLNode?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    guard a.resolvedKind == b.resolvedKind, a.tag == b.tag else { return false }
    switch (a.content, b.content) {
    case (.scalar(let x, _), .scalar(let y, _)):
        return a.resolvedKind == .null || x == y
    case (.sequence(let x), .sequence(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { sameTree($0, $1) }
    case (.mapping(let x), .mapping(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { sameTree($0.key, $1.key) && sameTree($0.value, $1.value) }
    default:
        return false
    }
}

let roundTripCases: [RoundTripCase] = [
    RoundTripCase(name: "words YAML reads as other types", yaml: """
        a: "true"
        b: 'no'
        c: "on"
        d: "OFF"
        e: "~"
        f: "null"
        g: ""
        h: "y"
        i: "Yes"
        j: "NULL"
        plainNull: ~
        emptyNull:
        realBool: false
        """),
    RoundTripCase(name: "strings that look like numbers", yaml: """
        - "123"
        - "-7"
        - "+7"
        - "0755"
        - "0o17"
        - "0x1F"
        - "0b101"
        - "1_000"
        - "1.5"
        - ".5"
        - "1e3"
        - "-.inf"
        - ".NaN"
        - "1:20:30"
        - "2001-12-14"
        - "2001-12-14T21:59:43.10-05:00"
        - "1.0.0"
        - "15090,15021,15020"
        - 12
        - 0x1F
        - 1.5
        """),
    RoundTripCase(name: "indicators and separators", yaml: """
        - "- item"
        - "-"
        - "-p"
        - "--log_output_level=default:info"
        - "*"
        - "&anchor"
        - "!tag"
        - "|"
        - ">"
        - "'single'"
        - '"double"'
        - "%percent"
        - "@at"
        - "`tick"
        - "#hash"
        - "a #comment"
        - "a#b"
        - "key: value"
        - "key:"
        - "a:b"
        - "http://example.com:8080/path?q=1&r=2"
        - "[a]"
        - "{a: 1}"
        - ",a"
        - "a,b"
        - "? q"
        - "?q"
        - ": c"
        - "---"
        - "--- x"
        - "..."
        - "<<"
        - "$(POD_NAMESPACE)"
        """),
    RoundTripCase(name: "spaces and line breaks", yaml: """
        lead: "  two leading"
        trail: "trailing  "
        both: " both "
        tab: "a\\tb"
        literal: |
          line one
            indented
          line three
        literalKeep: |+
          kept

        literalStrip: |-
          stripped
        folded: >
          folded
          text

          paragraph
        newlines: "\\n\\nstarts with two"
        crlf: "a\\r\\nb"
        only: "\\n"
        """),
    RoundTripCase(name: "unicode and control characters", yaml: """
        accents: "café naïve"
        emoji: "🚢 mizzen"
        cjk: 日本語
        control: "a\\u0001b\\u007fc"
        nel: "a\\u0085b"
        separators: "a\\u2028b\\u2029c"
        bom: "\\uFEFFx"
        nbsp: "a\\u00A0b"
        bell: "\\a\\e\\0"
        backslash: "a\\\\b"
        quote: "it's \\"quoted\\""
        """),
    RoundTripCase(name: "nested and empty collections", yaml: """
        empty: {}
        none: []
        list:
          - []
          - {}
          - - a
            - - b
              - c
          - name: x
            ports:
              - containerPort: 80
                name: http
              - {}
            env: []
          -
          - null
        deep: {a: {b: {c: [1, {d: e}]}}}
        flow: [a, "b", 'c', {k: v}]
        """),
    RoundTripCase(name: "keys of every kind", yaml: """
        1: integer key
        true: boolean key
        ~: null key
        "quoted key": a
        "key: with colon": b
        "": empty key
        ? [a, b]
        : sequence key
        ? {x: 1}
        : mapping key
        ? - c
        : - d
          - e
        "multi\\nline key": f
        """),
    RoundTripCase(name: "a key too long to be implicit", yaml: "? \"\(String(repeating: "k", count: 1100))\"\n: long\nshort: \(String(repeating: "v", count: 2000))\n"),
    RoundTripCase(name: "tags", yaml: """
        str: !!str 123
        int: !!int "12"
        float: !!float "1"
        bool: !!bool "true"
        nulled: !!null ""
        custom: !custom value
        customQuoted: !custom "a: b"
        map: !!map
          a: 1
        seq: !!seq
          - 1
        items:
          - !thing
            a: 1
          - !!str
        """),
    RoundTripCase(name: "anchors, aliases and merge keys", yaml: """
        base: &base
          a: 1
          b: [x, y]
        copy: *base
        merged:
          <<: *base
          c: 3
        list: &list [1, 2]
        again: *list
        """),
    RoundTripCase(name: "root scalar", yaml: "just a string\n"),
    RoundTripCase(name: "root quoted reserved word", yaml: "\"null\"\n"),
    RoundTripCase(name: "root sequence of mappings", yaml: """
        - a: 1
          b:
          - 2
        - c: 3
        """),
    RoundTripCase(name: "multiple documents", yaml: """
        kind: A
        ---
        kind: B
        ---
        - 1
        ---
        text
        """),
    RoundTripCase(name: "a Kubernetes annotation full of JSON", yaml: """
        metadata:
          annotations:
            sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"imagePullSecrets":null}'
            proxy.istio.io/config: |-
              discoveryAddress: foo:123
              concurrency: 0
            empty: ""
            number: "8080"
        """),
]

let scalarCases: [ScalarCase] = [
    ScalarCase(value: "hello", written: "hello"),
    ScalarCase(value: "15090,15021,15020", written: "15090,15021,15020"),
    ScalarCase(value: "-p", written: "-p"),
    ScalarCase(value: "$(POD_NAMESPACE)", written: "$(POD_NAMESPACE)"),
    ScalarCase(value: "app=web,version=v1", written: "app=web,version=v1"),
    ScalarCase(value: "/app-health/web/readyz", written: "/app-health/web/readyz"),
    ScalarCase(value: "http://x:80/a", written: "http://x:80/a"),
    ScalarCase(value: "*", written: "'*'"),
    ScalarCase(value: "", written: "''"),
    ScalarCase(value: "15001", written: "'15001'"),
    ScalarCase(value: "2", written: "'2'"),
    ScalarCase(value: "true", written: "'true'"),
    ScalarCase(value: "no", written: "'no'"),
    ScalarCase(value: "On", written: "'On'"),
    ScalarCase(value: "~", written: "'~'"),
    ScalarCase(value: "0755", written: "'0755'"),
    ScalarCase(value: "1_000", written: "'1_000'"),
    ScalarCase(value: "2024-01-31", written: "'2024-01-31'"),
    ScalarCase(value: "a: b", written: "'a: b'"),
    ScalarCase(value: "a #b", written: "'a #b'"),
    ScalarCase(value: " lead", written: "' lead'"),
    ScalarCase(value: "it's", written: "it's"),
    ScalarCase(value: "'q'", written: "'''q'''"),
    ScalarCase(value: "{\"a\":1}", written: "'{\"a\":1}'"),
    ScalarCase(value: "two\nlines", written: "\"two\\nlines\""),
    ScalarCase(value: "tab\there", written: "\"tab\\there\""),
    ScalarCase(value: "bell\u{07}", written: "\"bell\\a\""),
]

struct YAMLEmitterTests {
    @Test(arguments: roundTripCases)
    func parseEmitParseGivesTheSameTree(_ testCase: RoundTripCase) throws {
        let first = try compose(testCase.yaml)
        let text = YAMLEmitter.stream(first)
        let second = try compose(text)
        #expect(first.count == second.count, "\(text)")
        for (a, b) in zip(first, second) {
            #expect(sameTree(a, b), "emitted:\n\(text)")
        }
        // Emitting is stable: the second emission is the first one.
        #expect(YAMLEmitter.stream(second) == text)
    }

    @Test(arguments: scalarCases)
    func quotesAStringOnlyWhenPlainWouldChangeIt(_ testCase: ScalarCase) throws {
        let node = YAMLNode.mapping([("key", .string(testCase.value))])
        let text = YAMLEmitter.document(node)
        #expect(text == "key: \(testCase.written)\n")
        let reread = try compose(text)
        #expect(reread.first??["key"]?.scalarValue == testCase.value)
        #expect(reread.first??["key"]?.resolvedKind == .string)
    }

    @Test func keepsPlainSourceScalarsPlain() throws {
        // `yes` was a boolean to Kubernetes' YAML 1.1 reader; quoting it would make it a string.
        let text = YAMLEmitter.stream(try compose("enabled: yes\nport: 0755\n"))
        #expect(text == "enabled: yes\nport: 0755\n")
    }

    @Test func writesKubernetesBlockStyle() throws {
        let source = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, labels: {app: web}}
            spec:
              template:
                spec:
                  containers:
                    - name: web
                      args: ["-p", "15001", '*']
                      ports: [{containerPort: 80, name: http}]
                  volumes: []
            """
        let text = YAMLEmitter.stream(try compose(source))
        #expect(text == """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              labels:
                app: web
            spec:
              template:
                spec:
                  containers:
                  - name: web
                    args:
                    - -p
                    - '15001'
                    - '*'
                    ports:
                    - containerPort: 80
                      name: http
                  volumes: []

            """)
    }

    @Test func separatesDocumentsWithMarkers() throws {
        let text = YAMLEmitter.stream([.mapping([("a", .integer(1))]), nil, .sequence([.boolean(true)])])
        #expect(text == "a: 1\n---\nnull\n---\n- true\n")
    }
}
