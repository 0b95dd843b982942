import RumorSupport
/// Turns template text into nodes in one pass over its UTF-8 bytes, applying the spec's standalone rule: a
/// line holding only whitespace and one section, inverted, closing, comment or set-delimiter tag disappears
/// entirely, so templates can put `{{#slots}}` on a line of its own without leaving blank lines behind.
struct MustacheParser {
    private typealias Node = MustacheTemplate.Node

    /// An open section: what it collects, and where it was opened (for the error if it is never closed).
    private struct Frame {
        var name: String
        var path: [String]
        var inverted: Bool
        var nodes: [Node] = []
        var openedAt: Int
    }

    private let bytes: [UInt8]
    private var pos = 0
    private var open: [UInt8] = Array("{{".utf8)
    private var close: [UInt8] = Array("}}".utf8)
    private var lineStart = 0
    private var tagOnLine = false
    private var text: [UInt8] = []
    private var frames: [Frame]

    init(_ source: String) {
        bytes = Array(source.utf8)
        frames = [Frame(name: "", path: [], inverted: false, openedAt: 0)]
    }

    mutating func parse() throws(MustacheSyntaxError) -> [MustacheTemplate.Node] {
        while pos < bytes.count {
            if matches(open, at: pos) {
                try tag()
            } else {
                if bytes[pos] == UInt8(ascii: "\n") {
                    lineStart = pos + 1
                    tagOnLine = false
                }
                text.append(bytes[pos])
                pos += 1
            }
        }
        flushText()
        if frames.count > 1, let unclosed = frames.last {
            throw error(
                at: unclosed.openedAt,
                "section \"\(unclosed.name)\" is never closed (missing \(tagText("/" + unclosed.name)))")
        }
        return frames[0].nodes
    }

    // MARK: Tags

    private mutating func tag() throws(MustacheSyntaxError) {
        let start = pos
        var contentStart = pos + open.count
        let sigil: UInt8? = contentStart < bytes.count && Self.sigils.contains(bytes[contentStart])
            ? bytes[contentStart] : nil
        if sigil != nil { contentStart += 1 }
        let terminator: [UInt8] = switch sigil {
        case UInt8(ascii: "{"): [UInt8(ascii: "}")] + close
        case UInt8(ascii: "="): [UInt8(ascii: "=")] + close
        default: close
        }
        guard let contentEnd = find(terminator, from: contentStart) else {
            throw error(at: start, "unfinished tag (missing \(String(decoding: terminator, as: UTF8.self)))")
        }
        let content = String(decoding: bytes[contentStart..<contentEnd], as: UTF8.self).trimmingSpaces()
        pos = contentEnd + terminator.count

        if let sigil, Self.standaloneSigils.contains(sigil), isStandalone(tagStart: start) {
            text.removeLast(start - lineStart)  // the indentation before the tag
            skipRestOfLine()
        } else {
            tagOnLine = true
        }
        flushText()

        switch sigil {
        case UInt8(ascii: "!"):
            break
        case UInt8(ascii: "="):
            try setDelimiters(content, at: start)
        case UInt8(ascii: "#"), UInt8(ascii: "^"):
            let path = try names(content, at: start)
            frames.append(Frame(name: content, path: path, inverted: sigil == UInt8(ascii: "^"), openedAt: start))
        case UInt8(ascii: "/"):
            try closeSection(content, at: start)
        case UInt8(ascii: ">"):
            throw error(at: start, "partials (\(tagText(">"))) are not supported: a template is one file")
        case UInt8(ascii: "<"), UInt8(ascii: "$"):
            throw error(at: start, "template inheritance (\(tagText("<")), \(tagText("$"))) is not supported")
        case UInt8(ascii: "%"):
            throw error(at: start, "pragmas (\(tagText("%"))) are not supported")
        default:  // a variable: {{name}}, {{&name}} or {{{name}}}, all unescaped in text output
            frames[frames.count - 1].nodes.append(.variable(try names(content, at: start)))
        }
    }

    private mutating func closeSection(_ name: String, at start: Int) throws(MustacheSyntaxError) {
        guard frames.count > 1, let section = frames.last else {
            throw error(at: start, "closing tag \(tagText("/" + name)) has no open section")
        }
        guard section.name == name else {
            throw error(
                at: start,
                "closing tag \(tagText("/" + name)) does not match the open section \"\(section.name)\" "
                    + "(opened on line \(location(of: section.openedAt).line))")
        }
        frames.removeLast()
        frames[frames.count - 1].nodes.append(.section(section.path, section.nodes, inverted: section.inverted))
    }

    private mutating func setDelimiters(_ content: String, at start: Int) throws(MustacheSyntaxError) {
        let parts = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, !parts.contains(where: { $0.contains("=") }) else {
            throw error(at: start, "malformed set-delimiter tag (expected {{=OPEN CLOSE=}})")
        }
        open = Array(parts[0].utf8)
        close = Array(parts[1].utf8)
    }

    /// A tag name split at dots: `.` alone is the current item; `a.b` looks up `b` inside `a`.
    private func names(_ content: String, at start: Int) throws(MustacheSyntaxError) -> [String] {
        if content == "." { return [] }
        let parts = content.split(separator: ".", omittingEmptySubsequences: false)
        guard !content.isEmpty, !parts.contains(where: \.isEmpty),
            !content.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" })
        else {
            throw error(at: start, content.isEmpty ? "empty tag" : "malformed name \"\(content)\" in tag")
        }
        return parts.map(String.init)
    }

    // MARK: Standalone lines

    /// Only whitespace (and no other tag) before the tag on its line, and only whitespace up to the line's end.
    private func isStandalone(tagStart: Int) -> Bool {
        guard !tagOnLine, bytes[lineStart..<tagStart].allSatisfy(Self.isBlank) else { return false }
        var i = pos
        while i < bytes.count, Self.isBlank(bytes[i]) { i += 1 }
        return i == bytes.count || bytes[i] == UInt8(ascii: "\n")
            || (bytes[i] == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n"))
    }

    private mutating func skipRestOfLine() {
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\n") { pos += 1 }
        if pos < bytes.count { pos += 1 }
        lineStart = pos
        tagOnLine = false
    }

    // MARK: Helpers

    private static let sigils = Set("#^/!&{=><$%".utf8)
    private static let standaloneSigils = Set("#^/!=><$%".utf8)

    private static func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    private mutating func flushText() {
        guard !text.isEmpty else { return }
        frames[frames.count - 1].nodes.append(.text(String(decoding: text, as: UTF8.self)))
        text.removeAll(keepingCapacity: true)
    }

    private func matches(_ needle: [UInt8], at i: Int) -> Bool {
        i + needle.count <= bytes.count && bytes[i..<(i + needle.count)].elementsEqual(needle)
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + needle.count <= bytes.count {
            if matches(needle, at: i) { return i }
            i += 1
        }
        return nil
    }

    private func tagText(_ inner: String) -> String {
        String(decoding: open, as: UTF8.self) + inner + String(decoding: close, as: UTF8.self)
    }

    private func location(of offset: Int) -> (line: Int, column: Int, start: Int) {
        var line = 1
        var start = 0
        for i in 0..<offset where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            start = i + 1
        }
        return (line, offset - start + 1, start)
    }

    private func error(at offset: Int, _ reason: String) -> MustacheSyntaxError {
        let (line, column, start) = location(of: offset)
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
        return MustacheSyntaxError(
            line: line, column: column, reason: reason, lineText: String(decoding: bytes[start..<end], as: UTF8.self))
    }
}
