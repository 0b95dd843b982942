import RumorApps
import Testing

/// Issue 12, acceptance 1, on ``PlacementWorld``: 100 nodes, `replicas: 300, max_per_node: 5`, each node deciding
/// from its own view with detection delays up to 3 s and containers ready 2 s after they start. Fixed seed.
@Suite struct ReplicaPlacementSimulationTests {
    static let seed: UInt64 = 12

    /// Steps a second at a time until `done` holds, at most `limit` seconds; returns the seconds it took.
    func run(_ world: inout PlacementWorld, limit: Int, each: (PlacementWorld) -> Void = { _ in },
             until done: (PlacementWorld) -> Bool) -> Int? {
        for second in 1...limit {
            world.step()
            each(world)
            if done(world) { return second }
        }
        return nil
    }

    /// Every running node's view places all 300 the same way with no move under way, and that is what runs.
    func settled(_ world: PlacementWorld) -> Bool {
        guard let first = world.results.values.first else { return false }
        let holders = world.holders
        return world.results.values.allSatisfy { $0.owners == first.owners && $0.moves.isEmpty && $0.unplaced.isEmpty }
            && first.owners.count == 300 && holders.count == 300
            && holders.allSatisfy { $0.value == [first.owners[$0.key]!] }
    }

    func perNode(_ world: PlacementWorld) -> [String: Int] {
        var count: [String: Int] = [:]
        for nodes in world.holders.values { for node in nodes { count[node, default: 0] += 1 } }
        return count
    }

    /// Slots whose running copies differ between two moments.
    func changed(_ a: [Int: Set<String>], _ b: [Int: Set<String>]) -> [Int] {
        Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
    }

    @Test func hundredNodesThreeHundredReplicas() {
        var world = PlacementWorld(
            settings: .init(app: "site", replicas: 300, maxPerNode: 5, rebalance: true), seed: Self.seed)
        for i in 1...100 { world.add(i, since: .seconds(-3600)) }

        // 1. Every node computes the same placement: exactly 300, at most 5 a node.
        let placed = run(&world, limit: 30, until: settled)
        #expect(placed != nil)
        #expect(world.results.count == 100)
        #expect(perNode(world).values.max()! <= 5)
        print("placement: 300 ready after \(placed ?? -1) s on \(world.results.count) nodes, all views equal; per node min \(perNode(world).values.min()!) max \(perNode(world).values.max()!)")

        // 2. Kill 10: nothing moves before lost_after; then the 300 are back, none on a dead node.
        let before = world.holders
        let dead = Set((1...100).sorted { world.random(1 << 30, $0) < world.random(1 << 30, $1) }.prefix(10))
        let deadNames = Set(dead.map(PlacementWorld.name))
        for id in dead { world.kill(id) }
        let lost = before.filter { !$0.value.isDisjoint(with: deadNames) }.count
        let killedAt = world.now
        var lowest = 300
        var movedEarly = 0
        let back = run(&world, limit: 120, each: { w in
            lowest = min(lowest, w.healthy)
            if w.now < killedAt + .seconds(30) {
                movedEarly += changed(before, w.holders).filter { before[$0]!.isDisjoint(with: deadNames) }.count
            }
        }, until: { w in
            w.healthy == 300 && w.holders.values.allSatisfy { $0.isDisjoint(with: deadNames) }
                && w.results.values.allSatisfy { r in r.owners.count == 300 && r.owners.values.allSatisfy { !deadNames.contains($0) } }
        })
        #expect(back != nil)
        #expect((back ?? 0) >= 30)  // lost_after
        #expect((back ?? 999) <= 30 + 3 + 2 + 2)  // + detection + start + two steps
        #expect(movedEarly == 0)
        #expect(lowest == 300 - lost)
        print("kill 10: \(lost) slots lost, lowest \(lowest) ready, 300 ready again after \(back ?? -1) s, none on dead nodes in any view")
        let refilled = world.holders
        let evened = run(&world, limit: 300, until: settled)
        #expect(evened != nil)
        print("kill 10: then \(changed(refilled, world.holders).count) slots moved among survivors toward the ideal in \(evened ?? -1) s")

        // 3. Ten join with rebalance: only their HRW share moves, one at a time, start-first.
        let afterKill = world.holders
        let (startsBefore, removalsBefore) = (world.starts, world.removals)
        let joined = Set((101...110).map(PlacementWorld.name))
        for id in 101...110 { world.add(id, since: world.now) }
        let joinedAt = world.now
        lowest = 300
        var most = 0
        let rebalanced = run(&world, limit: 600, each: { w in
            lowest = min(lowest, w.healthy)
            most = max(most, w.readyContainers)
        }, until: { w in w.now >= joinedAt + .seconds(10 + 3 + 1) && settled(w) })
        #expect(rebalanced != nil)
        let moved = changed(afterKill, world.holders)
        let share = perNode(world).filter { joined.contains($0.key) }.values.reduce(0, +)
        #expect(moved.allSatisfy { !world.holders[$0]!.isDisjoint(with: joined) })  // every moved slot went to a newcomer
        #expect(moved.count == share)
        #expect(share > 0)
        #expect(lowest >= 300 - world.settings.moveBudget)
        // Starts beyond the share were begun by a newcomer that saw itself stable before the others did, and
        // dropped before they were ever ready: no running container moved for them.
        #expect(world.starts - startsBefore == world.removals - removalsBefore)
        #expect(world.starts - startsBefore <= share + 10)
        print("join 10: \(world.starts - startsBefore) starts (\(world.starts - startsBefore - share) dropped before ready), \(world.removals - removalsBefore) removals")
        let fresh = ReplicaPlacement.compute(world.settings, members: world.view(of: 1), ready: [:], now: world.now)
        let idealShare = joined.map { fresh.slots(of: $0).count }.reduce(0, +)
        print("join 10: a placement from scratch would give the newcomers \(idealShare); they took \(share)")
        print("join 10: \(moved.count) slots moved, all to the newcomers (they now run \(share)), settled \(rebalanced ?? -1) s after the join; lowest \(lowest) ready, at most \(most) ready containers")

        // 4. A node that runs slots and a newcomer flap every 2 s for 60 s: nothing starts or stops.
        let steady = world.holders
        let flapper = (1...100).first { !dead.contains($0) && perNode(world)[PlacementWorld.name($0)] != nil }!
        world.add(111, since: world.now)
        let (starts, removals) = (world.starts, world.removals)
        var churned: Set<Int> = []
        for second in 1...60 {
            if second % 2 == 0 {
                let status: PlacementMember.Status = second % 4 == 0 ? .alive : .failed
                world.perceive(flapper, status)
                world.perceive(111, status)
            }
            world.step()
            churned.formUnion(changed(steady, world.holders))
        }
        #expect(churned.isEmpty)
        #expect(world.starts == starts && world.removals == removals)
        print("flap: \(PlacementWorld.name(flapper)) (running \(perNode(world)[PlacementWorld.name(flapper)] ?? 0) slots) and a newcomer, every 2 s for 60 s: \(world.starts - starts) starts, \(world.removals - removals) removals")
        print("placements computed: \(world.computations)")
    }
}
