import RumorCore
import RumorSimulator
import Testing

/// Whole-cluster behaviour on the deterministic simulator. Every assertion names the seed, so a failure can be
/// replayed exactly with `Simulation(seed:)`.
@Suite struct ClusterSimulationTests {
    /// Starts `n` nodes; node i joins through a random earlier node, as containers starting at once would.
    static func cluster(_ n: Int, seed: UInt64, settings: MemberlistSettings = .lan) -> Simulation {
        let sim = Simulation(seed: seed, settings: settings)
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
