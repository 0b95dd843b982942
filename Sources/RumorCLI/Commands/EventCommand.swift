import RumorAgent

/// `event`: dispatches a custom user event through the cluster, as `serf event` does.
public struct EventCommand: Subcommand {
    public static let name = "event"
    public static let abstract = "Send a custom event through the cluster."
    public static let discussion = "Payloads that start with a dash go after `--`."
    public static let arguments = "<name> [payload]"
    public static let options = RPCOptions.options + [
        // A value, not a Go bool flag: both serf's `-coalesce=false` and `--coalesce false` work.
        .value(
            "coalesce", "true|false",
            "Whether the event may be coalesced (default true): repeated events of one name in a short time deliver only the last."),
    ]

    var rpc: RPCOptions
    var coalesce: Bool
    var arguments: [String]

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        coalesce = try arguments.bool("coalesce") ?? true
        self.arguments = arguments.positionals
    }

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
            try client.userEvent(name: name, payload: payload, coalesce: coalesce)
        } catch {
            throw Console.fail("Error sending event", error)
        }
        print("Event '\(name)' dispatched! Coalescing enabled: \(coalesce)")
    }
}
