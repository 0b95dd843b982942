import RumorCore
import Testing
@testable import RumorActions

/// The renderer against cases from the Mustache spec (interpolation, sections, inverted, comments, delimiters)
/// that config templates rely on, plus the errors a broken template must produce.
@Suite struct MustacheTests {
    static func render(_ source: String, _ context: MustacheValue = [:]) throws -> String {
        try MustacheTemplate(source).render(context)
    }

    static func syntaxError(_ source: String) -> MustacheSyntaxError? {
        do {
            _ = try MustacheTemplate(source)
            return nil
        } catch {
            return error
        }
    }

    @Test func interpolationIsNotEscaped() throws {
        let context: MustacheValue = ["a": "<b>&\"", "n": 42, "t": true, "f": false]
        #expect(try Self.render("{{a}} {{{a}}} {{& a}} {{ n }} {{t}} {{f}} [{{missing}}]", context)
            == "<b>&\" <b>&\" <b>&\" 42 true false []")
    }

    @Test func dottedNamesResolveFirstPartUpTheStackAndTheRestInside() throws {
        let context: MustacheValue = ["a": ["b": ["c": "deep"]], "x": "outer", "list": [["y": 1], ["y": 2]]]
        #expect(try Self.render("{{a.b.c}} {{a.missing.c}}", context) == "deep ")
        #expect(try Self.render("{{#list}}{{y}}{{x}},{{/list}}", context) == "1outer,2outer,")
        // `a.b` found `a` but no `b` inside: it does not fall back to an outer `b`.
        #expect(try Self.render("{{#a}}{{b.c}}{{/a}}|{{#list}}{{a.y}}{{/list}}", context) == "deep|")
    }

    @Test func sectionsIterateListsPushMapsAndTestBooleans() throws {
        let context: MustacheValue = [
            "items": ["x", "y"], "empty": [], "yes": true, "no": false, "m": ["k": "v"], "s": "str", "zero": 0,
        ]
        #expect(try Self.render("{{#items}}<{{.}}>{{/items}}", context) == "<x><y>")
        #expect(try Self.render("{{#empty}}E{{/empty}}{{#no}}N{{/no}}{{#missing}}M{{/missing}}", context) == "")
        #expect(try Self.render("{{#yes}}Y{{/yes}}{{#m}}{{k}}{{/m}}{{#s}}[{{.}}]{{/s}}{{#zero}}z{{.}}{{/zero}}", context)
            == "Yv[str]z0")
        #expect(try Self.render("{{^empty}}E{{/empty}}{{^no}}N{{/no}}{{^missing}}M{{/missing}}{{^yes}}Y{{/yes}}", context)
            == "ENM")
        #expect(try Self.render("{{#items}}{{#yes}}{{.}}{{/yes}}{{/items}}", context) == "xy")
    }

    @Test func standaloneTagLinesDisappear() throws {
        let context: MustacheValue = ["items": ["a", "b"]]
        #expect(try Self.render("begin\n  {{#items}}\n  - {{.}}\n  {{/items}}\nend\n", context)
            == "begin\n  - a\n  - b\nend\n")
        #expect(try Self.render("x\r\n{{! comment }}\r\ny", context) == "x\r\ny")
        #expect(try Self.render("  {{^items}}\n  none\n  {{/items}}", context) == "")  // at end of text
        #expect(try Self.render("{{!\nmulti-line\n}}\nafter", context) == "after")
        // Not standalone: another tag or text shares the line.
        #expect(try Self.render(" {{#items}}{{.}}{{/items}} \n", context) == " ab \n")
        #expect(try Self.render("x {{! c }}\ny", context) == "x \ny")
        #expect(try Self.render("  {{.}}\n", "v") == "  v\n")
    }

    @Test func setDelimiterChangesTheTagMarkers() throws {
        #expect(try Self.render("{{=<% %>=}}\n<%a%> {{a}} <%={{ }}=%>{{a}}", ["a": "A"]) == "A {{a}} A")
    }

    @Test func errorsNameTheLineColumnAndProblem() {
        var e = Self.syntaxError("a\n  {{#x}}\n  {{/y}}\n")
        #expect(e?.line == 3 && e?.column == 3 && e?.lineText == "  {{/y}}")
        #expect(e?.reason == "closing tag {{/y}} does not match the open section \"x\" (opened on line 2)")
        e = Self.syntaxError("a\nb {{#x}}\nc")
        #expect(e?.line == 2 && e?.column == 3 && e?.reason == "section \"x\" is never closed (missing {{/x}})")
        e = Self.syntaxError("global {{name\n")
        #expect(e?.line == 1 && e?.column == 8 && e?.reason == "unfinished tag (missing }})")
        #expect(Self.syntaxError("{{{a}}")?.reason == "unfinished tag (missing }}})")
        #expect(Self.syntaxError("{{/x}}")?.reason == "closing tag {{/x}} has no open section")
        #expect(Self.syntaxError("{{}}")?.reason == "empty tag")
        #expect(Self.syntaxError("{{a b}}")?.reason == "malformed name \"a b\" in tag")
        #expect(Self.syntaxError("{{a..b}}")?.reason == "malformed name \"a..b\" in tag")
        #expect(Self.syntaxError("{{=<%=}}")?.reason.hasPrefix("malformed set-delimiter tag") == true)
        #expect(Self.syntaxError("{{> other}}")?.reason.hasPrefix("partials ({{>}}) are not supported") == true)
        #expect(Self.syntaxError("{{<parent}}{{/parent}}")?.reason.hasPrefix("template inheritance") == true)
        #expect(Self.syntaxError("{{%PRAGMA}}")?.reason.hasPrefix("pragmas") == true)
    }

    @Test func hostileTextNeverTraps() {
        var rng = SplitMix64(seed: 7)  // fixed: a failure replays
        let alphabet = Array("{}#^/!&=>.ab \n\r\t%<$")
        for _ in 0..<3000 {
            let source = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            if let template = try? MustacheTemplate(source) {
                _ = template.render(["a": ["b": [true, "x"]], "b": false])
            }
        }
    }
}
