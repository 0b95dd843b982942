import RumorAgent
import Testing
@testable import RumorCLI

/// The command-line parser: serf's Go spellings and double-dash ones, and a clear error for every bad word.
@Suite struct CommandLineTests {
    static let options: [Option] = [
        .flag("replay", ""), .value("node", "name", ""), .repeated("tag", "k=v", ""), .value("retry-max", "n", ""),
    ]

    static func parse(_ words: [String]) throws(UsageError) -> ParsedArguments {
        try ParsedArguments(words, options: options)
    }

    @Test func goAndDoubleDashSpellingsMeanTheSame() throws {
        for words in [
            ["-node=a", "-tag", "role=web", "-tag=dc=eu", "-replay", "x"],
            ["--node", "a", "--tag=role=web", "--tag", "dc=eu", "x", "--replay"],
        ] {
            let p = try Self.parse(words)
            #expect(p.value("node") == "a" && p.values("tag") == ["role=web", "dc=eu"], "\(words)")
            #expect(p.flag("replay") && p.positionals == ["x"], "\(words)")
        }
    }

    @Test func boolFlagsTakeGoValuesButNeverTheNextWord() throws {
        #expect(try Self.parse(["-replay=F"]).flag("replay", default: true) == false)
        #expect(try Self.parse(["--replay=1"]).flag("replay"))
        #expect(try Self.parse([]).flag("replay", default: true))
        #expect(try Self.parse(["--replay", "false"]).positionals == ["false"])
        #expect(throws: UsageError(#"invalid boolean value "maybe" for '--replay' (use true or false)"#)) {
            try Self.parse(["--replay=maybe"])
        }
    }

    @Test func lastValueWinsAndDashDashEndsOptions() throws {
        let p = try Self.parse(["--node", "a", "--node=b", "--", "--node", "-x", "-"])
        #expect(p.value("node") == "b" && p.positionals == ["--node", "-x", "-"])
        #expect(try Self.parse(["-"]).positionals == ["-"])
    }

    @Test func badWordsAreNamed() throws {
        #expect(throws: UsageError(#"unknown option "--nope""#)) { try Self.parse(["--nope"]) }
        #expect(throws: UsageError(#"unknown option "-nope=1""#)) { try Self.parse(["-nope=1"]) }
        #expect(throws: UsageError("missing value for '--node'")) { try Self.parse(["--node"]) }
        #expect(throws: UsageError(#"invalid value "x" for '--retry-max': expected an integer"#)) {
            try Self.parse(["--retry-max", "x"]).int("retry-max")
        }
        #expect(try Self.parse(["-h"]).wantsHelp && Self.parse(["--help"]).wantsHelp && Self.parse(["-help"]).wantsHelp)
    }

    @Test func everyCommandHasHelpAndTheAgentRejectsStrayWords() throws {
        for command in RumorCommand.subcommands {
            let help = command.helpMessage()
            #expect(help.contains("USAGE: rumor \(command.name)"), "\(command.name)")
            for option in command.options { #expect(help.contains("--\(option.name)"), "\(command.name) --\(option.name)") }
        }
        // serf's `-coalesce=false` and Rumor's earlier `--coalesce false` both work.
        #expect(try EventCommand.parse(["-coalesce=F", "x"]).coalesce == false)
        #expect(try EventCommand.parse(["--coalesce", "false", "x"]).coalesce == false)
        #expect(try EventCommand.parse(["x"]).coalesce == true)
        #expect(throws: UsageError(#"invalid value "no" for '--coalesce': expected true or false"#)) {
            try EventCommand.parse(["--coalesce=no", "x"])
        }
        #expect(throws: UsageError("unexpected argument 'ha' (options start with - or --)")) {
            try AgentCommand.parse(["--join", "x", "ha"])
        }
        #expect(throws: ConfigurationError(#"--retry-interval: invalid duration "5x": unknown unit "x" (use Go syntax such as 500ms, 30s, 1m30s, 24h)"#)) {
            try AgentCommand.parse(["-retry-interval=5x"]).resolvedConfiguration()
        }
        let agent = try AgentCommand.parse(["-node=n1", "-tag", "role=web", "--tag=port=80", "-join=ha"])
        let config = try agent.resolvedConfiguration()
        #expect(config.nodeName == "n1" && config.tags == ["role": "web", "port": "80"] && config.join == ["ha"])
        #expect(throws: ConfigurationError(#"--tag: "port" is not key=value"#)) {
            try AgentCommand.parse(["--tag", "port"]).resolvedConfiguration()
        }
    }
}
