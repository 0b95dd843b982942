/// Where an app's `replicas` run: slots 1...N spread evenly over the matching members (Swarm's spread: 6 on 3
/// nodes is 2 each), each slot on its rendezvous (highest random weight) node for (app, slot, node) while that
/// one has room, at most `max_per_node` on a node. A pure function of one node's
/// membership view, the slots nodes advertise as ready, and the time, so every node that sees the same members
/// computes the same answer and no node is special.
///
/// Rules:
/// - **Present.** A node keeps its slots while it is alive or has been failed less than `lost_after`; a node
///   that left keeps nothing. A node takes new slots only once it has been alive `stable_after`. A node that
///   flaps is therefore never lost and never stable: it neither gives nor takes anything.
/// - **Sticky.** A slot stays with a present node that runs it ready. If several do (after a partition heals,
///   or during a move), the HRW-ideal one keeps it, else the highest weight: every node picks the same one.
/// - **Room.** A node's even share is ceil(N / present nodes); the ideal placement and the fill stay within it (and
///   within `max_per_node`, the only bound a running slot obeys).
/// - **Fill.** A slot nobody present runs goes to its ideal node if that one has room (waiting for it if it is
///   about to be stable), else to the
///   highest-weight stable node with room (its even share; or `max_per_node` if every share is full and no
///   alive node is about to be stable); if none has room it is reported unplaced (until one has).
/// - **Rebalance** (opt-in): once every slot runs ready where it belongs, at most `moveBudget` slots at a time move
///   from the stable node running the most to the one running the fewest while they differ by two or more (the
///   slot that weighs most on the receiver), so only what evens the spread moves: a newcomer's share, from the
///   fullest nodes. Swarm's default (`rebalance: false`) never moves a running slot.
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
        /// A slot whose ideal node becomes stable within this waits for it rather than starting elsewhere: agents
        /// started together reach `stable_after` milliseconds apart, and the first must not take every slot.
        public var startedTogether: Duration = .seconds(2)
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

        // Nodes by index in name order, so every loop below visits them in the same order on every node.
        var seen: Set<String> = []
        let unique = members.filter { seen.insert($0.name).inserted }
        let view = unique.indices.sorted { unique[$0].name < unique[$1].name }.map { unique[$0] }
        let names = view.map(\.name)
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let nodeKeys = names.map(StableHash.nodeKey)
        var alive = [Bool](repeating: false, count: names.count)
        var present = alive
        var stable = alive
        for (i, m) in view.enumerated() {
            alive[i] = m.status == .alive
            guard filter.matches(m.tags) else { continue }
            switch m.status {
            case .alive:
                present[i] = true
                if now - m.since >= settings.stableAfter {
                    stable[i] = true
                } else {
                    result.recheckAt = earliest(result.recheckAt, m.since + settings.stableAfter)
                }
            case .failed:
                if now - m.since < settings.lostAfter {
                    present[i] = true
                    result.recheckAt = earliest(result.recheckAt, m.since + settings.lostAfter)
                }
            case .left:
                break
            }
        }
        let slotKeys = [UInt64(0)] + (1...n).map { StableHash.fnv1a("\(settings.app)#\($0)") }
        func weight(_ slot: Int, _ i: Int) -> UInt64 { StableHash.weight(key: slotKeys[slot], node: nodeKeys[i]) }
        /// Higher weight first, then the name, so ties (never seen in practice) still order the same everywhere.
        func better(_ slot: Int, _ a: Int, _ b: Int) -> Bool {
            let (wa, wb) = (weight(slot, a), weight(slot, b))
            return wa != wb ? wa > wb : a < b
        }
        // Slot → nodes advertising it ready, and the present ones among them (its holders).
        var readyOn = [[Int]](repeating: [], count: n + 1)
        for (slot, nodes) in ready where slot >= 1 && slot <= n { readyOn[slot] = nodes.compactMap { index[$0] }.sorted() }
        let holders = readyOn.map { $0.filter { present[$0] } }

        // The HRW ideal over the present nodes, stable or not, within their even share: a flapping node is present
        // either way (alive, or failed for less than lost_after), so its flaps change nobody's ideal or share; and
        // nodes that started together share from the first one that is stable, not all to it.
        let idealNodes = names.indices.filter { present[$0] }
        let room = min(cap, idealNodes.isEmpty ? n : (n + idealNodes.count - 1) / idealNodes.count)
        var ideal = [Int](repeating: -1, count: n + 1)
        let idealKeys = idealNodes.map { nodeKeys[$0] }
        var idealLoad = [Int](repeating: 0, count: idealNodes.count)
        for slot in 1...n {
            // replicas × nodes: the hot loop, kept to plain indices.
            var (best, bestWeight, j) = (-1, UInt64(0), 0)
            let key = slotKeys[slot]
            while j < idealKeys.count {
                if idealLoad[j] < room {
                    let w = StableHash.weight(key: key, node: idealKeys[j])
                    if best < 0 || w > bestWeight { (best, bestWeight) = (j, w) }
                }
                j += 1
            }
            if best >= 0 {
                ideal[slot] = idealNodes[best]
                idealLoad[best] += 1
            }
        }
        func preferred(_ slot: Int, _ nodes: [Int]) -> [Int] {
            nodes.sorted { a, b in
                a == b ? false : a == ideal[slot] ? true : b == ideal[slot] ? false : better(slot, a, b)
            }
        }

        // Sticky: present holders keep their slots, within max_per_node (the highest-weight ones).
        var owner = [Int](repeating: -1, count: n + 1)
        for slot in 1...n { owner[slot] = preferred(slot, holders[slot]).first ?? -1 }
        if cap < Int.max {
            var owned = [[Int]](repeating: [], count: names.count)
            for slot in 1...n where owner[slot] >= 0 { owned[owner[slot]].append(slot) }
            for (i, slots) in owned.enumerated() where slots.count > cap {
                for slot in slots.sorted(by: { weight($0, i) > weight($1, i) }).dropFirst(cap) { owner[slot] = -1 }
            }
        }
        var load = [Int](repeating: 0, count: names.count)
        for slot in 1...n where owner[slot] >= 0 { load[owner[slot]] += 1 }

        // Fill: a present holder with room, else the ideal node, else the best stable node within its even share,
        // else, when no alive node is about to be stable and take its share, within max_per_node.
        let stableNodes = names.indices.filter { stable[$0] }
        let awaited = names.indices.contains { alive[$0] && present[$0] && !stable[$0] }  // will be stable
        // No matching node is stable yet (a cluster's first seconds, a deploy right after its only worker started):
        // the alive ones take the replicas at once, each its even share, rather than none running for stable_after;
        // they keep them once stable (sticky holders), so nothing churns then.
        let coldStart = stableNodes.isEmpty
        let candidates = coldStart ? names.indices.filter { alive[$0] && present[$0] } : stableNodes
        for slot in 1...n where owner[slot] < 0 {
            var pick = preferred(slot, holders[slot]).first { load[$0] < cap }
            if pick == nil, ideal[slot] >= 0, stable[ideal[slot]] || coldStart && alive[ideal[slot]], load[ideal[slot]] < room {
                pick = ideal[slot]
            }
            if pick == nil, !coldStart, ideal[slot] >= 0, alive[ideal[slot]], !stable[ideal[slot]],
                view[ideal[slot]].since + settings.stableAfter - now <= settings.startedTogether {
                result.unplaced.append(slot)  // its node is about to be stable: start it there, not twice
                continue
            }
            for bound in awaited && !coldStart ? [room] : [room, cap] where pick == nil {
                for i in candidates where load[i] < bound && (pick.map { better(slot, i, $0) } ?? true) { pick = i }
            }
            if let pick {
                owner[slot] = pick
                load[pick] += 1
            } else {
                result.unplaced.append(slot)
            }
        }

        // Rebalance: only from a settled placement, fullest stable node to emptiest, while that evens the spread.
        if settings.rebalance, result.unplaced.isEmpty, !stableNodes.isEmpty {
            var budget = settings.moveBudget - (1...n).filter { !readyOn[$0].contains(owner[$0]) }.count
            while budget > 0 {
                // Ties go to the lower index (name order), so every node picks the same pair.
                let from = stableNodes.max { load[$0] != load[$1] ? load[$0] < load[$1] : $0 > $1 }!
                let to = stableNodes.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
                guard load[from] - load[to] >= 2, load[to] < cap,
                    let slot = (1...n).filter({ owner[$0] == from }).max(by: {
                        weight($0, to) != weight($1, to) ? weight($0, to) < weight($1, to) : $0 > $1
                    })
                else { break }
                owner[slot] = to
                load[to] += 1
                load[from] -= 1
                result.moves.append(Move(slot: slot, from: names[from], to: names[to]))
                budget -= 1
            }
        }

        // Handoff: an alive node running a slot it does not own keeps it until the owner runs it (start-first), or
        // the owner waits until it is gone (stop-first).
        var byNode = [Set<Int>](repeating: [], count: names.count)
        for slot in 1...n where owner[slot] >= 0 { byNode[owner[slot]].insert(slot) }
        for slot in 1...n where !readyOn[slot].contains(owner[slot]) {
            let others = readyOn[slot].filter { alive[$0] && $0 != owner[slot] }
            guard !others.isEmpty else { continue }
            switch settings.handoff {
            case .startFirst:
                for i in others { byNode[i].insert(slot) }
            case .stopFirst:
                if owner[slot] >= 0 { byNode[owner[slot]].remove(slot) }
            }
        }
        for slot in 1...n where owner[slot] >= 0 { result.owners[slot] = names[owner[slot]] }
        for (i, slots) in byNode.enumerated() where !slots.isEmpty { result.slotsByNode[names[i]] = slots.sorted() }
        return result
    }

    private static func earliest(_ a: Duration?, _ b: Duration) -> Duration { a.map { min($0, b) } ?? b }
}
