@testable import RumorCore
import RumorWire
import Testing

/// Serf user events: Lamport-timed, size-limited, delivered once and gossiped on while new
/// (docs/membership.md#user-events).
@Suite struct EventRulesTests {
    static func event(_ ltime: UInt64, _ name: String = "e", payload: [UInt8]? = nil) -> SerfMessage {
        .userEvent(UserEventMessage(ltime: ltime, name: name, payload: payload, cc: false))
    }

    static func delivered(_ effects: [Effect]) -> [UserEvent] {
        effects.events.compactMap { if case .userEvent(let e) = $0 { e } else { nil } }
    }

    @Test func ourOwnEvent_isDeliveredHere_atTheCurrentClock_whichThenTicks() {
        var node = TestNode(peers: 1)
        let effects = node.handle(.command(.userEvent(name: "deploy", payload: [1], coalesce: true)))
        #expect(Self.delivered(effects) == [UserEvent(ltime: 1, name: "deploy", payload: [1], coalesce: true)])
        #expect(node.instance.eventClock.time == 2 && node.instance.pendingBroadcasts.events == 1)
    }

    @Test func newEvent_isGossipedOn_aDuplicateIsNot() {
        var node = TestNode(peers: 1)
        node.receive(serf: Self.event(3))
        #expect(node.instance.pendingBroadcasts.events == 1)
        node.receive(serf: Self.event(3))
        #expect(node.instance.pendingBroadcasts.events == 1)
        // The same name at the same time with another payload is another event.
        #expect(Self.delivered(node.receive(serf: Self.event(3, payload: [9]))).count == 1)
    }

    /// A gap in Lamport times means an event never reached us: one push-pull fetches it now, not 30-60 s later.
    @Test func anEventPastAGap_startsOnePushPull_atMostOneASecond() {
        func pushPulls(_ effects: [Effect]) -> Int {
            effects.filter { if case .openStream = $0 { true } else if case .openStreamState = $0 { true } else { false } }.count
        }
        var node = TestNode(peers: 3)
        node.receive(serf: Self.event(3))
        #expect(pushPulls(node.receive(serf: Self.event(4), after: .seconds(2))) == 0, "the next one in order")
        #expect(pushPulls(node.receive(serf: Self.event(6), after: .seconds(2))) == 1, "5 never came")
        #expect(pushPulls(node.receive(serf: Self.event(8), after: .milliseconds(100))) == 0, "within a second of the last repair")
        #expect(pushPulls(node.receive(serf: Self.event(6, payload: [1]), after: .seconds(2))) == 0, "an older time is no gap")
    }

    @Test func eventOlderThanTheDedupWindow_isDroppedWithAWarning() {
        var node = TestNode(peers: 1)
        node.receive(serf: Self.event(1000))
        let old = node.receive(serf: Self.event(400, "stale"))
        #expect(Self.delivered(old).isEmpty)
        #expect(old.warnings == ["received old event 'stale' (ltime 400, current 1001)"])
        #expect(Self.delivered(node.receive(serf: Self.event(600, "recent"))).count == 1)
    }

    @Test func eventSize_isLimitedBeforeAndAfterEncoding() {
        let node = TestNode()
        let limit = node.instance.serfSettings.userEventSizeLimit
        #expect(node.instance.userEventError(name: "e", payload: Array(repeating: 0, count: limit - 1)) != nil,
                "fits before encoding, not after")
        #expect(node.instance.userEventError(name: "e", payload: Array(repeating: 0, count: limit))
                == "user event exceeds configured limit of 512 bytes before encoding")
        #expect(node.instance.userEventError(name: "e", payload: Array(repeating: 0, count: 400)) == nil)
        var big = SerfSettings()
        big.userEventSizeLimit = 64 * 1024
        let lax = TestNode(serf: big)
        #expect(lax.instance.userEventError(name: "e", payload: Array(repeating: 0, count: 10 * 1024))
                == "user event exceeds sane limit of 9216 bytes before encoding")
    }

    @Test func refusedEvent_isNeitherDeliveredNorSent() {
        var node = TestNode(peers: 1)
        let effects = node.handle(.command(.userEvent(name: "e", payload: Array(repeating: 0, count: 600), coalesce: false)))
        #expect(Self.delivered(effects).isEmpty && effects.warnings.count == 1)
        #expect(node.instance.pendingBroadcasts.events == 0 && node.instance.eventClock.time == 1)
    }
}
