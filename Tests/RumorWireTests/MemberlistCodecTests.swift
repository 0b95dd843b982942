import Testing

@testable import RumorWire
import RumorTestSupport

@Suite struct MemberlistCodecTests {
    static let localhost: [UInt8] = [127, 0, 0, 1]
    static let metaB = hex("ff82a4726f6c65a3776562a26463a46c616231")

    /// Decodes a packet that must hold no errors.
    static func messages(_ packet: [UInt8]) -> [MemberlistMessage] {
        let (messages, errors) = MemberlistCodec.decodePacket(packet)
        #expect(errors.isEmpty, "\(errors)")
        return messages
    }

    // MARK: Captured vectors

    @Test func t1PingDecodesAndReencodes() throws {
        let ping = Ping(node: "a", seqNo: 1, sourceAddr: Self.localhost, sourceNode: "b", sourcePort: 7947)
        #expect(Self.messages(Vectors.t1) == [.ping(ping)])
        #expect(hexString(MemberlistCodec.encode(.ping(ping))) == hexString(Vectors.t1))
    }

    @Test func t2AckWithCoordinateReencodes() throws {
        let messages = Self.messages(Vectors.t2)
        guard case .ack(let ack) = try #require(messages.first) else {
            Issue.record("expected an ack, got \(messages)")
            return
        }
        #expect(ack.seqNo == 1)
        #expect(ack.payload.count == 130)
        #expect(ack.payload.first == 1)  // Serf ping version
        #expect(hexString(MemberlistCodec.encode(.ack(ack))) == hexString(Vectors.t2))

        // The coordinate inside decodes and re-encodes byte for byte.
        let coordinate = try PingPayload.decode(ack.payload)
        #expect(coordinate.vec.count == 8 && coordinate.error > 0 && coordinate.height > 0)
        #expect(hexString(PingPayload.encode(coordinate)) == hexString(ack.payload))
        // A fresh coordinate is what T3 carries (compressed): Error 1.5, Height 1e-5, zeros.
        let fresh = Coordinate(vec: Array(repeating: 0, count: 8), error: 1.5, adjustment: 0, height: 1e-5)
        #expect(hexString(PingPayload.encode(fresh)) == hexString(Vectors.t3Plain.dropFirst(13).dropLast(7)))
        #expect(throws: WireError.self) { try PingPayload.decode([2] + ack.payload.dropFirst()) }
        #expect(throws: WireError.self) { try PingPayload.decode(Array(ack.payload.prefix(40))) }
    }

    @Test func t3CompressedAck() throws {
        let messages = Self.messages(Vectors.t3Packet)
        guard case .ack(let ack) = try #require(messages.first) else {
            Issue.record("expected an ack, got \(messages)")
            return
        }
        #expect(messages.count == 1)
        #expect(ack.seqNo == 1)
        #expect(MemberlistCodec.encode(.ack(ack)) == Vectors.t3Plain)
        #expect(hexString(MemberlistCodec.compress(Vectors.t3Plain)) == hexString(Vectors.t3Packet))
    }

    @Test func t4GossipCompoundRebuildsByteForByte() throws {
        let aliveB = Alive(incarnation: 1, node: "b", addr: Self.localhost, port: 7947, meta: Self.metaB)
        let aliveA = Alive(incarnation: 1, node: "a", addr: Self.localhost, port: 7946, meta: [0xff, 0x80])
        let join = SerfCodec.encode(.join(JoinIntent(ltime: 1, node: "b")))
        #expect(Self.messages(Vectors.t4) == [.alive(aliveB), .alive(aliveA), .user(join)])

        let parts = [aliveB, aliveA].map { MemberlistCodec.encode(.alive($0)) } + [MemberlistCodec.encode(.user(join))]
        #expect(parts.map(\.count) == [76, 59, 17])
        let rebuilt = MemberlistCodec.withCRC(MemberlistCodec.compound(parts))
        #expect(hexString(rebuilt) == hexString(Vectors.t4))
    }

    @Test func t7DeadWithFromEqualNodeReencodes() throws {
        let dead = Dead(incarnation: 2, node: "b", from: "b")
        #expect(Self.messages(Vectors.t7Dead) == [.dead(dead)])
        #expect(hexString(MemberlistCodec.withCRC(MemberlistCodec.encode(.dead(dead)))) == hexString(Vectors.t7Dead))
    }

    @Test func t8AliveAfterTagChangeReencodes() throws {
        let meta = hex("ff82a776657273696f6ea132a4726f6c65a3776562")
        let alive = Alive(incarnation: 2, node: "b", addr: Self.localhost, port: 7947, meta: meta)
        #expect(Self.messages(Vectors.t8) == [.alive(alive)])
        #expect(hexString(MemberlistCodec.withCRC(MemberlistCodec.encode(.alive(alive)))) == hexString(Vectors.t8))
        #expect(try SerfCodec.decodeTags(meta) == ["version": "2", "role": "web"])
    }

    /// T9 and its reply: push-pull streams, always compressed by the agent. The decoded state re-encodes and
    /// recompresses to the captured bytes; that works because each side knows one member, so the StatusLTimes map
    /// (the only Go map, randomly ordered) has a single key.
    @Test(arguments: [(Vectors.t9, "b", 7947, metaB), (Vectors.t9Response, "a", 7946, [0xff, 0x80])])
    func t9PushPullRoundTrips(packet: [UInt8], name: String, port: UInt16, meta: [UInt8]) throws {
        #expect(MemberlistCodec.isCompleteStreamMessage(packet))
        guard case .pushPull(let pp) = try MemberlistCodec.decodeStream(packet) else {
            Issue.record("expected a push-pull")
            return
        }
        #expect(pp.join)
        #expect(pp.nodes == [
            PushNodeState(
                name: name, addr: Self.localhost, port: port, meta: meta, incarnation: 1, state: .alive,
                vsn: defaultVersionVector)
        ])
        #expect(pp.userState.count == 585)
        guard case .pushPull(let serf) = try SerfCodec.decode(pp.userState) else {
            Issue.record("expected a Serf push-pull")
            return
        }
        #expect(serf.events.count == 512)
        #expect(serf.events.allSatisfy { $0 == nil })
        #expect(serf.statusLTimes == [name: 0])
        #expect(serf.leftMembers == [])
        #expect((serf.ltime, serf.eventLTime, serf.queryLTime) == (1, 1, 1))
        #expect(SerfCodec.encode(.pushPull(serf)) == pp.userState)

        let plain = MemberlistCodec.encode(.pushPull(pp))
        #expect(MemberlistCodec.isCompleteStreamMessage(plain))
        #expect(hexString(MemberlistCodec.compress(plain)) == hexString(packet))
    }

    /// T10's plaintext (after decryption, which is not this layer's job) is an ordinary ping.
    @Test func t10PlaintextIsAPing() throws {
        let ping = Ping(node: "c", seqNo: 1, sourceAddr: Self.localhost, sourceNode: "d", sourcePort: 7949)
        #expect(Self.messages(Vectors.t10Plain) == [.ping(ping)])
    }

    // MARK: More captured containers

    @Test func capturedCompoundsDecodeAndRebuild() throws {
        for packet in [Vectors.compoundPingUser, Vectors.compoundAckUser, Vectors.compound4] {
            let messages = Self.messages(packet)
            #expect(messages.count == Int(packet[1]))
            let rebuilt = MemberlistCodec.compound(messages.map(MemberlistCodec.encode))
            #expect(hexString(rebuilt) == hexString(packet))
        }
        let four = Self.messages(Vectors.compound4)
        #expect(four[1] == .dead(Dead(incarnation: 1, node: "c", from: "c")))
        #expect(four[3] == .user(SerfCodec.encode(.leave(LeaveIntent(ltime: 2, node: "d")))))
    }

    @Test func capturedCompressedCompoundsRebuild() throws {
        // CRC > compress > compound and compress > compound: every layer re-encodes to the agent's bytes.
        let nested = Self.messages(Vectors.crcCompressCompound)
        #expect(nested.count == 2)
        let nestedCompound = MemberlistCodec.compound(nested.map(MemberlistCodec.encode))
        let rebuilt = MemberlistCodec.withCRC(MemberlistCodec.compress(nestedCompound))
        #expect(hexString(rebuilt) == hexString(Vectors.crcCompressCompound))

        let three = Self.messages(Vectors.compressCompound3)
        #expect(three.count == 3)
        let rebuilt3 = MemberlistCodec.compress(MemberlistCodec.compound(three.map(MemberlistCodec.encode)))
        #expect(hexString(rebuilt3) == hexString(Vectors.compressCompound3))

        let crcCompound = Self.messages(Vectors.crcCompound3Encrypted)
        let rebuiltCRC = MemberlistCodec.withCRC(MemberlistCodec.compound(crcCompound.map(MemberlistCodec.encode)))
        #expect(hexString(rebuiltCRC) == hexString(Vectors.crcCompound3Encrypted))
    }

    // MARK: Encoding rules

    @Test func pingOmitsEmptySourceFields() throws {
        let bare = MemberlistCodec.encode(.ping(Ping(node: "x", seqNo: 5)))
        #expect(bare == hex("00 82 a44e6f6465 a178 a55365714e6f 05"))  // {Node: "x", SeqNo: 5}, nothing else
        #expect(Self.messages(bare) == [.ping(Ping(node: "x", seqNo: 5))])
    }

    @Test func everyPacketMessageRoundTrips() throws {
        let all: [MemberlistMessage] = [
            .ping(Ping(node: "n", seqNo: .max, sourceAddr: Self.localhost, sourceNode: "s", sourcePort: 1)),
            .indirectPing(IndirectPing(nack: true, node: "t", port: 7946, seqNo: 9, target: Self.localhost)),
            .indirectPing(
                IndirectPing(
                    nack: false, node: "t", port: 0, seqNo: 9,
                    sourceAddr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4], sourceNode: "me",
                    sourcePort: 65535, target: Self.localhost)),
            .ack(Ack(seqNo: 3)),
            .ack(Ack(seqNo: 3, payload: [1, 2, 3])),
            .nack(Nack(seqNo: 77)),
            .suspect(Suspect(incarnation: 4, node: "x", from: "y")),
            .alive(
                Alive(
                    incarnation: .max, node: String(repeating: "n", count: 300), addr: Self.localhost, port: 1,
                    meta: [UInt8](repeating: 7, count: 512))),
            .dead(Dead(incarnation: 0, node: "", from: "")),
            .user([]),
            .user([3, 0x80]),
        ]
        for m in all {
            #expect(Self.messages(MemberlistCodec.encode(m)) == [m], "\(m)")
        }
        // And all at once, in a CRC'd, compressed compound.
        let compound = MemberlistCodec.compound(all.map(MemberlistCodec.encode))
        let packet = MemberlistCodec.withCRC(MemberlistCodec.compress(compound))
        #expect(Self.messages(packet) == all)
    }

    @Test func indirectPingKeysAreSorted() throws {
        let bytes = MemberlistCodec.encode(
            .indirectPing(
                IndirectPing(
                    nack: true, node: "t", port: 7946, seqNo: 9, sourceAddr: Self.localhost, sourceNode: "me",
                    sourcePort: 7950, target: Self.localhost)))
        var r = MessagePackReader(bytes, offset: 1)
        guard case .map(let pairs) = try r.read() else {
            Issue.record("not a map")
            return
        }
        #expect(pairs.compactMap(\.key.stringValue) == [
            "Nack", "Node", "Port", "SeqNo", "SourceAddr", "SourceNode", "SourcePort", "Target",
        ])
    }

    @Test func aliveAcceptsShortAndBinaryVsn() throws {
        // Vsn of 3 bytes as bin (c4): decodes; the core decides whether to use it.
        let messages = Self.messages(hex("04 82 a44e6f6465 a178 a356736e c403010203"))
        guard case .alive(let a) = try #require(messages.first) else {
            Issue.record("expected alive")
            return
        }
        #expect(a.vsn == [1, 2, 3])
        #expect(a.node == "x")
    }

    // MARK: Packet errors

    @Test func checksumMismatchIsReported() throws {
        var bad = Vectors.t5
        bad[10] ^= 0x01
        let (messages, errors) = MemberlistCodec.decodePacket(bad)
        #expect(messages.isEmpty)
        #expect(errors.count == 1)
        #expect(errors.first?.message.contains("checksum") == true)
    }

    @Test func streamOnlyAndUnknownTypesAreErrorsInPackets() throws {
        for (type, text) in [
            (6, "message type 6 not allowed in a packet"), (10, "message type 10 not allowed in a packet"),
            (13, "message type 13 not allowed in a packet"), (14, "unknown message type 14"),
            (244, "unknown message type 244"),
        ] {
            let (messages, errors) = MemberlistCodec.decodePacket([UInt8(type), 0x80])
            #expect(messages.isEmpty)
            #expect(errors == [WireError(text)])
        }
        #expect(MemberlistCodec.decodePacket([]).errors == [WireError("empty packet")])
        // A CRC wrapper counts only as the outermost layer, as in memberlist.
        let nested = MemberlistCodec.compound([
            MemberlistCodec.withCRC(MemberlistCodec.encode(.nack(Nack(seqNo: 1))))
        ])
        #expect(MemberlistCodec.decodePacket(nested).errors.first?.message.contains("12") == true)
    }

    @Test func malformedCompoundPartKeepsTheOthers() throws {
        let good1 = MemberlistCodec.encode(.nack(Nack(seqNo: 1)))
        let good2 = MemberlistCodec.encode(.user([3]))
        let packet = MemberlistCodec.compound([good1, [0, 0xc1], [], [99], good2])
        let (messages, errors) = MemberlistCodec.decodePacket(packet)
        #expect(messages == [.nack(Nack(seqNo: 1)), .user([3])])
        #expect(errors.count == 3)
    }

    @Test func truncatedCompoundKeepsTheLeadingParts() throws {
        let parts = (1...3).map { MemberlistCodec.encode(.nack(Nack(seqNo: UInt32($0)))) }
        let packet = MemberlistCodec.compound(parts)
        let (messages, errors) = MemberlistCodec.decodePacket(Array(packet.dropLast(1)))
        #expect(messages == [.nack(Nack(seqNo: 1)), .nack(Nack(seqNo: 2))])
        #expect(errors == [WireError("compound: 1 of 3 parts truncated")])
        #expect(MemberlistCodec.decodePacket([7, 2, 0]).errors.first?.message.contains("truncated") == true)
        #expect(MemberlistCodec.decodePacket([7]).errors == [WireError("compound: missing part count")])
    }

    /// A part's msgpack body must end inside the part, not run on into the next one.
    @Test func partBodiesAreBoundedByTheirLength() throws {
        let ping = MemberlistCodec.encode(.ping(Ping(node: "a", seqNo: 1)))
        let packet = MemberlistCodec.compound([Array(ping.dropLast(1)), [ping.last!]])
        let (messages, errors) = MemberlistCodec.decodePacket(packet)
        #expect(messages.isEmpty)
        #expect(errors.count == 2)
    }

    @Test func nestingIsCapped() throws {
        var packet = MemberlistCodec.encode(.nack(Nack(seqNo: 1)))
        for level in 1...6 {
            packet = level.isMultiple(of: 2) ? MemberlistCodec.compress(packet) : MemberlistCodec.compound([packet])
            let (messages, errors) = MemberlistCodec.decodePacket(packet)
            if level <= MemberlistCodec.maxNesting {
                #expect(messages == [.nack(Nack(seqNo: 1))], "level \(level)")
            } else {
                #expect(messages.isEmpty && errors.count == 1, "level \(level)")
            }
        }
    }

    @Test func compressedPacketBombIsRefused() throws {
        let bomb = MemberlistCodec.compress([8] + [UInt8](repeating: 0, count: 4 << 20))
        #expect(bomb.count < 65536)
        let (messages, errors) = MemberlistCodec.decodePacket(bomb)
        #expect(messages.isEmpty)
        #expect(errors.first?.message.contains("limit") == true)
        // The budget is shared across nested compress messages.
        let half = MemberlistCodec.compress([8] + [UInt8](repeating: 0, count: 700_000))
        let twice = MemberlistCodec.compound([half, half])
        let result = MemberlistCodec.decodePacket(twice)
        #expect(result.messages.count == 1)
        #expect(result.errors.count == 1)
    }

    @Test func unknownCompressionAlgorithmIsAnError() throws {
        var w = MessagePackWriter(.gossip)
        w.writeMapHeader(2)
        w.write("Algo")
        w.write(UInt64(1))
        w.write("Buf")
        w.writeBytes([UInt8]([0, 3, 4]))
        let (_, errors) = MemberlistCodec.decodePacket([9] + w.bytes)
        #expect(errors == [WireError("compress: unknown algorithm 1")])
    }

    // MARK: Streams

    @Test func streamMessagesRoundTrip() throws {
        let cases: [MemberlistMessage] = [
            .ping(Ping(node: "a", seqNo: 4)), .ack(Ack(seqNo: 4, payload: [1])), .err("boom"),
            .pushPull(PushPull(join: false, nodes: [], userState: [])),
            .pushPull(
                PushPull(
                    join: false,
                    nodes: [
                        PushNodeState(
                            name: "x", addr: Self.localhost, port: 1, meta: [], incarnation: 3, state: .left,
                            vsn: defaultVersionVector),
                        PushNodeState(
                            name: "y", addr: Self.localhost, port: 2, meta: [0xff, 0x80], incarnation: 4,
                            state: .suspect, vsn: defaultVersionVector),
                    ], userState: [2, 0x80, 9, 9, 9])),
        ]
        for m in cases {
            let plain = MemberlistCodec.encode(m)
            #expect(try MemberlistCodec.decodeStream(plain) == m)
            #expect(try MemberlistCodec.decodeStream(MemberlistCodec.compress(plain)) == m)
        }
        let user = MemberlistCodec.encodeStreamUser([3, 1, 2])
        #expect(try MemberlistCodec.decodeStream(user) == .user([3, 1, 2]))
        #expect(try MemberlistCodec.decodeStream(MemberlistCodec.compress(user)) == .user([3, 1, 2]))
    }

    @Test func streamRejectsOtherTypes() throws {
        #expect(throws: WireError("empty stream")) { try MemberlistCodec.decodeStream([]) }
        #expect(throws: WireError("message type 4 not allowed in a stream")) {
            let alive = Alive(incarnation: 1, node: "a", addr: [], port: 1, meta: [])
            return try MemberlistCodec.decodeStream(MemberlistCodec.encode(.alive(alive)))
        }
        #expect(throws: WireError.self) { try MemberlistCodec.decodeStream(hex("0a00000001ff")) }
        #expect(throws: WireError.self) { try MemberlistCodec.decodeStream([99]) }
        let doubly = MemberlistCodec.compress(MemberlistCodec.compress(MemberlistCodec.encode(.err("x"))))
        #expect(throws: WireError.self) { try MemberlistCodec.decodeStream(doubly) }
    }

    @Test func pushPullUnknownNodeStateIsDropped() throws {
        var pp = MemberlistCodec.encode(
            .pushPull(
                PushPull(
                    join: true,
                    nodes: [
                        PushNodeState(
                            name: "x", addr: Self.localhost, port: 1, meta: [], incarnation: 3, state: .dead,
                            vsn: defaultVersionVector)
                    ], userState: [])))
        // Replace "State 2" (a5 'State' 02) by state 9.
        let marker = [0xa5] + Array("State".utf8) + [0x02]
        let at = try #require((0...(pp.count - marker.count)).first { Array(pp[$0..<$0 + marker.count]) == marker })
        pp[at + marker.count - 1] = 9
        guard case .pushPull(let decoded) = try MemberlistCodec.decodeStream(pp) else {
            Issue.record("expected push-pull")
            return
        }
        #expect(decoded.nodes.isEmpty)
        #expect(decoded.join)
    }

    @Test func pushPullCountsAreCheckedAgainstTheData() throws {
        func header(_ nodes: Int64, _ userStateLen: Int64) -> [UInt8] {
            var w = MessagePackWriter(.gossip)
            w.writeMapHeader(3)
            w.write("Join")
            w.write(false)
            w.write("Nodes")
            w.write(nodes)
            w.write("UserStateLen")
            w.write(userStateLen)
            return [6] + w.bytes
        }
        for (nodes, length) in [(Int64(1) << 40, Int64(0)), (-1, 0), (0, -1), (0, 1 << 40), (0, 5)] {
            #expect(throws: WireError.self, "\(nodes) \(length)") {
                try MemberlistCodec.decodeStream(header(nodes, length) + [1, 2])
            }
        }
        let ok = PushPull(join: false, nodes: [], userState: [1, 2])
        #expect(try MemberlistCodec.decodeStream(header(0, 2) + [1, 2]) == .pushPull(ok))
    }

    /// Every strict prefix of a stream message is incomplete and the whole message is complete.
    @Test(arguments: [
        Vectors.t9, Vectors.t9Response, Vectors.t11, MemberlistCodec.encode(.ping(Ping(node: "a", seqNo: 1))),
        MemberlistCodec.encode(.err("oops")), MemberlistCodec.encodeStreamUser([1, 2, 3]),
        MemberlistCodec.compress(MemberlistCodec.encodeStreamUser([1, 2, 3])),
    ])
    func streamCompletenessByPrefix(message: [UInt8]) throws {
        for n in 0..<message.count {
            #expect(!MemberlistCodec.isCompleteStreamMessage(Array(message.prefix(n))), "prefix \(n)")
        }
        #expect(MemberlistCodec.isCompleteStreamMessage(message))
        #expect(MemberlistCodec.isCompleteStreamMessage(message + [0]))
    }

    @Test func uncompressedPushPullCompleteness() throws {
        guard case .pushPull(let pp) = try MemberlistCodec.decodeStream(Vectors.t9) else {
            Issue.record("expected push-pull")
            return
        }
        let plain = MemberlistCodec.encode(.pushPull(pp))
        #expect(plain.count == 698)
        for n in 0..<plain.count {
            #expect(!MemberlistCodec.isCompleteStreamMessage(Array(plain.prefix(n))), "prefix \(n)")
        }
        #expect(MemberlistCodec.isCompleteStreamMessage(plain))
    }

    @Test func streamCompletenessGivesUpOnGarbage() throws {
        // Malformed or oversized input is "complete" so the caller decodes it and gets the error at once.
        #expect(MemberlistCodec.isCompleteStreamMessage([0, 0xc1]))
        #expect(MemberlistCodec.isCompleteStreamMessage([99]))
        #expect(MemberlistCodec.isCompleteStreamMessage(hex("0a7fffffff")))
        #expect(!MemberlistCodec.isCompleteStreamMessage(hex("0a000000")))
    }
}
