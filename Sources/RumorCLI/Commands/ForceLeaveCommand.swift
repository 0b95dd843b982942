import RumorAgent

/// `force-leave`: marks a (usually failed) member as left, or with `--prune` erases it at once.
public struct ForceLeaveCommand: Subcommand {
    public static let name = "force-leave"
    public static let abstract = "Force a member of the cluster into the \"left\" state."
    public static let discussion = """
        A member that is actually alive will rejoin. Useful to clean out failed nodes that are never coming \
        back, instead of waiting for the reconnect timeout to reap them.
        """
    public static let arguments = "<node>"
    public static let options = RPCOptions.options + [.flag("prune", "Remove the member from the member list entirely.")]

    public var rpc: RPCOptions
    public var prune: Bool
    public var node: String

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        prune = arguments.flag("prune")
        // serf's messages for a missing or extra node name.
        guard let node = arguments.positionals.first else { throw UsageError("A node name must be specified to force leave.") }
        guard arguments.positionals.count == 1 else { throw UsageError("Only one node name may be given.") }
        self.node = node
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        do { try client.forceLeave(node, prune: prune) } catch { throw Console.fail("Error force leaving", error) }
    }
}
