/// A `rumor` subcommand: what it is called, what it accepts, and how it runs.
public protocol Subcommand: Sendable {
    static var name: String { get }
    static var abstract: String { get }
    /// More help, printed under the abstract by `--help`.
    static var discussion: String { get }
    /// The positional part of the usage line, e.g. `<name> [payload]`.
    static var arguments: String { get }
    static var options: [Option] { get }

    /// Reads the parsed command line; throws when a value is malformed or a required word is missing.
    init(_ arguments: ParsedArguments) throws(UsageError)
    func run() async throws
}

extension Subcommand {
    public static var discussion: String { "" }
    public static var arguments: String { "" }

    /// Parses `words` (the command line after the subcommand's name).
    public static func parse(_ words: [String]) throws(UsageError) -> Self {
        try Self(ParsedArguments(words, options: options))
    }

    public static func helpMessage() -> String {
        var text = "OVERVIEW: \(abstract)\n"
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        text += "\nUSAGE: rumor \(name) [options]\(arguments.isEmpty ? "" : " " + arguments)\n\nOPTIONS:\n"
        let rows = options.map { option -> (String, String) in
            switch option.kind {
            case .flag: return ("--\(option.name)", option.help)
            case .value(let v): return ("--\(option.name) <\(v)>", option.help)
            case .repeated(let v): return ("--\(option.name) <\(v)>", option.help + " Repeatable.")
            }
        } + [("-h, --help", "Show this help.")]
        let width = min(32, rows.map(\.0.count).max() ?? 0)
        for (left, right) in rows {
            let pad = left.count <= width ? String(repeating: " ", count: width - left.count) : "\n" + String(repeating: " ", count: width + 2)
            text += "  \(left)\(pad)  \(right)\n"
        }
        text += "\nSerf's single-dash spellings are accepted too: -\(options.first?.name ?? "name")=value."
        return text
    }
}
