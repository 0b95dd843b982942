import RumorAgent
import RumorWire

/// `monitor`: streams the agent's log lines (recent ones first) and its events until interrupted, as
/// `serf monitor` does; the level can be more verbose than the agent's own.
public struct MonitorCommand: Subcommand {
    public static let name = "monitor"
    public static let abstract = "Stream logs and events from a running agent until interrupted."
    public static let options = RPCOptions.options + [
        .value("log-level", "level", "Lowest level to show: trace, debug, info, warn or err (default INFO)."),
    ]

    var rpc: RPCOptions
    var logLevel: String

    public init(_ arguments: ParsedArguments) {
        rpc = RPCOptions(arguments)
        logLevel = arguments.value("log-level") ?? "INFO"
    }

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let streamSeq: UInt64
        do { streamSeq = try client.startStream(RPCProtocol.Command.stream, RPCStreamRequest(type: "*")) } catch {
            throw Console.fail("Error starting stream", error)
        }
        let monitorSeq: UInt64
        do {
            monitorSeq = try client.startStream(RPCProtocol.Command.monitor, RPCMonitorRequest(logLevel: logLevel))
        } catch {
            throw Console.fail("Error starting monitor", error)
        }
        // Ctrl-C is the normal way out, and a success.
        Console.exitOnInterrupt(status: 0)
        while true {
            let next: (seq: UInt64, body: MessagePack)?
            do { next = try client.nextRecord(ofAny: [monitorSeq, streamSeq]) } catch {
                Console.line("")
                Console.line("Remote side ended the monitor! This usually means that the")
                Console.line("remote side has exited or crashed.")
                throw ExitCode.failure
            }
            guard let next else { continue }
            if next.seq == monitorSeq {
                Console.line(next.body.mapValue.flatMap(Self.logLine) ?? "")
            } else {
                for line in Self.eventLines(next.body) { Console.line(line) }
            }
        }
    }

    private static func logLine(_ pairs: [MessagePack.Pair]) -> String? {
        pairs.first { $0.key.stringValue == "Log" }?.value.stringValue
    }

    /// serf prints each event record as "Event Info:" and a tab-indented `key: %#v` line per field (in Go's random
    /// map order; sorted here).
    static func eventLines(_ record: MessagePack) -> [String] {
        let pairs = (record.mapValue ?? []).compactMap { p in p.key.stringValue.map { ($0, p.value) } }
            .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return ["Event Info:"] + pairs.map { "\t\($0.0): \(GoSyntax.format($0.1))" }
    }
}
