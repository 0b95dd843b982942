@testable import RumorCore
import RumorWire
import Testing

/// Piggybacked dissemination: who gets gossip, how often each message goes out, what rides along with direct
/// messages, and how a packet is wrapped for its receiver (docs/membership.md#gossip).
@Suite struct GossipRulesTests {
    /// Gives the node something new to gossip (a tags change gossips our alive message).
    static func news(_ node: inout TestNode) { node.handle(.command(.setTags(["n": "\(node.now)"]))) }

    @Test func gossip_goesToGossipNodesDistinctPeers() {
        var node = TestNode(peers: 5)
        Self.news(&node)
        let targets = node.gossip().compactMap { if case .send(_, let to) = $0 { to } else { nil } }
        #expect(targets.count == node.instance.settings.gossipNodes && Set(targets).count == targets.count)
    }

    @Test func gossip_goesFirstToTheNextAliveNodeInNameOrder_wrappingAround() {
        var node = TestNode(peers: 5)  // "me" < "p1" < ... < "p5"
        func firstTarget() -> Address? {
            Self.news(&node)
            return node.gossip().packets.first?.to
        }
        #expect(firstTarget() == TestNode.peer(1))
        node.fail("p1")
        #expect(firstTarget() == TestNode.peer(2), "a failed successor is passed over")
        node.add("mz", at: TestNode.peer(9))
        #expect(firstTarget() == TestNode.peer(9), "a node joining between us and the successor takes its place")
        var last = TestNode(peers: 0)
        last.add("a", at: TestNode.peer(7))
        last.add("b", at: TestNode.peer(8))
        Self.news(&last)
        #expect(last.gossip().packets.first?.to == TestNode.peer(7), "past the last name the ring wraps to the first")
    }

    @Test func gossip_reachesADeadNodeForGossipToTheDeadTime_butNeverALeftOne() {
        var node = TestNode(peers: 2)
        node.fail("p1")
        node.receive(.dead(Dead(incarnation: 1, node: "p2", from: "p2")))
        Self.news(&node)
        let early = node.gossip().packets
        #expect(!early.isEmpty && early.allSatisfy { $0.to == TestNode.peer(1) })
        node.handle(.timer(.reap), after: node.instance.settings.gossipToTheDeadTime)
        Self.news(&node)
        #expect(node.gossip().packets.isEmpty)
    }

    @Test func broadcast_goesOutRetransmitMultTimesCeilLog10NodesTimes_thenIsDropped() {
        var node = TestNode(peers: 1)  // two nodes: 4 × ceil(log10(3)) = 4
        Self.news(&node)
        let sends = (0..<10).map { _ in node.gossip().packets.filter { $0.message.alive?.node == "me" }.count }
        #expect(sends == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    }

    @Test func newerNewsAboutANode_replacesTheQueuedOlderNews() {
        var node = TestNode(peers: 1)
        node.receive(.suspect(Suspect(incarnation: 1, node: "p1", from: "x")))
        node.add("p1", incarnation: 2)
        let aboutP1 = node.gossip().packets.filter { $0.message.alive?.node == "p1" || $0.message.suspect?.node == "p1" }
        #expect(aboutP1.map(\.message) == [.alive(Alive(
            incarnation: 2, node: "p1", addr: TestNode.peer(1).ip, port: TestNode.peer(1).port,
            meta: SerfCodec.encodeTags([:]), vsn: TestNode.vsn(protocolMax: 5)))])
    }

    @Test func broadcastQueue_beyondItsDepth_dropsTheOldestFirst() {
        var queue = BroadcastQueue(maxDepth: 3)
        for i in UInt8(1)...5 { queue.enqueue([i]) }
        let (messages, _) = queue.take(overhead: 0, limit: 100, transmitLimit: 1)
        #expect(Set(messages) == [[3], [4], [5]])
    }

    @Test func directReplies_carryPendingGossip() {
        var node = TestNode(peers: 1)
        Self.news(&node)
        let reply = node.receive(.ping(Ping(node: "me", seqNo: 1)))
        #expect(reply.packets.contains { $0.message.ack?.seqNo == 1 })
        #expect(reply.packets.contains { $0.message.alive?.node == "me" })
    }

    @Test func packetBudget_isNeverExceeded_andSerfNewsFollowsMemberlists_intentsQueriesEvents() {
        var node = TestNode(peers: 1)
        for i in 0..<40 {
            let event = UserEventMessage(ltime: UInt64(i + 2), name: "event-\(i)", payload: Array(repeating: 1, count: 100), cc: false)
            node.receive(serf: .userEvent(event))
        }
        node.receive(serf: .query(QueryMessage(
            ltime: 3, id: 1, addr: TestNode.peer(1).ip, port: 7946, sourceNode: "p1", filters: nil, flags: 0,
            relayFactor: 0, timeout: 1_000_000_000, name: "q", payload: nil)))
        node.receive(serf: .join(JoinIntent(ltime: 4, node: "p1")))
        Self.news(&node)
        let effects = node.gossip()
        // As memberlist's, the CRC wrapper comes on top of the budget.
        for case .send(let bytes, _) in effects {
            #expect(bytes.count - (bytes.first == 12 ? 5 : 0) <= node.instance.settings.packetBudget)
        }
        let kinds = effects.packets.map { packet -> Int in
            guard case .user(let bytes) = packet.message else { return 0 }
            switch try? SerfCodec.decode(bytes) {
            case .join?, .leave?: return 1
            case .query?: return 2
            default: return 3
            }
        }
        #expect(kinds.first == 0 && kinds == kinds.sorted() && Set(kinds) == [0, 1, 2, 3], "\(kinds)")
    }

    @Test func gossip_isCRCWrapped_onlyForPeersSpeakingProtocol5() {
        var node = TestNode(peers: 1)
        node.add("old", protocolMax: 4)
        Self.news(&node)
        var firstBytes: [Address: UInt8] = [:]
        for case .send(let bytes, let to) in node.gossip() { firstBytes[to] = bytes.first }
        #expect(firstBytes == [TestNode.peer(1): 12, node.peers["old"]!: 7])  // 12: CRC; 7: a bare compound
    }
}
