import RumorApps
import Testing

/// Waves, monitor gating and each failure action, fed with node reports and time.
@Suite struct RolloutTests {
    let names = (1...6).map { "node-\($0)" }

    func policy(_ action: AppSpec.UpdatePolicy.FailureAction = .rollback, parallelism: Int = 2) -> AppSpec.UpdatePolicy {
        var p = AppSpec.UpdatePolicy()
        p.parallelism = parallelism
        p.failureAction = action
        p.monitor = .seconds(5)
        p.progressDeadline = .seconds(60)
        return p
    }

    /// Every node runs what it is allowed, healthy at once unless listed in `failing`.
    func report(_ allowed: Set<String>, generation: Int = 2, failing: Set<String> = []) -> [String: Rollout.NodeState] {
        Dictionary(uniqueKeysWithValues: names.map { name in
            let new = allowed.contains(name)
            return (name, Rollout.NodeState(generation: new ? generation : 1, healthy: 2, total: 2, failed: new && failing.contains(name)))
        })
    }

    @Test func orderIsTheSameEverywhereAndDiffersPerGeneration() {
        let a = Rollout.order(app: "site", generation: 2, nodes: names)
        #expect(a == Rollout.order(app: "site", generation: 2, nodes: names.reversed()))
        #expect(Set(a) == Set(names))
        #expect(a != Rollout.order(app: "site", generation: 3, nodes: names))
    }

    @Test func wavesOfParallelismEachAfterThePreviousWasHealthyForMonitor() {
        var rollout = Rollout(app: "site", generation: 2, policy: policy(), startedAt: .zero)
        let order = Rollout.order(app: "site", generation: 2, nodes: names)
        var d = rollout.step(nodes: report([]), now: .zero)
        #expect(d.allowed == Set(order[0..<2]) && d.status == .progressing(wave: 1, of: 3))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(1))  // healthy from 1 s
        #expect(d.allowed == Set(order[0..<2]) && d.wakeAt == .seconds(6))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(6))
        #expect(d.allowed == Set(order[0..<4]) && d.status == .progressing(wave: 2, of: 3))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(7))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(12))
        #expect(d.allowed == Set(names) && d.status == .progressing(wave: 3, of: 3))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(13))
        d = rollout.step(nodes: report(d.allowed), now: .seconds(18))
        #expect(d.status == .done && d.allowed == Set(names))
    }

    @Test func aFailedNodeRollsEverythingBack() {
        var rollout = Rollout(app: "site", generation: 2, policy: policy(), startedAt: .zero)
        let first = rollout.step(nodes: report([]), now: .zero).allowed
        let bad = first.sorted()[0]
        let d = rollout.step(nodes: report(first, failing: [bad]), now: .seconds(3))
        #expect(d.status == .rollingBack(reason: "\(bad): its containers of generation 2 failed"))
        #expect(d.allowed.isEmpty)
        #expect(rollout.step(nodes: report(first), now: .seconds(30)).status == d.status)  // it stays decided
    }

    @Test func pauseKeepsTheUpdatedNodesAndStartsNoMore() {
        var rollout = Rollout(app: "site", generation: 2, policy: policy(.pause), startedAt: .zero)
        let first = rollout.step(nodes: report([]), now: .zero).allowed
        let d = rollout.step(nodes: report(first, failing: [first.sorted()[1]]), now: .seconds(3))
        #expect(d.status == .paused(reason: "\(first.sorted()[1]): its containers of generation 2 failed"))
        #expect(d.allowed == first)
    }

    @Test func continueNotesTheFailureAndGoesOn() {
        var rollout = Rollout(app: "site", generation: 2, policy: policy(.continue, parallelism: 3), startedAt: .zero)
        let first = rollout.step(nodes: report([]), now: .zero).allowed
        let bad = first.sorted()[0]
        var d = rollout.step(nodes: report(first, failing: [bad]), now: .seconds(1))
        #expect(d.ignored == [bad: "its containers of generation 2 failed"])
        d = rollout.step(nodes: report(d.allowed, failing: [bad]), now: .seconds(6))
        #expect(d.allowed == Set(names))
        d = rollout.step(nodes: report(d.allowed, failing: [bad]), now: .seconds(7))
        d = rollout.step(nodes: report(d.allowed, failing: [bad]), now: .seconds(12))
        #expect(d.status == .done)
    }

    @Test func aStuckRolloutEndsAtTheProgressDeadline() {
        var rollout = Rollout(app: "site", generation: 2, policy: policy(), startedAt: .zero)
        let first = rollout.step(nodes: report([]), now: .zero).allowed
        var stuck = report(first)
        for name in first { stuck[name]!.healthy = 0 }  // starting forever
        #expect(rollout.step(nodes: stuck, now: .seconds(59)).status == .progressing(wave: 1, of: 3))
        let d = rollout.step(nodes: stuck, now: .seconds(60))
        #expect(d.status == .rollingBack(reason: "no node settled for 1m0s (0 of 6 done)"))
    }

    @Test func aFailingRollbackPausesInsteadOfRollingBackAgain() {
        var rollout = Rollout(app: "site", generation: 3, policy: policy(), isRollback: true, startedAt: .zero)
        let first = rollout.step(nodes: report([], generation: 3), now: .zero).allowed
        let bad = first.sorted()[0]
        let d = rollout.step(nodes: report(first, generation: 3, failing: [bad]), now: .seconds(2))
        #expect(d.status == .paused(reason: "rollback failed too: \(bad): its containers of generation 3 failed"))
    }
}
