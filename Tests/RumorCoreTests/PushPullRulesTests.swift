@testable import RumorCore
import RumorWire
import Testing

/// Push-pull, the full state exchange behind joins and anti-entropy: what a node sends, how it merges what it gets
/// (memberlist's node states, then Serf's clocks, intents and events), and how a join reports its outcome
/// (docs/membership.md#push-pull-merge, docs/membership.md#serf-push-pull-merge).
@Suite struct PushPullRulesTests {
    static func entry(_ name: String, _ address: Address, _ state: PushNodeState.State, incarnation: UInt32 = 1) -> PushNodeState {
        PushNodeState(
            name: name, addr: address.ip, port: address.port, meta: SerfCodec.encodeTags([:]), incarnation: incarnation,
            state: state, vsn: defaultVersionVector)
    }

    static func serf(
        ltime: UInt64 = 1, statusLTimes: [String: UInt64] = [:], left: [String] = [], eventLTime: UInt64 = 1,
        events: [UserEventCollection?] = [], queryLTime: UInt64 = 1
    ) -> SerfPushPull {
        SerfPushPull(
            ltime: ltime, statusLTimes: statusLTimes, leftMembers: left, eventLTime: eventLTime, events: events,
            queryLTime: queryLTime)
    }

    static func state(join: Bool = false, _ nodes: [PushNodeState], serf: SerfPushPull? = nil) -> [UInt8] {
        let userState = serf.map { SerfCodec.encode(.pushPull($0)) } ?? []
        return MemberlistCodec.encode(.pushPull(PushPull(join: join, nodes: nodes, userState: userState)))
    }

    static func events(_ ltime: UInt64, _ names: String...) -> UserEventCollection {
        UserEventCollection(ltime: ltime, events: names.map { .init(name: $0, payload: nil) })
    }

    /// A peer's state arriving on an inbound stream, as at the responder of a push-pull.
    @discardableResult
    static func push(_ node: inout TestNode, _ nodes: [PushNodeState], serf: SerfPushPull? = nil, join: Bool = false) -> [Effect] {
        let payload = state(join: join, nodes, serf: serf)
        return node.handle(.stream(StreamID(1), payload: payload, from: TestNode.peer(1)), after: .milliseconds(10))
    }

    static func delivered(_ effects: [Effect]) -> [String] {
        effects.events.compactMap { if case .userEvent(let e) = $0 { e.name } else { nil } }
    }

    // MARK: memberlist's part

    @Test func pushPullReply_carriesOurWholeState_withTheInitiatorsJoinFlag() throws {
        for join in [false, true] {
            var node = TestNode(peers: 1)
            let reply = try #require(Self.push(&node, [Self.entry("p1", TestNode.peer(1), .alive)], join: join).replies.first)
            let state = try #require(reply.message?.pushPull)
            #expect(state.join == join)
            #expect(state.nodes.map(\.name) == ["me", "p1"] && !state.userState.isEmpty)
        }
    }

    @Test func mergedAliveNode_joins() {
        var node = TestNode()
        let effects = Self.push(&node, [Self.entry("p1", TestNode.peer(1), .alive), Self.entry("p2", TestNode.peer(2), .alive)])
        #expect(effects.joined == ["p1", "p2"])
    }

    @Test func mergedDeadOrSuspectNode_isOnlySuspected_soItCanRefute() {
        var node = TestNode(peers: 2)
        let effects = Self.push(&node, [
            Self.entry("p1", TestNode.peer(1), .dead), Self.entry("p2", TestNode.peer(2), .suspect),
            Self.entry("ghost", TestNode.peer(9), .dead),
        ])
        #expect(effects.failed.isEmpty && node.status("p1") == .alive && node.status("p2") == .alive)
        #expect(Set(effects.suspicionTimers.keys) == ["p1", "p2"])
        #expect(node.status("ghost") == nil, "a dead node we never knew adds nothing")
    }

    @Test func mergedLeftNode_readsAsLeft_whenSerfsStateListsItLeft() {
        var node = TestNode(peers: 1)
        let serf = Self.serf(statusLTimes: ["p1": 3], left: ["p1"])
        let effects = Self.push(&node, [Self.entry("p1", TestNode.peer(1), .left)], serf: serf)
        #expect(node.status("p1") == .left && effects.left == ["p1"])
    }

    @Test func inboundStream_ofAnotherKind_orUnreadable_isAnsweredWithAnError() {
        var node = TestNode()
        let alive = node.handle(.stream(StreamID(1), payload: MemberlistCodec.encode(.alive(Alive(
            incarnation: 1, node: "x", addr: TestNode.peer(1).ip, port: 7946, meta: []))), from: TestNode.peer(1)))
        let garbage = node.handle(.stream(StreamID(2), payload: [0xee, 1, 2], from: TestNode.peer(1)))
        for replies in [alive.replies, garbage.replies] {
            #expect(replies.count == 1 && replies.allSatisfy { if case .err? = $0.message { true } else { false } }, "\(replies)")
        }
    }

    @Test func userMessageOverAStream_isHandledAsIfItCameByUDP() {
        var node = TestNode(peers: 1)
        let event = SerfCodec.encode(.userEvent(UserEventMessage(ltime: 2, name: "deploy", payload: nil, cc: false)))
        let effects = node.handle(.stream(StreamID(1), payload: MemberlistCodec.encodeStreamUser(event), from: TestNode.peer(1)))
        #expect(Self.delivered(effects) == ["deploy"])
        #expect(effects.replies.count == 1 && effects.replies[0].message == nil, "closed without a reply")
    }

    @Test func ourSerfState_listsLeavingMembersAsLeft_soARacingSyncCannotTurnTheLeaveIntoAFailure() throws {
        var node = TestNode(peers: 2)
        node.receive(serf: .leave(LeaveIntent(ltime: 4, node: "p1")))
        let reply = try #require(Self.push(&node, []).replies.first?.message?.pushPull)
        guard case .pushPull(let serf)? = try? SerfCodec.decode(reply.userState) else {
            Issue.record("no Serf state in \(reply)")
            return
        }
        #expect(serf.leftMembers == ["p1"] && serf.statusLTimes["p1"] == 4)
    }

    // MARK: Serf's part

    @Test func serfMerge_witnessesEachClockOneBelowTheRemotes() {
        var node = TestNode()
        Self.push(&node, [], serf: Self.serf(ltime: 10, eventLTime: 20, queryLTime: 30))
        #expect(node.instance.clock.time == 10 && node.instance.eventClock.time == 20 && node.instance.queryClock.time == 30)
        Self.push(&node, [], serf: Self.serf(ltime: 0, eventLTime: 0, queryLTime: 0))
        #expect(node.instance.clock.time == 10 && node.instance.eventClock.time == 20 && node.instance.queryClock.time == 30)
    }

    @Test func serfMerge_leftMemberIsALeaveIntentOnePastItsStatusTime() {
        var node = TestNode(peers: 1)
        Self.push(&node, [], serf: Self.serf(statusLTimes: ["p1": 5], left: ["p1"]))
        #expect(node.status("p1") == .leaving)
        node.receive(serf: .join(JoinIntent(ltime: 6, node: "p1")))
        #expect(node.status("p1") == .leaving, "the leave came after time 5, so a join at 6 is not newer")
        node.receive(serf: .join(JoinIntent(ltime: 7, node: "p1")))
        #expect(node.status("p1") == .alive)
    }

    @Test func serfMerge_otherStatusTimesAreJoinIntents() {
        var node = TestNode(peers: 1)
        node.receive(serf: .leave(LeaveIntent(ltime: 3, node: "p1")))
        #expect(node.status("p1") == .leaving)
        Self.push(&node, [], serf: Self.serf(statusLTimes: ["p1": 4]))
        #expect(node.status("p1") == .alive)
    }

    @Test func serfMerge_replaysTheRemoteEvents_onceEach() {
        var node = TestNode(peers: 1)
        let serf = Self.serf(eventLTime: 3, events: [nil, Self.events(2, "deploy", "restart"), nil])
        #expect(Self.delivered(Self.push(&node, [], serf: serf)).sorted() == ["deploy", "restart"])
        #expect(Self.delivered(Self.push(&node, [], serf: serf)).isEmpty)
    }

    // MARK: Joining

    /// Joins through one address and answers with `remote`; returns the effects of the reply.
    static func join(_ node: inout TestNode, replay: Bool, remote: SerfPushPull) throws -> [Effect] {
        let open = node.handle(.command(.join([TestNode.peer(1)], replay: replay, id: 1)))
        let stream = try #require(open.streams.first)
        let reply = state(join: true, [entry("p1", TestNode.peer(1), .alive)], serf: remote)
        return node.handle(.streamReply(stream.id, .success(reply)), after: .milliseconds(10))
    }

    @Test func joinWithoutReplay_ignoresEventsFromBeforeTheJoin() throws {
        var node = TestNode()
        let joined = try Self.join(&node, replay: false, remote: Self.serf(eventLTime: 5, events: [Self.events(3, "old")]))
        #expect(Self.delivered(joined).isEmpty)
        let older = node.receive(serf: .userEvent(UserEventMessage(ltime: 4, name: "late", payload: nil, cc: false)))
        let newer = node.receive(serf: .userEvent(UserEventMessage(ltime: 5, name: "new", payload: nil, cc: false)))
        #expect(Self.delivered(older).isEmpty && Self.delivered(newer) == ["new"])
    }

    @Test func joinWithReplay_deliversTheEventsTheClusterRemembers() throws {
        var node = TestNode()
        let joined = try Self.join(&node, replay: true, remote: Self.serf(eventLTime: 5, events: [Self.events(3, "old")]))
        #expect(Self.delivered(joined) == ["old"])
    }

    @Test func join_reportsEachAddress_andOnSuccessAnnouncesAJoinIntent_andSyncsOnceMore() throws {
        var node = TestNode()
        let open = node.handle(.command(.join([TestNode.peer(1), TestNode.peer(2)], replay: false, id: 7)))
        #expect(open.streams.map(\.to) == [TestNode.peer(1), TestNode.peer(2)])
        #expect(open.streams.allSatisfy { $0.message?.pushPull?.join == true })
        let state = Self.state(join: true, [Self.entry("p1", TestNode.peer(1), .alive)])
        let ok = node.handle(.streamReply(open.streams[0].id, .success(state)))
        #expect(!ok.events.contains { if case .joinFinished = $0 { true } else { false } }, "one address still pending")
        let done = node.handle(.streamReply(open.streams[1].id, .failure(StreamFailure("connection refused"))))
        #expect(done.events.contains(.joinFinished(id: 7, joined: 1, errors: ["connection refused"])))
        #expect(done.timers[.postJoinSync] != nil)
        let intents = node.gossip().serfPackets.compactMap { if case .join(let j) = $0.message { j.node } else { nil } }
        #expect(intents.contains("me"))
    }

    @Test func join_thatReachesNobody_announcesNothing() throws {
        var node = TestNode()
        let open = node.handle(.command(.join([TestNode.peer(1)], replay: false, id: 2)))
        let stream = try #require(open.streams.first)
        let failed = node.handle(.streamReply(stream.id, .success(MemberlistCodec.encode(.err("boom")))))
        #expect(failed.events.contains(.joinFinished(id: 2, joined: 0, errors: ["remote error: boom"])))
        #expect(failed.timers[.postJoinSync] == nil && node.instance.pendingBroadcasts.intents == 0)
        let nowhere = node.handle(.command(.join([], replay: false, id: 3)))
        #expect(nowhere.events == [.joinFinished(id: 3, joined: 0, errors: ["no addresses to join"])])
    }

    // MARK: Scheduling

    @Test func periodicPushPull_goesToOneAliveNode_withoutTheJoinFlag() {
        var node = TestNode(peers: 2)
        node.fail("p2")
        for _ in 0..<5 {
            let streams = node.fire(.pushPull).streams
            #expect(streams.map(\.to) == [TestNode.peer(1)] && streams.first?.message?.pushPull?.join == false)
        }
    }

    @Test func pushPullInterval_scalesUpAbove32Nodes() {
        for (nodes, interval) in [(32, 30), (33, 60), (64, 60), (65, 90)] {
            var node = TestNode(peers: nodes - 1)
            let at = node.fire(.pushPull).timers[.pushPull]
            #expect(at == node.now + .seconds(interval), "\(nodes) nodes")
        }
    }
}
