import ArgumentParser

/// `rumor`: the agent and the commands that talk to it over RPC, with Serf's command names and flags.
public struct RumorCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rumor",
        abstract: "A Serf-compatible gossip membership agent.",
        version: RumorVersion.text,
        subcommands: RumorCommand.subcommandTypes
    )

    public init() {}

    /// Entry point for the executable: accepts Serf's single-dash long flags (`-join=x`, `-tag k=v`) too.
    public static func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async {
        await main(SerfFlags.normalize(arguments))
    }
}

public enum RumorVersion {
    public static let number = "0.1.0"
    public static let text = "Rumor v\(number)"
}

/// Translates Serf's Go-style flags into the double-dash form swift-argument-parser reads.
///
/// `-name`, `-name=value` (two or more letters after one dash) become `--name...`. Single letters (`-h`) and
/// everything after `--` are left alone, so payloads that start with a dash can still be passed after `--`.
public enum SerfFlags {
    public static func normalize(_ args: [String]) -> [String] {
        var out: [String] = []
        var passthrough = false
        for arg in args {
            if passthrough || arg == "--" {
                passthrough = true
                out.append(arg)
                continue
            }
            let name = arg.dropFirst().prefix { $0 != "=" }
            if arg.hasPrefix("-") && !arg.hasPrefix("--") && name.count >= 2
                && name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) && name.first!.isLetter
            {
                out.append("-" + arg)
            } else {
                out.append(arg)
            }
        }
        return out
    }
}
