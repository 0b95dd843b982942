@testable import RumorCore
import RumorWire
import Testing

/// A graceful leave in Serf's order: the leave intent, then memberlist's dead-about-ourselves, then a short stay so
/// probes in flight are still answered (docs/membership.md#leave).
@Suite struct LeaveRulesTests {
    static func leaveStep(in effects: [Effect]) -> (Timer, Instant)? {
        effects.timers.first { if case .leaveStep = $0.key { true } else { false } }.map { ($0.key, $0.value) }
    }

    @Test func leave_spreadsTheIntentFirst_thenTheDeath_thenLingers() throws {
        // Counted in gossip ticks: eager dissemination (EagerGossipRulesTests) would send each a tick sooner.
        var settings = MemberlistSettings.lan
        settings.eagerGossip = false
        var node = TestNode(peers: 1, settings: settings)
        node.handle(.command(.leave))
        var intentTicks: [Int] = [], deadTicks: [Int] = []
        var linger: (Timer, Instant)?
        for tick in 0..<20 where linger == nil {
            let effects = node.gossip()
            if effects.serfPackets.contains(where: { if case .leave(let l) = $0.message { l.node == "me" } else { false } }) {
                intentTicks.append(tick)
            }
            if effects.packets.contains(where: { $0.message.dead == Dead(incarnation: 1, node: "me", from: "me") }) {
                deadTicks.append(tick)
            }
            if let step = Self.leaveStep(in: effects), step.1 == node.now + node.instance.serfSettings.leavePropagateDelay {
                linger = step
            }
        }
        // Each goes out as often as gossip sends anything (4 times with two nodes) before the next step starts.
        #expect(intentTicks == [0, 1, 2, 3] && deadTicks == [4, 5, 6, 7])
        let (timer, at) = try #require(linger)
        #expect(node.fire(timer, at: at).events.contains(.leaveFinished))
        #expect(node.instance.isLeaving)
    }

    @Test func leave_withNobodyToTell_skipsStraightToTheStay() throws {
        var node = TestNode()
        let effects = node.handle(.command(.leave))
        let (timer, at) = try #require(Self.leaveStep(in: effects))
        #expect(at == node.now + node.instance.serfSettings.leavePropagateDelay)
        #expect(node.fire(timer, at: at).events == [.leaveFinished])
    }

    @Test func leaveSteps_thatTimeOut_moveOnWithAWarning() throws {
        var node = TestNode(peers: 1)
        let serf = node.instance.serfSettings
        let start = node.handle(.command(.leave))
        let (intent, intentAt) = try #require(Self.leaveStep(in: start))
        #expect(intentAt == node.now + serf.broadcastTimeout)
        let afterIntent = node.fire(intent, at: intentAt)
        #expect(afterIntent.warnings == ["timeout while waiting for the graceful leave intent to go out"])
        let (dead, deadAt) = try #require(Self.leaveStep(in: afterIntent))
        #expect(deadAt == node.now + serf.broadcastTimeout)
        let afterDead = node.fire(dead, at: deadAt)
        #expect(afterDead.warnings == ["timeout while waiting for the final dead message to go out"])
        let (stay, stayAt) = try #require(Self.leaveStep(in: afterDead))
        #expect(node.fire(stay, at: stayAt).events == [.leaveFinished])
        #expect(node.fire(intent, at: stayAt).isEmpty, "an outdated step does nothing")
    }

    /// Once memberlist's part of the leave has begun, news about ourselves is no longer ours to refute.
    @Test func leavingNode_neitherRefutesNorLeavesTwice() {
        var node = TestNode()
        node.handle(.command(.leave))
        #expect(node.handle(.command(.leave)).isEmpty)
        node.receive(.alive(Alive(
            incarnation: 5, node: "me", addr: TestNode.address.ip, port: TestNode.address.port, meta: [0xFF, 0x80])))
        #expect(node.instance.incarnationNumber == 1)
    }
}
