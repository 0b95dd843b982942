import RumorSupport
import RumorAgent

/// `info`: the agent's debugging statistics, as `serf info` prints them.
public struct InfoCommand: Subcommand {
    public static let name = "info"
    public static let abstract = "Show debugging information about the agent."
    public static let options = RPCOptions.options + FormatOptions.options

    public var rpc: RPCOptions
    public var output: FormatOptions

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let stats: [String: [String: String]]
        do { stats = try client.stats() } catch { throw Console.fail("Error querying agent", error) }
        print(Self.render(stats, format: output.format))
    }

    /// Sections and keys sorted; text is "section:" then a tab-indented "key = value" per line.
    public static func render(_ stats: [String: [String: String]], format: OutputFormat) -> String {
        let sections = stats.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        switch format {
        case .text:
            var out = ""
            for section in sections {
                out += section + ":\n"
                let values = stats[section]!
                for key in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                    out += "\t\(key) = \(values[key]!)\n"
                }
            }
            return GoText.trimSpace(out)
        case .json:
            return JSON.object(sections.map { ($0, .strings(stats[$0]!)) }).serialized(indent: 2)
        }
    }
}
