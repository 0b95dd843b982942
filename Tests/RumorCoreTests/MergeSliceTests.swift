@testable import RumorCore
import RumorWire
import Testing

/// A push-pull larger than one slice is applied over several inputs (docs/membership.md#push-pull-merge), so the
/// driver's loop gets to answer probes in between; the end state is the same as a merge in one go.
@Suite struct MergeSliceTests {
    static func pushPull(nodes count: Int) -> [UInt8] {
        let nodes = (0..<count).map { (i: Int) -> PushNodeState in
            PushNodeState(
                name: "n\(i)", addr: [10, 9, UInt8(i >> 8), UInt8(i & 0xff)], port: 7946, meta: SerfCodec.encodeTags([:]),
                incarnation: 1, state: .alive, vsn: TestNode.vsn(protocolMax: 5))
        }
        let serf = SerfPushPull(
            ltime: 9, statusLTimes: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, UInt64(5)) }), leftMembers: [],
            eventLTime: 1, events: [], queryLTime: 1)
        return MemberlistCodec.encode(.pushPull(PushPull(join: false, nodes: nodes, userState: SerfCodec.encode(.pushPull(serf)))))
    }

    @Test func aLargePushPull_isAppliedInSlices_untilEveryNodeAndIntentIsIn() {
        var node = TestNode(peers: 1)
        let count = 3 * Instance.mergeSlice + 7
        var effects = node.handle(.stream(StreamID(1), payload: Self.pushPull(nodes: count), from: TestNode.peer(1)))
        #expect(effects.replies.count == 1, "the reply goes out before any merging")
        var joined = effects.joined.count
        var slices = 1
        #expect(joined == Instance.mergeSlice)
        while let at = effects.timers[.mergeSlice] {
            #expect(at == node.now, "a slice is due at once")
            effects = node.fire(.mergeSlice)
            #expect(effects.joined.count <= Instance.mergeSlice)
            joined += effects.joined.count
            slices += 1
        }
        #expect(joined == count)
        // count nodes, one unit to start the Serf part, count intents: mergeSlice units per slice.
        let units = 2 * count + 1
        #expect(slices == (units + Instance.mergeSlice - 1) / Instance.mergeSlice)
        #expect(node.instance.clock.time >= 9, "the serf clocks were witnessed")
        #expect(node.instance.estimatedNodeCount == count + 2)
    }

    @Test func aProbeBetweenSlices_isAnsweredAtOnce() {
        var node = TestNode(peers: 1)
        _ = node.handle(.stream(StreamID(1), payload: Self.pushPull(nodes: 2 * Instance.mergeSlice), from: TestNode.peer(1)))
        let reply = node.receive(.ping(Ping(node: "me", seqNo: 42)))
        #expect(reply.packets.contains { $0.message.ack?.seqNo == 42 })
        #expect(reply.joined.isEmpty, "the ping waited for no merging")
    }
}
