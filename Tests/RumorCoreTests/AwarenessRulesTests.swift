@testable import RumorCore
import RumorWire
import Testing

/// Lifeguard's local health (awareness): a node that misses acks, nacks or has to refute suspects itself of being
/// the slow one and probes less often; every acked probe earns some of that back (docs/membership.md#awareness).
@Suite struct AwarenessRulesTests {
    /// Runs one probe that gets no ack, with indirect probes through `peers - 1` helpers, `nacks` of which answer with
    /// a nack, and returns the awareness after the protocol period.
    static func failedProbe(peers: Int, protocolMax: UInt8, nacks: Int) throws -> Int {
        var node = TestNode(peers: peers, protocolMax: protocolMax)
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe)
        for _ in 0..<nacks { node.receive(.nack(Nack(seqNo: ping.seqNo)), after: .milliseconds(10)) }
        node.fire(.probeDeadline(seqNo: ping.seqNo), scheduledIn: probe)
        return node.instance.awareness
    }

    @Test func failedProbe_raisesAwarenessByTheNacksThatDidNotCome() throws {
        #expect(try Self.failedProbe(peers: 4, protocolMax: 5, nacks: 0) == 3)
        #expect(try Self.failedProbe(peers: 4, protocolMax: 5, nacks: 1) == 2)
        // Every helper reached the target's silence and told us so: the fault is not ours.
        #expect(try Self.failedProbe(peers: 4, protocolMax: 5, nacks: 3) == 0)
    }

    @Test func failedProbe_withoutNacksAskedFor_raisesAwarenessByOne() throws {
        #expect(try Self.failedProbe(peers: 4, protocolMax: 3, nacks: 0) == 1)
        #expect(try Self.failedProbe(peers: 1, protocolMax: 5, nacks: 0) == 1, "no helper at all")
    }

    @Test func ackedProbe_lowersAwarenessByOne_neverBelowZero() throws {
        var node = TestNode(peers: 1)
        node.receive(.suspect(Suspect(incarnation: 1, node: "me", from: "p1")))
        node.receive(.suspect(Suspect(incarnation: 2, node: "me", from: "p1")))
        #expect(node.instance.awareness == 2)
        for expected in [1, 0, 0] {
            let ping = try #require(node.probe(after: .seconds(3)).ping)
            node.receive(.ack(Ack(seqNo: ping.seqNo)), after: .milliseconds(5))
            #expect(node.instance.awareness == expected)
        }
    }

    @Test func refutation_raisesAwarenessByOne() {
        var node = TestNode(peers: 1)
        node.receive(.dead(Dead(incarnation: 1, node: "me", from: "p1")))
        #expect(node.instance.awareness == 1)
        node.receive(.alive(Alive(
            incarnation: 9, node: "me", addr: TestNode.address.ip, port: TestNode.address.port, meta: [0xFF, 0x80])))
        #expect(node.instance.awareness == 2)
    }

    @Test func awareness_saturatesOneBelowTheMaxMultiplier() {
        var node = TestNode(peers: 1)
        for i in 0..<20 { node.receive(.suspect(Suspect(incarnation: UInt32(i + 1) * 2, node: "me", from: "p1"))) }
        #expect(node.instance.awareness == node.instance.settings.awarenessMaxMultiplier - 1)
    }

    @Test func awareness_stretchesTheProtocolPeriod_butNotTheProbeTimeout() throws {
        var node = TestNode(peers: 1)
        node.receive(.suspect(Suspect(incarnation: 1, node: "me", from: "p1")))
        node.receive(.suspect(Suspect(incarnation: 2, node: "me", from: "p1")))
        let (probe, p, _) = node.probe(after: .seconds(1))
        let ping = try #require(p)
        let settings = node.instance.settings
        #expect(probe.timers[.probeTimeout(seqNo: ping.seqNo)] == node.now + settings.probeTimeout)
        #expect(probe.timers[.probeDeadline(seqNo: ping.seqNo)] == node.now + settings.probeInterval * 3)
        // The TCP fallback may use what is left of the stretched period.
        let fallback = node.fire(.probeTimeout(seqNo: ping.seqNo), scheduledIn: probe).streams
        #expect(fallback.first?.timeout == settings.probeInterval * 3 - settings.probeTimeout)
    }
}
