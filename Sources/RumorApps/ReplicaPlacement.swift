/// Where an app's `replicas` run: slots 1...N spread over the matching members by rendezvous (highest random
/// weight) hashing of (app, slot, node), at most `max_per_node` on a node. A pure function of one node's
/// membership view, the slots nodes advertise as ready, and the time, so every node that sees the same members
/// computes the same answer and no node is special.
///
/// Rules:
/// - **Present.** A node keeps its slots while it is alive or has been failed less than `lost_after`; a node
///   that left keeps nothing. A node takes new slots only once it has been alive `stable_after`. A node that
///   flaps is therefore never lost and never stable: it neither gives nor takes anything.
/// - **Sticky.** A slot stays with a present node that runs it ready. If several do (after a partition heals,
///   or during a move), the HRW-ideal one keeps it, else the highest weight: every node picks the same one.
/// - **Fill.** A slot nobody present runs goes to its ideal node if that one has room, else to the
///   highest-weight stable node with room; if none has room it is reported unplaced.
/// - **Rebalance** (opt-in): once every slot runs ready where it belongs, at most `moveBudget` slots at a time move
///   from a stable node holding more than its ideal share to the slot's ideal node holding less, so only
///   the share HRW gives to newcomers moves. Swarm's default (`rebalance: false`) never moves a running slot.
/// - **Handoff.** A node that runs a slot it no longer owns keeps it until the owner runs it ready (start-first),
///   or drops it first and the owner starts once it is gone (stop-first, when both share host ports).
///
/// Partitions: each side sees the other side failed and, after `lost_after`, places the missing slots on its own
/// members (at-least-once while split). After the heal, each duplicated slot stays with the same one of its
/// holders on every node and the others drop theirs: exactly N again.
public enum ReplicaPlacement {
    public enum Handoff: Sendable, Equatable {
        case startFirst
        case stopFirst
    }

    public struct Settings: Sendable, Equatable {
        public var app: String
        public var replicas: Int
        public var maxPerNode: Int?
        /// Tag name → regular expression (``PlacementFilter``).
        public var placement: [String: String]
        public var stableAfter: Duration
        public var lostAfter: Duration
        public var rebalance: Bool
        /// Rebalance moves under way at once.
        public var moveBudget = 1
        public var handoff = Handoff.startFirst

        public init(app: String, replicas: Int, maxPerNode: Int? = nil, placement: [String: String] = [:],
                    stableAfter: Duration = .seconds(10), lostAfter: Duration = .seconds(30), rebalance: Bool = false) {
            self.app = app
            self.replicas = replicas
            self.maxPerNode = maxPerNode
            self.placement = placement
            self.stableAfter = stableAfter
            self.lostAfter = lostAfter
            self.rebalance = rebalance
        }

        /// The spec's keys; a spec without `replicas`, or not `running`, places nothing.
        public init(spec: AppSpec) {
            self.init(app: spec.name, replicas: spec.running ? spec.replicas ?? 0 : 0, maxPerNode: spec.maxPerNode,
                      placement: spec.placement, stableAfter: spec.stableAfter, lostAfter: spec.lostAfter,
                      rebalance: spec.rebalance)
        }
    }

    public struct Move: Sendable, Equatable {
        public var slot: Int
        public var from: String
        public var to: String
    }

    public struct Result: Sendable, Equatable {
        /// Slot → the node that should run it.
        public var owners: [Int: String] = [:]
        /// Node → the slots it runs now (sorted): those it owns, plus those it hands over but still runs.
        public var slotsByNode: [String: [Int]] = [:]
        /// Slots no present node has room for.
        public var unplaced: [Int] = []
        /// Rebalance moves under way.
        public var moves: [Move] = []
        /// Compute again by then even if nothing else changes: a `stable_after` or `lost_after` ends.
        public var recheckAt: Duration?

        public func slots(of node: String) -> [Int] { slotsByNode[node] ?? [] }
    }

    /// - Parameters:
    ///   - members: this node's view, itself included (a name listed twice counts once, the first time).
    ///   - ready: slot → nodes whose tags advertise it ready, failed nodes included (they keep their slots
    ///     until `lost_after`).
    public static func compute(_ settings: Settings, members: [PlacementMember], ready: [Int: Set<String>],
                               now: Duration) -> Result {
        var result = Result()
        let n = settings.replicas
        guard n > 0 else { return result }
        let cap = settings.maxPerNode ?? Int.max
        let filter = PlacementFilter(settings.placement)

        var hashes: [String: UInt64] = [:]
        var alive: Set<String> = []
        var present: Set<String> = []
        var stable: [String] = []
        for m in members where hashes[m.name] == nil {
            hashes[m.name] = StableHash.fnv1a(m.name)
            if m.status == .alive { alive.insert(m.name) }
            guard filter.matches(m.tags) else { continue }
            switch m.status {
            case .alive:
                present.insert(m.name)
                if now - m.since >= settings.stableAfter {
                    stable.append(m.name)
                } else {
                    result.recheckAt = earliest(result.recheckAt, m.since + settings.stableAfter)
                }
            case .failed:
                if now - m.since < settings.lostAfter {
                    present.insert(m.name)
                    result.recheckAt = earliest(result.recheckAt, m.since + settings.lostAfter)
                }
            case .left:
                break
            }
        }
        stable.sort()
        let slotKeys = [UInt64(0)] + (1...n).map { StableHash.fnv1a("\(settings.app)#\($0)") }
        func weight(_ slot: Int, _ node: String) -> UInt64 { StableHash.weight(key: slotKeys[slot], node: hashes[node]!) }
        /// Higher weight first, then the name, so ties (never seen in practice) still order the same everywhere.
        func better(_ slot: Int, _ a: String, _ b: String) -> Bool {
            let (wa, wb) = (weight(slot, a), weight(slot, b))
            return wa != wb ? wa > wb : a < b
        }
        func holders(_ slot: Int) -> [String] { (ready[slot] ?? []).filter(present.contains).sorted() }

        // The HRW ideal over the stable nodes and whoever present already runs a slot (a flapping holder stays in
        // the set either way, so its flaps do not change anybody's ideal).
        var idealNodes = Set(stable)
        for slot in 1...n { idealNodes.formUnion(holders(slot)) }
        let idealOrder = idealNodes.sorted()
        var ideal = [String?](repeating: nil, count: n + 1)
        var idealCount: [String: Int] = [:]
        for slot in 1...n {
            var best: String?
            for node in idealOrder where idealCount[node, default: 0] < cap {
                if best.map({ better(slot, node, $0) }) ?? true { best = node }
            }
            if let best {
                ideal[slot] = best
                idealCount[best, default: 0] += 1
            }
        }
        func preferred(_ slot: Int, _ nodes: [String]) -> [String] {
            nodes.sorted { a, b in
                a == b ? false : a == ideal[slot] ? true : b == ideal[slot] ? false : better(slot, a, b)
            }
        }

        // Sticky: present holders keep their slots, within max_per_node (the highest-weight ones).
        var owners: [Int: String] = [:]
        for slot in 1...n {
            if let pick = preferred(slot, holders(slot)).first { owners[slot] = pick }
        }
        if cap < Int.max {
            for (node, slots) in Dictionary(grouping: owners.keys, by: { owners[$0]! }) where slots.count > cap {
                for slot in slots.sorted(by: { weight($0, node) > weight($1, node) }).dropFirst(cap) { owners[slot] = nil }
            }
        }
        var load: [String: Int] = [:]
        for node in owners.values { load[node, default: 0] += 1 }

        // Fill: a present holder with room, else the ideal node, else the best stable node with room.
        for slot in 1...n where owners[slot] == nil {
            let pick = preferred(slot, holders(slot)).first { load[$0, default: 0] < cap }
                ?? ideal[slot].flatMap { stable.contains($0) && load[$0, default: 0] < cap ? $0 : nil }
                ?? stable.filter { load[$0, default: 0] < cap }.min { better(slot, $0, $1) }
            if let pick {
                owners[slot] = pick
                load[pick, default: 0] += 1
            } else {
                result.unplaced.append(slot)
            }
        }

        // Rebalance: only from a settled placement, and only from above-ideal to below-ideal stable nodes.
        if settings.rebalance, result.unplaced.isEmpty {
            let starting = (1...n).filter { !(ready[$0]?.contains(owners[$0]!) ?? false) }.count
            var budget = settings.moveBudget - starting
            let stableSet = Set(stable)
            for slot in 1...n where budget > 0 {
                guard let to = ideal[slot], let from = owners[slot], to != from, stableSet.contains(to),
                      stableSet.contains(from), load[to, default: 0] < min(idealCount[to, default: 0], cap),
                      load[from, default: 0] > idealCount[from, default: 0]
                else { continue }
                owners[slot] = to
                load[to, default: 0] += 1
                load[from, default: 0] -= 1
                result.moves.append(Move(slot: slot, from: from, to: to))
                budget -= 1
            }
        }

        var byNode: [String: Set<Int>] = [:]
        for (slot, node) in owners { byNode[node, default: []].insert(slot) }
        for slot in 1...n {
            let owner = owners[slot]
            let ownerReady = owner.map { ready[slot]?.contains($0) ?? false } ?? false
            guard !ownerReady else { continue }
            let others = (ready[slot] ?? []).filter { alive.contains($0) && $0 != owner }
            guard !others.isEmpty else { continue }
            switch settings.handoff {
            case .startFirst:
                for node in others { byNode[node, default: []].insert(slot) }
            case .stopFirst:
                if let owner { byNode[owner]?.remove(slot) }
            }
        }
        result.owners = owners
        result.slotsByNode = byNode.filter { !$0.value.isEmpty }.mapValues { $0.sorted() }
        return result
    }

    private static func earliest(_ a: Duration?, _ b: Duration) -> Duration { a.map { min($0, b) } ?? b }
}
