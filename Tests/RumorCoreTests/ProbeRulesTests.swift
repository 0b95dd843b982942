@testable import RumorCore
import RumorWire
import Testing

/// SWIM failure detection, one rule per test: the direct probe, indirect probes and nacks, the TCP fallback, and how
/// the probe loop picks its targets (docs/membership.md#probing).
@Suite struct ProbeRulesTests {
    @Test func probeOfASuspect_carriesTheSuspicion_soItCanRefute() {
        var node = TestNode(peers: 1)
        node.receive(.suspect(Suspect(incarnation: 1, node: "p1", from: "someone")))
        let (effects, ping, _) = node.probe(after: .seconds(1))
        let suspects = effects.packets.compactMap { $0.message.suspect }
        #expect(ping?.node == "p1")
        // Ours rides with the ping; the one we heard may be gossiped on beside it (eagerly: it is still news).
        #expect(suspects.contains(Suspect(incarnation: 1, node: "p1", from: "me")))
        #expect(suspects.allSatisfy { $0.node == "p1" && $0.incarnation == 1 })
    }

    @Test func missedDirectAck_asksIndirectChecksAlivePeers_neverTheTargetOrADeadPeer() throws {
        var node = TestNode(peers: 5)
        node.fail("p5")
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        let effects = node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe)
        let requests = effects.packets.compactMap { packet in packet.message.indirectPing.map { ($0, packet.to) } }
        #expect(requests.count == node.instance.settings.indirectChecks)
        let helpers = Set(requests.map(\.1))
        #expect(helpers.count == 3 && !helpers.contains(node.peers[ping.node]!) && !helpers.contains(node.peers["p5"]!))
        let target = node.peers[ping.node]!
        for (request, _) in requests {
            #expect(request.node == ping.node && request.seqNo == ping.seqNo)
            #expect(request.target == target.ip && request.port == target.port)
            #expect(request.sourceNode == "me" && request.sourceAddr == TestNode.address.ip)
        }
    }

    @Test func indirectPing_asksForANack_onlyFromHelpersSpeakingProtocol4() throws {
        var node = TestNode(peers: 1)
        node.add("old", protocolMax: 3)
        node.add("new", protocolMax: 4)
        // Probe until the target is p1, so both others are the helpers.
        var probe: [Effect] = []
        var seq: UInt32?
        for _ in 0..<6 where seq == nil {
            let (effects, ping, _) = node.probe(after: .seconds(1))
            if ping?.node == "p1" { (probe, seq) = (effects, ping?.seqNo) }
            else if let s = ping?.seqNo { node.receive(.ack(Ack(seqNo: s))) }
        }
        let effects = node.fire(.probeTimeout(seqNo: try #require(seq)), scheduledIn: probe)
        let nackFlags = Dictionary(uniqueKeysWithValues: effects.packets.compactMap { packet in
            packet.message.indirectPing.map { (packet.to, $0.nack) }
        })
        #expect(nackFlags == [node.peers["old"]!: false, node.peers["new"]!: true])
    }

    @Test func tcpFallbackPing_goesOnlyToTargetsSpeakingProtocol3_forTheRestOfTheProtocolPeriod() throws {
        for (protocolMax, expectsStream) in [(UInt8(2), false), (3, true)] {
            var node = TestNode(peers: 1, protocolMax: protocolMax)
            let (probe, p, _) = node.probe(after: .seconds(1))
            let ping = try #require(p)
            let streams = node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe).streams
            #expect(streams.count == (expectsStream ? 1 : 0), "protocol \(protocolMax)")
            if let stream = streams.first {
                #expect(stream.to == node.peers["p1"] && stream.message?.ping?.seqNo == ping.seqNo)
                #expect(stream.timeout == node.instance.settings.probeInterval - node.instance.settings.probeTimeout)
            }
        }
    }

    @Test func ackRelayedByAHelper_endsTheProbe_withoutSuspicion() throws {
        var node = TestNode(peers: 4)
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe)
        // The helper forwards the target's ack under our sequence number.
        node.receive(.ack(Ack(seqNo: ping.seqNo)), from: TestNode.peer(2), after: .milliseconds(100))
        let deadline = node.fire(.probeDeadline(seqNo: ping.seqNo), scheduledIn: probe)
        #expect(deadline.suspicionTimers.isEmpty)
        #expect(node.instance.awareness == 0, "a missed ack would have added the three missing nacks")
    }

    @Test func indirectPing_isRelayedWithAFreshSeqNo_andTheAckForwardedUnderTheOriginal() throws {
        var node = TestNode(peers: 2)
        let request = IndirectPing(
            nack: true, node: "p2", port: 7946, seqNo: 77, sourceAddr: TestNode.peer(1).ip, sourceNode: "p1",
            sourcePort: 7000, target: TestNode.peer(2).ip)
        let relayed = node.receive(.indirectPing(request))
        let (message, to) = try #require(relayed.packets.first { $0.message.ping != nil })
        let ping = try #require(message.ping)
        #expect(to == TestNode.peer(2) && ping.node == "p2" && ping.seqNo != 77 && ping.sourceNode == "me")
        let forwarded = node.receive(.ack(Ack(seqNo: ping.seqNo)), from: TestNode.peer(2), after: .milliseconds(10))
        let acks = forwarded.packets.compactMap { packet in packet.message.ack.map { ($0.seqNo, packet.to) } }
        #expect(acks.count == 1 && acks.first?.0 == 77 && acks.first?.1 == Address(ip: TestNode.peer(1).ip, port: 7000))
        // The relay is over: its timeout sends no nack.
        let late = node.fire(.relayTimeout(seqNo: ping.seqNo), scheduledIn: relayed)
        #expect(late.packets.compactMap { $0.message.nack }.isEmpty)
    }

    @Test func indirectPing_withPortZero_pingsTheTargetAtOurOwnPort() {
        var node = TestNode(peers: 1)
        let request = IndirectPing(nack: false, node: "x", port: 0, seqNo: 1, target: [10, 9, 9, 9])
        let pinged = node.receive(.indirectPing(request)).packets.filter { $0.message.ping != nil }.map(\.to)
        #expect(pinged == [Address(ip: [10, 9, 9, 9], port: TestNode.address.port)])
    }

    @Test func relayThatHearsNothing_sendsANack_onlyWhenTheRequesterAskedForOne() {
        for wantsNack in [true, false] {
            var node = TestNode(peers: 2)
            let request = IndirectPing(
                nack: wantsNack, node: "p2", port: 7946, seqNo: 5, sourceAddr: TestNode.peer(1).ip, sourceNode: "p1",
                sourcePort: 7946, target: TestNode.peer(2).ip)
            let relayed = node.receive(.indirectPing(request))
            guard let seq = relayed.packets.compactMap({ $0.message.ping?.seqNo }).first else {
                Issue.record("no relayed ping")
                continue
            }
            let timedOut = node.fire(.relayTimeout(seqNo: seq), scheduledIn: relayed)
            let nacks = timedOut.packets.compactMap { packet in packet.message.nack.map { ($0.seqNo, packet.to) } }
            #expect(nacks.map(\.0) == (wantsNack ? [5] : []) && nacks.allSatisfy { $0.1 == TestNode.peer(1) })
            #expect(relayed.timers[.relayTimeout(seqNo: seq)] == Instant.zero + node.instance.settings.probeTimeout)
        }
    }

    @Test func tcpFallbackAck_countsAsAnAck_withAWarning_andTeachesNoCoordinate() throws {
        var node = TestNode(peers: 1)
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        let timeout = node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe)
        let stream = try #require(timeout.streams.first)
        var coordinate = Vivaldi.origin
        coordinate.vec[0] = 0.5
        let ack = MemberlistCodec.encode(.ack(Ack(seqNo: ping.seqNo, payload: PingPayload.encode(coordinate))))
        let replied = node.handle(.streamReply(stream.id, .success(ack)), after: .milliseconds(100))
        #expect(replied.warnings.contains { $0.contains("answered a TCP ping but not UDP") })
        let deadline = node.fire(.probeDeadline(seqNo: ping.seqNo), scheduledIn: probe)
        #expect(deadline.suspicionTimers.isEmpty)
        #expect(node.instance.coordinate(of: "p1") == nil)
    }

    @Test func tcpFallbackAck_forAnotherSeqNo_isNotAnAck() throws {
        var node = TestNode(peers: 1)
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        let stream = try #require(node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe).streams.first)
        node.handle(.streamReply(stream.id, .success(MemberlistCodec.encode(.ack(Ack(seqNo: ping.seqNo &+ 9))))))
        let deadline = node.fire(.probeDeadline(seqNo: ping.seqNo), scheduledIn: probe)
        #expect(Array(deadline.suspicionTimers.keys) == ["p1"])
    }

    @Test func inboundTCPPing_isAnsweredWithAnAck_onlyWhenItNamesUs() {
        var node = TestNode()
        let ping = { (node: String, seq: UInt32) in MemberlistCodec.encode(.ping(Ping(node: node, seqNo: seq))) }
        let ours = node.handle(.stream(StreamID(1), payload: ping("me", 3), from: TestNode.peer(1)))
        let theirs = node.handle(.stream(StreamID(2), payload: ping("x", 4), from: TestNode.peer(1)))
        #expect(ours.replies.map(\.message?.ack?.seqNo) == [3])
        #expect(theirs.replies.count == 1 && theirs.replies[0].message == nil)
    }

    @Test func probeTick_whileAProbeRuns_waits_andProbesAsSoonAsItEnds() throws {
        var node = TestNode(peers: 2)
        let first = try #require(node.probe(after: .seconds(1)).ping)
        #expect(node.probe(after: .seconds(1)).ping == nil)
        // The running probe concludes: the deferred one goes out at once, without waiting for the next tick.
        let acked = node.receive(.ack(Ack(seqNo: first.seqNo)), after: .milliseconds(10))
        let next = acked.packets.compactMap { $0.message.ping }
        #expect(next.count == 1 && next[0].seqNo != first.seqNo)
    }

    @Test func probeRound_visitsEveryLivePeerOnce_skippingDeadAndLeftNodes() {
        var node = TestNode(peers: 4)
        node.fail("p3")
        node.receive(.dead(Dead(incarnation: 1, node: "p4", from: "p4")))
        var probed: [String] = []
        for _ in 0..<4 {
            let (_, ping, _) = node.probe(after: .seconds(1))
            if let ping {
                probed.append(ping.node)
                node.receive(.ack(Ack(seqNo: ping.seqNo)))
            }
        }
        #expect(probed.sorted() == ["p1", "p1", "p2", "p2"])
        #expect(Set(probed.prefix(2)) == ["p1", "p2"])
    }

    /// memberlist gives up after as many steps as there are nodes, counting the reshuffle as one: when the new order
    /// puts us (or dead nodes) first, a whole protocol period goes by without a probe.
    @Test func everyProtocolPeriod_probesSomeone_whileAnyPeerLives() {
        for peers in 1...3 {
            var node = TestNode(peers: peers + 2)
            node.fail("p\(peers + 1)")
            node.fail("p\(peers + 2)")
            var silent = 0
            for _ in 0..<50 {
                if let ping = node.probe(after: .seconds(1)).ping { node.receive(.ack(Ack(seqNo: ping.seqNo))) } else { silent += 1 }
            }
            #expect(silent == 0, "\(silent) of 50 periods without a probe, \(peers) live peers")
        }
    }

    @Test func deadNodes_areForgottenAtTheEndOfAProbeRound_afterGossipToTheDeadTime() {
        var node = TestNode(peers: 2)
        node.fail("p2")
        #expect(node.instance.estimatedNodeCount == 3)
        for _ in 0..<3 {
            if let ping = node.probe(after: .seconds(1)).ping { node.receive(.ack(Ack(seqNo: ping.seqNo))) }
        }
        #expect(node.instance.estimatedNodeCount == 3, "forgotten before gossipToTheDeadTime")
        node.handle(.timer(.gossip), after: node.instance.settings.gossipToTheDeadTime)
        for _ in 0..<3 {
            if let ping = node.probe(after: .seconds(1)).ping { node.receive(.ack(Ack(seqNo: ping.seqNo))) }
        }
        #expect(node.instance.estimatedNodeCount == 2)
        #expect(node.status("p2") == .failed, "Serf keeps the member until it is reaped")
    }

    @Test func lateAck_afterTheProtocolPeriod_changesNothing() throws {
        var node = TestNode(peers: 1)
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe)
        node.fire(.probeDeadline(seqNo: ping.seqNo), scheduledIn: probe)
        let awareness = node.instance.awareness
        let late = node.receive(.ack(Ack(seqNo: ping.seqNo)), after: .milliseconds(1))
        #expect(node.instance.awareness == awareness && late.isEmpty)
    }
}
