@testable import RumorCore
import RumorWire
import Testing

/// Every number a peer can put in a message, at its extremes, through the real codec into `Instance.handle`: none may
/// trap, none may poison a clock, and afterwards the node still sends events and queries, runs its timers and
/// leaves (docs/membership.md#untrusted-numbers).
@Suite struct ExtremeValueTests {
    /// 0, 1, around every integer width's end, negatives, and for floats the non-finite ones.
    static let extremes: [MessagePack] = {
        let unsigned: [UInt64] = [
            0, 1, 254, 255, 65534, 65535, 65536, 1 << 31 - 1, 1 << 32 - 2, 1 << 32 - 1, 1 << 32, 1 << 63 - 2,
            1 << 63 - 1, 1 << 63, .max - 1, .max,
        ]
        let negative: [Int64] = [-1, .min + 1, .min]
        let floats: [Double] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
        return unsigned.map { .uint($0) } + negative.map { .int($0) } + floats.map { .double($0) }
    }()

    struct Seed: CustomStringConvertible, Sendable {
        var description: String
        var parts: [MessageTree]
        var deliver: @Sendable ([UInt8]) -> Input
    }

    static let p1 = TestNode.peer(1)

    static func packet(_ name: String, _ message: MemberlistMessage) -> Seed {
        Seed(description: name, parts: MessageTree.parse(MemberlistCodec.encode(message))) { .packet($0, from: p1) }
    }

    static func serf(_ name: String, _ message: SerfMessage) -> Seed {
        packet(name, .user(SerfCodec.encode(message)))
    }

    /// A push-pull whose Serf state covers every clock, status time and event slot.
    static var pushPullSeed: Seed {
        let serfState = SerfPushPull(
            ltime: 5, statusLTimes: ["p1": 3, "gone": 4, "me": 2], leftMembers: ["gone"], eventLTime: 6,
            events: [UserEventCollection(ltime: 4, events: [.init(name: "e", payload: [1])]), nil], queryLTime: 7)
        let node = PushNodeState(
            name: "p9", addr: [10, 0, 1, 9], port: 7946, meta: SerfCodec.encodeTags(["k": "v"]), incarnation: 3,
            state: .alive, vsn: TestNode.vsn(protocolMax: 5))
        let pp = PushPull(join: false, nodes: [node], userState: SerfCodec.encode(.pushPull(serfState)))
        return Seed(description: "push-pull", parts: MessageTree.parse(MemberlistCodec.encode(.pushPull(pp)))) {
            .stream(StreamID(99), payload: $0, from: p1)
        }
    }

    static func seeds(probeSeq: UInt32) -> [Seed] {
        let coordinate = Coordinate(vec: [0.001, 0, 0, 0, 0, 0, 0, -0.001], error: 0.5, adjustment: 0.0001, height: 1e-5)
        let query = QueryMessage(
            ltime: 3, id: 77, addr: p1.ip, port: p1.port, sourceNode: "p1",
            filters: [SerfCodec.encodeFilter(.nodes(["me"])), SerfCodec.encodeFilter(.tag(name: "role", expression: "w.*"))],
            flags: QueryMessage.flagAck, relayFactor: 2, timeout: 1_000_000_000, name: "q", payload: [1])
        let response = SerfCodec.encode(.queryResponse(QueryResponseMessage(ltime: 3, id: 77, from: "p1", flags: 0, payload: [2])))
        return [
            packet("ping", .ping(Ping(node: "me", seqNo: 7, sourceAddr: p1.ip, sourceNode: "p1", sourcePort: 7946))),
            packet("indirect ping", .indirectPing(IndirectPing(
                nack: true, node: "p2", port: 7946, seqNo: 8, sourceAddr: p1.ip, sourceNode: "p1", sourcePort: 7946,
                target: TestNode.peer(2).ip))),
            packet("ack with coordinate", .ack(Ack(seqNo: probeSeq, payload: PingPayload.encode(coordinate)))),
            packet("nack", .nack(Nack(seqNo: probeSeq))),
            packet("suspect p2", .suspect(Suspect(incarnation: 1, node: "p2", from: "p1"))),
            packet("suspect me", .suspect(Suspect(incarnation: 1, node: "me", from: "p1"))),
            packet("dead me", .dead(Dead(incarnation: 1, node: "me", from: "p1"))),
            packet("alive p9", .alive(Alive(
                incarnation: 2, node: "p9", addr: [10, 0, 1, 9], port: 7946, meta: SerfCodec.encodeTags(["a": "b"]),
                vsn: TestNode.vsn(protocolMax: 5)))),
            packet("alive me", .alive(Alive(incarnation: 9, node: "me", addr: TestNode.address.ip, port: 7946, meta: []))),
            serf("join intent", .join(JoinIntent(ltime: 9, node: "p2"))),
            serf("leave intent", .leave(LeaveIntent(ltime: 9, node: "p3", prune: true))),
            serf("user event", .userEvent(UserEventMessage(ltime: 2, name: "deploy", payload: [1, 2], cc: true))),
            serf("query", .query(query)),
            serf("query response", .queryResponse(QueryResponseMessage(ltime: 1, id: 1, from: "p1", flags: 1, payload: nil))),
            serf("relay", .relay(RelayHeader(destAddr: TestNode.peer(2).ip, destPort: 7946, destName: "p2"), payload: response)),
            pushPullSeed,
        ]
    }

    /// A fresh node with three peers and one probe in flight (so acks and nacks find it).
    static func freshNode() -> (TestNode, UInt32) {
        var node = TestNode(peers: 3)
        let seq = node.probe(after: .seconds(1)).ping?.seqNo ?? 0
        return (node, seq)
    }

    @Test func everyPeerSuppliedNumberAtItsExtremesIsHandled() {
        let (_, seq) = Self.freshNode()
        var cases = 0
        for seed in Self.seeds(probeSeq: seq) {
            for path in seed.parts.numberPaths {
                for value in Self.extremes {
                    var (node, _) = Self.freshNode()
                    node.handle(seed.deliver(seed.parts.replacing(path, with: value).encoded), after: .milliseconds(10))
                    Self.stillWorks(&node, "\(seed) \(path) = \(value)")
                    cases += 1
                }
            }
        }
        #expect(cases > 1000, "only \(cases) cases: the seeds lost their numbers?")
        print("extreme values: \(cases) cases through Instance.handle")
    }

    /// RPC clients reach the core through commands: a query's timeout and relay factor, a response's Lamport time.
    @Test func everyClientSuppliedNumberAtItsExtremesIsHandled() {
        let timeouts: [Int64] = [.min, -1, 0, 1, 1 << 62, .max - 1, .max]
        for (k, ns) in timeouts.enumerated() {
            for relay: UInt8 in [0, 1, 254, 255] {
                var (node, _) = Self.freshNode()
                let q = OutgoingQuery(name: "q", payload: [], relayFactor: relay, timeout: .nanoseconds(ns))
                let effects = node.handle(.command(.query(q, id: RequestID(UInt64(k)))))
                let deadline = effects.timers.first { if case .queryDeadline = $0.key { true } else { false } }?.value
                #expect(deadline.map { $0 <= node.now + Instance.maxQueryTimeout } == true, "timeout \(ns)")
                Self.stillWorks(&node, "query timeout \(ns) relay \(relay)")
            }
        }
        for ltime: UInt64 in [0, 1, .max - 1, .max] {
            var (node, _) = Self.freshNode()
            node.handle(.command(.respond(ltime: ltime, id: .max, payload: [])))
            Self.stillWorks(&node, "respond ltime \(ltime)")
        }
    }

    /// The four remote crashes of issue 9, as named cases: each leaves one warning and the clocks usable.
    @Test(arguments: [
        ("query timeout 2^63-1", serf("q", .query(QueryMessage(
            ltime: 2, id: 1, addr: p1.ip, port: 7946, sourceNode: "p1", filters: nil, flags: 0, relayFactor: 0,
            timeout: .max, name: "q", payload: nil)))),
        ("left member at 2^64-1", {
            let pp = SerfPushPull(
                ltime: 2, statusLTimes: ["gone": .max], leftMembers: ["gone"], eventLTime: 1, events: [], queryLTime: 1)
            var s = pushPullSeed
            s.parts = MessageTree.parse(MemberlistCodec.encode(.pushPull(PushPull(
                join: false, nodes: [], userState: SerfCodec.encode(.pushPull(pp))))))
            return s
        }()),
        ("user event at 2^64-2", serf("e", .userEvent(UserEventMessage(ltime: .max - 1, name: "x", payload: nil, cc: false)))),
        ("join intent at 2^64-2", serf("j", .join(JoinIntent(ltime: .max - 1, node: "p2")))),
    ])
    func issue9CrashCases(_ name: String, _ seed: Seed) {
        var (node, _) = Self.freshNode()
        let effects = node.handle(seed.deliver(seed.parts.encoded), after: .milliseconds(10))
        #expect(effects.warnings.count == 1, "\(name): \(effects.warnings)")
        #expect(node.instance.eventClock.time < 100 && node.instance.clock.time < 100, "\(name): a clock was poisoned")
        #expect(node.status("p1") == .alive && node.status("p2") == .alive && node.status("p3") == .alive, "\(name)")
        Self.stillWorks(&node, name)
    }

    /// After a hostile input: a user event is delivered, a query starts, force-leave and every timer run, the
    /// clocks stay below the ceiling, and a graceful leave starts.
    static func stillWorks(_ node: inout TestNode, _ context: String) {
        let event = node.handle(.command(.userEvent(name: "after", payload: Array(context.utf8.prefix(100)), coalesce: false)),
            after: .milliseconds(10))
        #expect(event.events.contains { if case .userEvent(let e) = $0 { e.name == "after" } else { false } }, "\(context)")
        node.handle(.command(.query(OutgoingQuery(name: "check", payload: []), id: RequestID(1))))
        node.handle(.command(.forceLeave(node: "p3", prune: false)))
        for timer: Timer in [.probe, .gossip, .pushPull, .reap, .reconnect] { node.handle(.timer(timer), after: .milliseconds(200)) }
        let i = node.instance
        // Peers' times are admitted below the ceiling; a few local ticks may follow, nowhere near the end.
        let end = LamportClock.ceiling + 1_000_000
        #expect(i.clock.time < end && i.eventClock.time < end && i.queryClock.time < end, "\(context): clock near its end")
        #expect(i.localMember.status == .alive, "\(context)")
        node.handle(.command(.leave))
        #expect(node.instance.isLeaving, "\(context)")
    }
}
