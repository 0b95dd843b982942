@testable import RumorCore
import RumorWire
import Testing

/// How long Serf remembers members that are gone, and how it tries to get failed ones back
/// (docs/membership.md#reap-and-reconnect).
@Suite struct ReapRulesTests {
    static var shortTimeouts: SerfSettings {
        var s = SerfSettings()
        s.reconnectTimeout = .seconds(60)
        s.tombstoneTimeout = .seconds(120)
        return s
    }

    @Test func failedMember_isReaped_onceTheReconnectTimeoutHasPassed() {
        var node = TestNode(peers: 2, serf: Self.shortTimeouts)
        node.fail("p1")
        #expect(node.handle(.timer(.reap), after: .seconds(60)).reaped.isEmpty)
        #expect(node.handle(.timer(.reap), after: .seconds(1)).reaped == ["p1"])
        #expect(node.status("p1") == nil && node.instance.estimatedNodeCount == 2, "memberlist forgets it too")
    }

    @Test func leftMember_isReaped_onceTheTombstoneTimeoutHasPassed() {
        var node = TestNode(peers: 2, serf: Self.shortTimeouts)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        #expect(node.handle(.timer(.reap), after: .seconds(61)).reaped.isEmpty, "not the failed timeout")
        #expect(node.handle(.timer(.reap), after: .seconds(60)).reaped == ["p1"])
    }

    @Test func aliveAndLeavingMembers_areNeverReaped() {
        var node = TestNode(peers: 2, serf: Self.shortTimeouts)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p2")))
        #expect(node.handle(.timer(.reap), after: .seconds(3600)).reaped.isEmpty)
    }

    @Test func heldIntents_expireAfterTheRecentIntentTimeout() {
        for (wait, expected) in [(Duration.seconds(299), MemberStatus.leaving), (.seconds(301), .alive)] {
            var node = TestNode()
            node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
            node.handle(.timer(.reap), after: wait)
            node.add("p1")
            #expect(node.status("p1") == expected, "after \(wait)")
        }
    }

    @Test func reconnect_opensAJoiningPushPull_toAFailedMember() {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let streams = node.fire(.reconnect).streams
        #expect(streams.map(\.to) == [TestNode.peer(1)] && streams.first?.message?.pushPull?.join == true)
    }

    @Test func reconnect_neverTriesALeftMember_norAnyoneWhenNoneFailed() {
        var node = TestNode(peers: 2)
        #expect(node.fire(.reconnect).streams.isEmpty)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        for _ in 0..<20 { #expect(node.fire(.reconnect).streams.isEmpty) }
    }

    @Test func reconnect_triesWithProbabilityFailedOverAlive() {
        var node = TestNode(peers: 20)
        node.fail("p1")
        // One failed among 20 alive: about one tick in twenty tries it.
        let attempts = (0..<400).filter { _ in !node.fire(.reconnect, at: node.now + .seconds(30)).streams.isEmpty }.count
        #expect((5...50).contains(attempts), "\(attempts) of 400")
    }

    @Test func reconnect_thatReachesTheMember_bringsItBack() throws {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let stream = try #require(node.fire(.reconnect).streams.first)
        let refuted = PushNodeState(
            name: "p1", addr: TestNode.peer(1).ip, port: TestNode.peer(1).port, meta: SerfCodec.encodeTags([:]),
            incarnation: 2, state: .alive, vsn: defaultVersionVector)
        let reply = MemberlistCodec.encode(.pushPull(PushPull(join: true, nodes: [refuted], userState: [])))
        #expect(node.handle(.streamReply(stream.id, .success(reply)), after: .milliseconds(20)).joined == ["p1"])
    }
}
