import RumorApps
import Testing

/// Each rule of the reconciler, fed with observed containers and time; no engine, no clock.
@Suite struct AppReconcilerTests {
    let spec: AppSpec = {
        var s = AppSpec(name: "site", image: "site:v1")
        s.containersPer = .server(3)
        s.ports = [AppSpec.PortMapping(firstHostPort: 8081, containerPort: 80)]
        return s
    }()

    func container(_ slot: Int, hash: String? = nil, running: Bool = true, status: String = "running",
                   health: ObservedContainer.Health = .healthy, id: String? = nil, exit: Int = 0) -> ObservedContainer {
        ObservedContainer(
            id: id ?? "c\(slot)", name: "rumor-site-\(slot)", slot: slot, templateHash: hash ?? spec.templateHash,
            running: running, status: status, health: health, exitCode: exit)
    }

    @Test func missingSlotsAreCreated() {
        var r = AppReconciler()
        let plan = r.plan(spec: spec, count: 3, observed: [container(2)], now: .zero)
        #expect(plan.steps == [.create(slot: 1), .create(slot: 3)])
        #expect(plan.endpoints == [Endpoint(slot: 2, host: nil, port: 8082)])
        #expect(!plan.converged)
    }

    @Test func replicaSlotsAreTheOnesPlacementGives() {
        var r = AppReconciler()
        let plan = r.plan(spec: spec, slots: [4, 9], observed: [container(1), container(9)], now: .zero)
        #expect(plan.steps == [
            .remove(id: "c1", name: "rumor-site-1", drain: true, reason: "not wanted on this node"), .create(slot: 4),
        ])
        #expect(plan.endpoints == [Endpoint(slot: 9, host: nil, port: 8089)])
    }

    @Test func convergedWhenEverySlotIsReadyAndCurrent() {
        var r = AppReconciler()
        let plan = r.plan(spec: spec, count: 3, observed: [container(1), container(2), container(3)], now: .zero)
        #expect(plan.steps.isEmpty && plan.converged)
        #expect(plan.endpoints.map(\.port) == [8081, 8082, 8083])
    }

    @Test func anExitedContainerIsReplacedAfterTheBackoffWhichDoubles() {
        var r = AppReconciler()
        // The first failure is replaced at once.
        let killed = container(1, running: false, status: "exited", health: .none, id: "k1", exit: 137)
        let zero = r.plan(spec: spec, count: 1, observed: [killed], now: .seconds(9))
        #expect(zero.steps == [.replace(id: "k1", name: "rumor-site-1", slot: 1, drain: false, reason: "exited with code 137")])
        #expect(zero.notices == [.exited(killed)])
        let dead = container(1, running: false, status: "exited", health: .none, id: "d1", exit: 137)
        let first = r.plan(spec: spec, count: 1, observed: [dead], now: .seconds(10))
        #expect(first.steps.isEmpty)
        #expect(first.notices == [.exited(dead)])
        #expect(r.history[1]?.lastError == "exited with code 137")
        let wake = try! #require(first.wakeAt)
        #expect(wake > .seconds(10.8) && wake < .seconds(11.2))  // 1 s ±10%
        let second = r.plan(spec: spec, count: 1, observed: [dead], now: wake)
        #expect(second.steps == [.replace(id: "d1", name: "rumor-site-1", slot: 1, drain: false, reason: "exited with code 137")])
        #expect(second.notices.isEmpty)  // counted once
        // The replacement dies too: the wait doubles.
        let dead2 = container(1, running: false, status: "exited", health: .none, id: "d2", exit: 1)
        let third = r.plan(spec: spec, count: 1, observed: [dead2], now: .seconds(20))
        let wait = try! #require(third.wakeAt) - .seconds(20)
        #expect(wait > .seconds(1.8) && wait < .seconds(2.2))
    }

    @Test func aCrashLoopRestartsAHandfulOfTimesAMinute() {
        var r = AppReconciler()
        var now = Duration.zero, restarts = 0, n = 0
        while now < .seconds(60) {
            n += 1
            let plan = r.plan(spec: spec, count: 1, observed: [container(1, running: false, status: "exited", health: .none, id: "x\(n)")], now: now)
            if plan.steps.isEmpty { now = plan.wakeAt! } else { restarts += 1; now += .milliseconds(300) }
        }
        #expect(restarts <= 7)
        #expect(r.history[1]!.failures >= 6)
    }

    @Test func maxAttemptsGivesUpUntilReset() {
        var s = spec
        s.restart.maxAttempts = 2
        var r = AppReconciler()
        r.failed(slot: 1, message: "port is already allocated", spec: s, now: .zero)
        r.failed(slot: 1, message: "port is already allocated", spec: s, now: .seconds(5))
        let plan = r.plan(spec: s, count: 1, observed: [], now: .seconds(100))
        #expect(plan.steps.isEmpty && plan.wakeAt == nil)
        #expect(r.history[1]?.gaveUp == true && r.history[1]?.lastError == "port is already allocated")
        r.reset()
        #expect(r.plan(spec: s, count: 1, observed: [], now: .seconds(100)).steps == [.create(slot: 1)])
    }

    @Test func runningForTheWindowForgivesFailures() {
        var r = AppReconciler()
        r.failed(slot: 1, message: "boom", spec: spec, now: .zero)
        _ = r.plan(spec: spec, count: 1, observed: [container(1)], now: .seconds(2))
        #expect(r.history[1]?.failures == 1)
        _ = r.plan(spec: spec, count: 1, observed: [container(1)], now: .seconds(11))
        #expect(r.history[1]?.failures == 1)  // 9 s of the 10 s window
        _ = r.plan(spec: spec, count: 1, observed: [container(1)], now: .seconds(12))
        #expect(r.history[1]?.failures == 0)
    }

    @Test func anUnhealthyContainerLeavesTheBalancerAndIsReplaced() {
        var r = AppReconciler()
        let sick = container(2, health: .unhealthy)
        let plan = r.plan(spec: spec, count: 3, observed: [container(1), sick, container(3)], now: .zero)
        #expect(plan.notices.filter { if case .healthy = $0 { false } else { true } } == [.unhealthy(sick)])
        #expect(plan.endpoints.map(\.slot) == [1, 3])
        let later = r.plan(spec: spec, count: 3, observed: [container(1), sick, container(3)], now: .seconds(2))
        #expect(later.steps == [.replace(id: "c2", name: "rumor-site-2", slot: 2, drain: false, reason: "health check failing")])
    }

    @Test func startingContainersAreWaitedForAndNotAdvertised() {
        var r = AppReconciler()
        let plan = r.plan(spec: spec, count: 1, observed: [container(1, health: .starting)], now: .zero)
        #expect(plan.steps.isEmpty && plan.endpoints.isEmpty && !plan.converged)
    }

    @Test func aNewSpecRollsOneContainerAtATimeOnlyWhileTheOthersAreReady() {
        var r = AppReconciler()
        var v2 = spec
        v2.image = "site:v2"
        let old = [container(1), container(2), container(3)]
        _ = r.plan(spec: spec, count: 3, observed: old, now: .zero)
        let plan = r.plan(spec: v2, count: 3, observed: old, now: .seconds(10))
        #expect(plan.steps == [.replace(id: "c1", name: "rumor-site-1", slot: 1, drain: true, reason: "spec changed")])
        #expect(plan.endpoints.map(\.slot) == [2, 3])  // withdrawn before it stops
        // Slot 1 is new but still starting: slot 2 waits.
        let next = [container(1, hash: v2.templateHash, health: .starting, id: "n1"), container(2), container(3)]
        #expect(r.plan(spec: v2, count: 3, observed: next, now: .seconds(11)).steps.isEmpty)
        // Ready, but load balancers have not had the update delay (3 s) to take it in: wait until then.
        let ready = [container(1, hash: v2.templateHash, id: "n1"), container(2), container(3)]
        let waiting = r.plan(spec: v2, count: 3, observed: ready, now: .seconds(12))
        #expect(waiting.steps.isEmpty && waiting.wakeAt == .seconds(15))
        #expect(r.plan(spec: v2, count: 3, observed: ready, now: .seconds(15)).steps.first
            == .replace(id: "c2", name: "rumor-site-2", slot: 2, drain: true, reason: "spec changed"))
    }

    /// Start-first: the new container starts beside the old one, which keeps serving until the new one is ready;
    /// then the old one is withdrawn and stopped, and the next slot begins (after the update delay).
    @Test func startFirstStartsTheNewContainerBesideTheOldOne() {
        var v1 = spec
        v1.ports = []
        v1.advertise = .network("web", port: 80)
        v1.update.order = .startFirst
        v1.updateDelay = .zero
        var v2 = v1
        v2.image = "site:v2"
        func c(_ slot: Int, _ s: AppSpec, id: String, health: ObservedContainer.Health = .healthy) -> ObservedContainer {
            var x = container(slot, hash: s.templateHash, health: health, id: id)
            x.addresses = ["web": "10.0.0.\(slot)"]
            return x
        }
        var r = AppReconciler()
        let old = [c(1, v1, id: "o1"), c(2, v1, id: "o2")]
        _ = r.plan(spec: v1, count: 2, observed: old, now: .zero)
        let begin = r.plan(spec: v2, count: 2, observed: old, now: .seconds(10))
        #expect(begin.steps == [.create(slot: 1)])
        #expect(begin.endpoints.map(\.slot) == [1, 2])  // nothing is withdrawn yet
        // The new one is starting: not a duplicate, nothing else moves, both old ones serve.
        let starting = old + [c(1, v2, id: "n1", health: .starting)]
        let wait = r.plan(spec: v2, count: 2, observed: starting, now: .seconds(11))
        #expect(wait.steps.isEmpty && !wait.converged && wait.wakeAt == .seconds(12))
        #expect(wait.endpoints.map(\.host) == ["10.0.0.1", "10.0.0.2"])
        // Ready: it takes the slot's endpoint, and the old one goes (drained first).
        let ready = old + [c(1, v2, id: "n1")]
        let handover = r.plan(spec: v2, count: 2, observed: ready, now: .seconds(12))
        #expect(handover.steps == [.remove(id: "o1", name: "rumor-site-1", drain: true, reason: "spec changed, its replacement is ready")])
        #expect(handover.endpoints.map(\.slot) == [1, 2])
        // The old one stopping is out of sight (the worker stops it beside the loop): slot 2 begins at once.
        let next = r.plan(spec: v2, count: 2, observed: [c(1, v2, id: "n1"), c(2, v1, id: "o2")], now: .seconds(12))
        #expect(next.steps == [.create(slot: 2)])
    }

    /// A replacement that fails goes, without a stop grace (it never served); the old container keeps serving; retries back off, and the failures add up
    /// (the old container running all along forgives none of them), so the rollout fails as a stop-first one would.
    @Test func startFirstReplacementsThatFailAddUp() {
        var v1 = spec
        v1.ports = []
        v1.update.order = .startFirst
        var v2 = v1
        v2.image = "site:broken"
        var r = AppReconciler()
        let old = container(1, hash: v1.templateHash, id: "o1")
        _ = r.plan(spec: v1, count: 1, observed: [old], now: .zero)
        var now = Duration.seconds(60)
        for attempt in 1...3 {
            let create = r.plan(spec: v2, count: 1, observed: [old], now: now)
            #expect(create.steps == [.create(slot: 1)], "attempt \(attempt)")
            let dead = container(1, hash: v2.templateHash, running: false, status: "exited", health: .none, id: "n\(attempt)", exit: 1)
            let failed = r.plan(spec: v2, count: 1, observed: [old, dead], now: now)
            #expect(failed.steps == [.discard(id: "n\(attempt)", name: "rumor-site-1", reason: "exited with code 1")])
            #expect(failed.notices == [.exited(dead)])  // and the old one stays
            #expect(r.history[1]?.failures == attempt)
            let after = r.plan(spec: v2, count: 1, observed: [old], now: now)
            now = attempt == 1 ? now : try! #require(after.wakeAt)  // the first retry is at once, then it backs off
            #expect(attempt == 1 ? after.steps == [.create(slot: 1)] : after.steps.isEmpty)
        }
    }

    @Test func extraUnslottedAndDuplicateContainersAreRemoved() {
        var r = AppReconciler()
        var stray = container(9)
        stray.slot = nil
        let dup = container(1, running: false, status: "exited", health: .none, id: "old1")
        let plan = r.plan(spec: spec, count: 2, observed: [container(1), dup, container(2), container(3), stray], now: .zero)
        #expect(Set(plan.steps.map { step -> String in
            if case .remove(let id, _, _, _) = step { return id } else { return "?" }
        }) == ["c3", "c9", "old1"])
    }

    @Test func notRunningMeansNoContainers() {
        var s = spec
        s.running = false
        var r = AppReconciler()
        let plan = r.plan(spec: s, count: s.containerCount(cores: 2, memoryMiB: 1000), observed: [container(1)], now: .zero)
        #expect(plan.steps == [.remove(id: "c1", name: "rumor-site-1", drain: true, reason: "not wanted on this node")])
    }

    @Test func networkAdvertisingUsesTheContainerAddress() {
        var s = spec
        s.networks = ["web"]
        s.advertise = .network("web")
        var c = container(1, hash: s.templateHash)
        c.addresses = ["web": "172.20.0.5"]
        var r = AppReconciler()
        #expect(r.plan(spec: s, count: 1, observed: [c], now: .zero).endpoints == [Endpoint(slot: 1, host: "172.20.0.5", port: 80)])
    }
}
