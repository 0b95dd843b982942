import RumorRuntime
import Testing

/// Who may open an inbound gossip stream (`StreamLimits.admission`): a cap per address and in all, and when all
/// is taken, a newcomer from an address holding fewer displaces the largest holder's oldest stream.
@Suite struct StreamAdmissionTests {
    static let flood: [UInt8] = [198, 18, 0, 2]
    static let peer: [UInt8] = [198, 18, 0, 3]
    static var limits: StreamLimits {
        var l = StreamLimits()
        l.perPeer = 128
        return l
    }

    @Test func anAddressAtItsCap_isRefused_evenWithRoomInAll() {
        #expect(Self.limits.admission(from: Self.flood, open: [Self.flood: 128], totalCap: 4096) == .refuse("128 from one address"))
        #expect(Self.limits.admission(from: Self.flood, open: [Self.flood: 127], totalCap: 4096) == .admit)
    }

    @Test func whenAllIsTaken_anotherAddress_displacesTheLargestHolder() {
        // 31 flooding addresses hold every one of 256 slots: 30 hold 8 each, one 16.
        var open: [[UInt8]: Int] = [:]
        for i in 0..<30 { open[[10, 0, 0, UInt8(i)]] = 8 }
        open[Self.flood] = 256 - 30 * 8
        #expect(Self.limits.admission(from: Self.peer, open: open, totalCap: 256) == .admitDisplacing(Self.flood))
    }

    @Test func whenAllIsTaken_equalHolders_displaceTheSmallestAddress_andNeverTradeBack() {
        let open: [[UInt8]: Int] = [[10, 0, 0, 9]: 4, [10, 0, 0, 1]: 4]
        #expect(Self.limits.admission(from: Self.peer, open: open, totalCap: 8) == .admitDisplacing([10, 0, 0, 1]))
        // An address holding 3 of 8 against one holding 4 would take back what it just lost: refused.
        let close: [[UInt8]: Int] = [[10, 0, 0, 9]: 4, Self.peer: 3, [10, 0, 0, 1]: 1]
        #expect(Self.limits.admission(from: Self.peer, open: close, totalCap: 8) == .refuse("8 in all"))
    }

    @Test func oneAddressHoldingAllItMay_neverLocksAnotherOut() {
        // The flood: thousands of connections from one address, and a peer from another.
        var open: [[UInt8]: Int] = [:]
        var refusedFlood = 0
        for _ in 0..<2000 {
            switch Self.limits.admission(from: Self.flood, open: open, totalCap: 256) {
            case .admit: open[Self.flood, default: 0] += 1
            default: refusedFlood += 1
            }
        }
        #expect(open[Self.flood] == 128 && refusedFlood == 1872)
        #expect(Self.limits.admission(from: Self.peer, open: open, totalCap: 256) == .admit)
        #expect(Self.limits.admission(from: Self.peer, open: open, totalCap: 128) == .admitDisplacing(Self.flood))
    }
}
