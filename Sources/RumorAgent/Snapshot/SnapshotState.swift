/// One remembered alive node: the name and its `ip:port` (IPv6 in brackets), as Serf writes them.
public struct SnapshotNode: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
    /// How Serf names a node it re-joins: `name/addr` (memberlist accepts `name/ip:port`).
    public var joinAddress: String { "\(name)/\(address)" }
    public var description: String { "\(name): \(address)" }
}

/// What replaying a snapshot file yields.
public struct SnapshotState: Sendable, Equatable {
    /// Alive nodes in file order of their last `alive:` line.
    public var alive: [SnapshotNode]
    public var memberClock: UInt64
    public var eventClock: UInt64
    public var queryClock: UInt64
    /// A `leave` line was replayed (and honoured: rejoin not requested) with no `alive:` line after it. Serf writes a
    /// `clock:` line after `leave` on shutdown, so clock lines do not clear this.
    public var left: Bool
    /// Lines that were neither a known record nor a comment, or had a bad number (skipped, like Serf does).
    public var skippedLines: Int

    public init(
        alive: [SnapshotNode] = [], memberClock: UInt64 = 0, eventClock: UInt64 = 0, queryClock: UInt64 = 0,
        left: Bool = false, skippedLines: Int = 0
    ) {
        self.alive = alive
        self.memberClock = memberClock
        self.eventClock = eventClock
        self.queryClock = queryClock
        self.left = left
        self.skippedLines = skippedLines
    }
}

/// Name → address, remembering the order of each name's latest `set` (the order Serf's file lists them in).
struct OrderedAlive: Equatable {
    private struct Entry: Equatable {
        var address: String
        var order: UInt64
    }
    private var entries: [String: Entry] = [:]
    private var next: UInt64 = 0

    init(_ nodes: [SnapshotNode] = []) {
        for node in nodes { set(node.name, node.address) }
    }

    mutating func set(_ name: String, _ address: String) {
        entries[name] = Entry(address: address, order: next)
        next += 1
    }
    mutating func remove(_ name: String) { entries[name] = nil }
    var count: Int { entries.count }
    var nodes: [SnapshotNode] {
        entries.sorted { $0.value.order < $1.value.order }.map { SnapshotNode(name: $0.key, address: $0.value.address) }
    }
}
