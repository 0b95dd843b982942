import Logging
import RumorWire

/// One line of Serf's snapshot file (serf/snapshot.go): an append-only text log, one record per `\n`-ended line.
enum SnapshotRecord: Sendable, Hashable {
    /// `alive: <name> <ip:port>`: the node joined (the name may hold spaces; the address is after the last one).
    case alive(name: String, address: String)
    /// `not-alive: <name>`: it left or failed.
    case notAlive(name: String)
    /// `clock: <n>`, `event-clock: <n>`, `query-clock: <n>`: the Lamport clocks, decimal.
    case clock(UInt64)
    case eventClock(UInt64)
    case queryClock(UInt64)
    /// `leave`: this node left the cluster on purpose.
    case leave

    /// `alive:` or `not-alive:`: Serf writes the member clock after these.
    var changesMembers: Bool {
        switch self {
        case .alive, .notAlive: true
        default: false
        }
    }

    /// The line as Serf writes it, with its `\n`.
    var line: String {
        switch self {
        case .alive(let name, let address): "alive: \(name) \(address)\n"
        case .notAlive(let name): "not-alive: \(name)\n"
        case .clock(let n): "clock: \(n)\n"
        case .eventClock(let n): "event-clock: \(n)\n"
        case .queryClock(let n): "query-clock: \(n)\n"
        case .leave: "leave\n"
        }
    }
}

/// Reading and writing Serf's snapshot lines: pure, no files.
enum SnapshotFormat {
    /// What one line (without its `\n`) holds.
    enum Line: Equatable {
        case record(SnapshotRecord)
        /// A comment or a legacy `coordinate:` line: skipped silently.
        case ignored
        /// Not a record Serf would read; `warning` says why (logged, the line is skipped and counted).
        case malformed(warning: String)
    }

    static func parse(_ line: Substring) -> Line {
        func number(_ prefix: String) -> UInt64? {
            let text = line.dropFirst(prefix.count)
            // Go's ParseUint: digits only (Swift would also take a leading "+").
            guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
            return UInt64(text)
        }
        let badNumber = Line.malformed(warning: "snapshot: bad number in line: \(line)")
        if line.hasPrefix("alive: ") {
            let info = line.dropFirst("alive: ".count)
            guard let space = info.lastIndex(of: " ") else {
                return .malformed(warning: "snapshot: failed to parse address: \(line)")
            }
            return .record(.alive(name: String(info[..<space]), address: String(info[info.index(after: space)...])))
        } else if line.hasPrefix("not-alive: ") {
            return .record(.notAlive(name: String(line.dropFirst("not-alive: ".count))))
        } else if line.hasPrefix("clock: ") {
            return number("clock: ").map { .record(.clock($0)) } ?? badNumber
        } else if line.hasPrefix("event-clock: ") {
            return number("event-clock: ").map { .record(.eventClock($0)) } ?? badNumber
        } else if line.hasPrefix("query-clock: ") {
            return number("query-clock: ").map { .record(.queryClock($0)) } ?? badNumber
        } else if line.hasPrefix("coordinate: ") || line.hasPrefix("#") {
            return .ignored  // coordinates are legacy
        } else if line == "leave" {
            return .record(.leave)
        }
        return .malformed(warning: "snapshot: unrecognized snapshot line: \(line)")
    }

    /// Replays a whole file the way Serf does. Malformed lines are skipped and counted; like Serf, a final line
    /// without its `\n` is ignored (it was cut short by a crash). A `leave` forgets everything before it, unless
    /// `rejoinAfterLeave`.
    static func replay(_ bytes: [UInt8], rejoinAfterLeave: Bool, logger: Logger? = nil) -> SnapshotState {
        var state = SnapshotState()
        var alive = OrderedAlive()
        var start = 0
        while let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Substring(String(decoding: bytes[start..<nl], as: UTF8.self))
            start = nl + 1
            switch parse(line) {
            case .ignored:
                continue
            case .malformed(let warning):
                logger?.warning("\(warning)")
                state.skippedLines += 1
            case .record(.alive(let name, let address)):
                alive.set(name, address)
                state.left = false
            case .record(.notAlive(let name)):
                alive.remove(name)
            case .record(.clock(let n)):
                state.memberClock = n
            case .record(.eventClock(let n)):
                state.eventClock = n
            case .record(.queryClock(let n)):
                state.queryClock = n
            case .record(.leave):
                if rejoinAfterLeave {
                    logger?.info("snapshot: ignoring previous leave in snapshot")
                    continue
                }
                alive = OrderedAlive()
                state.memberClock = 0
                state.eventClock = 0
                state.queryClock = 0
                state.left = true
            }
        }
        state.alive = alive.nodes
        return state
    }

    /// `ip:port` as Go's `net.TCPAddr.String()` writes it (what Serf puts in the file): IPv4-mapped IPv6 as dotted
    /// IPv4, other IPv6 in brackets with the longest run of two or more zero groups compressed (RFC 5952).
    static func goAddress(_ address: Address) -> String {
        let ip = address.ip
        if ip.count == 16, ip[0..<10].allSatisfy({ $0 == 0 }), ip[10] == 0xff, ip[11] == 0xff {
            return "\(ip[12]).\(ip[13]).\(ip[14]).\(ip[15]):\(address.port)"
        }
        guard ip.count == 16 else { return address.description }
        let groups = (0..<8).map { UInt16(ip[2 * $0]) << 8 | UInt16(ip[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { (bestStart, bestLength) = (i, j - i) }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        let host = bestStart < 0 ? hex(0..<8) : hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        return "[\(host)]:\(address.port)"
    }
}
