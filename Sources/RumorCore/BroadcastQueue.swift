import HeapModule

/// A transmit-limited queue of encoded messages to piggyback on outgoing packets (memberlist's
/// `TransmitLimitedQueue`).
///
/// Each message is sent up to `retransmitMult * ceil(log10(n+1))` times, which reaches every node with high
/// probability in an epidemic (SWIM §4.1). Fresh messages go first; within a transmit tier the largest message that
/// still fits is taken, so small packets fill tightly. A named message (memberlist's alive/suspect/dead, keyed by
/// node) replaces any queued message with the same name: only the newest news about a node is worth sending.
///
/// Every operation but `take` costs amortised constant time however deep the queue is: a 100,000-node push-pull
/// queues 100,000 alive messages in a row, and a linear scan or shift per message would stall the event loop.
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

    /// Items in insertion order from `head` on; nil where one was replaced, sent out or evicted.
    private var slots: [Item?] = []
    private var head = 0
    /// Where the queued item with each name sits in `slots`.
    private var byName: [String: Int] = [:]
    private(set) var count = 0
    private var nextID: UInt64 = 0
    let maxDepth: Int

    init(maxDepth: Int = 4096) { self.maxDepth = maxDepth }

    var isEmpty: Bool { count == 0 }
    /// Messages ever queued: it moves when there is news.
    var enqueued: UInt64 { nextID }

    /// Queues `bytes`. Returns the notify tokens of messages that were replaced (they will never be sent).
    @discardableResult
    mutating func enqueue(_ bytes: [UInt8], name: String? = nil, notify: UInt64? = nil) -> [UInt64] {
        var dropped: [UInt64] = []
        if let name, let index = byName[name], let old = remove(at: index), let n = old.notify { dropped.append(n) }
        nextID += 1
        slots.append(Item(bytes: bytes, name: name, transmits: 0, id: nextID, notify: notify))
        if let name { byName[name] = slots.count - 1 }
        count += 1
        // Oldest first: they have had the most chances to spread already.
        while count > maxDepth {
            if let old = remove(at: head), let n = old.notify { dropped.append(n) }
            head += 1
        }
        compactIfSparse()
        return dropped
    }

    private mutating func remove(at index: Int) -> Item? {
        guard index >= head, index < slots.count, let item = slots[index] else { return nil }
        slots[index] = nil
        count -= 1
        if let name = item.name, byName[name] == index { byName[name] = nil }
        return item
    }

    /// Drops the holes once they outnumber the items, so memory and `take` stay proportional to `count`.
    private mutating func compactIfSparse() {
        while head < slots.count && slots[head] == nil { head += 1 }
        guard slots.count - head > 2 * count + 64 else { return }
        slots = slots[head...].filter { $0 != nil }
        head = 0
        byName.removeAll(keepingCapacity: true)
        for (i, item) in slots.enumerated() { if let name = item?.name { byName[name] = i } }
    }

    /// Takes messages that fit in `limit` bytes, each costing `overhead` extra, and counts a transmission for each.
    /// Returns the messages and the notify tokens of messages that have now been sent as often as they will be
    /// (memberlist's "finished"): a graceful leave waits for that, so its news has really spread.
    mutating func take(overhead: Int, limit: Int, transmitLimit: Int) -> (messages: [[UInt8]], sent: [UInt64]) {
        guard count > 0 else { return ([], []) }
        // A heap, not a sort: a packet holds a few dozen messages, and the queue may hold thousands (a joining
        // node's push-pull queues an alive message per member); building it is linear, each message taken log n.
        var candidates: [Candidate] = []
        candidates.reserveCapacity(count)
        for i in head..<slots.count {
            guard let item = slots[i] else { continue }
            candidates.append(Candidate(transmits: item.transmits, size: item.bytes.count, id: item.id, slot: i))
        }
        let smallest = candidates.lazy.map(\.size).min() ?? 0
        var order = Heap(candidates)
        var used = 0
        var out: [[UInt8]] = []
        var sent: [UInt64] = []
        while limit - used >= smallest + overhead, let next = order.popMin() {
            let i = next.slot
            let cost = next.size + overhead
            guard used + cost <= limit else { continue }
            used += cost
            out.append(slots[i]!.bytes)
            slots[i]!.transmits += 1
            if slots[i]!.transmits >= transmitLimit {
                if let n = slots[i]!.notify { sent.append(n) }
                _ = remove(at: i)
            }
        }
        compactIfSparse()
        return (out, sent)
    }

    /// A queued message in the order `take` sends: fewest transmissions first, then the largest, then the newest.
    private struct Candidate: Comparable {
        var transmits: Int
        var size: Int
        var id: UInt64
        var slot: Int
        static func < (a: Self, b: Self) -> Bool {
            if a.transmits != b.transmits { return a.transmits < b.transmits }
            if a.size != b.size { return a.size > b.size }
            return a.id > b.id
        }
    }

    mutating func removeAll() {
        slots.removeAll()
        byName.removeAll()
        head = 0
        count = 0
    }
}

/// memberlist's retransmit limit: `mult * ceil(log10(n + 1))`.
func retransmitLimit(mult: Int, nodes: Int) -> Int {
    mult * Int(Double(nodes + 1).log10Ceil)
}

extension Double {
    var log10Ceil: Double { (CMath.log10(self)).rounded(.up) }
}
