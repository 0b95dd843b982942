@testable import RumorCore
import RumorWire
import Testing

/// A graceful leave must read as *left* even when a push-pull from the leaving node overtakes its leave intent
/// (found by the interop suite against serf: the peer then reported the node failed).
@Suite struct LeaveRaceTests {
    static let addrA = Address(ip: [10, 0, 0, 1], port: 7946)
    static let addrB = Address(ip: [10, 0, 0, 2], port: 7946)

    /// Two instances wired by hand, so a test decides exactly which message arrives when.
    struct Pair {
        var a = Instance(name: "a", address: LeaveRaceTests.addrA, tags: [:], seed: 1)
        var b = Instance(name: "b", address: LeaveRaceTests.addrB, tags: [:], seed: 2)
        var now = Instant.zero

        mutating func tick() { now = now + .milliseconds(10) }

        /// Delivers UDP packets from `effects` (sent by `from`) to the other instance.
        mutating func deliverPackets(_ effects: [Effect], from: Address) {
            for case .send(let bytes, let to) in effects {
                tick()
                if to == addrB { _ = b.handle(.packet(bytes, from: from), at: now) }
                if to == addrA { _ = a.handle(.packet(bytes, from: from), at: now) }
            }
        }

        /// b joins a through a push-pull, and each hears the other's gossip once.
        mutating func join() {
            _ = a.start(at: now)
            _ = b.start(at: now)
            tick()
            let open = b.handle(.command(.join([addrA], replay: false, id: 1)), at: now)
            guard case .openStream(let id, _, let payload, _, _)? = open.first(where: { if case .openStream = $0 { true } else { false } })
            else { Issue.record("no push-pull opened"); return }
            tick()
            let reply = a.handle(.stream(StreamID(99), payload: payload, from: addrB), at: now)
            guard case .replyStream(_, let state?)? = reply.first(where: { if case .replyStream = $0 { true } else { false } })
            else { Issue.record("no push-pull reply"); return }
            tick()
            let joined = b.handle(.streamReply(id, .success(state)), at: now)
            deliverPackets(joined, from: addrB)
            for _ in 0..<5 {
                tick()
                deliverPackets(b.handle(.timer(.gossip), at: now), from: addrB)
                deliverPackets(a.handle(.timer(.gossip), at: now), from: addrA)
            }
        }
    }

    @Test func pushPullOvertakingTheLeaveIntent_stillReadsAsLeft() {
        var p = Pair()
        p.join()
        #expect(p.b.member(named: "a")?.status == .alive)
        p.tick()
        _ = p.a.handle(.command(.leave), at: p.now)
        // a's periodic push-pull goes out before any gossip carrying the intent...
        p.tick()
        let pp = p.a.handle(.timer(.pushPull), at: p.now)
        guard case .openStream(_, _, let state, _, _)? = pp.first(where: { if case .openStream = $0 { true } else { false } })
        else { Issue.record("no push-pull"); return }
        p.tick()
        _ = p.b.handle(.stream(StreamID(7), payload: state, from: Self.addrA), at: p.now)
        // ...then gossip delivers the leave intent and, once it has gone out, the final dead message.
        for _ in 0..<10 {
            p.tick()
            p.deliverPackets(p.a.handle(.timer(.gossip), at: p.now), from: Self.addrA)
        }
        #expect(p.b.member(named: "a")?.status == .left)
    }
}
