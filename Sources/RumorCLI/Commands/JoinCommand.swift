import ArgumentParser
import RumorAgent

/// `join`: asks the agent to join a cluster through one or more existing members.
public struct JoinCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Tell the agent to join a cluster by contacting existing members."
    )

    @OptionGroup public var rpc: RPCOptions

    @Flag(help: "Replay past user events.")
    public var replay = false

    @Argument(help: "Addresses of existing members (host, host:port or ip).")
    public var addresses: [String] = []

    public init() {}

    public func validate() throws {
        if addresses.isEmpty { throw ValidationError("At least one address to join must be specified.") }
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
