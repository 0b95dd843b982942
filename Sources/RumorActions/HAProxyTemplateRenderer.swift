import RumorSupport
/// A parsed HAProxy configuration template, rendering plain text: HAProxy configs are not HTML, so nothing is
/// escaped (member strings are sanitized in the context instead).
public struct HAProxyTemplateRenderer: Sendable {
    /// The template's path (or `builtin:NAME`), as error messages and the rendered header name it.
    public let name: String
    private let template: MustacheTemplate

    /// Parses `source`; syntax errors name `name`, the line, the column and the problem.
    public init(source: String, name: String) throws(HAProxyActionError) {
        self.name = name
        do {
            template = try MustacheTemplate(source)
        } catch {
            throw .templateSyntax(
                file: name, line: error.line, column: error.column, reason: error.reason, lineText: error.lineText)
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
        return try HAProxyTemplateRenderer(
            source: HAProxyActionError.onFile { () throws(FileError) in try DurableFile.readText(path) }, name: path)
    }

    public func render(_ context: MustacheValue) -> String {
        template.render(context)
    }
}
