import Testing

@testable import RumorCrypto

@Suite struct JSONStringArrayTests {
    func parse(_ text: String) throws(JSONStringArray.ParseError) -> [String] {
        try JSONStringArray.parse(Array(text.utf8))
    }

    @Test func parsesEscapesAndUnicode() throws {
        #expect(try parse(#"["a\"b", "\\\/\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "é"]"#)
            == ["a\"b", "\\/\u{8}\u{c}\n\r\t", "é€", "😀", "é"])
        #expect(try parse(" [ ] ") == [])
    }

    @Test(arguments: [
        #"["\ud83d"]"#, #"["\ude00"]"#, #"["\ud83d\u0041"]"#, #"["\x"]"#, #"["\u12"]"#, #"["\u12g4"]"#,
        "[01]", "[1.]", "[-]", "[1e]", "[.5]", "[+1]", "[tru]", "[nul]", "{\"a\" 1}", "{1:2}", "[\"a\"", "\"abc",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect {
            _ = try parse(text)
        } throws: { error in
            if case JSONStringArray.ParseError.notJSON = error { return true }
            return false
        }
    }

    @Test(arguments: ["[0, -1.5e+3, 2E-2, true, false, null]", "{\"a\": [1, {\"b\": null}], \"c\": \"d\"}", "42"])
    func acceptsOtherValidJSONAsTheWrongShape(text: String) {
        #expect(throws: JSONStringArray.ParseError.notStringArray) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONStringArray.ParseError.notJSON("invalid UTF-8 in a string")) {
            try JSONStringArray.parse([0x5b, 0x22, 0xc3, 0x28, 0x22, 0x5d])
        }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONStringArray.ParseError.notJSON("nesting deeper than 256 at byte 256")) { try parse(deep) }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let strings = ["plain", "quote\" back\\slash", "ctl\u{1}\n", "<&>", "é😀"]
        let written = JSONStringArray.write(strings)
        #expect(String(decoding: written, as: UTF8.self).contains(#"\u0001"#))
        #expect(String(decoding: written, as: UTF8.self).contains(#"\u003c\u0026\u003e"#))
        #expect(try JSONStringArray.parse(written) == strings)
        #expect(JSONStringArray.write([]) == Array("[]".utf8))
    }
}
