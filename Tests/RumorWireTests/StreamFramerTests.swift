import RumorTestSupport
import Testing

@testable import RumorWire

/// The gossip stream framer (docs/protocol.md#stream-limits): complete exactly when the whole message is there,
/// however the bytes are split, in linear time, and refusing declared sizes over memberlist's limits in its words.
@Suite struct StreamFramerTests {
    static func pushPull(nodes count: Int, userState: [UInt8] = [2, 0x80]) -> [UInt8] {
        let nodes = (0..<count).map { (i: Int) -> PushNodeState in
            let addr: [UInt8] = [10, UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)]
            return PushNodeState(
                name: "node-\(i)", addr: addr, port: 7946, meta: [0xff, 0x80], incarnation: UInt32(i), state: .alive,
                vsn: [1, 5, 2, 2, 5, 5])
        }
        return MemberlistCodec.encode(.pushPull(PushPull(join: false, nodes: nodes, userState: userState)))
    }

    static var messages: [(String, [UInt8])] {
        [
            ("push-pull", pushPull(nodes: 3)),
            ("empty push-pull", pushPull(nodes: 0, userState: [])),
            ("user", MemberlistCodec.encodeStreamUser([1, 2, 3, 4])),
            ("ping", MemberlistCodec.encode(.ping(Ping(node: "a", seqNo: 9)))),
            ("compressed push-pull", MemberlistCodec.compress(pushPull(nodes: 2))),
            ("encrypted", [10, 0, 0, 0, 3, 7, 7, 7]),
        ]
    }

    @Test(arguments: messages)
    func everyStrictPrefixNeedsMore_andTheWholeIsComplete(_ name: String, _ message: [UInt8]) {
        for cut in 0..<message.count {
            var framer = StreamFramer()
            #expect(framer.scan(Array(message.prefix(cut))) == .needMore, "\(name) cut at \(cut)")
        }
        // Fed in growing pieces, resuming each time, it agrees.
        var framer = StreamFramer()
        for cut in 1..<message.count { #expect(framer.scan(Array(message.prefix(cut))) == .needMore, "\(name) at \(cut)") }
        #expect(framer.scan(message) == .complete, "\(name)")
    }

    @Test func declaredSizesOverMemberlistsLimitsAreRefusedInItsWords() {
        var framer = StreamFramer()
        #expect(framer.scan([10, 0x01, 0x40, 0x00, 0x01]) == .refused("remote node state is larger than limit (20971521)"))

        func header(nodes: Int64, userState: Int64) -> [UInt8] {
            var w = MessagePackWriter(.gossip)
            w.appendRaw([6])
            w.writeMapHeader(3)
            w.write("Join"); w.write(false)
            w.write("Nodes"); w.write(nodes)
            w.write("UserStateLen"); w.write(userState)
            return w.bytes
        }
        framer = StreamFramer()
        #expect(framer.scan(header(nodes: 1 << 20 + 1, userState: 0)) == .refused("number of nodes in header (1048577) exceeds limit"))
        framer = StreamFramer()
        #expect(framer.scan(header(nodes: 1, userState: 20 << 20 + 1)) == .refused("user state length (20971521) exceeds limit"))
        // Negative sizes are the decoder's to reject, with its own message.
        framer = StreamFramer()
        #expect(framer.scan(header(nodes: -1, userState: 0)) == .complete)
    }

    /// A 100,000-node push-pull dripped in 64-byte reads: re-scanning the buffer on every read (the old framer) takes
    /// minutes; resuming takes a fraction of a second even in a debug build.
    @Test func aDrippedLargePushPullIsFramedInLinearTime() {
        let message = Self.pushPull(nodes: 100_000)
        var framer = StreamFramer()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(message.count)
        let clock = ContinuousClock()
        let start = clock.now
        var status = StreamFramer.Status.needMore
        var offset = 0
        while offset < message.count {
            let end = min(offset + 64, message.count)
            buffer += message[offset..<end]
            offset = end
            status = framer.scan(buffer)
            if status != .needMore { break }
        }
        let elapsed = clock.now - start
        #expect(status == .complete && offset == message.count)
        #expect(elapsed < .seconds(5), "\(message.count) bytes in 64-byte reads took \(elapsed)")
    }
}
