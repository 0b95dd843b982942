@testable import RumorCore
import RumorWire
import Testing

/// Serf queries: who processes one (node and tag filters), how it spreads, how answers travel (directly and through
/// relays) and how the originator collects them (docs/membership.md#queries).
@Suite struct QueryRulesTests {
    static let source = TestNode.peer(1)

    static func query(
        _ name: String = "q", id: UInt32 = 1, ltime: UInt64 = 5, filters: [QueryFilter] = [], flags: UInt32 = 0,
        relayFactor: UInt8 = 0, payload: [UInt8]? = nil
    ) -> SerfMessage {
        .query(QueryMessage(
            ltime: ltime, id: id, addr: source.ip, port: source.port, sourceNode: "p1",
            filters: filters.isEmpty ? nil : filters.map(SerfCodec.encodeFilter), flags: flags, relayFactor: relayFactor,
            timeout: Duration.seconds(3).nanoseconds, name: name, payload: payload))
    }

    static func delivered(_ effects: [Effect]) -> [IncomingQuery] {
        effects.events.compactMap { if case .query(let q) = $0 { q } else { nil } }
    }

    /// Query responses sent, by destination, relays unwrapped.
    static func responses(_ effects: [Effect]) -> [(response: QueryResponseMessage, to: Address, relayedTo: Address?)] {
        effects.serfPackets.compactMap { packet in
            switch packet.message {
            case .queryResponse(let r): return (r, packet.to, nil)
            case .relay(let header, let payload):
                guard case .queryResponse(let r)? = try? SerfCodec.decode(payload) else { return nil }
                return (r, Address(ip: header.destAddr, port: header.destPort), packet.to)
            default: return nil
            }
        }
    }

    // MARK: Filters and spreading

    @Test func nodeFilter_limitsWhoProcesses_butEveryoneGossipsTheQueryOn() {
        var node = TestNode(peers: 1)
        let other = node.receive(serf: Self.query(id: 1, filters: [.nodes(["p1", "p2"])]))
        #expect(Self.delivered(other).isEmpty && node.instance.pendingBroadcasts.queries == 1)
        let ours = node.receive(serf: Self.query(id: 2, filters: [.nodes(["p2", "me"])]))
        #expect(Self.delivered(ours).map(\.id) == [2] && node.instance.pendingBroadcasts.queries == 2)
    }

    @Test func tagFilter_isAnUnanchoredRegex_overOurTagValue_missingTagsReadAsEmpty() {
        var node = TestNode(peers: 1, tags: ["role": "web-1"])
        let cases: [(QueryFilter, Bool)] = [
            (.tag(name: "role", expression: "^web"), true),
            (.tag(name: "role", expression: "b-"), true),
            (.tag(name: "role", expression: "^db"), false),
            (.tag(name: "dc", expression: "^$"), true),
            (.tag(name: "dc", expression: "."), false),
            (.tag(name: "role", expression: "(unclosed"), false),
        ]
        for (i, (filter, processed)) in cases.enumerated() {
            let effects = node.receive(serf: Self.query(id: UInt32(i + 1), filters: [filter]))
            #expect(Self.delivered(effects).count == (processed ? 1 : 0), "\(filter)")
        }
    }

    @Test func filters_mustAllPass() {
        var node = TestNode(peers: 1)
        let both = node.receive(serf: Self.query(id: 1, filters: [.nodes(["me"]), .tag(name: "role", expression: "web")]))
        let one = node.receive(serf: Self.query(id: 2, filters: [.nodes(["me"]), .tag(name: "role", expression: "db")]))
        #expect(Self.delivered(both).count == 1 && Self.delivered(one).isEmpty)
    }

    @Test func undecodableFilter_meansTheQueryIsNotForUs() {
        var node = TestNode(peers: 1)
        var message = QueryMessage(
            ltime: 5, id: 1, addr: Self.source.ip, port: Self.source.port, sourceNode: "p1", filters: [[0x07, 0xc0]],
            flags: 0, relayFactor: 0, timeout: 1_000_000_000, name: "q", payload: nil)
        #expect(Self.delivered(node.receive(serf: .query(message))).isEmpty)
        message.id = 2
        message.filters = [[0x00, 0xc1]]  // a node list that is not msgpack
        #expect(Self.delivered(node.receive(serf: .query(message))).isEmpty)
    }

    @Test func noBroadcastFlag_keepsTheQueryFromBeingGossipedOn() {
        var node = TestNode(peers: 1)
        let effects = node.receive(serf: Self.query(flags: QueryMessage.flagNoBroadcast))
        #expect(Self.delivered(effects).count == 1 && node.instance.pendingBroadcasts.queries == 0)
    }

    @Test func query_isProcessedOncePerLTimeAndID() {
        var node = TestNode(peers: 1)
        let first = node.receive(serf: Self.query(id: 9, ltime: 5))
        let again = node.receive(serf: Self.query(id: 9, ltime: 5))
        let otherID = node.receive(serf: Self.query(id: 10, ltime: 5))
        #expect(Self.delivered(first).count == 1 && Self.delivered(again).isEmpty && Self.delivered(otherID).count == 1)
        #expect(node.instance.pendingBroadcasts.queries == 2)
    }

    @Test func query_olderThanTheDedupWindow_orFromBeforeARestart_isDropped() {
        var node = TestNode(peers: 1)
        node.receive(serf: Self.query(id: 1, ltime: 1000))
        let old = node.receive(serf: Self.query("stale", id: 2, ltime: 400))
        #expect(Self.delivered(old).isEmpty && old.warnings == ["received old query 'stale' (ltime 400, current 1001)"])

        var restarted = Instance(name: "me", address: TestNode.address, tags: [:], seed: 1)
        restarted.restore(memberClock: 0, eventClock: 0, queryClock: 30)
        _ = restarted.start(at: .zero)
        let packet = { (q: SerfMessage) in Input.packet(MemberlistCodec.encode(.user(SerfCodec.encode(q))), from: Self.source) }
        #expect(Self.delivered(restarted.handle(packet(Self.query(id: 3, ltime: 30)), at: .zero)).isEmpty)
        #expect(Self.delivered(restarted.handle(packet(Self.query(id: 4, ltime: 31)), at: .zero)).count == 1)
    }

    // MARK: Answers

    @Test func ackFlag_isAnsweredAtOnce_directlyToTheQuerySource() {
        var node = TestNode(peers: 1)
        let sent = Self.responses(node.receive(serf: Self.query(flags: QueryMessage.flagAck)))
        #expect(sent.count == 1)
        let ack = QueryResponseMessage(ltime: 5, id: 1, from: "me", flags: QueryResponseMessage.flagAck, payload: nil)
        #expect(sent.first?.response == ack)
        #expect(sent.first?.to == Self.source && sent.first?.relayedTo == nil)
    }

    @Test func response_isSentOnce_beforeTheDeadline_withinTheSizeLimit() {
        var node = TestNode(peers: 1)
        node.receive(serf: Self.query(id: 1))
        let answered = node.handle(.command(.respond(ltime: 5, id: 1, payload: [1])), after: .seconds(1))
        #expect(Self.responses(answered).map(\.response.payload) == [[1]])
        let twice = node.handle(.command(.respond(ltime: 5, id: 1, payload: [2])))
        #expect(Self.responses(twice).isEmpty && twice.warnings == ["failed to respond to query: response already sent"])

        node.receive(serf: Self.query(id: 2))
        let big = node.handle(.command(.respond(ltime: 5, id: 2, payload: Array(repeating: 0, count: 1100))))
        #expect(Self.responses(big).isEmpty && big.warnings.first?.hasSuffix("exceeds limit of 1024 bytes") == true)
        let late = node.handle(.command(.respond(ltime: 5, id: 2, payload: [3])), after: .seconds(4))
        #expect(Self.responses(late).isEmpty && late.warnings == ["failed to respond to query: response is past the deadline"])
    }

    @Test func relayFactor_sendsTheAnswerAlsoThroughThatManyPeersSpeakingProtocol5() {
        var node = TestNode(peers: 3)
        let sent = Self.responses(node.receive(serf: Self.query(flags: QueryMessage.flagAck, relayFactor: 2)))
        let relays = sent.compactMap(\.relayedTo)
        #expect(sent.filter { $0.relayedTo == nil }.map(\.to) == [Self.source])
        #expect(relays.count == 2 && Set(relays).count == 2)
        #expect(sent.allSatisfy { $0.to == Self.source })

        var mixed = TestNode(peers: 1)
        for name in ["old1", "old2", "old3"] { mixed.add(name, protocolMax: 4) }
        let viaOld = Self.responses(mixed.receive(serf: Self.query(flags: QueryMessage.flagAck, relayFactor: 2)))
        #expect(viaOld.compactMap(\.relayedTo) == [TestNode.peer(1)], "only p1 speaks memberlist 5")
    }

    @Test func relayFactor_isSkippedWhenTheClusterIsTooSmallForIt() {
        var node = TestNode(peers: 1)  // two nodes: fewer than relayFactor + 1
        let sent = Self.responses(node.receive(serf: Self.query(flags: QueryMessage.flagAck, relayFactor: 2)))
        #expect(sent.map(\.to) == [Self.source] && sent.allSatisfy { $0.relayedTo == nil })
    }

    @Test func relayMessage_isForwardedUnchanged_toItsDestination() {
        var node = TestNode(peers: 1)
        let response = SerfCodec.encode(.queryResponse(QueryResponseMessage(ltime: 1, id: 2, from: "p1", flags: 0, payload: [7])))
        let dest = Address(ip: [10, 7, 7, 7], port: 7000)
        let effects = node.receive(serf: .relay(RelayHeader(destAddr: dest.ip, destPort: dest.port, destName: ""), payload: response))
        #expect(effects.packets.map(\.to) == [dest])
        #expect(effects.packets.first?.message == .user(response))
    }

    // MARK: The originator

    @Test func originator_answersItself_collectsEachResponderOnce_andFinishesAtTheDeadline() throws {
        var node = TestNode(peers: 1)
        let started = node.handle(.command(.query(OutgoingQuery(name: "q", payload: [], requestAck: true), id: 42)))
        let mine = try #require(Self.delivered(started).first)
        #expect(started.events.contains(.queryAck(id: 42, from: "me")), "we process our own query")
        let response = { (from: String, flags: UInt32) -> SerfMessage in
            .queryResponse(QueryResponseMessage(ltime: mine.ltime, id: mine.id, from: from, flags: flags, payload: [1]))
        }
        let answer = node.receive(serf: response("p1", 0), after: .milliseconds(100))
        let again = node.receive(serf: response("p1", 0))
        let ack = node.receive(serf: response("p1", QueryResponseMessage.flagAck))
        #expect(answer.events == [.queryResponse(id: 42, from: "p1", payload: [1])] && again.events.isEmpty)
        #expect(ack.events == [.queryAck(id: 42, from: "p1")])
        let deadline = try #require(started.timers.keys.first { if case .queryDeadline = $0 { true } else { false } })
        #expect(node.fire(deadline, scheduledIn: started).events == [.queryFinished(id: 42)])
        let late = node.receive(serf: response("p2", 0))
        #expect(late.events.allSatisfy { if case .debug = $0 { true } else { false } } && !late.events.isEmpty)
    }

    @Test func defaultTimeout_isGossipIntervalTimesMultTimesCeilLog10OfTheClusterSize() {
        #expect(TestNode(peers: 8).instance.defaultQueryTimeout == .milliseconds(3200))
        #expect(TestNode(peers: 9).instance.defaultQueryTimeout == .milliseconds(6400))
    }

    @Test func oversizeQuery_isRefusedAndFinishes() {
        var node = TestNode(peers: 1)
        let effects = node.handle(.command(.query(OutgoingQuery(name: "q", payload: Array(repeating: 1, count: 1100)), id: 3)))
        #expect(effects.warnings == ["query exceeds limit of 1024 bytes"])
        #expect(effects.events.contains(.queryFinished(id: 3)) && node.instance.pendingBroadcasts.queries == 0)
    }

    // MARK: Serf's internal queries

    @Test func serfPing_isAnsweredByItsAckAlone_andNeverDelivered() {
        var node = TestNode(peers: 1)
        let effects = node.receive(serf: Self.query("_serf_ping", flags: QueryMessage.flagAck))
        #expect(Self.delivered(effects).isEmpty)
        #expect(Self.responses(effects).map(\.response.flags) == [QueryResponseMessage.flagAck])
    }

    @Test func serfConflict_isAnsweredWithOurViewOfTheContestedNode_exceptByThatNode() throws {
        var node = TestNode(peers: 2)
        let answer = Self.responses(node.receive(serf: Self.query("_serf_conflict", id: 1, payload: Array("p2".utf8))))
        let record = try SerfCodec.decodeConflictResponse(try #require(answer.first?.response.payload))
        #expect(record?.name == "p2" && record?.addr == TestNode.peer(2).ip && record?.port == TestNode.peer(2).port)
        let aboutUs = node.receive(serf: Self.query("_serf_conflict", id: 2, payload: Array("me".utf8)))
        #expect(Self.responses(aboutUs).isEmpty && Self.delivered(aboutUs).isEmpty)
    }
}
