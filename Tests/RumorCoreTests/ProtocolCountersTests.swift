@testable import RumorCore
import RumorMetrics
import RumorWire
import Testing

/// What `/metrics` reads from the core: counted on the paths the protocol takes anyway (docs/observe.md).
@Suite struct ProtocolCountersTests {
    @Test func anAnsweredProbe_countsTheProbeAndItsRoundTrip_aSilentOneCountsAFailure() throws {
        var node = TestNode(peers: 1)
        let (_, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        node.receive(.ack(Ack(seqNo: ping.seqNo)), after: .milliseconds(3))
        #expect(node.instance.counters.probes == 1 && node.instance.counters.probesFailed == 0)
        #expect(node.instance.counters.probeRoundTrips.count == 1)
        #expect(abs(node.instance.counters.probeRoundTrips.sum - 0.003) < 1e-9)

        let (probe, p2, _) = node.probe(after: .seconds(1))
        let silent = try #require(p2)
        node.fire(.probeDeadline(seqNo: silent.seqNo), scheduledIn: probe)
        #expect(node.instance.counters.probes == 2 && node.instance.counters.probesFailed == 1)
    }

    @Test func messagesAreCountedByType_eachPartOfACompound() {
        var node = TestNode(peers: 0)
        let alive = { (n: String, i: UInt8) in
            MemberlistCodec.encode(.alive(Alive(incarnation: 1, node: n, addr: [10, 0, 2, i], port: 7946, meta: [], vsn: TestNode.vsn(protocolMax: 5))))
        }
        node.handle(.packet(MemberlistCodec.compound([alive("a", 1), alive("b", 2)]), from: TestNode.peer(1)))
        node.receive(.ping(Ping(node: "me", seqNo: 9, sourceAddr: [10, 0, 1, 1], sourceNode: "p1", sourcePort: 7946)))
        let c = node.instance.counters
        #expect(c.received[Int(MessageType.alive.rawValue)] == 2)
        #expect(c.received[Int(MessageType.ping.rawValue)] == 1)
        #expect(c.received[Int(MessageType.compound.rawValue)] == 0, "the envelope is not a message")
        #expect(c.sent[Int(MessageType.ack.rawValue)] == 1, "the ping was answered")
    }

    @Test func refusedInputIsCountedByReason() {
        var node = TestNode(peers: 1)
        node.handle(.packet([0xff, 1, 2], from: TestNode.peer(1)))
        node.receive(.ping(Ping(node: "someone-else", seqNo: 1, sourceAddr: [10, 0, 1, 1], sourceNode: "p1", sourcePort: 7946)))
        #expect(node.instance.counters.dropped == [.malformed: 1, .unexpected: 1])
    }
}
