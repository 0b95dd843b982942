import ArgumentParser
import RumorAgent

/// `force-leave`: marks a (usually failed) member as left, or with `--prune` erases it at once.
public struct ForceLeaveCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "force-leave",
        abstract: "Force a member of the cluster into the \"left\" state.",
        discussion: """
            A member that is actually alive will rejoin. Useful to clean out failed nodes that are never coming \
            back, instead of waiting for the reconnect timeout to reap them.
            """
    )

    @OptionGroup public var rpc: RPCOptions

    @Flag(help: "Remove the member from the member list entirely.")
    public var prune = false

    @Argument(help: "Name of the member.")
    public var node: String

    public init() {}

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        do { try client.forceLeave(node, prune: prune) } catch { throw Console.fail("Error force leaving", error) }
    }
}
