@testable import RumorCore
import RumorWire
import Testing

/// Eager dissemination (MemberlistSettings.eagerGossip): news goes to the gossip fan-out in the same step that
/// created or first heard it, within the transmit limit and at most once per quarter gossip interval. Each test
/// first lets a second pass: introducing the peers was news too, and went out eagerly at time zero.
@Suite struct EagerGossipRulesTests {
    static func events(_ effects: [Effect]) -> [UserEventMessage] {
        effects.serfPackets.compactMap { if case .userEvent(let e) = $0.message { e } else { nil } }
    }

    static func event(_ ltime: UInt64, _ name: String = "e") -> SerfMessage {
        .userEvent(UserEventMessage(ltime: ltime, name: name, payload: [], cc: false))
    }

    @Test func ourOwnEvent_goesToTheFanOut_inTheSameStep() {
        var node = TestNode(peers: 5)
        let effects = node.handle(.command(.userEvent(name: "deploy", payload: [1], coalesce: false)), after: .seconds(1))
        let sent = effects.serfPackets.filter { if case .userEvent = $0.message { true } else { false } }
        #expect(sent.count == node.instance.settings.gossipNodes)
        #expect(Set(sent.map(\.to)).count == node.instance.settings.gossipNodes)
    }

    @Test func aNewEventHeard_isForwardedAtOnce_aDuplicateIsNot() {
        var node = TestNode(peers: 5)
        #expect(Self.events(node.receive(serf: Self.event(3), after: .seconds(1))).count == 3)
        #expect(Self.events(node.receive(serf: Self.event(3), after: .seconds(1))).isEmpty)
    }

    @Test func newsWithinAQuarterInterval_waitsForTheNextTick() {
        var node = TestNode(peers: 5)
        #expect(Self.events(node.receive(serf: Self.event(3), after: .seconds(1))).count == 3)
        #expect(Self.events(node.receive(serf: Self.event(4), after: .milliseconds(10))).isEmpty)
        #expect(Self.events(node.gossip()).contains { $0.ltime == 4 })
        #expect(Self.events(node.receive(serf: Self.event(5), after: .milliseconds(60))).filter { $0.ltime == 5 }.count == 3)
    }

    @Test func eachMessageIsSentAsOftenAsWithoutIt_onlySooner() {
        func transmissions(eager: Bool) -> (total: Int, firstTick: Int?) {
            var settings = MemberlistSettings.lan
            settings.eagerGossip = eager
            var node = TestNode(peers: 5, settings: settings)
            var total = 0
            var first: Int?
            let created = Self.events(node.handle(.command(.userEvent(name: "x", payload: [], coalesce: false)), after: .seconds(1))).count
            if created > 0 { (total, first) = (created, -1) }
            for tick in 0..<30 {
                let n = Self.events(node.gossip()).count
                if n > 0, first == nil { first = tick }
                total += n
            }
            return (total, first)
        }
        let eager = transmissions(eager: true), lazy = transmissions(eager: false)
        #expect(eager.total == lazy.total && eager.total > 0)
        #expect(eager.firstTick == -1 && lazy.firstTick == 0)
    }
}
