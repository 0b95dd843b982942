@testable import RumorCore
import RumorWire
import Testing

/// Lifeguard's dynamic suspicion: how long a suspect has to refute, how independent confirmations shorten that, and
/// what ends a suspicion (docs/membership.md#suspicion).
@Suite struct SuspicionRulesTests {
    /// Ten nodes with LAN settings: min 4 s, max 24 s, k = 2 expected confirmations.
    static func tenNodes() -> TestNode { TestNode(peers: 9) }

    static func suspect(_ node: String, from: String, incarnation: UInt32 = 1) -> MemberlistMessage {
        .suspect(Suspect(incarnation: incarnation, node: node, from: from))
    }

    @Test func suspicion_thatCanBeConfirmed_startsAtTheMaximum() {
        var node = Self.tenNodes()
        let effects = node.receive(Self.suspect("p1", from: "p2"))
        #expect(effects.suspicionTimers == ["p1": node.now + .seconds(24)])
    }

    @Test func suspicion_inAClusterTooSmallToConfirmIt_lastsTheMinimum_andIgnoresConfirmations() {
        var node = TestNode(peers: 2)  // N = 3: N - 2 < suspicionMult - 2, so k = 0
        let start = node.receive(Self.suspect("p1", from: "p2"))
        #expect(start.suspicionTimers == ["p1": node.now + .seconds(4)])
        #expect(node.receive(Self.suspect("p1", from: "x"), after: .seconds(1)).suspicionTimers.isEmpty)
    }

    @Test func eachNewConfirmer_shrinksTheTimeout_logarithmicallyTowardTheMinimum() {
        var node = Self.tenNodes()
        let start = node.now
        node.receive(Self.suspect("p1", from: "p2"))
        let one = node.receive(Self.suspect("p1", from: "p3"), after: .seconds(1))
        #expect(one.suspicionTimers == ["p1": start + .milliseconds(11_381)])  // 24 - ln 2 / ln 3 × 20 s
        let two = node.receive(Self.suspect("p1", from: "p4"), after: .seconds(1))
        #expect(two.suspicionTimers == ["p1": start + .seconds(4)])
        // k confirmations reached: more change nothing.
        #expect(node.receive(Self.suspect("p1", from: "p5"), after: .seconds(1)).suspicionTimers.isEmpty)
    }

    @Test func repeatedConfirmation_fromTheSameNode_countsOnce() {
        var node = Self.tenNodes()
        node.receive(Self.suspect("p1", from: "p2"))
        #expect(node.receive(Self.suspect("p1", from: "p2"), after: .seconds(1)).suspicionTimers.isEmpty)
        node.receive(Self.suspect("p1", from: "p3"), after: .seconds(1))
        #expect(node.receive(Self.suspect("p1", from: "p3"), after: .seconds(1)).suspicionTimers.isEmpty)
    }

    @Test func newConfirmation_isGossipedOn_soOthersCanConfirmToo() {
        var node = Self.tenNodes()
        node.receive(Self.suspect("p1", from: "p2"))
        _ = node.gossip()
        node.receive(Self.suspect("p1", from: "p3"))
        let gossiped = node.gossip().packets.compactMap { $0.message.suspect }
        #expect(gossiped.contains(Suspect(incarnation: 1, node: "p1", from: "p3")))
    }

    @Test func confirmationAfterTheShrunkDeadline_firesAtOnce() {
        var node = Self.tenNodes()
        node.receive(Self.suspect("p1", from: "p2"))
        let late = node.receive(Self.suspect("p1", from: "p3"), after: .seconds(20))
        #expect(late.suspicionTimers == ["p1": node.now])
    }

    @Test func suspicionTimer_replacedByAConfirmation_isIgnoredWhenItFires() throws {
        var node = Self.tenNodes()
        let first = node.receive(Self.suspect("p1", from: "p2"))
        let confirmed = node.receive(Self.suspect("p1", from: "p3"), after: .seconds(1))
        let stale = try #require(first.timers.keys.first { if case .suspicion = $0 { true } else { false } })
        let current = try #require(confirmed.timers.keys.first { if case .suspicion = $0 { true } else { false } })
        #expect(node.fire(stale).failed.isEmpty)
        #expect(node.fire(current, scheduledIn: confirmed).failed == ["p1"])
    }

    @Test func suspicionTimeout_declaresTheNodeDead_inOurName() throws {
        var node = Self.tenNodes()
        let start = node.receive(Self.suspect("p1", from: "p2"))
        let timer = try #require(start.timers.keys.first { if case .suspicion = $0 { true } else { false } })
        #expect(node.fire(timer, scheduledIn: start).failed == ["p1"])
        let dead = node.gossip().packets.compactMap { $0.message.dead }
        #expect(dead.contains(Dead(incarnation: 1, node: "p1", from: "me")))
    }

    @Test func aliveWithAHigherIncarnation_endsTheSuspicion() throws {
        var node = Self.tenNodes()
        let start = node.receive(Self.suspect("p1", from: "p2"))
        node.add("p1", incarnation: 2)
        let timer = try #require(start.timers.keys.first { if case .suspicion = $0 { true } else { false } })
        #expect(node.fire(timer, scheduledIn: start).failed.isEmpty)
        #expect(node.status("p1") == .alive)
    }

    @Test func suspect_withAnOlderIncarnation_orAboutANodeNotAlive_isIgnored() {
        var node = Self.tenNodes()
        node.add("p1", incarnation: 3)
        #expect(node.receive(Self.suspect("p1", from: "p2", incarnation: 2)).suspicionTimers.isEmpty)
        node.fail("p2")
        #expect(node.receive(Self.suspect("p2", from: "p3")).suspicionTimers.isEmpty)
        #expect(node.receive(Self.suspect("stranger", from: "p3")).isEmpty)
    }

    @Test func suspicionBounds_scaleWithTheClusterSize() {
        // N = 100: min = 4 × log10(100) × 1 s = 8 s, max = 6 × min.
        var node = TestNode(peers: 99)
        let effects = node.receive(Self.suspect("p1", from: "p2"))
        #expect(effects.suspicionTimers == ["p1": node.now + .seconds(48)])
    }
}
