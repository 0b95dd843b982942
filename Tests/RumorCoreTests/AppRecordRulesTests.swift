@testable import RumorCore
import RumorWire
import Testing

/// docs/membership.md#app-specs: one last-writer-wins register per app, ordered by Lamport time, then the deploying
/// node's name, then the spec bytes; carried in push-pulls under a key serf skips.
@Suite struct AppRecordRulesTests {
    static func changes(_ effects: [Effect]) -> [AppRecord] {
        effects.compactMap { if case .emit(.appChanged(let r)) = $0 { r } else { nil } }
    }

    @Test func aDeploy_takesTheMemberClock_andAlwaysBeatsWhatTheNodeKnew() {
        var node = TestNode(peers: 1)
        node.handle(.command(.putApp(AppRecord(name: "site", ltime: 40, origin: "zz", spec: Array("{}".utf8)))))
        let deployed = Self.changes(node.handle(.command(.deployApp(name: "site", spec: Array("{\"a\":1}".utf8)))))
        #expect(deployed.count == 1)
        #expect(deployed.first.map { $0.ltime > 40 && $0.origin == "me" } == true)
        #expect(node.instance.appRecords["site"] == deployed.first)
    }

    @Test func olderOrEqualRecords_changeNothing_newerOnesWin_tiesGoToTheLargerOrigin() {
        var node = TestNode()
        let first = AppRecord(name: "site", ltime: 5, origin: "b", spec: Array("v1".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(first)))) == [first])
        #expect(Self.changes(node.handle(.command(.putApp(first)))).isEmpty, "the same record again")
        let older = AppRecord(name: "site", ltime: 4, origin: "z", spec: Array("v0".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(older)))).isEmpty)
        let tieLower = AppRecord(name: "site", ltime: 5, origin: "a", spec: Array("v2".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(tieLower)))).isEmpty)
        let tieHigher = AppRecord(name: "site", ltime: 5, origin: "c", spec: Array("v3".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(tieHigher)))) == [tieHigher])
        let stop = AppRecord(name: "site", ltime: 9, origin: "a", spec: [])
        #expect(Self.changes(node.handle(.command(.putApp(stop)))) == [stop], "a stop is a newer record too")
        #expect(node.instance.appRecords == ["site": stop])
    }

    @Test func twoConcurrentDeploys_endWithTheSameWinner_inEitherOrder() {
        let a = AppRecord(name: "site", ltime: 7, origin: "n1", spec: Array("x".utf8))
        let b = AppRecord(name: "site", ltime: 7, origin: "n2", spec: Array("y".utf8))
        var one = TestNode(), two = TestNode()
        one.handle(.command(.putApp(a)))
        one.handle(.command(.putApp(b)))
        two.handle(.command(.putApp(b)))
        two.handle(.command(.putApp(a)))
        #expect(one.instance.appRecords == two.instance.appRecords)
        #expect(one.instance.appRecords["site"] == b)
    }

    @Test func peerRecords_areChecked_beforeTheyAreKept() {
        var node = TestNode()
        let huge = AppRecord(name: "big", ltime: 1, origin: "p1", spec: Array(repeating: 0x20, count: AppRegister.maxSpecBytes + 1))
        let effects = node.handle(.command(.putApp(huge)))
        #expect(Self.changes(effects).isEmpty && effects.warnings.contains { $0.contains("dropped app spec 'big'") })
        let poisoned = AppRecord(name: "bad", ltime: LamportClock.ceiling, origin: "p1", spec: Array("{}".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(poisoned)))).isEmpty)
        #expect(node.instance.appRecords.isEmpty)
    }

    @Test func aPushPull_carriesTheRecords_andTheyRoundTripThroughTheCodec() throws {
        var source = TestNode()
        source.handle(.command(.deployApp(name: "site", spec: Array("{\"docker_image\":\"x\"}".utf8))))
        let state = source.instance.serfLocalState()
        let decoded = try SerfCodec.decode(SerfCodec.encode(.pushPull(state)))
        guard case .pushPull(let pp) = decoded else { Issue.record("not a push-pull: \(decoded)"); return }
        #expect(pp.rumorApps == Array(source.instance.appRecords.values))
        var sink = TestNode()
        sink.instance.mergeApps(pp.rumorApps)
        #expect(sink.instance.appRecords == source.instance.appRecords)
        // Without records the state is byte for byte what serf sends (no RumorApps key).
        #expect(SerfCodec.encode(.pushPull(TestNode().instance.serfLocalState())).contains(Array("RumorApps".utf8)) == false)
    }

    /// A redeploy carries the spec it replaces (what waiting nodes run and a rollback returns to), and a rollback
    /// says why; both travel in push-pulls, and a first deploy encodes as before they existed.
    @Test func aRedeploy_carriesThePreviousSpec_andARollbackItsReason_throughTheCodec() throws {
        var source = TestNode()
        source.handle(.command(.deployApp(name: "site", spec: Array("v1".utf8))))
        let first = try #require(source.instance.appRecords["site"])
        #expect(first.previous.isEmpty && first.rollback.isEmpty)
        #expect(!SerfCodec.encode(.pushPull(source.instance.serfLocalState())).contains(Array("Previous".utf8)))
        source.handle(.command(.deployApp(name: "site", spec: Array("v2".utf8))))
        source.handle(.command(.deployApp(name: "site", spec: Array("v1".utf8), rollback: "n2: its containers failed")))
        let rollback = try #require(source.instance.appRecords["site"])
        #expect(rollback.spec == Array("v1".utf8) && rollback.previous == Array("v2".utf8) && rollback.rollback == "n2: its containers failed")
        let decoded = try SerfCodec.decode(SerfCodec.encode(.pushPull(source.instance.serfLocalState())))
        guard case .pushPull(let pp) = decoded else { Issue.record("not a push-pull: \(decoded)"); return }
        #expect(pp.rumorApps == [rollback])
        var sink = TestNode()
        let huge = AppRecord(name: "big", ltime: 1, origin: "p1", spec: Array("{}".utf8),
                             previous: Array(repeating: 0x20, count: AppRegister.maxSpecBytes + 1))
        #expect(Self.changes(sink.handle(.command(.putApp(huge)))).isEmpty)
    }

    /// docs/apps-authority.md: the serial orders the register before Lamport time, so an old deploy re-sent under a
    /// newer time never wins; at one serial a rollback wins over the deploy it undoes.
    @Test func theSerialOrdersFirst_andARollbackWinsAtItsDeploysSerial() {
        var node = TestNode()
        let v2 = AppRecord(name: "site", serial: 20, ltime: 5, origin: "a", spec: Array("v2".utf8), previous: Array("v1".utf8))
        node.handle(.command(.putApp(v2)))
        let replayed = AppRecord(name: "site", serial: 10, ltime: 900, origin: "z", spec: Array("v1".utf8))
        #expect(Self.changes(node.handle(.command(.putApp(replayed)))).isEmpty, "an older serial under a newer time")
        let rollback = AppRecord(name: "site", serial: 20, ltime: 3, origin: "a", spec: Array("v1".utf8), previous: Array("v2".utf8),
                                 rollback: "b: failed")
        #expect(Self.changes(node.handle(.command(.putApp(rollback)))) == [rollback])
        #expect(Self.changes(node.handle(.command(.putApp(v2)))).isEmpty, "the deploy does not come back over its rollback")
        // A local deploy without a signer takes the next serial; an authority's serial is taken as given.
        let next = Self.changes(node.handle(.command(.deployApp(name: "site", spec: Array("v3".utf8)))))
        #expect(next.map(\.serial) == [21] && next.first?.previous == Array("v1".utf8))
        let signed = Self.changes(node.handle(.command(.deployApp(
            name: "site", spec: Array("v4".utf8), authority: AppAuthority(serial: 99, signer: [1], signature: [2])))))
        #expect(signed.map { "\($0.serial) \($0.signer) \($0.signature)" } == ["99 [1] [2]"])
    }

    struct RefuseOrigin: AppRecordGate {
        var origin: String
        func refusal(of record: AppRecord) -> String? { record.origin == origin ? "not trusted" : nil }
    }

    /// A refused record is not kept (so never gossiped on), is logged once, naming its origin, however often
    /// push-pulls bring it; a new gate (SIGHUP) applies to what comes next; the agent's own store is not gated.
    @Test func aGate_keepsRefusedRecordsOut_logsEachOnce_andCanBeReplaced() {
        var node = TestNode()
        node.handle(.command(.setAppGate(RefuseOrigin(origin: "evil"))))
        let evil = AppRecord(name: "site", serial: 5, ltime: 1, origin: "evil", spec: Array("{}".utf8))
        var warnings: [String] = []
        for _ in 0..<3 {
            node.instance.effects.removeAll()
            node.instance.mergeApps([evil])
            warnings += node.instance.effects.events.compactMap {
                if case .appRefused(let name, _, let origin, _, let reason) = $0 { "\(name) \(origin) \(reason)" } else { nil }
            }
        }
        #expect(warnings == ["site evil not trusted"], "reported once: \(warnings)")
        #expect(node.instance.appRecords.isEmpty)
        #expect(node.instance.serfLocalState().rumorApps.isEmpty, "nothing to gossip on")
        node.handle(.command(.setAppGate(RefuseOrigin(origin: "someone else"))))
        node.instance.mergeApps([evil])
        #expect(node.instance.appRecords["site"] == evil, "the new gate admits it")
        var store = TestNode()
        store.handle(.command(.setAppGate(RefuseOrigin(origin: "evil"))))
        #expect(Self.changes(store.handle(.command(.putApp(evil)))) == [evil], "the store holds what this node admitted before")
    }

    @Test func pushPullWith_opensAStreamToThatMemberOnly_whenItIsAlive() {
        var node = TestNode(peers: 2)
        let effects = node.handle(.command(.pushPullWith(node: "p2")))
        let opened = effects.compactMap { if case .openStream(_, let to, _, _, _) = $0 { to } else { nil } }
        #expect(opened == [TestNode.peer(2)])
        node.fail("p1")
        #expect(node.handle(.command(.pushPullWith(node: "p1"))).allSatisfy { if case .openStream = $0 { false } else { true } })
    }
}

extension Array where Element == UInt8 {
    fileprivate func contains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
