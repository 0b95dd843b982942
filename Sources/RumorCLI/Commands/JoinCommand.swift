import RumorAgent

/// `join`: asks the agent to join a cluster through one or more existing members.
public struct JoinCommand: Subcommand {
    public static let name = "join"
    public static let abstract = "Tell the agent to join a cluster by contacting existing members."
    public static let arguments = "<address> [address...]"
    public static let options = RPCOptions.options + [.flag("replay", "Replay past user events.")]

    public var rpc: RPCOptions
    public var replay: Bool
    /// Addresses of existing members (host, host:port or ip).
    public var addresses: [String]

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        replay = arguments.flag("replay")
        addresses = arguments.positionals
        if addresses.isEmpty { throw UsageError("At least one address to join must be specified.") }
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let n: Int
        do { n = try client.join(addresses, replay: replay) } catch {
            throw Console.fail("Error joining the cluster", error)
        }
        print("Successfully joined cluster by contacting \(n) nodes.")
    }
}
