import Foundation
import RumorAgent
import RumorSupport
import Testing

@testable import RumorCLI

/// Each agent setting is declared once (AgentOption.all, and each action's own flags); these keep README, help and
/// defaults equal to them.
@Suite struct AgentOptionTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../README.md").standardized.path
    static let begin = "<!-- agent-options:begin (generated from AgentOption.all; UPDATE_README=1 swift test --filter AgentOptionTests rewrites it) -->\n"
    static let end = "\n<!-- agent-options:end -->"

    @Test func readmeTableIsTheDeclarations() throws {
        let text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        let generated = AgentOption.markdownTable(AgentCommand.allOptions)
        guard let start = text.range(of: Self.begin), let stop = text.range(of: Self.end, range: start.upperBound..<text.endIndex)
        else {
            Issue.record("README.md has no agent-options markers")
            return
        }
        let table = String(text[start.upperBound..<stop.lowerBound])
        if table != generated, ProcessInfo.processInfo.environment["UPDATE_README"] == "1" {
            try text.replacingCharacters(in: start.upperBound..<stop.lowerBound, with: generated)
                .write(toFile: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(table == generated, "README's agent option table differs from AgentOption.all")
    }

    @Test func declaredDefaultsAreTheConfigurationsDefaults() throws {
        var config = AgentConfiguration()
        for option in AgentOption.all where !option.defaultText.isEmpty {
            let json = (try? JSON.parse(option.defaultText)) ?? .string(option.defaultText)
            var one = AgentConfiguration()
            let key = try #require(option.key, "\(option.flags) has a default but no key")
            try one.merge(json: .object([(key, json)]), source: "defaults")
            #expect(one == AgentConfiguration(), "\(key)'s declared default \(option.defaultText) is not the default")
            try config.merge(json: .object([(key, json)]), source: "defaults")
        }
        #expect(config == AgentConfiguration())
    }

    @Test func namesAreUniqueAndEveryOptionIsReachable() {
        let flags = AgentCommand.allOptions.flatMap(\.flags)
        let keys = AgentOption.all.compactMap(\.key)
        #expect(Set(flags).count == flags.count)
        #expect(Set(keys).count == keys.count)
        for option in AgentOption.all {
            #expect(!option.flags.isEmpty || option.key != nil)
            #expect(!option.help.isEmpty && !option.help.contains("\n"), "\(option.flags) \(option.key ?? "")")
        }
        let help = AgentCommand.helpMessage()
        for flag in flags { #expect(help.contains("--\(flag)"), "help lacks --\(flag)") }
    }

    @Test func serfSpellingsAndFilesMeanTheSame() throws {
        let fromFlags = try AgentCommand.parse([
            "-node=n1", "-bind=127.0.0.1:7001", "-retry-interval=2s", "-replay", "-tag", "role=web", "-protocol=4",
            "-disable-compression",
        ]).resolvedConfiguration()
        var fromFile = AgentConfiguration()
        try fromFile.merge(
            json: JSON.parse(#"""
                {"node_name": "n1", "bind": "127.0.0.1:7001", "retry_interval": "2s", "replay_on_join": true,
                 "tags": {"role": "web"}, "protocol": 4, "enable_compression": false}
                """#), source: "f.json")
        #expect(fromFlags == fromFile)
    }
}
