import Mustache

/// A parsed HAProxy configuration template (swift-mustache), rendering plain text: HAProxy configs are not HTML,
/// so nothing is escaped (member strings are sanitized in the context instead).
public struct HAProxyTemplateRenderer: Sendable {
    /// The template's path (or `builtin:NAME`), as error messages and the rendered header name it.
    public let name: String
    private let template: MustacheTemplate

    /// Rendering is text, not HTML. The pragma is glued onto the first line (no newline), so line numbers in
    /// parse errors stay the template's own; only columns on line 1 need shifting back.
    private static let pragma = "{{% CONTENT_TYPE: TEXT}}"

    /// Parses `source`; syntax errors name `name`, the line, the column and the problem.
    public init(source: String, name: String) throws(HAProxyActionError) {
        self.name = name
        do {
            template = try MustacheTemplate(string: Self.pragma + source)
        } catch let error as MustacheTemplate.ParserError {
            // Errors found at the end of the text (an unclosed section or tag) are reported where it was opened.
            if let opened = TemplateDiagnostics.unclosed(in: source, parserError: error.error) {
                throw .templateSyntax(
                    file: name, line: opened.line, column: opened.column, reason: opened.reason,
                    lineText: opened.lineText)
            }
            let column = error.context.lineNumber == 1
                ? max(1, error.context.columnNumber - Self.pragma.count) : error.context.columnNumber
            var lineText = error.context.line
            if error.context.lineNumber == 1, lineText.hasPrefix(Self.pragma) {
                lineText = String(lineText.dropFirst(Self.pragma.count))
            }
            throw .templateSyntax(
                file: name, line: error.context.lineNumber, column: column,
                reason: Self.explain(error.error), lineText: lineText)
        } catch {
            throw .templateSyntax(file: name, line: 1, column: 1, reason: "\(error)", lineText: "")
        }
    }

    /// Loads a template file, or a built-in one (`builtin:http|sticky|tcp`). The default path falls back to the
    /// built-in copy when it does not exist, so a bare `rumor agent` needs no template on disk.
    public static func load(_ path: String) throws(HAProxyActionError) -> HAProxyTemplateRenderer {
        if path.hasPrefix("builtin:"), let builtin = BuiltinTemplates.named(path) {
            return try HAProxyTemplateRenderer(source: builtin.source, name: path)
        }
        if path == HAProxyActionConfiguration.defaultTemplatePath, !FileSystem.exists(path),
            let builtin = BuiltinTemplates.named("http")
        {
            return try HAProxyTemplateRenderer(source: builtin.source, name: "builtin:http")
        }
        return try HAProxyTemplateRenderer(source: FileSystem.readText(path), name: path)
    }

    public func render(_ context: [String: Any]) -> String {
        template.render(context)
    }

    private static func explain(_ error: any Error) -> String {
        guard let e = error as? MustacheTemplate.Error else {
            return "\(error)" == "overflow" ? "unexpected end of template" : "\(error)"
        }
        switch e {
        case .sectionCloseNameIncorrect: return "closing tag does not match the open section"
        case .unfinishedName: return "unfinished tag (missing }})"
        case .expectedSectionEnd: return "section is never closed (missing {{/name}})"
        case .invalidSetDelimiter: return "malformed set-delimiter tag"
        case .transformAppliedToInheritanceSection: return "transform applied to an inheritance section"
        case .illegalTokenInsideInheritSection: return "illegal tag inside an inherited section"
        case .textInsideInheritSection: return "text inside an inherited section"
        case .invalidConfigVariableSyntax: return "malformed pragma {{% ... }}"
        case .unrecognisedConfigVariable: return "unknown pragma"
        }
    }
}

/// Finds where an unclosed section or tag was opened: swift-mustache reports those at the end of the text.
enum TemplateDiagnostics {
    struct Location {
        var line: Int
        var column: Int
        var reason: String
        var lineText: String
    }

    static func unclosed(in source: String, parserError: any Error) -> Location? {
        let atEnd = (parserError as? MustacheTemplate.Error) == .expectedSectionEnd || "\(parserError)" == "overflow"
        guard atEnd, !source.contains("{{=") else { return nil }  // custom delimiters: trust the parser
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        var stack: [(name: String, line: Int, column: Int)] = []
        for (lineIndex, line) in lines.enumerated() {
            var rest = line[...]
            while let open = rest.firstRange(of: "{{") {
                let column = line.distance(from: line.startIndex, to: open.lowerBound) + 1
                guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                    return Location(
                        line: lineIndex + 1, column: column, reason: "tag is never finished (missing }})",
                        lineText: String(line))
                }
                let tag = rest[open.upperBound..<close.lowerBound].drop { $0 == " " }
                let name = String(tag.dropFirst()).trimmingSpaces()
                if tag.hasPrefix("#") || tag.hasPrefix("^") {
                    stack.append((name, lineIndex + 1, column))
                } else if tag.hasPrefix("/"), let last = stack.indices.last, stack[last].name == name {
                    stack.removeLast()
                }
                rest = rest[close.upperBound...]
            }
        }
        guard let open = stack.last else { return nil }
        return Location(
            line: open.line, column: open.column,
            reason: "section \"\(open.name)\" is never closed (missing {{/\(open.name)}})",
            lineText: String(lines[open.line - 1]))
    }
}
