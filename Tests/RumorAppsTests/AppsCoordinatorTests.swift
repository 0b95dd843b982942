import RumorApps
import RumorSupport
import RumorWire
import Testing

/// Which spec each node runs during a rolling deploy, and when it rolls back, fed with records, members' tags and
/// time: waves, rollback under the deploy's authority, a refusal, a deploy superseding a rollout, a restarted node.
/// One coordinator per node, as each agent runs its own; no sleeping.
@Suite struct AppsCoordinatorTests {
    static let nodes = ["n1", "n2", "n3"]
    static let v1 = Array(#"{"docker_image": "site:v1", "update": {"parallelism": 1, "monitor": "5s"}}"#.utf8)
    static let v2 = Array(#"{"docker_image": "site:v2", "update": {"parallelism": 1, "monitor": "5s"}}"#.utf8)
    static let v3 = Array(#"{"docker_image": "site:v3", "update": {"parallelism": 1, "monitor": "5s"}}"#.utf8)
    static func hash(_ spec: [UInt8]) -> String { try! AppSpec.parse(String(decoding: spec, as: UTF8.self), name: "site", file: "t").templateHash }

    static let deploy = AppRecord(name: "site", serial: 20, ltime: 10, origin: "ops", spec: v2, previous: v1,
                                  signer: Array(repeating: 1, count: 32), signature: Array(repeating: 2, count: 64))

    var coordinators = nodes.map { AppsCoordinator(node: $0) }
    /// What each node reports in its run tag (all on v1, settled, to start with).
    var reports: [String: String] = Dictionary(uniqueKeysWithValues: nodes.map { ($0, RunTag.value(templateHash: hash(v1), state: .converged)) })

    var members: [AppsCoordinator.Member] {
        Self.nodes.map { .init(name: $0, isAlive: true, tags: [AppTag.runnerKey: "d", RunTag.key(app: "site"): reports[$0]!]) }
    }

    /// Steps every node; the nodes that run v2 now, and every node's output.
    mutating func step(_ record: AppRecord = deploy, at seconds: Int) -> (onNew: [String], outputs: [AppsCoordinator.Output]) {
        var outputs: [AppsCoordinator.Output] = []
        for i in coordinators.indices {
            outputs.append(coordinators[i].step(records: ["site": record], members: members, now: .seconds(seconds)))
        }
        let onNew = zip(Self.nodes, outputs).filter { $0.1.toRun["site"] == record.spec }.map(\.0)
        return (onNew, outputs)
    }

    mutating func report(_ node: String, _ spec: [UInt8], _ state: RunTag.State, rule: String = "") {
        reports[node] = RunTag.value(templateHash: Self.hash(spec), state: state, rule: rule)
    }

    @Test mutating func nodesTakeTheNewSpecInWaves_eachAfterThePreviousWasHealthyForMonitor() {
        let order = Rollout.order(app: "site", generation: 10, nodes: Self.nodes)
        var s = step(at: 0)
        #expect(s.onNew == [order[0]], "wave 1 of 3: one node")
        #expect(s.outputs.allSatisfy { $0.changes.map(\.status) == [.progressing(wave: 1, of: 3)] })
        report(order[0], Self.v2, .converged)
        s = step(at: 1)
        #expect(s.onNew == [order[0]], "healthy since 1 s: the monitor has not passed")
        s = step(at: 6)
        #expect(Set(s.onNew) == Set(order[0...1]))
        report(order[1], Self.v2, .converged)
        _ = step(at: 7)
        s = step(at: 12)
        #expect(Set(s.onNew) == Set(Self.nodes))
        report(order[2], Self.v2, .converged)
        s = step(at: 13)
        #expect(coordinators[0].status(of: Self.deploy, members: members)["state"]?.stringValue == "progressing")
        s = step(at: 18)
        #expect(Set(s.onNew) == Set(Self.nodes) && s.outputs.allSatisfy { $0.rollbacks.isEmpty && $0.changes.map(\.status) == [.done] })
        #expect(coordinators[0].status(of: Self.deploy, members: members)["state"]?.stringValue == "done")
    }

    /// A failing node: every node goes back to v1 at once and asks, once, for the rollback record, under the
    /// serial and signature of the deploy it undoes.
    @Test mutating func aFailure_rollsBackUnderTheDeploysAuthority_once() {
        let first = Rollout.order(app: "site", generation: 10, nodes: Self.nodes)[0]
        _ = step(at: 0)
        report(first, Self.v2, .failed)
        var s = step(at: 2)
        #expect(s.onNew.isEmpty, "everyone back on v1")
        let rollbacks = s.outputs.flatMap(\.rollbacks)
        #expect(rollbacks.count == 3, "each node asks once (the register keeps one)")
        #expect(rollbacks.allSatisfy {
            $0.spec == Self.v1 && $0.serial == 20 && $0.signer == Self.deploy.signer && $0.signature == Self.deploy.signature
                && $0.reason.contains(first)
        })
        s = step(at: 3)
        #expect(s.outputs.allSatisfy { $0.rollbacks.isEmpty }, "not again")
        #expect(coordinators[0].status(of: Self.deploy, members: members)["state"]?.stringValue == "rolling back")
    }

    @Test mutating func aRefusal_failsTheRollout_andTheRollbackNamesTheNodeAndRule() {
        let first = Rollout.order(app: "site", generation: 10, nodes: Self.nodes)[0]
        _ = step(at: 0)
        report(first, Self.v2, .refused, rule: "privileged")
        let s = step(at: 1)
        #expect(s.outputs[0].rollbacks.first?.reason == "refused by \(first) (apps_allow: privileged)")
        #expect(coordinators[0].status(of: Self.deploy, members: members)["refused"]?.arrayValue?.count == 1)
    }

    /// A newer deploy in the middle of a rollout: the old one is dropped (no rollback for it) and the new one rolls
    /// from the spec the newer record says it replaced.
    @Test mutating func aNewerDeploy_supersedesTheRolloutUnderWay() {
        _ = step(at: 0)
        var newer = Self.deploy
        (newer.serial, newer.ltime, newer.spec, newer.previous) = (30, 14, Self.v3, Self.v2)
        let s = step(newer, at: 1)
        #expect(s.onNew == [Rollout.order(app: "site", generation: 14, nodes: Self.nodes)[0]])
        #expect(s.outputs.allSatisfy { $0.rollbacks.isEmpty && $0.changes.map(\.status) == [.progressing(wave: 1, of: 3)] })
        let others = zip(Self.nodes, s.outputs).filter { !s.onNew.contains($0.0) }
        #expect(others.allSatisfy { $0.1.toRun["site"] == Self.v2 }, "the others run what the newer deploy replaced")
    }

    /// An agent restarted in the middle of a rollout starts from the tags: nodes already on the new spec stay on it,
    /// the rollout goes on, nothing rolls back.
    @Test mutating func aRestartedNode_picksTheRolloutUpFromTheTags() {
        let order = Rollout.order(app: "site", generation: 10, nodes: Self.nodes)
        report(order[0], Self.v2, .converged)
        report(order[1], Self.v2, .progressing)
        var restarted = AppsCoordinator(node: order[0])
        let out = restarted.step(records: ["site": Self.deploy], members: members, now: .seconds(100))
        #expect(out.toRun["site"] == Self.v2 && out.rollbacks.isEmpty)
        #expect(out.changes.map(\.status) == [.progressing(wave: 1, of: 3)], "monitor again from now")
        let later = restarted.step(records: ["site": Self.deploy], members: members, now: .seconds(105))
        #expect(later.changes.map(\.status) == [.progressing(wave: 2, of: 3)])
    }

    /// No rollout to roll back: a first deploy whose containers keep failing says so, so `deploy --wait` ends.
    @Test mutating func aFirstDeployThatKeepsFailing_isReportedFailed() {
        var first = Self.deploy
        first.previous = []
        _ = step(first, at: 0)
        for n in Self.nodes { report(n, Self.v2, .progressing) }
        #expect(coordinators[0].status(of: first, members: members)["state"]?.stringValue == "progressing")
        report("n2", Self.v2, .failed)
        let status = coordinators[0].status(of: first, members: members)
        #expect(status["state"]?.stringValue == "failed" && status["reason"]?.stringValue?.hasPrefix("n2: its containers keep failing") == true, "\(status)")
    }

    @Test mutating func aFirstDeploy_aScale_andARollback_applyEverywhereAtOnce() {
        var first = Self.deploy
        first.previous = []
        #expect(step(first, at: 0).onNew.count == 3)
        var scale = Self.deploy
        scale.spec = Array(#"{"docker_image": "site:v1", "update": {"parallelism": 1, "monitor": "5s"}, "containers_per": {"server": 3}}"#.utf8)
        #expect(step(scale, at: 0).onNew.count == 3, "same containers, more of them")
        var rollback = Self.deploy
        (rollback.spec, rollback.previous, rollback.rollback) = (Self.v1, Self.v2, "n1 failed")
        #expect(step(rollback, at: 0).onNew.count == 3)
        #expect(!coordinators[0].isRollingOut)
    }
}
