import RumorCore
import RumorWire
import Testing
@testable import RumorActions

/// The HAProxy action's rules, one per test, on the pure state machine: time is an argument, nothing sleeps.
@Suite struct HAProxyStateMachineTests {
    typealias Machine = HAProxyStateMachine
    let t0 = ContinuousClock.now

    static func member(_ name: String, _ last: UInt8) -> Member {
        Member(
            name: name, address: Address(ip: [10, 0, 0, last], port: 7946), tags: ["role": "backend"],
            status: .alive, vsn: [1, 5, 5, 2, 5, 5])
    }

    static func backend(_ name: String, _ last: Int, _ status: MemberStatus = .alive) -> BackendMember {
        BackendMember(name: name, host: "10.0.0.\(last)", port: 80, tags: ["role": "backend"], status: status)
    }

    /// A render runtime mode accepts: the admin stats socket and every slot's server, plus `extra` structure.
    static func render(slots: Int, addresses: [Int] = [], extra: String = "") -> String {
        var text = "global\n    stats socket /run/haproxy/admin.sock mode 600 level admin\n" + extra
        text += "backend backends\n"
        for i in 0..<slots {
            let address = i < addresses.count ? "10.0.0.\(addresses[i]):80" : "127.0.0.1:1 disabled"
            text += "    server srv\(i + 1) \(address) check\n"
        }
        return text
    }

    func machine(_ configure: (inout HAProxyActionConfiguration) -> Void = { _ in }) -> Machine {
        var config = HAProxyActionConfiguration()
        config.slots = 2
        configure(&config)
        var m = Machine(configuration: config, now: t0)
        let loads = m.templateChecked(fingerprint: [1], at: t0)
        #expect(loads, "the first check always loads the template")
        return m
    }

    /// `next`, answering template checks with an unchanged file, as the driver does.
    func next(_ m: inout Machine, at now: ContinuousClock.Instant, pending: (Duration, Duration)? = nil)
        -> Machine.Step
    {
        let times = pending.map { (first: t0 + $0.0, last: t0 + $0.1) }
        while true {
            let step = m.next(now: now, pending: times)
            guard step == .checkTemplate else { return step }
            let loads = m.templateChecked(fingerprint: [1], at: now)
            #expect(!loads)
        }
    }

    /// A machine that has members and applied `text` with one backend, HAProxy running as pid 100.
    func running(
        _ mode: HAProxyApplyMode = .runtime, text: String = render(slots: 2, addresses: [1])
    ) -> (Machine, SlotTable) {
        var m = machine { $0.apply = mode; $0.pidFile = "/run/haproxy.pid" }
        m.membersTaken([Self.member("a", 1)], number: 1, firstChange: t0)
        #expect(next(&m, at: t0) == .apply)
        let plan = m.plan(for: [Self.backend("a", 1)], now: t0)
        m.installed(text)
        if mode.startsHAProxy { _ = m.haproxyStarted(pid: 100, at: t0) }
        m.haproxyLoaded(structureKey: StructureKey.of(text, backend: "backends"))
        _ = m.applySucceeded(text: text, plan: plan, templateBroken: false)
        _ = m.finishBatch()
        return (m, plan)
    }

    // MARK: Debounce

    @Test func membersAreTakenOnceChangesHaveBeenQuietForDebounceQuiet() {
        var m = machine()
        // Changes at 0 and 50 ms: quiet (100 ms) runs out at 150 ms.
        #expect(next(&m, at: t0 + .milliseconds(60), pending: (.zero, .milliseconds(50)))
            == .wait(until: t0 + .milliseconds(150)))
        #expect(next(&m, at: t0 + .milliseconds(150), pending: (.zero, .milliseconds(50))) == .takeMembers)
    }

    @Test func aBurstThatNeverGoesQuietIsTakenAtDebounceMax() {
        var m = machine()
        // A change every 90 ms keeps the quiet period from ever ending; max (500 ms) caps the wait.
        #expect(next(&m, at: t0 + .milliseconds(460), pending: (.zero, .milliseconds(450)))
            == .wait(until: t0 + .milliseconds(500)))
        #expect(next(&m, at: t0 + .milliseconds(500), pending: (.zero, .milliseconds(495))) == .takeMembers)
    }

    @Test func takenMembersAreRenderedAndTheBatchStartsAtItsFirstChange() {
        var m = machine()
        m.membersTaken([Self.member("a", 1)], number: 3, firstChange: t0 + .milliseconds(10))
        #expect(next(&m, at: t0 + .milliseconds(200)) == .apply)
        #expect(m.batchStartedAt == t0 + .milliseconds(10))
        let number = m.finishBatch()
        #expect(number == 3)
        #expect(m.batchStartedAt == nil)
        // Rendered once: nothing more until something happens.
        #expect(next(&m, at: t0 + .milliseconds(200)) == .wait(until: t0 + .seconds(1)))
    }

    @Test func nothingIsRenderedBeforeTheFirstMemberSnapshot() {
        var m = machine()
        m.templateReloaded()
        #expect(next(&m, at: t0) == .wait(until: t0 + .seconds(1)))
    }

    // MARK: Template

    @Test func theTemplateIsCheckedEverySecondAndLoadedOnlyWhenItsFileChanged() {
        var m = machine()
        let beforeCheck = m.next(now: t0 + .milliseconds(999), pending: nil)
        #expect(beforeCheck == .wait(until: t0 + .seconds(1)))
        let atCheck = m.next(now: t0 + .seconds(1), pending: nil)
        #expect(atCheck == .checkTemplate)
        let loadsUnchanged = m.templateChecked(fingerprint: [1], at: t0 + .seconds(1))
        #expect(!loadsUnchanged)
        let afterCheck = m.next(now: t0 + .seconds(1), pending: nil)
        #expect(afterCheck == .wait(until: t0 + .seconds(2)))
        let nextCheck = m.next(now: t0 + .seconds(2), pending: nil)
        #expect(nextCheck == .checkTemplate)
        let loadsChanged = m.templateChecked(fingerprint: [2], at: t0 + .seconds(2))
        #expect(loadsChanged)
    }

    @Test func aChangedTemplateRendersAgainWithTheSameMembers() {
        var (m, _) = running()
        #expect(next(&m, at: t0 + .milliseconds(500)) == .wait(until: t0 + .seconds(1)))
        let loads = m.templateChecked(fingerprint: [2], at: t0 + .seconds(1))
        #expect(loads)
        m.templateReloaded()
        #expect(next(&m, at: t0 + .seconds(1)) == .apply)
    }

    @Test func aReloadRequestLoadsTheTemplateAtOnceAndRenders() {
        var (m, _) = running()
        m.reloadRequested(at: t0 + .milliseconds(300))
        let step = m.next(now: t0 + .milliseconds(300), pending: nil)
        #expect(step == .checkTemplate)
        let loads = m.templateChecked(fingerprint: [1], at: t0 + .milliseconds(300))
        #expect(loads, "loaded even though unchanged")
        #expect(next(&m, at: t0 + .milliseconds(300)) == .apply)
    }

    // MARK: Apply modes

    @Test func theSameRenderWithTheSameSlotsChangesNothing() {
        let (m, plan) = running()
        #expect(m.decide(text: Self.render(slots: 2, addresses: [1]), plan: plan) == .unchanged)
    }

    @Test func runtimeModeStartsHAProxyFirstAndSetsEveryServer() {
        var m = machine()
        let text = Self.render(slots: 2, addresses: [1])
        let plan = m.plan(for: [Self.backend("a", 1)], now: t0)
        let key = StructureKey.of(text, backend: "backends")
        #expect(m.decide(text: text, plan: plan)
            == .apply(.init(install: true, load: .start, reconcile: true, structureKey: key)))
        m.installed(text)
        let restarted = m.haproxyStarted(pid: 100, at: t0)
        #expect(!restarted, "the first start is not a restart")
        #expect(m.haproxyPID == 100)
    }

    @Test func runtimeModePushesAMemberChangeWithoutAReload() {
        let (m, _) = running()
        let text = Self.render(slots: 2, addresses: [1, 2])
        let plan = m.plan(for: [Self.backend("a", 1), Self.backend("b", 2)], now: t0)
        #expect(m.decide(text: text, plan: plan)
            == .apply(.init(install: true, load: .runtimeUpdate, reconcile: true,
                structureKey: StructureKey.of(text, backend: "backends"))))
    }

    @Test func runtimeModeReloadsWhenTheStructureChanges() {
        let (m, plan) = running()
        let text = Self.render(slots: 2, addresses: [1], extra: "    maxconn 100\n")
        guard case .apply(let steps) = m.decide(text: text, plan: plan) else {
            Issue.record("expected an apply")
            return
        }
        #expect(steps.load == .reload)
    }

    @Test func runtimeModeReloadsWhenTheSlotsRunOut() {
        let (m, _) = running()
        let plan = m.plan(for: [1, 2, 3].map { Self.backend("m\($0)", $0) }, now: t0)
        #expect(plan.slots.count == 4)
        guard case .apply(let steps) = m.decide(text: Self.render(slots: 4, addresses: [1, 2, 3]), plan: plan) else {
            Issue.record("expected an apply")
            return
        }
        #expect(steps.load == .reload)
    }

    @Test func runtimeModeRefusesARenderWithoutEverySlot() {
        let (m, plan) = running()
        let decision = m.decide(text: Self.render(slots: 1, addresses: [1]) + "# edited\n", plan: plan)
        guard case .unsuitable(let reason) = decision else {
            Issue.record("expected unsuitable, got \(decision)")
            return
        }
        #expect(reason.contains("srv2"))
    }

    @Test func reloadModeReloadsOnlyWhenTheFileChanged() {
        let (m, plan) = running(.reload, text: "global\n")
        #expect(m.decide(text: "global\n", plan: plan) == .unchanged)
        #expect(m.decide(text: "global\n    maxconn 9\n", plan: plan)
            == .apply(.init(install: true, load: .reload, reconcile: false, structureKey: nil)))
    }

    @Test func reloadModeRestartsADeadHAProxyEvenWithTheSameFile() {
        var (m, plan) = running(.reload, text: "global\n")
        let ours = m.haproxyExited(pid: 100, at: t0 + .seconds(1))
        #expect(ours)
        #expect(m.decide(text: "global\n", plan: plan)
            == .apply(.init(install: false, load: .start, reconcile: false, structureKey: nil)))
    }

    @Test func signalModeSignalsHAProxyOnlyWhenTheFileChanged() {
        let (m, plan) = running(.signal, text: "global\n")
        #expect(m.haproxyPID == nil, "signal mode never starts HAProxy")
        #expect(m.decide(text: "global\n", plan: plan) == .unchanged)
        #expect(m.decide(text: "global\n    maxconn 9\n", plan: plan)
            == .apply(.init(install: true, load: .signal, reconcile: false, structureKey: nil)))
    }

    @Test func noneModeOnlyWritesTheFile() {
        let (m, plan) = running(.none, text: "global\n")
        #expect(m.decide(text: "global\n", plan: plan) == .unchanged)
        #expect(m.decide(text: "global\n    maxconn 9\n", plan: plan)
            == .apply(.init(install: true, load: .nothing, reconcile: false, structureKey: nil)))
    }

    @Test func aDrainRunningOutRendersAgain() {
        var (m, _) = running()
        let plan = m.plan(for: [Self.backend("a", 1, .leaving)], now: t0 + .seconds(1))
        _ = m.applySucceeded(text: Self.render(slots: 2, addresses: [1]), plan: plan, templateBroken: false)
        // drain_timeout is 30 s: the slot is freed by a render at 31 s.
        #expect(next(&m, at: t0 + .seconds(30) + .milliseconds(500))
            == .wait(until: t0 + .seconds(31)))
        #expect(next(&m, at: t0 + .seconds(31)) == .apply)
    }

    // MARK: Failures

    @Test func aFailedReloadIsRetriedWithABackoffDoublingTo60s() {
        var (m, _) = running()
        var now = t0
        var delays: [Duration] = []
        for _ in 0..<8 {
            guard case .retry(let at) = m.applyFailed(at: now) else {
                Issue.record("expected a retry")
                return
            }
            delays.append(at - now)
            now = at
            #expect(next(&m, at: now) == .apply)
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
    }

    @Test func aSuccessfulApplyResetsTheRetryBackoff() {
        var (m, plan) = running()
        _ = m.applyFailed(at: t0)
        _ = m.applyFailed(at: t0 + .seconds(1))
        #expect(m.retryBackoff == .seconds(4))
        _ = m.applySucceeded(text: "x", plan: plan, templateBroken: false)
        #expect(m.retryBackoff == .seconds(1))
    }

    @Test func aRetryWaitsOutItsBackoff() {
        var (m, _) = running()
        _ = m.applyFailed(at: t0 + .milliseconds(100))
        #expect(next(&m, at: t0 + .milliseconds(500)) == .wait(until: t0 + .seconds(1)))
        #expect(next(&m, at: t0 + .milliseconds(1000)) == .wait(until: t0 + .milliseconds(1100)))
        #expect(next(&m, at: t0 + .milliseconds(1100)) == .apply)
    }

    @Test func aDeadHAProxyIsRestartedAtOnceThenWithABackoffDoublingTo30s() {
        var (m, _) = running()
        var now = t0 + .seconds(1)
        var delays: [Duration] = []
        for pid in Int32(100)..<107 {
            let ours = m.haproxyExited(pid: pid, at: now)
            #expect(ours)
            #expect(m.haproxyPID == nil)
            guard let at = m.restartAt else {
                Issue.record("no restart scheduled")
                return
            }
            delays.append(at - now)
            #expect(next(&m, at: at) == .apply)
            let restarted = m.haproxyStarted(pid: pid + 1, at: at)
            #expect(restarted, "a start after a death is a restart")
            now = at + .seconds(1)
        }
        #expect(delays == [0, 1, 2, 4, 8, 16, 30].map { Duration.seconds($0) })
    }

    @Test func anHAProxyThatRanOverAMinuteBeforeDyingRestartsAtOnce() {
        var (m, _) = running()
        let first = m.haproxyExited(pid: 100, at: t0 + .seconds(1))
        #expect(first)
        _ = m.haproxyStarted(pid: 101, at: t0 + .seconds(1))
        let second = m.haproxyExited(pid: 101, at: t0 + .seconds(2))
        #expect(second)
        #expect(m.restartAt == t0 + .seconds(3), "second death within a minute: 1 s")
        _ = m.haproxyStarted(pid: 102, at: t0 + .seconds(3))
        let third = m.haproxyExited(pid: 102, at: t0 + .seconds(64))
        #expect(third)
        #expect(m.restartAt == t0 + .seconds(64), "ran over a minute: the ladder starts over")
    }

    @Test func nothingIsAppliedWhileARestartIsPending() {
        var (m, _) = running()
        _ = m.haproxyExited(pid: 100, at: t0 + .seconds(1))
        _ = m.haproxyStarted(pid: 101, at: t0 + .seconds(1))
        _ = m.haproxyExited(pid: 101, at: t0 + .seconds(2))  // restart at 3 s
        m.membersTaken([Self.member("b", 2)], number: 2, firstChange: t0 + .seconds(2))
        #expect(next(&m, at: t0 + .milliseconds(2500)) == .wait(until: t0 + .seconds(3)))
        #expect(next(&m, at: t0 + .seconds(3)) == .apply)
    }

    @Test func aFailedStartIsRetriedAsARestart() {
        var m = machine()
        m.membersTaken([Self.member("a", 1)], number: 1, firstChange: t0)
        let first = m.applyFailed(at: t0)
        #expect(first == .restart(at: t0))
        let second = m.applyFailed(at: t0)
        #expect(second == .restart(at: t0 + .seconds(1)))
        let third = m.applyFailed(at: t0)
        #expect(third == .restart(at: t0 + .seconds(2)))
    }

    @Test func theExitOfAnotherProcessIsIgnored() {
        var (m, _) = running()
        let ours = m.haproxyExited(pid: 99, at: t0)
        #expect(!ours)
        #expect(m.haproxyPID == 100)
        #expect(m.restartAt == nil)
    }

    @Test func aDeadHAProxyForgetsWhatItLoaded() {
        var (m, _) = running()
        #expect(m.loadedKey != nil)
        _ = m.haproxyExited(pid: 100, at: t0)
        #expect(m.loadedKey == nil)
        #expect(m.loadedText == nil)
    }

    @Test func aStoppedHAProxyIsNotRestarted() {
        var (m, _) = running()
        m.haproxyStopped()
        let ours = m.haproxyExited(pid: 100, at: t0)
        #expect(!ours)
        #expect(m.restartAt == nil)
    }

    // MARK: Reporting

    @Test func recoveryIsReportedOnceAndNotWhileTheTemplateIsBroken() {
        var (m, plan) = running()
        m.errorReported()
        let whileBroken = m.applySucceeded(text: "x", plan: plan, templateBroken: true)
        #expect(!whileBroken)
        let fixed = m.applySucceeded(text: "x", plan: plan, templateBroken: false)
        #expect(fixed)
        let again = m.applySucceeded(text: "x", plan: plan, templateBroken: false)
        #expect(!again)
    }

    @Test func aMemberLeftOutIsReportedOncePerReason() {
        var m = machine()
        let first = m.newRejections([("a", "no port")])
        #expect(first.map(\.name) == ["a"])
        let same = m.newRejections([("a", "no port")])
        #expect(same.isEmpty)
        let newReason = m.newRejections([("a", "bad port")])
        #expect(newReason.map(\.reason) == ["bad port"])
        let fixed = m.newRejections([])
        #expect(fixed.isEmpty)
        let brokenAgain = m.newRejections([("a", "bad port")])
        #expect(brokenAgain.map(\.name) == ["a"], "left out again after it was fixed")
    }
}
