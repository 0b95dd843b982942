@testable import RumorCore
import RumorWire
import Testing

/// memberlist's state rules for alive and dead messages, incarnations and refutation (docs/membership.md#states).
@Suite struct StateRulesTests {
    static func alive(
        _ name: String, _ address: Address, incarnation: UInt32, tags: [String: String] = [:],
        vsn: [UInt8] = defaultVersionVector
    ) -> MemberlistMessage {
        .alive(Alive(incarnation: incarnation, node: name, addr: address.ip, port: address.port,
                     meta: SerfCodec.encodeTags(tags), vsn: vsn))
    }

    @Test func alive_withAnIncarnationNotNewer_isIgnored() {
        var node = TestNode(peers: 1)
        node.add("p1", incarnation: 5)
        let same = node.receive(Self.alive("p1", TestNode.peer(1), incarnation: 5, tags: ["role": "db"]))
        let older = node.receive(Self.alive("p1", TestNode.peer(1), incarnation: 4, tags: ["role": "db"]))
        #expect(same.updated.isEmpty && older.updated.isEmpty)
        #expect(node.instance.member(named: "p1")?.tags == [:])
    }

    @Test func alive_withANewerIncarnation_andNewTags_updatesTheMember() {
        var node = TestNode(peers: 1)
        let effects = node.receive(Self.alive("p1", TestNode.peer(1), incarnation: 2, tags: ["role": "db"]))
        #expect(effects.updated.map(\.tags) == [["role": "db"]])
        #expect(effects.joined.isEmpty)
    }

    @Test func alive_fromANewAddress_isAConflict_whileTheNodeLives() {
        var node = TestNode(peers: 1)
        let elsewhere = Address(ip: [10, 9, 9, 9], port: 7946)
        let effects = node.receive(Self.alive("p1", elsewhere, incarnation: 7), from: elsewhere)
        #expect(effects.warnings.contains { $0.hasPrefix("conflicting address for 'p1'") })
        #expect(node.instance.member(named: "p1")?.address == TestNode.peer(1))
        #expect(!effects.events.contains(.nameConflict(address: elsewhere)), "only a conflict about us is ours to resolve")
    }

    /// A node that left, or failed (Rumor also lets a failed name come back elsewhere, where memberlist 0.2.2 waits
    /// for the reap: a replaced container comes back with a new address), may return at a new address.
    @Test func alive_fromANewAddress_replacesANodeThatIsGone() {
        var node = TestNode(peers: 2)
        node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        node.fail("p2")
        let a = Address(ip: [10, 9, 9, 1], port: 7946), b = Address(ip: [10, 9, 9, 2], port: 7946)
        let back = node.receive(Self.alive("p1", a, incarnation: 2), from: a)
            + node.receive(Self.alive("p2", b, incarnation: 2), from: b)
        #expect(back.joined == ["p1", "p2"])
        #expect(node.instance.member(named: "p1")?.address == a && node.instance.member(named: "p2")?.address == b)
    }

    /// docs/membership.md#leave: a node's own dead message means it left on purpose, intent seen or not (Serf
    /// says failed when the intent lost the race); a dead message from anyone else is a failure.
    @Test func dead_fromTheNodeItself_isALeave_evenWithoutItsIntent() {
        var node = TestNode(peers: 2)
        let left = node.receive(.dead(Dead(incarnation: 1, node: "p1", from: "p1")))
        #expect(left.events.contains { if case .memberLeft(let m) = $0 { m.name == "p1" } else { false } })
        #expect(left.failed.isEmpty && node.instance.member(named: "p1")?.status == .left)
        #expect(node.receive(.dead(Dead(incarnation: 1, node: "p2", from: "p1"))).failed == ["p2"])
    }

    @Test func alive_aboutUsFromAnotherAddress_reportsANameConflict() {
        var node = TestNode(peers: 1)
        let impostor = Address(ip: [10, 9, 9, 9], port: 7946)
        let effects = node.receive(Self.alive("me", impostor, incarnation: 9), from: impostor)
        #expect(effects.events.contains(.nameConflict(address: impostor)))
        #expect(node.instance.incarnationNumber == 1, "a conflict is not refuted")
    }

    @Test func alive_withInvalidVersions_orAnAddressOfOddLength_isIgnored() {
        var node = TestNode()
        for vsn: [UInt8] in [[0, 5, 2, 2, 5, 5], [1, 0, 2, 2, 5, 5], [3, 2, 2, 2, 5, 5], [1, 5, 2]] {
            let effects = node.receive(Self.alive("x", TestNode.peer(1), incarnation: 1, vsn: vsn))
            #expect(effects.joined.isEmpty && effects.warnings.count == 1, "\(vsn)")
        }
        let odd = node.receive(.alive(Alive(incarnation: 1, node: "x", addr: [10, 0, 0], port: 1, meta: [])))
        #expect(odd.joined.isEmpty && odd.warnings.count == 1)
        #expect(node.status("x") == nil)
    }

    @Test func alive_aboutUs_thatEchoesOurState_isIgnored_butAStaleOneIsRefuted() {
        var node = TestNode(peers: 1)
        let me = TestNode.address
        let echo = node.receive(Self.alive("me", me, incarnation: 1, tags: ["role": "web"]))
        #expect(echo.isEmpty && node.instance.incarnationNumber == 1)
        node.receive(Self.alive("me", me, incarnation: 1, tags: ["role": "old"]))
        #expect(node.instance.incarnationNumber == 2)
        let refutation = node.gossip().packets.compactMap { $0.message.alive }.filter { $0.node == "me" }
        #expect(refutation.map(\.incarnation) == [2])
        #expect(refutation.first.flatMap { try? SerfCodec.decodeTags($0.meta) } == ["role": "web"])
    }

    @Test func dead_aboutUs_isRefuted_withAnIncarnationAboveTheAccusation() {
        var node = TestNode(peers: 1)
        node.receive(.dead(Dead(incarnation: 1, node: "me", from: "p1")))
        #expect(node.instance.incarnationNumber == 2 && node.status("me") == .alive)
        node.receive(.suspect(Suspect(incarnation: 10, node: "me", from: "p1")))
        #expect(node.instance.incarnationNumber == 11)
        // An accusation older than what we already gossiped is no news.
        node.receive(.suspect(Suspect(incarnation: 5, node: "me", from: "p1")))
        #expect(node.instance.incarnationNumber == 11)
    }

    @Test func dead_withAnOlderIncarnation_orAboutANodeAlreadyDead_isIgnored() {
        var node = TestNode(peers: 1)
        node.add("p1", incarnation: 3)
        #expect(node.receive(.dead(Dead(incarnation: 2, node: "p1", from: "x"))).failed.isEmpty)
        #expect(node.receive(.dead(Dead(incarnation: 3, node: "p1", from: "x"))).failed == ["p1"])
        #expect(node.receive(.dead(Dead(incarnation: 4, node: "p1", from: "y"))).isEmpty)
    }

    @Test func failedNode_thatRefutes_isAliveAgain() {
        var node = TestNode(peers: 1)
        node.fail("p1")
        #expect(node.status("p1") == .failed)
        #expect(node.add("p1", incarnation: 1).joined.isEmpty, "the incarnation it died at proves nothing")
        #expect(node.add("p1", incarnation: 2).joined == ["p1"])
        #expect(node.status("p1") == .alive)
    }
}
