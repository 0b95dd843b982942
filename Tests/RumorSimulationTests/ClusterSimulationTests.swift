import RumorCore
import RumorSimulator
import Testing

/// Whole-cluster behaviour on the deterministic simulator. Every assertion names the seed, so a failure can be
/// replayed exactly with `Simulation(seed:)`.
@Suite struct ClusterSimulationTests {
    /// Starts `n` nodes; node i joins through a random earlier node, as containers starting at once would.
    static func cluster(_ n: Int, seed: UInt64, settings: MemberlistSettings = .lan, serf: SerfSettings = SerfSettings()) -> Simulation {
        let sim = Simulation(seed: seed, settings: settings)
        sim.serfSettings = serf
        var pick = SplitMix64(seed: seed ^ 0xabcdef)
        for i in 0..<n {
            sim.start(i)
            if i > 0 { sim.join(i, via: Int.random(in: 0..<i, using: &pick)) }
            sim.run(for: .milliseconds(10))
        }
        return sim
    }

    static func allSee(_ sim: Simulation, _ nodes: [Int], status: MemberStatus, of targets: [Int]) -> Bool {
        nodes.allSatisfy { i in targets.allSatisfy { sim.status(of: $0, seenBy: i) == status } }
    }

    @Test(arguments: [UInt64(1), 2])
    func twoHundredNodes_converge(seed: UInt64) {
        let sim = Self.cluster(200, seed: seed)
        let all = Array(0..<200)
        let converged = sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(60))
        #expect(converged, "200 nodes did not converge within 60 virtual seconds (seed \(seed))")
    }

    @Test(arguments: [UInt64(3), 4, 5])
    func killedNode_isSeenFailedByAll(seed: UInt64) {
        let sim = Self.cluster(30, seed: seed)
        let all = Array(0..<30)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        sim.kill(7)
        let others = all.filter { $0 != 7 }
        let failed = sim.run(until: { Self.allSee($0, others, status: .failed, of: [7]) }, limit: .seconds(60))
        #expect(failed, "killed node not failed everywhere within 60 s (seed \(seed))")
        #expect(Self.allSee(sim, others, status: .alive, of: others), "a healthy node was not alive (seed \(seed))")
    }

    @Test(arguments: [UInt64(6), 7])
    func leavingNode_isSeenLeftByAll(seed: UInt64) {
        let sim = Self.cluster(30, seed: seed)
        let all = Array(0..<30)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        sim.leave(9)
        let others = all.filter { $0 != 9 }
        let finished = sim.run(until: { $0.events(of: 9).contains(.leaveFinished) }, limit: .seconds(15))
        #expect(finished, "leave did not finish (seed \(seed))")
        sim.kill(9)  // the process exits after leaving
        let left = sim.run(until: { Self.allSee($0, others, status: .left, of: [9]) }, limit: .seconds(30))
        #expect(left, "leaving node not seen as left by all (seed \(seed))")
    }

    @Test(arguments: [UInt64(8), 9])
    func partition_heals(seed: UInt64) {
        let sim = Self.cluster(20, seed: seed)
        let all = Array(0..<20)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        let a = Array(0..<10), b = Array(10..<20)
        sim.partition([a, b])
        let split = sim.run(
            until: { Self.allSee($0, a, status: .failed, of: b) && Self.allSee($0, b, status: .failed, of: a) },
            limit: .seconds(90))
        #expect(split, "the two sides did not see each other failed (seed \(seed))")
        sim.heal()
        let healed = sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(180))
        #expect(healed, "partition did not heal within 180 s (seed \(seed))")
    }

    /// A 3 | 2 split held for 60 s, past gossip to the dead: nothing crosses the cut any more but the reconnect
    /// loop's pings, and the cluster must heal within 10 s of the heal (serf's 30 s push-pull loop took 18.5 s in
    /// namespaces; docs/membership.md#reap-and-reconnect).
    @Test(arguments: [UInt64(12), 13, 14, 15, 16])
    func partitionOfSixtySeconds_healsWithinTenSeconds(seed: UInt64) {
        let sim = Self.cluster(5, seed: seed)
        let all = Array(0..<5)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        let a = [0, 1, 2], b = [3, 4]
        sim.partition([a, b])
        sim.run(for: .seconds(60))
        #expect(Self.allSee(sim, a, status: .failed, of: b) && Self.allSee(sim, b, status: .failed, of: a), "seed \(seed)")
        sim.heal()
        let healed = sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(10))
        #expect(healed, "a 60 s partition did not heal within 10 s (seed \(seed))")
    }

    /// A 3 | 2 split longer than the reconnect timeout: each half reaps the other (serf then forgets them for
    /// good), and after the heal they find each other again by themselves, from the reaped members' addresses.
    @Test(arguments: [UInt64(17), 18, 19])
    func partitionPastTheReconnectTimeout_reapedHalvesRejoin(seed: UInt64) {
        var serf = SerfSettings()
        serf.reconnectTimeout = .seconds(20)
        let sim = Self.cluster(5, seed: seed, serf: serf)
        let all = Array(0..<5)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        let a = [0, 1, 2], b = [3, 4]
        sim.partition([a, b])
        let forgotten = { (sim: Simulation, observers: [Int], targets: [Int]) in
            observers.allSatisfy { i in targets.allSatisfy { sim.status(of: $0, seenBy: i) == nil } }
        }
        let reaped = sim.run(until: { forgotten($0, a, b) && forgotten($0, b, a) }, limit: .seconds(120))
        #expect(reaped, "the halves did not reap each other (seed \(seed))")
        sim.heal()
        let healed = sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(15))
        #expect(healed, "the reaped halves did not find each other within 15 s (seed \(seed))")
    }

    @Test(arguments: [UInt64(10), 11])
    func tenPercentLoss_noHealthyNodeFails(seed: UInt64) {
        let sim = Self.cluster(40, seed: seed)
        let all = Array(0..<40)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)), "seed \(seed)")
        sim.network.loss = 0.10
        sim.run(for: .seconds(600))
        let falseFailures = all.flatMap { i in
            sim.events(of: i).compactMap { event -> String? in
                if case .memberFailed(let m) = event { return "\(Simulation.name(i)) saw \(m.name) fail" }
                return nil
            }
        }
        #expect(falseFailures.isEmpty, "healthy nodes declared failed at 10% loss (seed \(seed)): \(falseFailures.prefix(5))")
    }

    @Test func restartedNode_isAliveAgainEverywhere() {
        let seed: UInt64 = 12
        let sim = Self.cluster(10, seed: seed)
        let all = Array(0..<10)
        #expect(sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30)))
        sim.kill(4)
        let others = all.filter { $0 != 4 }
        #expect(sim.run(until: { Self.allSee($0, others, status: .failed, of: [4]) }, limit: .seconds(60)), "seed \(seed)")
        sim.start(4)
        sim.join(4, via: 0)
        let back = sim.run(until: { Self.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30))
        #expect(back, "restarted node not alive everywhere (seed \(seed))")
    }
}

/// Delivery of every user event, not most: issue 14's bench saw about 1 event in 70 miss one node of 50 entirely
/// (every random transmission went elsewhere) and arrive only with a later push-pull.
@Suite struct EventDeliverySimulationTests {
    /// Fires `count` events from random nodes, one every 300 ms as bench/events.py does, and returns the ones
    /// that some node had not handled 2 s after they were fired.
    static func lateEvents(
        count: Int, nodes n: Int, seed: UInt64, settings: MemberlistSettings = .lan, loss: Double = 0
    ) -> [String] {
        let sim = ClusterSimulationTests.cluster(n, seed: seed, settings: settings)
        let all = Array(0..<n)
        guard sim.run(until: { ClusterSimulationTests.allSee($0, all, status: .alive, of: all) }, limit: .seconds(30))
        else { return ["the cluster did not converge"] }
        sim.network.loss = loss
        var pick = SplitMix64(seed: seed ^ 0x5eed)
        var handled = Array(repeating: 0, count: n)  // events seen so far, per node
        var late: [String] = []
        for k in 0..<count {
            let name = "e\(k)"
            sim.command(.userEvent(name: name, payload: [], coalesce: false), to: Int.random(in: 0..<n, using: &pick))
            sim.run(for: .seconds(2))
            let missing = all.filter { i in
                let mine = sim.events(of: i)[handled[i]...].compactMap { e -> String? in
                    if case .userEvent(let u) = e { u.name } else { nil }
                }
                handled[i] = sim.events(of: i).count
                return !mine.contains(name)
            }
            if !missing.isEmpty { late.append("\(name) not at \(missing.map(Simulation.name))") }
            sim.run(for: .milliseconds(300))
        }
        return late
    }

    @Test(arguments: [UInt64(21), 22])
    func fiftyNodes_everyEventEverywhereWithinTwoSeconds(seed: UInt64) {
        // Without the ring successor (ringGossip false) seeds 21-24 leave 16 of 1,200 events late; with it, none.
        let late = Self.lateEvents(count: 200, nodes: 50, seed: seed)
        #expect(late.isEmpty, "\(late.count) of 200 events late (seed \(seed)): \(late.prefix(3))")
    }

    @Test func fiftyNodes_tenPercentLoss_fewLateEvents() {
        // Measured on seeds 21-24: 31 of 800 late without the ring successor, 2 with it.
        let late = Self.lateEvents(count: 200, nodes: 50, seed: 23, loss: 0.10)
        #expect(late.count <= 2, "\(late.count) of 200 events late at 10% loss (seed 23): \(late.prefix(3))")
    }
}

/// The converged start that lets bench/convergence.py simulate 10,000 nodes: nodes begin as settled members of
/// one shared view, and then behave as any node does.
@Suite struct ConvergedStartSimulationTests {
    @Test func convergedNodes_seeEveryoneAlive_spreadNews_andDetectAFailure() {
        let n = 300
        let sim = Simulation(seed: 31)
        sim.startConverged(n)
        let all = Array(0..<n)
        #expect(ClusterSimulationTests.allSee(sim, [0, 1, 150, 299], status: .alive, of: all))
        let idleSince = sim.packetsSent
        sim.run(for: .seconds(5))
        // Probes and their acks only, about two packets a node a second: a start announced to everyone would be
        // thousands more.
        #expect(sim.packetsSent - idleSince < 3 * 5 * n, "\(sim.packetsSent - idleSince) packets in 5 idle seconds")

        sim.command(.userEvent(name: "news", payload: [], coalesce: false), to: 0)
        sim.run(for: .seconds(2))
        let missing = all.filter { i in !sim.events(of: i).contains { if case .userEvent(let u) = $0 { u.name == "news" } else { false } } }
        #expect(missing.isEmpty, "the event did not reach \(missing.count) nodes in 2 s")

        sim.kill(42)
        let others = all.filter { $0 != 42 }
        #expect(sim.run(until: { ClusterSimulationTests.allSee($0, others, status: .failed, of: [42]) }, limit: .seconds(90)))
        #expect(ClusterSimulationTests.allSee(sim, [0, 1, 299], status: .alive, of: others))
    }
}
