import RumorAgent
import RumorCore
import Testing

/// The pure coalescer, driven with fake times (seconds since an arbitrary origin).
@Suite("Handler coalescing (docs/agent.md#coalescing)")
struct HandlerCoalescerTests {
    func t(_ seconds: Double) -> Instant { Instant(nanoseconds: Int64((seconds * 1e9).rounded())) }

    let a = handlerMember("a", "10.0.0.1")
    let b = handlerMember("b", "10.0.0.2")
    let c = handlerMember("c", "10.0.0.3")

    /// Events as comparable text: "member-join a,b", "user deploy@7 x".
    func describe(_ events: [HandlerEvent]) -> [String] {
        events.map { event in
            switch event {
            case .member(let type, let members): "\(type.rawValue) \(members.map(\.name).joined(separator: ","))"
            case .user(let e): "user \(e.name)@\(e.ltime) \(String(decoding: e.payload, as: UTF8.self))"
            case .query(let q): "query \(q.name)"
            case .action(let type, _): type
            }
        }
    }

    @Test func memberBurstEndsAfterOneQuietSecond() {
        var c = EventCoalescer()
        #expect(c.nextDeadline == nil)
        #expect(c.ingest(.member(.join, [a]), now: t(0)).isEmpty)
        #expect(c.nextDeadline == t(1))
        #expect(c.ingest(.member(.join, [b]), now: t(0.5)).isEmpty)
        #expect(c.nextDeadline == t(1.5))
        #expect(c.advance(to: t(1.499)).isEmpty)
        #expect(describe(c.advance(to: t(1.5))) == ["member-join a,b"])
        #expect(c.nextDeadline == nil)
        #expect(c.advance(to: t(10)).isEmpty)
    }

    /// Rumor's leading edge: a lone member event goes out at once; a burst of 20 joins in a second comes out as the
    /// first join, then one run with the other 19; after a quiet second the next event goes out at once again.
    @Test func leadingEdge_aLoneEventGoesAtOnce_aBurstRunsTwice() {
        var co = EventCoalescer(leadingEdge: true)
        #expect(describe(co.ingest(.member(.join, [a]), now: t(0))) == ["member-join a"])
        #expect(co.nextDeadline == nil)
        var runs = 0
        for i in 0..<20 {
            runs += co.ingest(.member(.join, [handlerMember("n\(i)", "10.0.1.\(i)")]), now: t(5 + Double(i) * 0.05)).count
        }
        #expect(runs == 1, "only the first of the burst at once")
        let rest = co.advance(to: t(5 + 19 * 0.05 + 1))
        #expect(rest.count == 1 && describe(rest).first?.split(separator: ",").count == 19)
        #expect(co.ingest(.member(.leave, [b]), now: t(6.5)).isEmpty, "within a quiet second of the last run: coalesced")
        #expect(describe(co.advance(to: t(7.5))) == ["member-leave b"])
        #expect(describe(co.ingest(.member(.join, [c]), now: t(9))) == ["member-join c"])
        // Off (Serf's behaviour, the default of the pure type): every event waits.
        var serf = EventCoalescer()
        #expect(serf.ingest(.member(.join, [a]), now: t(0)).isEmpty)
    }

    @Test func memberBurstIsCutAtThreeSeconds() {
        var co = EventCoalescer()
        for (i, at) in [0, 0.6, 1.2, 1.8, 2.4].enumerated() {
            #expect(co.ingest(.member(.update, [handlerMember("m\(i)")]), now: t(at)).isEmpty)
        }
        #expect(co.nextDeadline == t(3))
        // An event arriving after the cut first flushes the old burst, then opens a new one.
        #expect(describe(co.ingest(.member(.join, [a]), now: t(3.1))) == ["member-update m0,m1,m2,m3,m4"])
        #expect(co.nextDeadline == t(4.1))
        #expect(describe(co.advance(to: t(4.1))) == ["member-join a"])
    }

    @Test func latestTypePerMemberWinsAndTypesAreGrouped() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.join, [a]), now: t(0))
        _ = co.ingest(.member(.join, [b]), now: t(0.1))
        _ = co.ingest(.member(.failed, [a]), now: t(0.2))
        _ = co.ingest(.member(.leave, [c]), now: t(0.3))
        _ = co.ingest(.member(.join, [c]), now: t(0.4))
        #expect(describe(co.advance(to: t(2))) == ["member-failed a", "member-join b,c"])
    }

    @Test func theLatestMemberSnapshotIsDelivered() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.update, [handlerMember("a", tags: ["v": "1"])]), now: t(0))
        _ = co.ingest(.member(.update, [handlerMember("a", tags: ["v": "2"])]), now: t(0.1))
        guard case .member(.update, let members)? = co.advance(to: t(2)).first else {
            Issue.record("no update")
            return
        }
        #expect(members.map { $0.tags["v"] } == ["2"])
    }

    @Test func repeatsOfTheLastSentTypeAreDroppedExceptUpdates() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.join, [a]), now: t(0))
        _ = co.ingest(.member(.update, [b]), now: t(0))
        #expect(describe(co.advance(to: t(1))) == ["member-join a", "member-update b"])
        _ = co.ingest(.member(.join, [a]), now: t(5))
        _ = co.ingest(.member(.update, [b]), now: t(5))
        #expect(describe(co.advance(to: t(6))) == ["member-update b"])
        // A different type for `a` goes through, and then its join again.
        _ = co.ingest(.member(.failed, [a]), now: t(10))
        #expect(describe(co.advance(to: t(11))) == ["member-failed a"])
        _ = co.ingest(.member(.join, [a]), now: t(20))
        #expect(describe(co.advance(to: t(21))) == ["member-join a"])
    }

    @Test func aBurstThatCancelsOutToTheLastSentTypeDeliversNothing() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.join, [a]), now: t(0))
        _ = co.advance(to: t(1))
        _ = co.ingest(.member(.failed, [a]), now: t(2))
        _ = co.ingest(.member(.join, [a]), now: t(2.5))
        #expect(co.advance(to: t(4)).isEmpty)
    }

    @Test func earlierBurstsAreNotResent() {
        // Serf re-sends every member's last update with each later burst; we don't.
        var co = EventCoalescer()
        _ = co.ingest(.member(.update, [a]), now: t(0))
        _ = co.advance(to: t(1))
        _ = co.ingest(.member(.join, [b]), now: t(5))
        #expect(describe(co.advance(to: t(6))) == ["member-join b"])
    }

    @Test func aReapedMemberIsForgotten() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.reap, [a]), now: t(0))
        #expect(describe(co.advance(to: t(1))) == ["member-reap a"])
        _ = co.ingest(.member(.join, [a]), now: t(2))
        #expect(describe(co.advance(to: t(3))) == ["member-join a"])
        _ = co.ingest(.member(.reap, [a]), now: t(4))
        #expect(describe(co.advance(to: t(5))) == ["member-reap a"])
    }

    @Test func userEventsKeepTheHighestLTimePerName() {
        var co = EventCoalescer()
        let events: [(String, UInt64, String)] = [
            ("deploy", 5, "v5"), ("restart", 3, "r3"), ("deploy", 7, "v7"), ("deploy", 7, "v7b"), ("deploy", 6, "v6"),
            ("restart", 2, "r2"),
        ]
        for (i, (name, ltime, payload)) in events.enumerated() {
            let event = HandlerEvent.user(handlerUserEvent(name, payload, ltime: ltime, coalesce: true))
            #expect(co.ingest(event, now: t(Double(i) * 0.1)).isEmpty)
        }
        #expect(co.nextDeadline == t(1.5))
        #expect(describe(co.advance(to: t(1.5))) == ["user deploy@7 v7", "user deploy@7 v7b", "user restart@3 r3"])
    }

    @Test func uncoalescedUserEventsAndQueriesPassStraightThrough() {
        var co = EventCoalescer()
        _ = co.ingest(.user(handlerUserEvent("deploy", "v1", ltime: 1, coalesce: true)), now: t(0))
        _ = co.ingest(.member(.join, [a]), now: t(0))
        #expect(describe(co.ingest(.user(handlerUserEvent("restart", "now", ltime: 2)), now: t(0.2)))
            == ["user restart@2 now"])
        let q = HandlerEvent.query(HandlerQuery(ltime: 1, id: 1, name: "load", payload: []) { _ in })
        #expect(describe(co.ingest(q, now: t(0.3))) == ["query load"])
        // As in the capture: the coalesced "deploy" arrives after the later, uncoalesced "restart".
        #expect(describe(co.advance(to: t(1))) == ["user deploy@1 v1", "member-join a"])
    }

    @Test func memberAndUserWindowsAreIndependent() {
        let slowUser = CoalescePeriods(period: .seconds(10), quiescent: .seconds(5))
        var co = EventCoalescer(member: .serfDefault, user: slowUser)
        _ = co.ingest(.user(handlerUserEvent("deploy", "v1", coalesce: true)), now: t(0))
        _ = co.ingest(.member(.join, [a]), now: t(0))
        #expect(co.nextDeadline == t(1))
        #expect(describe(co.advance(to: t(1))) == ["member-join a"])
        #expect(co.nextDeadline == t(5))
        #expect(describe(co.advance(to: t(5))) == ["user deploy@1 v1"])
    }

    @Test func zeroPeriodsDisableCoalescing() {
        var co = EventCoalescer(member: .disabled, user: CoalescePeriods(period: .seconds(3), quiescent: .zero))
        #expect(describe(co.ingest(.member(.join, [a]), now: t(0))) == ["member-join a"])
        #expect(describe(co.ingest(.member(.join, [a]), now: t(0))) == ["member-join a"])
        #expect(describe(co.ingest(.user(handlerUserEvent("d", "x", coalesce: true)), now: t(0))) == ["user d@1 x"])
        #expect(co.nextDeadline == nil)
    }

    @Test func flushAllEmptiesBothWindows() {
        var co = EventCoalescer()
        _ = co.ingest(.member(.leave, [a]), now: t(0))
        _ = co.ingest(.user(handlerUserEvent("d", "x", coalesce: true)), now: t(0))
        #expect(describe(co.flushAll()) == ["user d@1 x", "member-leave a"])
        #expect(co.nextDeadline == nil)
        #expect(co.flushAll().isEmpty)
    }
}
