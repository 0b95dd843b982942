@testable import RumorCore
import RumorWire
import Testing

/// Serf's member layer: join and leave intents carry Lamport times, so a leave is told apart from a failure and old
/// news never undoes new (docs/membership.md#intents).
@Suite struct IntentRulesTests {
    @Test func leaveIntent_makesAnAliveMemberLeaving_andOnlyANewerJoinBringsItBack() {
        var node = TestNode(peers: 1)
        let leaving = node.receive(serf: .leave(LeaveIntent(ltime: 5, node: "p1")))
        #expect(node.status("p1") == .leaving && leaving.events.isEmpty, "no event until memberlist sees it go")
        node.receive(serf: .join(JoinIntent(ltime: 5, node: "p1")))
        #expect(node.status("p1") == .leaving)
        node.receive(serf: .join(JoinIntent(ltime: 6, node: "p1")))
        #expect(node.status("p1") == .alive)
        node.receive(serf: .leave(LeaveIntent(ltime: 6, node: "p1")))
        #expect(node.status("p1") == .alive, "a leave no newer than the join is old news")
    }

    @Test func newIntents_areGossipedOn_oldOnesAreNot() {
        var node = TestNode(peers: 1)
        node.receive(serf: .join(JoinIntent(ltime: 5, node: "p1")))
        #expect(node.instance.pendingBroadcasts.intents == 1)
        node.receive(serf: .join(JoinIntent(ltime: 4, node: "p1")))
        #expect(node.instance.pendingBroadcasts.intents == 1)
    }

    @Test func intents_moveTheMemberClockPastTheirTime() {
        var node = TestNode(peers: 1)
        node.receive(serf: .join(JoinIntent(ltime: 41, node: "p1")))
        #expect(node.instance.clock.time == 42)
    }

    @Test func leaveIntentAboutUs_whileWeAreAlive_isRefutedWithANewerJoinIntent() {
        var node = TestNode(peers: 1)
        let effects = node.receive(serf: .leave(LeaveIntent(ltime: 9, node: "me")))
        #expect(node.status("me") == .alive)
        #expect(effects.warnings.contains("refuting an older leave intent about ourselves"))
        let joins = node.gossip().serfPackets.compactMap { if case .join(let j) = $0.message { j } else { nil } }
        #expect(joins.contains { $0.node == "me" && $0.ltime > 9 })
    }

    @Test func intentAboutAnUnknownMember_isHeld_andAppliedWhenItJoins() {
        var node = TestNode()
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        #expect(node.instance.pendingBroadcasts.intents == 1, "news about a stranger still spreads")
        node.add("p1")
        #expect(node.status("p1") == .leaving)
        node.receive(serf: .join(JoinIntent(ltime: 3, node: "p1")))
        #expect(node.status("p1") == .leaving, "the held intent's time counts")
    }

    @Test func deathOfALeavingMember_isALeave_andOfAnAliveOne_aFailure() {
        var node = TestNode(peers: 2)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        let left = node.fail("p1")
        let failed = node.fail("p2")
        #expect(left.left == ["p1"] && left.failed.isEmpty)
        #expect(failed.failed == ["p2"] && failed.left.isEmpty)
    }

    @Test func forceLeave_turnsAFailedMemberLeft() {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let effects = node.handle(.command(.forceLeave(node: "p1", prune: false)))
        #expect(effects.left == ["p1"] && node.status("p1") == .left)
        #expect(node.instance.pendingBroadcasts.intents == 1)
    }

    @Test func forceLeaveWithPrune_erasesAFailedMemberAtOnce_butLetsALeavingOneFinish() throws {
        var node = TestNode(peers: 2)
        node.fail("p1")
        #expect(node.handle(.command(.forceLeave(node: "p1", prune: true))).reaped == ["p1"])
        #expect(node.status("p1") == nil)
        node.receive(serf: .leave(LeaveIntent(ltime: 20, node: "p2")))
        let pruning = node.receive(serf: .leave(LeaveIntent(ltime: 21, node: "p2", prune: true)))
        #expect(pruning.reaped.isEmpty && node.status("p2") == .leaving)
        let serf = node.instance.serfSettings
        #expect(pruning.timers[.prune(node: "p2")] == node.now + serf.broadcastTimeout + serf.leavePropagateDelay)
        #expect(node.fire(.prune(node: "p2"), scheduledIn: pruning).reaped == ["p2"])
    }

    @Test func forceLeave_ofAStranger_isStillGossiped() {
        var node = TestNode(peers: 1)
        node.handle(.command(.forceLeave(node: "stranger", prune: false)))
        #expect(node.instance.pendingBroadcasts.intents == 1)
    }

    @Test func newTags_bumpOurIncarnation_andAreGossipedAsAlive() {
        var node = TestNode(peers: 1)
        let effects = node.handle(.command(.setTags(["role": "db"])))
        #expect(node.instance.incarnationNumber == 2)
        #expect(effects.updated.map(\.name) == ["me"] && node.instance.localMember.tags == ["role": "db"])
        let alive = node.gossip().packets.compactMap { $0.message.alive }.first { $0.node == "me" }
        #expect(alive?.incarnation == 2 && alive.flatMap { try? SerfCodec.decodeTags($0.meta) } == ["role": "db"])
    }
}
