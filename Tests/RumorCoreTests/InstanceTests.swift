@testable import RumorCore
import RumorWire
import Testing

/// Synchronous tests of single protocol rules: feed one input, check the effects and the state.
@Suite struct InstanceTests {
    static let me = Address(ip: [10, 0, 0, 1], port: 7946)
    static let peer = Address(ip: [10, 0, 0, 2], port: 7946)

    static func started(at t: Instant = .zero) -> Instance {
        var i = Instance(name: "me", address: me, tags: ["role": "web"], seed: 1)
        _ = i.start(at: t)
        return i
    }

    static func alive(_ name: String, _ addr: Address, incarnation: UInt32 = 1, tags: [String: String] = [:]) -> [UInt8] {
        MemberlistCodec.encode(.alive(Alive(incarnation: incarnation, node: name, addr: addr.ip, port: addr.port,
                                            meta: SerfCodec.encodeTags(tags))))
    }

    static func sent(_ effects: [Effect]) -> [(MemberlistMessage, Address)] {
        effects.flatMap { effect -> [(MemberlistMessage, Address)] in
            guard case .send(let bytes, let to) = effect else { return [] }
            return MemberlistCodec.decodePacket(bytes).messages.map { ($0, to) }
        }
    }

    @Test func start_emitsJoinForSelf_andSchedulesPeriodicTimers() {
        var i = Instance(name: "me", address: Self.me, tags: [:], seed: 1)
        let effects = i.start(at: .zero)
        #expect(effects.contains(.emit(.memberJoined(i.localMember))))
        let timers = effects.compactMap { if case .schedule(let t, _) = $0 { t } else { nil } }
        #expect(Set(timers.map { "\($0)" }).isSuperset(of: ["probe", "gossip", "pushPull", "reap", "reconnect"]))
    }

    @Test func ping_isAnsweredWithAck_toSourceAddress() {
        var i = Self.started()
        let ping = Ping(node: "me", seqNo: 42, sourceAddr: Self.peer.ip, sourceNode: "peer", sourcePort: 7000)
        let effects = i.handle(.packet(MemberlistCodec.encode(.ping(ping)), from: Self.peer), at: .zero + .seconds(1))
        let acks = Self.sent(effects).filter { if case .ack(let a) = $0.0 { a.seqNo == 42 } else { false } }
        #expect(acks.count == 1)
        #expect(acks.first?.1 == Address(ip: Self.peer.ip, port: 7000))
    }

    @Test func ping_forAnotherName_isIgnored() {
        var i = Self.started()
        let ping = Ping(node: "someone-else", seqNo: 1)
        let effects = i.handle(.packet(MemberlistCodec.encode(.ping(ping)), from: Self.peer), at: .zero)
        #expect(Self.sent(effects).isEmpty)
    }

    @Test func alive_forUnknownNode_joinsIt() {
        var i = Self.started()
        let effects = i.handle(.packet(Self.alive("peer", Self.peer, tags: ["role": "db"]), from: Self.peer), at: .zero)
        let joined = effects.compactMap { if case .emit(.memberJoined(let m)) = $0 { m } else { nil } }
        #expect(joined.map(\.name) == ["peer"])
        #expect(joined.first?.tags == ["role": "db"])
        #expect(i.member(named: "peer")?.status == .alive)
    }

    @Test func suspect_aboutSelf_isRefutedWithHigherIncarnation() {
        var i = Self.started()
        let accusation = MemberlistCodec.encode(.suspect(Suspect(incarnation: 5, node: "me", from: "peer")))
        _ = i.handle(.packet(accusation, from: Self.peer), at: .zero)
        #expect(i.incarnationNumber == 6)
        #expect(i.awareness == 1)
    }

    @Test func dead_fromTheNodeItself_meansLeft_elseFailed() {
        var i = Self.started()
        _ = i.handle(.packet(Self.alive("a", Self.peer), from: Self.peer), at: .zero)
        let other = Address(ip: [10, 0, 0, 3], port: 7946)
        _ = i.handle(.packet(Self.alive("b", other), from: other), at: .zero)
        // Serf first hears a's leave intent, so its dead message reads as a graceful leave.
        let intent = [MessageType.user.rawValue] + SerfCodec.encode(.leave(LeaveIntent(ltime: 5, node: "a")))
        _ = i.handle(.packet(intent, from: Self.peer), at: .zero)
        _ = i.handle(.packet(MemberlistCodec.encode(.dead(Dead(incarnation: 1, node: "a", from: "a"))), from: Self.peer), at: .zero)
        _ = i.handle(.packet(MemberlistCodec.encode(.dead(Dead(incarnation: 1, node: "b", from: "me"))), from: other), at: .zero)
        #expect(i.member(named: "a")?.status == .left)
        #expect(i.member(named: "b")?.status == .failed)
    }

    @Test func probe_withoutAck_leadsToSuspicion_andThenFailure() {
        var i = Self.started()
        _ = i.handle(.packet(Self.alive("peer", Self.peer), from: Self.peer), at: .zero)
        var t = Instant.zero + .seconds(1)
        var pending = i.handle(.timer(.probe), at: t)
        // Run the timers the instance asks for, never answering: the peer is gone.
        var failedAt: Instant?
        for _ in 0..<200 where failedAt == nil {
            guard let (timer, at) = pending.compactMap({ e -> (Timer, Instant)? in
                if case .schedule(let tm, let at) = e, tm != .gossip, tm != .pushPull, tm != .reap, tm != .reconnect { return (tm, at) }
                return nil
            }).min(by: { $0.1 < $1.1 }) else { break }
            t = max(t, at)
            let effects = i.handle(.timer(timer), at: t)
            pending.removeAll { if case .schedule(let tm, _) = $0 { tm == timer } else { false } }
            pending += effects
            if effects.contains(where: { if case .emit(.memberFailed) = $0 { true } else { false } }) { failedAt = t }
        }
        #expect(i.member(named: "peer")?.status == .failed)
        // N = 2: no confirmations possible, so suspicion lasts the minimum, 4 s after the failed 1 s probe.
        #expect(failedAt.map { $0 - (Instant.zero + .seconds(1)) } == .seconds(5))
    }

    @Test func suspicionTimeout_matchesMemberlistFormula() {
        let min = Suspicion.minTimeout(mult: 4, nodes: 10, interval: .seconds(1))
        #expect(min == .seconds(4))
        #expect(Suspicion.timeout(confirmations: 1, k: 2, min: min, max: min * 6) == .milliseconds(11_381))  // 24 - ln2/ln3 * 20 s, floored to ms
        #expect(Suspicion.timeout(confirmations: 2, k: 2, min: min, max: min * 6) == .seconds(4))
        #expect(Suspicion.minTimeout(mult: 4, nodes: 100, interval: .seconds(1)) == .seconds(8))
    }

    @Test func retransmitLimit_isMultTimesCeilLog10() {
        #expect(retransmitLimit(mult: 4, nodes: 1) == 4)
        #expect(retransmitLimit(mult: 4, nodes: 9) == 4)
        #expect(retransmitLimit(mult: 4, nodes: 10) == 8)
        #expect(retransmitLimit(mult: 4, nodes: 200) == 12)
    }

    @Test func broadcastQueue_namedMessagesReplaceOlderOnes_andRespectTheBudget() {
        var q = BroadcastQueue()
        q.enqueue([1, 1, 1], name: "a")
        q.enqueue([2, 2], name: "a")
        q.enqueue(Array(repeating: 9, count: 100))
        #expect(q.count == 2)
        let (msgs, _) = q.take(overhead: 2, limit: 10, transmitLimit: 4)
        #expect(msgs == [[2, 2]])
    }

    @Test func userEvent_isDeliveredOnce_evenIfReceivedTwice() {
        var i = Self.started()
        let event = [MessageType.user.rawValue] + SerfCodec.encode(.userEvent(UserEventMessage(ltime: 3, name: "deploy", payload: [1], cc: false)))
        let first = i.handle(.packet(event, from: Self.peer), at: .zero)
        let second = i.handle(.packet(event, from: Self.peer), at: .zero)
        let delivered = (first + second).filter { if case .emit(.userEvent) = $0 { true } else { false } }
        #expect(delivered.count == 1)
    }

    /// memberlist sends a plain probe by address, so it never gets the CRC wrapper (docs/protocol.md#crc), even to a
    /// peer that understands it; gossip to that peer does.
    @Test func probePing_hasNoCRC_evenToAPeerThatSpeaksIt() {
        var i = Self.started()
        _ = i.handle(.packet(Self.alive("peer", Self.peer), from: Self.peer), at: .zero)
        var t = Instant.zero
        var pings: [[UInt8]] = []
        while pings.isEmpty, t < .zero + .seconds(5) {
            t = t + .milliseconds(100)
            for case .send(let bytes, let to) in i.handle(.timer(.probe), at: t) where to == Self.peer {
                if case .ping? = MemberlistCodec.decodePacket(bytes).messages.first { pings.append(bytes) }
            }
        }
        #expect(!pings.isEmpty && pings.allSatisfy { $0.first != 12 }, "\(pings.map { $0.prefix(1) })")  // 12: CRC wrapper
    }

    @Test func unreadableTags_keepTheMemberWithNoTags_andWarn() {
        var i = Self.started()
        let meta: [UInt8] = [0xFF, 0x81, 0xA4]  // Serf's tag marker, then a map whose key is cut short
        let alive = MemberlistCodec.encode(.alive(Alive(incarnation: 1, node: "odd", addr: Self.peer.ip,
                                                        port: Self.peer.port, meta: meta)))
        let effects = i.handle(.packet(alive, from: Self.peer), at: .zero)
        #expect(i.member(named: "odd")?.status == .alive && i.member(named: "odd")?.tags == [:])
        let warnings = effects.compactMap { if case .emit(.warning(let w)) = $0 { w } else { nil } }
        #expect(warnings.count == 1 && warnings[0].hasPrefix("serf: failed to decode the tags of odd: "), "\(warnings)")
    }

    @Test func garbage_isRefusedWithAWarning_notACrash() {
        var i = Self.started()
        var rng = SplitMix64(seed: 99)
        for n in 0..<500 {
            let bytes = (0..<(n % 64 + 1)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = i.handle(.packet(bytes, from: Self.peer), at: .zero)
            _ = i.handle(.stream(StreamID(UInt64(n)), payload: bytes, from: Self.peer), at: .zero)
        }
        #expect(i.member(named: "me")?.status == .alive)
    }
}

@Suite struct RestoreTests {
    @Test func restoredClocks_suppressEventsAlreadyHandled() {
        var i = Instance(name: "me", address: InstanceTests.me, tags: [:], seed: 1)
        i.restore(memberClock: 10, eventClock: 20, queryClock: 30)
        _ = i.start(at: .zero)
        #expect(i.clock.time == 11 && i.eventClock.time == 21 && i.queryClock.time == 31)
        func event(_ ltime: UInt64) -> [UInt8] {
            [MessageType.user.rawValue] + SerfCodec.encode(.userEvent(UserEventMessage(ltime: ltime, name: "e", payload: nil, cc: false)))
        }
        let old = i.handle(.packet(event(20), from: InstanceTests.peer), at: .zero)
        let new = i.handle(.packet(event(21), from: InstanceTests.peer), at: .zero)
        #expect(!old.contains { if case .emit(.userEvent) = $0 { true } else { false } })
        #expect(new.contains { if case .emit(.userEvent) = $0 { true } else { false } })
    }
}
