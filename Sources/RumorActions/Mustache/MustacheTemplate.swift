/// A parsed Mustache template (the spec's variables, sections, inverted sections, comments and set-delimiter
/// tags, with its standalone-line rule), rendered as plain text: nothing is HTML-escaped, because the output is
/// a config file, not a web page. Partials, lambdas and inheritance are refused with a clear error: a config
/// template is one file.
///
/// Rumor carries its own renderer rather than swift-mustache because that package imports Foundation, which
/// cost every agent several MiB of resident memory (Foundation and ICU; bench/README.md has the numbers).
public struct MustacheTemplate: Sendable {
    indirect enum Node: Sendable, Equatable {
        case text(String)
        case variable([String])
        case section([String], [Node], inverted: Bool)
    }

    let nodes: [Node]

    public init(_ source: String) throws(MustacheSyntaxError) {
        var parser = MustacheParser(source)
        nodes = try parser.parse()
    }

    /// Renders with `context` as the bottom of the context stack.
    public func render(_ context: MustacheValue) -> String {
        var out = ""
        var stack = [context]
        Self.render(nodes, stack: &stack, into: &out)
        return out
    }

    private static func render(_ nodes: [Node], stack: inout [MustacheValue], into out: inout String) {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .variable(let path):
                if let value = lookup(path, in: stack) { out += value.text }
            case .section(let path, let children, let inverted):
                let value = lookup(path, in: stack)
                if inverted {
                    if value?.isFalsy ?? true { render(children, stack: &stack, into: &out) }
                    continue
                }
                guard let value, !value.isFalsy else { continue }
                switch value {
                case .list(let items):
                    for item in items { renderPushed(item, children, stack: &stack, into: &out) }
                case .bool:
                    render(children, stack: &stack, into: &out)
                case .string, .int, .map:
                    renderPushed(value, children, stack: &stack, into: &out)
                }
            }
        }
    }

    private static func renderPushed(
        _ value: MustacheValue, _ nodes: [Node], stack: inout [MustacheValue], into out: inout String
    ) {
        stack.append(value)
        render(nodes, stack: &stack, into: &out)
        stack.removeLast()
    }

    /// The spec's name resolution: `.` is the top of the stack; the first part of a dotted name is looked up
    /// from the top of the stack down, the rest only inside what that found.
    static func lookup(_ path: [String], in stack: [MustacheValue]) -> MustacheValue? {
        guard let first = path.first else { return stack.last }
        var found: MustacheValue?
        for frame in stack.reversed() {
            if case .map(let fields) = frame, let value = fields[first] {
                found = value
                break
            }
        }
        for part in path.dropFirst() {
            guard case .map(let fields) = found else { return nil }
            found = fields[part]
        }
        return found
    }
}

/// Where and why a template does not parse. Lines and columns are 1-based; columns count bytes.
public struct MustacheSyntaxError: Error, Sendable, Equatable {
    public var line: Int
    public var column: Int
    public var reason: String
    /// The whole offending line, for showing beside the message.
    public var lineText: String
}
