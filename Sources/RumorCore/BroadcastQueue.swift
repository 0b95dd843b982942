/// A transmit-limited queue of encoded messages to piggyback on outgoing packets (memberlist's
/// `TransmitLimitedQueue`).
///
/// Each message is sent up to `retransmitMult * ceil(log10(n+1))` times, which reaches every node with high
/// probability in an epidemic (SWIM §4.1). Fresh messages go first; within a transmit tier the largest message that
/// still fits is taken, so small packets fill tightly. A named message (memberlist's alive/suspect/dead, keyed by
/// node) replaces any queued message with the same name: only the newest news about a node is worth sending.
struct BroadcastQueue: Sendable {
    struct Item: Sendable {
        var bytes: [UInt8]
        var name: String?
        var transmits: Int
        /// Insertion order; newer wins ties.
        var id: UInt64
        /// Set when someone waits for this message to go out once (graceful leave).
        var notify: UInt64?
    }

    private(set) var items: [Item] = []
    private var nextID: UInt64 = 0
    let maxDepth: Int

    init(maxDepth: Int = 4096) { self.maxDepth = maxDepth }

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// Queues `bytes`. Returns the notify tokens of messages that were replaced (they will never be sent).
    @discardableResult
    mutating func enqueue(_ bytes: [UInt8], name: String? = nil, notify: UInt64? = nil) -> [UInt64] {
        var dropped: [UInt64] = []
        if let name {
            items.removeAll { item in
                guard item.name == name else { return false }
                if let n = item.notify { dropped.append(n) }
                return true
            }
        }
        nextID += 1
        items.append(Item(bytes: bytes, name: name, transmits: 0, id: nextID, notify: notify))
        if items.count > maxDepth {
            // Oldest first: they have had the most chances to spread already.
            items.sort { $0.id < $1.id }
            for item in items.prefix(items.count - maxDepth) { if let n = item.notify { dropped.append(n) } }
            items.removeFirst(items.count - maxDepth)
        }
        return dropped
    }

    /// Takes messages that fit in `limit` bytes, each costing `overhead` extra, and counts a transmission for each.
    /// Returns the messages and the notify tokens of messages that have now been sent as often as they will be
    /// (memberlist's "finished"): a graceful leave waits for that, so its news has really spread.
    mutating func take(overhead: Int, limit: Int, transmitLimit: Int) -> (messages: [[UInt8]], sent: [UInt64]) {
        guard !items.isEmpty else { return ([], []) }
        var order = Array(items.indices)
        order.sort { a, b in
            let x = items[a], y = items[b]
            if x.transmits != y.transmits { return x.transmits < y.transmits }
            if x.bytes.count != y.bytes.count { return x.bytes.count > y.bytes.count }
            return x.id > y.id
        }
        var used = 0
        var out: [[UInt8]] = []
        var sent: [UInt64] = []
        var exhausted: [Int] = []
        for i in order {
            let cost = items[i].bytes.count + overhead
            guard used + cost <= limit else { continue }
            used += cost
            out.append(items[i].bytes)
            items[i].transmits += 1
            if items[i].transmits >= transmitLimit {
                exhausted.append(i)
                if let n = items[i].notify { sent.append(n) }
            }
            if limit - used <= overhead { break }
        }
        for i in exhausted.sorted(by: >) { items.remove(at: i) }
        return (out, sent)
    }

    mutating func removeAll() { items.removeAll() }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))`.
func retransmitLimit(mult: Int, nodes: Int) -> Int {
    mult * Int(Double(nodes + 1).log10Ceil)
}

extension Double {
    var log10Ceil: Double { (CMath.log10(self)).rounded(.up) }
}
