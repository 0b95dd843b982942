import Testing

import RumorSupport

@Suite struct JSONTests {
    func strings(_ text: String) throws -> [String] {
        guard case .array(let items) = try JSON.parse(text) else { throw JSON.ParseError(reason: "shape", line: 0, column: 0, path: "") }
        return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    @Test func parsesEscapesAndUnicode() throws {
        #expect(try strings(#"["a\"b", "\\\/\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "é"]"#)
            == ["a\"b", "\\/\u{8}\u{c}\n\r\t", "é€", "😀", "é"])
        #expect(try strings(" [ ] ") == [])
    }

    @Test(arguments: [
        #"["\ud83d"]"#, #"["\ude00"]"#, #"["\ud83d\u0041"]"#, #"["\x"]"#, #"["\u12"]"#, #"["\u12g4"]"#,
        "[01]", "[1.]", "[-]", "[1e]", "[.5]", "[+1]", "[tru]", "[nul]", "{\"a\" 1}", "{1:2}", "[\"a\"", "\"abc",
        "[1e999]", "", "  ", "{} x",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parse(text) }
    }

    @Test func acceptsEveryKindOfValue() throws {
        let value = try JSON.parse(#"{"a": [0, -1.5e+3, 2E-2, true, false, null], "c": {"d": "e"}}"#)
        #expect(value["a"] == .array([.number(0), .number(-1500), .number(0.02), .bool(true), .bool(false), .null]))
        #expect(value["c"]?["d"] == .string("e"))
    }

    @Test func rejectsInvalidUTF8NamingTheKey() {
        #expect(throws: JSON.ParseError(reason: "invalid UTF-8 in a string", line: 1, column: 14, path: "node_name")) {
            try JSON.parse(Array(#"{"node_name":""#.utf8) + [0xc3, 0x28, 0x22, 0x7d])
        }
    }

    @Test func errorsNameTheKeyPath() {
        #expect(throws: JSON.ParseError(reason: "expected a value", line: 2, column: 11, path: "tags.role")) {
            try JSON.parse("{\"tags\": {\n  \"role\": }}")
        }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect {
            try JSON.parse(deep)
        } throws: { error in
            (error as? JSON.ParseError)?.reason == "nesting deeper than \(JSON.maxDepth)"
        }
    }

    @Test func writerIsGoMarshalIndent() throws {
        let texts = ["plain", "quote\" back\\slash", "ctl\u{1}\n", "<&>", "é😀\u{2028}"]
        let written = JSON.array(texts.map(JSON.string)).serialized(indent: 2)
        #expect(written.contains(#"\u0001"#))
        #expect(written.contains(#"\u003c\u0026\u003e"#))
        #expect(written.contains(#"\u2028"#))
        #expect(written.hasPrefix("[\n  \"plain\",\n"))
        #expect(try strings(written) == texts)
        #expect(JSON.array([]).serialized(indent: 2) == "[]")
        #expect(JSON.object([("k", .number(3)), ("m", .strings(["b": "1", "a": "2"]))]).serialized(indent: 2)
            == "{\n  \"k\": 3,\n  \"m\": {\n    \"a\": \"2\",\n    \"b\": \"1\"\n  }\n}")
    }

    @Test func excerptsStayOnOneShortLine() {
        let huge = String(repeating: "x", count: 1 << 20)
        #expect(JSON.excerpt(huge).count < 100)
        #expect(JSON.excerpt("a\nb") == #""a\nb""#)
    }
}
