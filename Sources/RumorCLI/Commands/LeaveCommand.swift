import ArgumentParser
import RumorAgent

/// `leave`: makes the agent leave the cluster gracefully and shut down.
public struct LeaveCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Gracefully leave the cluster and shut the agent down."
    )

    @OptionGroup public var rpc: RPCOptions

    public init() {}

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        do { try client.leave() } catch { throw Console.fail("Error leaving", error) }
        print("Graceful leave complete")
    }
}
