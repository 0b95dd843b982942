#if canImport(Glibc)
import Glibc
#endif
import RumorAgent
import RumorSupport

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
        if let problem = invalidUTF8Argument() {
            Console.error("Error: \(problem)")
            exit(1)
        }
        exit(await status(arguments))
    }

    /// Swift quietly repairs arguments that are not UTF-8; a node name or path silently changed would be worse
    /// than an error naming the flag.
    static func invalidUTF8Argument() -> String? {
        let words = CommandLine.arguments
        for i in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i], String(validatingCString: raw) == nil else { continue }
            let word = i < words.count ? words[i] : ""
            let previous = i > 1 && i - 1 < words.count ? words[i - 1] : ""
            let flag = word.hasPrefix("-") ? String(word.prefix { $0 != "=" }) : previous.hasPrefix("-") ? previous : ""
            return "\(flag.isEmpty ? "argument \(i)" : flag): \(JSON.excerpt(word)) is not valid UTF-8"
        }
        return nil
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
            Console.error("Error: \(error) (see 'rumor \(command.name) --help')")
            return 1
        }
        do {
            try await instance.run()
            return 0
        } catch let exit as ExitCode {
            return exit.status
        } catch let error as UsageError {
            Console.error("Error: \(error) (see 'rumor \(command.name) --help')")
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
