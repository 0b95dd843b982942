#if canImport(Glibc)
import Glibc
#endif

/// `rumor`: the agent and the commands that talk to it over RPC, with Serf's command names and flags.
///
/// The command line is read by a small parser of our own (Parsing/) rather than swift-argument-parser: that
/// package links FoundationEssentials, and every agent paid for it in resident memory while parsing flags once.
public enum RumorCommand {
    /// Every subcommand, in the order `rumor --help` lists them.
    static let subcommands: [any Subcommand.Type] = [
        AgentCommand.self, MembersCommand.self, JoinCommand.self, LeaveCommand.self, ForceLeaveCommand.self,
        EventCommand.self, QueryCommand.self, TagsCommand.self, KeysCommand.self, MonitorCommand.self,
        ReachabilityCommand.self, InfoCommand.self, KeygenCommand.self, VersionCommand.self, AppsCommand.self,
    ]

    /// Entry point for the executable: runs the subcommand and exits with its status.
    public static func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        exit(await status(arguments))
    }

    static func status(_ arguments: [String]) async -> Int32 {
        guard let first = arguments.first else {
            Console.error(helpMessage())
            return 1
        }
        switch first {
        case "-h", "-help", "--help", "help":
            Console.line(helpMessage())
            return 0
        case "-v", "-version", "--version":
            Console.line(RumorVersion.text)
            return 0
        default:
            break
        }
        guard let command = subcommands.first(where: { $0.name == first }) else {
            Console.error("rumor: unknown command '\(first)'\n\n" + helpMessage())
            return 1
        }
        return await run(command, Array(arguments.dropFirst()))
    }

    private static func run(_ command: any Subcommand.Type, _ words: [String]) async -> Int32 {
        let instance: any Subcommand
        do {
            let parsed = try ParsedArguments(words, options: command.options)
            if parsed.wantsHelp {
                Console.line(command.helpMessage())
                return 0
            }
            instance = try command.init(parsed)
        } catch {
            Console.error("Error: \(error)\nSee 'rumor \(command.name) --help'.")
            return 1
        }
        do {
            try await instance.run()
            return 0
        } catch let exit as ExitCode {
            return exit.status
        } catch let error as UsageError {
            Console.error("Error: \(error)\nSee 'rumor \(command.name) --help'.")
            return 1
        } catch {
            Console.error("Error: \(error)")
            return 1
        }
    }

    static func helpMessage() -> String {
        let width = subcommands.map { $0.name.count }.max() ?? 0
        var text = "OVERVIEW: A Serf-compatible gossip membership agent.\n\nUSAGE: rumor <command> [options]\n\nCOMMANDS:\n"
        for c in subcommands {
            text += "  \(c.name)\(String(repeating: " ", count: width - c.name.count))  \(c.abstract)\n"
        }
        text += "\nSee 'rumor <command> --help' for a command's options."
        return text
    }
}

public enum RumorVersion {
    public static let number = "0.1.0"
    public static let text = "Rumor v\(number)"
}
