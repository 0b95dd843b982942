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

    /// The ping the reconnect loop sent (nil if none).
    static func reconnectPing(_ effects: [Effect]) -> (ping: Ping, to: Address)? {
        for (message, to) in effects.packets { if case .ping(let p) = message { return (p, to) } }
        return nil
    }

    @Test func reconnect_pingsAFailedMember_byName_andOpensNoStream() throws {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let effects = node.fire(.reconnect)
        let sent = try #require(Self.reconnectPing(effects))
        #expect(sent.to == TestNode.peer(1) && sent.ping.node == "p1" && sent.ping.sourceNode == "me")
        #expect(effects.streams.isEmpty, "no TCP push-pull to a member that may still be unreachable")
    }

    @Test func reconnect_runsEveryPingInterval_notSerfsThirtySeconds() {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let effects = node.fire(.reconnect)
        #expect(effects.timers[.reconnect] == node.now + .seconds(5))
        var serfPaced = SerfSettings()
        serfPaced.reconnectPingInterval = .seconds(60)
        var slow = TestNode(peers: 1, serf: serfPaced)
        #expect(slow.fire(.reconnect).timers[.reconnect] == slow.now + .seconds(30), "never slower than serf")
    }

    @Test func reconnect_ackedByTheFailedMember_opensAJoiningPushPull() throws {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let sent = try #require(Self.reconnectPing(node.fire(.reconnect)))
        let streams = node.receive(.ack(Ack(seqNo: sent.ping.seqNo)), after: .milliseconds(3)).streams
        #expect(streams.map(\.to) == [TestNode.peer(1)] && streams.first?.message?.pushPull?.join == true)
        #expect(node.status("p1") == .failed, "an ack alone does not revive it: its refutation will")
    }

    @Test func reconnect_unansweredPing_isForgottenAtTheNextTick() throws {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let first = try #require(Self.reconnectPing(node.fire(.reconnect)))
        node.fire(.reconnect, at: node.now + .seconds(5))
        #expect(node.receive(.ack(Ack(seqNo: first.ping.seqNo)), after: .seconds(1)).streams.isEmpty, "a late ack")
    }

    @Test func pingFromAFailedMember_isPingedBack_oncePerPingInterval_andItsAckOpensAJoiningPushPull() throws {
        var node = TestNode(peers: 2)
        node.fail("p1")
        let ping = Ping(node: "me", seqNo: 9, sourceAddr: TestNode.peer(1).ip, sourceNode: "p1", sourcePort: 7946)
        let effects = node.receive(.ping(ping), from: TestNode.peer(1))
        #expect(effects.packets.contains { if case .ack(let a) = $0.message { a.seqNo == 9 } else { false } }, "acks")
        #expect(effects.streams.isEmpty, "no TCP before it answers: it may send without receiving")
        let back = try #require(Self.reconnectPing(effects))
        #expect(back.to == TestNode.peer(1) && back.ping.node == "p1")
        #expect(Self.reconnectPing(node.receive(.ping(ping), from: TestNode.peer(1), after: .seconds(4))) == nil)
        let streams = node.receive(.ack(Ack(seqNo: back.ping.seqNo)), from: TestNode.peer(1)).streams
        #expect(streams.map(\.to) == [TestNode.peer(1)] && streams.first?.message?.pushPull?.join == true)
        #expect(Self.reconnectPing(node.receive(.ping(ping), from: TestNode.peer(1), after: .seconds(1))) != nil)
    }

    @Test func pingFromAnAliveMember_orAFailedNameAtAnotherAddress_opensNothing() {
        var node = TestNode(peers: 2)
        let alive = Ping(node: "me", seqNo: 1, sourceAddr: TestNode.peer(2).ip, sourceNode: "p2", sourcePort: 7946)
        let answered = node.receive(.ping(alive), from: TestNode.peer(2))
        #expect(answered.streams.isEmpty && Self.reconnectPing(answered) == nil)
        node.fail("p1")
        let impostor = Ping(node: "me", seqNo: 2, sourceAddr: [10, 9, 9, 9], sourceNode: "p1", sourcePort: 7946)
        let effects = node.receive(.ping(impostor), from: Address(ip: [10, 9, 9, 9], port: 7946))
        #expect(effects.streams.isEmpty && Self.reconnectPing(effects) == nil)
    }

    @Test func reconnect_neverTriesALeftMember_norAnyoneWhenNoneFailed() {
        var node = TestNode(peers: 2)
        #expect(Self.reconnectPing(node.fire(.reconnect)) == nil)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        for _ in 0..<20 { #expect(Self.reconnectPing(node.fire(.reconnect)) == nil) }
    }

    @Test func reconnect_triesWithProbabilityFailedOverAlive() {
        var node = TestNode(peers: 20)
        node.fail("p1")
        // One failed among 20 alive: about one tick in twenty tries it.
        let attempts = (0..<400).filter { _ in Self.reconnectPing(node.fire(.reconnect, at: node.now + .seconds(5))) != nil }.count
        #expect((5...50).contains(attempts), "\(attempts) of 400")
    }

    @Test func reapedFailedMember_isStillPinged_untilTheTombstoneTimeout() throws {
        var node = TestNode(peers: 1, serf: Self.shortTimeouts)
        node.fail("p1")
        #expect(node.handle(.timer(.reap), after: .seconds(61)).reaped == ["p1"])
        let sent = try #require(Self.reconnectPing(node.fire(.reconnect)), "a reaped member is still a candidate")
        #expect(sent.to == TestNode.peer(1) && sent.ping.node == "p1")
        let streams = node.receive(.ack(Ack(seqNo: sent.ping.seqNo)), after: .milliseconds(3)).streams
        #expect(streams.map(\.to) == [TestNode.peer(1)] && streams.first?.message?.pushPull?.join == true)
        // Past the tombstone timeout (120 s here) it is forgotten for good, as serf forgets it at the reap.
        for _ in 0..<10 { #expect(Self.reconnectPing(node.fire(.reconnect, at: node.now + .seconds(121))) == nil) }
    }

    @Test func reapedMember_thatPingsUs_isPingedBack_andJoinsAgain() throws {
        var node = TestNode(peers: 2, serf: Self.shortTimeouts)
        node.fail("p1")
        node.handle(.timer(.reap), after: .seconds(61))
        let ping = Ping(node: "me", seqNo: 4, sourceAddr: TestNode.peer(1).ip, sourceNode: "p1", sourcePort: 7946)
        let pingBack = try #require(Self.reconnectPing(node.receive(.ping(ping), from: TestNode.peer(1))))
        let stream = try #require(node.receive(.ack(Ack(seqNo: pingBack.ping.seqNo)), from: TestNode.peer(1)).streams.first)
        let back = PushNodeState(
            name: "p1", addr: TestNode.peer(1).ip, port: TestNode.peer(1).port, meta: SerfCodec.encodeTags([:]),
            incarnation: 1, state: .alive, vsn: defaultVersionVector)
        let reply = MemberlistCodec.encode(.pushPull(PushPull(join: true, nodes: [back], userState: [])))
        #expect(node.handle(.streamReply(stream.id, .success(reply)), after: .milliseconds(20)).joined == ["p1"])
        #expect(node.status("p1") == .alive)
    }

    @Test func reapedLeftMember_isNeverPinged() {
        var node = TestNode(peers: 2, serf: Self.shortTimeouts)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        #expect(node.handle(.timer(.reap), after: .seconds(121)).reaped == ["p1"])
        for _ in 0..<10 { #expect(Self.reconnectPing(node.fire(.reconnect, at: node.now + .seconds(5))) == nil) }
    }

    @Test func reconnect_thatReachesTheMember_bringsItBack() throws {
        var node = TestNode(peers: 1)
        node.fail("p1")
        let sent = try #require(Self.reconnectPing(node.fire(.reconnect)))
        let stream = try #require(node.receive(.ack(Ack(seqNo: sent.ping.seqNo))).streams.first)
        let refuted = PushNodeState(
            name: "p1", addr: TestNode.peer(1).ip, port: TestNode.peer(1).port, meta: SerfCodec.encodeTags([:]),
            incarnation: 2, state: .alive, vsn: defaultVersionVector)
        let reply = MemberlistCodec.encode(.pushPull(PushPull(join: true, nodes: [refuted], userState: [])))
        #expect(node.handle(.streamReply(stream.id, .success(reply)), after: .milliseconds(20)).joined == ["p1"])
    }
}
