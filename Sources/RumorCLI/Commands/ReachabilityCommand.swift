#if canImport(Glibc)
import Glibc
#endif
import RumorAgent

/// `reachability`: pings every member through the cluster (a `_serf_ping` query with acks) and reports who did not
/// answer, with `serf reachability`'s output and troubleshooting tips.
public struct ReachabilityCommand: Subcommand {
    public static let name = "reachability"
    public static let abstract = "Test the network reachability of this node's cluster."
    public static let options = RPCOptions.options + [.flag("verbose", "Show each ack and the timings.")]

    var rpc: RPCOptions
    var verbose: Bool

    public init(_ arguments: ParsedArguments) {
        rpc = RPCOptions(arguments)
        verbose = arguments.flag("verbose")
    }

    static let tooManyAcks =
        "This could mean Serf is detecting false-failures due to a misconfiguration or network issue."
    static let tooFewAcks =
        "This could mean Serf gossip packets are being lost due to a misconfiguration or network issue."
    static let duplicateResponses =
        "Duplicate responses means there is a misconfiguration. Verify that node names are unique."
    static let troubleshooting = """

        Troubleshooting tips:
        * Ensure that the bind addr:port is accessible by all other nodes
        * If an advertise address is set, ensure it routes to the bind address
        * Check that no nodes are behind a NAT
        * If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
        * Verify networking equipment is functional
        """

    public func run() async throws {
        let client = try rpc.connect()
        defer { client.close() }
        let members: [RPCMember]
        do { members = try client.members() } catch { throw Console.fail("Error getting members", error) }
        // Sorted so the lists printed below are stable (serf prints them in map order).
        let live = members.filter { $0.status == "alive" }.map(\.name)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let liveSet = Set(live)
        Console.line("Total members: \(members.count), live members: \(liveSet.count)")

        let seq: UInt64
        do {
            seq = try client.startQuery(RPCQueryRequest(name: "_serf_ping", payload: nil, requestAck: true))
        } catch {
            throw Console.fail("Error sending query", error)
        }
        Console.exitOnInterrupt(status: 1, message: "Test interrupted")
        Console.line("Starting reachability test...")
        let start = ContinuousClock.now
        var last = start

        var acks: [String] = []
        var seen: Set<String> = []
        var duplicates = false
        while true {
            let record: RPCQueryRecord
            do { record = try client.nextQueryRecord(of: seq) } catch {
                throw Console.fail("Error reading query results", error)
            }
            if record.type == RPCProtocol.QueryRecordType.done || record.from.isEmpty { break }
            guard record.type == RPCProtocol.QueryRecordType.ack else { continue }
            if verbose { Console.line("\tAck from '\(record.from)'") }
            acks.append(record.from)
            if !seen.insert(record.from).inserted {
                duplicates = true
                Console.line("Duplicate response from '\(record.from)'")
            }
            last = ContinuousClock.now
        }

        if verbose {
            let total = (ContinuousClock.now - start).seconds
            let toLast = (last - start).seconds
            let times = "Query time: \(Self.twoDecimals(total)) sec"
            Console.line(times + ", time to last response: \(Self.twoDecimals(toLast)) sec")
        }
        var failed = false
        if duplicates {
            Console.line(Self.duplicateResponses)
            failed = true
        }
        if acks.count == liveSet.count {
            Console.line("Successfully contacted all live nodes")
        } else if acks.count > liveSet.count {
            Console.line("Received more acks than live nodes! Acks from non-live nodes:")
            for name in seen.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where !liveSet.contains(name) {
                Console.line("\t\(name)")
            }
            Console.line(Self.tooManyAcks)
            Console.line(Self.troubleshooting)
            failed = true
        } else {
            Console.line("Received less acks than live nodes! Missing acks from:")
            for name in live where !seen.contains(name) { Console.line("\t\(name)") }
            Console.line(Self.tooFewAcks)
            Console.line(Self.troubleshooting)
            failed = true
        }
        if failed { throw ExitCode.failure }
    }

    /// Go's `%0.2f`.
    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let frac = abs(hundredths % 100)
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
