import ArgumentParser
import RumorAgent

/// `tags`: changes the agent's tags at runtime (gossiped to the cluster, saved to the tags file if any).
public struct TagsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tags",
        abstract: "Modify the tags of a running agent."
    )

    @OptionGroup public var rpc: RPCOptions

    @Option(help: ArgumentHelp("Create or change a tag; repeatable.", valueName: "key=value"))
    var set: [String] = []

    @Option(help: ArgumentHelp("Remove a tag, if present; repeatable.", valueName: "key"))
    var delete: [String] = []

    public init() {}

    public func run() async throws {
        guard !set.isEmpty || !delete.isEmpty else {
            // serf prints its help and fails.
            Console.error(Self.helpMessage())
            throw ExitCode.failure
        }
        let tags: [String: String]
        do { tags = try MembersCommand.parseTags(set) } catch { throw Console.fail("Error", error) }
        let client = try rpc.connect()
        defer { client.close() }
        do { try client.updateTags(set: tags, delete: delete) } catch {
            throw Console.fail("Error setting tags", error)
        }
        print("Successfully updated agent tags")
    }
}
