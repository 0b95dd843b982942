import RumorSupport
import RumorAgent
import RumorCore

/// `query`: sends a query and prints acks and responses as they arrive, then the totals, as `serf query` does.
public struct QueryCommand: Subcommand {
    public static let name = "query"
    public static let abstract = "Send a query to the cluster and collect the responses."
    public static let discussion = "Payloads that start with a dash go after `--`."
    public static let arguments = "<name> [payload]"
    public static let options = RPCOptions.options + FormatOptions.options + [
        .repeated("node", "name", "Only these nodes respond."),
        .repeated("tag", "key=regexp", "Only nodes whose tag matches the regexp respond."),
        .value("timeout", "duration", "How long to wait for responses (e.g. 15s); 0 means the agent's default."),
        .flag("no-ack", "Do not ask nodes to acknowledge the query."),
        .value("relay-factor", "n", "Also relay responses through this many other nodes (0-255)."),
    ]

    var rpc: RPCOptions
    var output: FormatOptions
    var node: [String]
    var tag: [String]
    var timeout: Duration
    var noAck: Bool
    var relayFactor: Int
    var arguments: [String]

    public init(_ arguments: ParsedArguments) throws(UsageError) {
        rpc = RPCOptions(arguments)
        output = try FormatOptions(arguments)
        node = arguments.values("node")
        tag = arguments.values("tag")
        timeout = try arguments.duration("timeout") ?? .zero
        noAck = arguments.flag("no-ack")
        relayFactor = try arguments.int("relay-factor") ?? 0
        self.arguments = arguments.positionals
    }

    public func run() async throws {
        let tags: [String: String]
        do { tags = try MembersCommand.parseTags(tag) } catch { throw Console.fail("Error", error) }
        guard let name = arguments.first else { throw usageError("A query name must be specified.") }
        guard arguments.count <= 2 else {
            throw usageError("Too many command line arguments. Only a name and payload must be specified.")
        }
        guard (0...255).contains(relayFactor) else { throw usageError("Relay factor must be between 0 and 255") }
        let payload = arguments.count == 2 ? Array(arguments[1].utf8) : nil

        let client = try rpc.connect()
        defer { client.close() }
        let request = RPCQueryRequest(
            name: name, payload: payload, filterNodes: node, filterTags: tags, requestAck: !noAck,
            relayFactor: UInt8(relayFactor), timeoutNanoseconds: timeout.nanoseconds)
        let seq: UInt64
        do { seq = try client.startQuery(request) } catch { throw Console.fail("Error sending query", error) }
        // serf's query exits 1 on Ctrl-C, printing nothing more.
        Console.exitOnInterrupt(status: 1)

        var results = QueryResults()
        if output.format == .text { Console.line("Query '\(name)' dispatched") }
        while true {
            let record: RPCQueryRecord
            do { record = try client.nextQueryRecord(of: seq) } catch {
                throw Console.fail("Error reading query results", error)
            }
            // The CLI takes an empty From (the `done` record) as the end, as serf's does.
            if record.type == RPCProtocol.QueryRecordType.done || record.from.isEmpty { break }
            switch record.type {
            case RPCProtocol.QueryRecordType.ack:
                results.acks.append(record.from)
                if output.format == .text { Console.line("Ack from '\(record.from)'") }
            case RPCProtocol.QueryRecordType.response:
                let payload = record.payload ?? []
                results.responses.append((record.from, payload))
                if output.format == .text {
                    Console.line(bytes: Array("Response from '\(record.from)': ".utf8) + Self.trimmingNewline(payload))
                }
            default:
                continue  // serf's client logs and skips unknown record types
            }
        }
        switch output.format {
        case .text:
            if !noAck { Console.line("Total Acks: \(results.acks.count)") }
            Console.line("Total Responses: \(results.responses.count)")
        case .json:
            Console.line(results.json)
        }
    }

    struct QueryResults {
        var acks: [String] = []
        var responses: [(from: String, payload: [UInt8])] = []

        /// serf's `jsonQueryRespFormat`: `Acks` (null when there were none: a nil Go slice), then `Responses` by
        /// node (a later response from the same node replaces the earlier one, as in a Go map).
        var json: String {
            var byNode: [String: String] = [:]
            for r in responses { byNode[r.from] = String(decoding: r.payload, as: UTF8.self) }
            let acks: JSON = acks.isEmpty ? .null : .array(acks.map { .string($0) })
            return JSON.object([("Acks", acks), ("Responses", .strings(byNode))]).serialized(indent: 2)
        }
    }

    /// serf strips one trailing newline from each response before printing it.
    static func trimmingNewline(_ payload: [UInt8]) -> [UInt8] {
        payload.last == 0x0a ? Array(payload.dropLast()) : payload
    }
}
