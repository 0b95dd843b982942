import ArgumentParser
import RumorAgent

/// `event`: dispatches a custom user event through the cluster, as `serf event` does.
public struct EventCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "event",
        abstract: "Send a custom event through the cluster.",
        discussion: "Payloads that start with a dash go after `--`."
    )

    @OptionGroup public var rpc: RPCOptions

    @Option(help: ArgumentHelp(
        "Whether the event may be coalesced: repeated events of one name in a short time deliver only the last.",
        valueName: "true|false"))
    var coalesce = GoBool(true)

    @Argument(help: "The event's name, then optionally its payload.")
    var arguments: [String] = []

    public init() {}

    public func run() async throws {
        guard let name = arguments.first else { throw usageError("An event name must be specified.") }
        guard arguments.count <= 2 else {
            throw usageError("Too many command line arguments. Only a name and payload must be specified.")
        }
        // No payload is sent as nil, as serf's CLI does.
        let payload = arguments.count == 2 ? Array(arguments[1].utf8) : nil
        let client = try rpc.connect()
        defer { client.close() }
        do {
            try client.userEvent(name: name, payload: payload, coalesce: coalesce.value)
        } catch {
            throw Console.fail("Error sending event", error)
        }
        print("Event '\(name)' dispatched! Coalescing enabled: \(coalesce.value)")
    }
}
