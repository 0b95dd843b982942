import RumorAgent

/// `tags`: changes the agent's tags at runtime (gossiped to the cluster, saved to the tags file if any).
public struct TagsCommand: Subcommand {
    public static let name = "tags"
    public static let abstract = "Modify the tags of a running agent."
    public static let options = RPCOptions.options + [
        .repeated("set", "key=value", "Create or change a tag."),
        .repeated("delete", "key", "Remove a tag, if present."),
    ]

    var rpc: RPCOptions
    var set: [String]
    var delete: [String]

    public init(_ arguments: ParsedArguments) {
        rpc = RPCOptions(arguments)
        set = arguments.values("set")
        delete = arguments.values("delete")
    }

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
