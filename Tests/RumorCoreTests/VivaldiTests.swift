@testable import RumorCore
import RumorWire
import Testing

/// Network coordinates: the Vivaldi model against known latencies, and the ack payload that carries them.
@Suite struct VivaldiTests {
    /// Nodes on a line 10 ms apart (RTT = distance): after rounds of probes every estimate is within 20%.
    @Test func estimatesConvergeToTheTrueLatencies() throws {
        var rng = SplitMix64(seed: 3)
        var nodes = (0..<4).map { _ in Vivaldi() }
        func trueRTT(_ a: Int, _ b: Int) -> Double { 0.010 * Double(abs(a - b)) }
        for _ in 0..<400 {
            for a in nodes.indices {
                let b = (a + Int.random(in: 1..<nodes.count, using: &rng)) % nodes.count
                try nodes[a].update(
                    node: "n\(b)", other: nodes[b].coordinate, rtt: .nanoseconds(Int64(trueRTT(a, b) * 1e9)), rng: &rng)
            }
        }
        for a in nodes.indices {
            for b in nodes.indices where a < b {
                let estimate = nodes[a].coordinate.distance(to: nodes[b].coordinate)
                #expect(abs(estimate - trueRTT(a, b)) / trueRTT(a, b) < 0.2, "n\(a)-n\(b): \(estimate) s")
            }
        }
    }

    @Test func badObservationsAreRejectedAndLeaveTheCoordinate() {
        var rng = SplitMix64(seed: 1)
        var v = Vivaldi()
        let before = v.coordinate
        var other = Vivaldi.origin
        #expect(throws: Vivaldi.Rejection.self) { try v.update(node: "x", other: other, rtt: .seconds(11), rng: &rng) }
        other.vec = [1, 2]
        #expect(throws: Vivaldi.Rejection.self) { try v.update(node: "x", other: other, rtt: .milliseconds(1), rng: &rng) }
        other = Vivaldi.origin
        other.height = .nan
        #expect(throws: Vivaldi.Rejection.self) { try v.update(node: "x", other: other, rtt: .milliseconds(1), rng: &rng) }
        #expect(v.coordinate == before)
    }

    /// A ping is answered with our coordinate; a probe's ack with the peer's coordinate is learned with its RTT,
    /// and an unreadable one is a warning.
    @Test func acksCarryAndTeachCoordinates() throws {
        var i = InstanceTests.started()
        let ping = Ping(node: "me", seqNo: 9, sourceAddr: InstanceTests.peer.ip, sourceNode: "peer", sourcePort: 7946)
        let reply = InstanceTests.sent(i.handle(.packet(MemberlistCodec.encode(.ping(ping)), from: InstanceTests.peer), at: .zero))
        guard case .ack(let ack)? = reply.first?.0 else {
            Issue.record("no ack: \(reply)")
            return
        }
        #expect(try PingPayload.decode(ack.payload) == i.localCoordinate)

        // Let the instance probe the peer, then ack with a coordinate 5 ms later.
        _ = i.handle(.packet(InstanceTests.alive("peer", InstanceTests.peer), from: InstanceTests.peer), at: .zero)
        var t = Instant.zero
        var probeSeq: UInt32?
        while probeSeq == nil, t < .zero + .seconds(5) {
            t = t + .milliseconds(100)
            let effects = i.handle(.timer(.probe), at: t)
            for (message, _) in InstanceTests.sent(effects) { if case .ping(let p) = message { probeSeq = p.seqNo } }
        }
        guard let seq = probeSeq else {
            Issue.record("the instance never probed the peer")
            return
        }
        var peerCoordinate = Vivaldi.origin
        peerCoordinate.vec[0] = 0.002
        let answer = Ack(seqNo: seq, payload: PingPayload.encode(peerCoordinate))
        _ = i.handle(.packet(MemberlistCodec.encode(.ack(answer)), from: InstanceTests.peer), at: t + .milliseconds(5))
        #expect(i.coordinate(of: "peer") == peerCoordinate)
        #expect(i.localCoordinate != Vivaldi.origin)

        var disabledSettings = SerfSettings()
        disabledSettings.disableCoordinates = true
        var off = Instance(name: "me", address: InstanceTests.me, tags: [:], serfSettings: disabledSettings, seed: 1)
        _ = off.start(at: .zero)
        let quiet = InstanceTests.sent(off.handle(.packet(MemberlistCodec.encode(.ping(ping)), from: InstanceTests.peer), at: .zero))
        guard case .ack(let plain)? = quiet.first?.0 else {
            Issue.record("no ack: \(quiet)")
            return
        }
        #expect(plain.payload.isEmpty && off.localCoordinate == nil)
    }
}
