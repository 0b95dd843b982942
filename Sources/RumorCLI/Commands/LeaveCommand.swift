import RumorAgent

/// `leave`: makes the agent leave the cluster gracefully and shut down.
public struct LeaveCommand: Subcommand {
    public static let name = "leave"
    public static let abstract = "Gracefully leave the cluster and shut the agent down."
    public static let options = RPCOptions.options

    public var rpc: RPCOptions

    public init(_ arguments: ParsedArguments) {
        rpc = RPCOptions(arguments)
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        do { try client.leave() } catch { throw Console.fail("Error leaving", error) }
        print("Graceful leave complete")
    }
}
