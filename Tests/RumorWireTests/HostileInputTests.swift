import Testing

@testable import RumorWire
import RumorTestSupport

/// UDP is accepted from anyone, so every decoder must survive arbitrary bytes: return or throw, never trap, never
/// allocate according to an attacker's length field.
@Suite struct HostileInputTests {
    /// What a sample is, so mutations of it go through the decoders the runtime would use on it.
    enum Kind {
        case packet, stream, serf, msgpack, lzw
    }

    /// Every captured vector, plus inner layers (CRC-stripped and decompressed bodies, Serf payloads, LZW buffers):
    /// a bit flip under a CRC only reaches the checksum, so the layers beneath are mutated directly too.
    static let corpus: [(Kind, [UInt8])] = {
        let packets = [
            Vectors.t1, Vectors.t2, Vectors.t3Packet, Vectors.t3Plain, Vectors.t4, Vectors.t5, Vectors.t6Query,
            Vectors.t6Ack, Vectors.t6Response, Vectors.t7Leave, Vectors.t7Dead, Vectors.t8, Vectors.t10Plain,
            Vectors.userEventNilPayload, Vectors.compoundPingUser, Vectors.compoundAckUser, Vectors.queryNoPayload,
            Vectors.keyQuery, Vectors.installKeyQuery, Vectors.keyResponseNilKeys, Vectors.keyResponseTwoKeys,
            Vectors.crcCompressCompound, Vectors.compressCompound3, Vectors.compound4, Vectors.crcCompound3Encrypted,
        ]
        var out: [(Kind, [UInt8])] = packets.map { (.packet, $0) }
        out += packets.filter { $0.first == MessageType.hasCRC.rawValue }.map { (.packet, Array($0.dropFirst(5))) }
        out += [Vectors.t9, Vectors.t9Response, Vectors.t11, MemberlistCodec.encodeStreamUser([3, 0x80])].map {
            (.stream, $0)
        }
        out += [(.msgpack, Vectors.t13), (.serf, hex("0781a34b6579a0")), (.serf, Vectors.t12)]
        out.append(
            (.serf, SerfCodec.encodeConflictResponse(
                SerfMemberRecord(name: "b", addr: [127, 0, 0, 1], port: 1, tags: ["a": "b"], status: 1, vsn: []))))
        out.append(
            (.serf, SerfCodec.encode(
                .relay(
                    RelayHeader(destAddr: [127, 0, 0, 1], destPort: 1, destName: "a"),
                    payload: Array(Vectors.t6Response.dropFirst())))))
        for packet in [Vectors.t4, Vectors.t5, Vectors.t6Query, Vectors.t6Response, Vectors.t7Leave] {
            for case .user(let payload) in MemberlistCodec.decodePacket(packet).messages {
                out.append((.serf, payload))
            }
        }
        for packet in [Vectors.t9, Vectors.t9Response] {
            if case .pushPull(let pp)? = try? MemberlistCodec.decodeStream(packet) {
                out.append((.stream, MemberlistCodec.encode(.pushPull(pp))))
                out.append((.serf, pp.userState))
            }
        }
        for packet in [Vectors.t3Packet, Vectors.t9, Vectors.compressCompound3] {
            var r = MessagePackReader(packet, offset: 1)
            if let buf = try? MessagePackFields(r.read(), context: "compress").bytes("Buf") { out.append((.lzw, buf)) }
        }
        return out
    }()

    /// Decodes `bytes` the way the runtime would treat a sample of this kind, following each decoded layer into the
    /// next (user messages into Serf, queries into filters and key requests, meta into tags). Errors are expected;
    /// the test is that nothing traps or hangs. Only the relevant decoders run, so the flip tests stay quick.
    static func decode(_ bytes: [UInt8], as kind: Kind) {
        switch kind {
        case .packet:
            for m in MemberlistCodec.decodePacket(bytes).messages { follow(m) }
        case .stream:
            _ = MemberlistCodec.isCompleteStreamMessage(bytes)
            if let m = try? MemberlistCodec.decodeStream(bytes) { follow(m) }
        case .serf:
            followSerf(bytes)
        case .msgpack:
            var r = MessagePackReader(bytes)
            while !r.isAtEnd, (try? r.read()) != nil {}
            var s = MessagePackReader(bytes)
            while !s.isAtEnd, (try? s.skipValue()) != nil {}
        case .lzw:
            _ = try? LZW.decompress(bytes, limit: 1 << 20)
        }
    }

    static func follow(_ m: MemberlistMessage) {
        switch m {
        case .user(let payload): followSerf(payload)
        case .alive(let a): _ = try? SerfCodec.decodeTags(a.meta)
        case .pushPull(let pp):
            for n in pp.nodes { _ = try? SerfCodec.decodeTags(n.meta) }
            followSerf(pp.userState)
        default: break
        }
    }

    static func followSerf(_ bytes: [UInt8]) {
        switch bytes.first {
        case 6: _ = try? SerfCodec.decodeConflictResponse(bytes)
        case 7: _ = try? SerfCodec.decodeKeyRequest(bytes)
        case 8: _ = try? SerfCodec.decodeKeyResponse(bytes)
        default:
            switch try? SerfCodec.decode(bytes) {
            case .query(let q)?:
                for f in q.filters ?? [] { _ = try? SerfCodec.decodeFilter(f) }
                if let p = q.payload { followSerf(p) }
            case .queryResponse(let r)?:
                if let p = r.payload { followSerf(p) }
            case .relay(_, let payload)?:
                followSerf(payload)
            default: break
            }
        }
    }

    /// Every decoder on the same bytes, whatever they are.
    static func exerciseAll(_ bytes: [UInt8]) {
        for kind in [Kind.packet, .stream, .serf, .msgpack, .lzw] { decode(bytes, as: kind) }
        _ = try? SerfCodec.decodeTags(bytes)
        _ = try? SerfCodec.decodeFilter(bytes)
        var c = MessagePackReader(bytes)
        _ = try? c.readIfComplete()
    }

    @Test func everyTruncationOfEveryVector() throws {
        for (kind, bytes) in Self.corpus {
            for n in 0..<bytes.count { Self.decode(Array(bytes.prefix(n)), as: kind) }
        }
    }

    @Test func everySingleBitFlipOfEveryVector() throws {
        var flipped = 0
        for (kind, bytes) in Self.corpus {
            var m = bytes
            for i in m.indices {
                for bit in 0..<8 {
                    m[i] ^= 1 << bit
                    Self.decode(m, as: kind)
                    m[i] ^= 1 << bit
                    flipped += 1
                }
            }
        }
        #expect(flipped > 40_000)
    }

    @Test func seededRandomBytes() throws {
        var rng = SeededGenerator(seed: 0xC0FF_EE)
        for i in 0..<2000 {
            var bytes = rng.bytes(Int.random(in: 0..<300, using: &rng))
            // Force a valid outer type byte on most of them so the message decoders see the rest.
            if !bytes.isEmpty && i % 4 != 0 { bytes[0] = UInt8(i % 14) }
            Self.exerciseAll(bytes)
        }
    }

    /// Random splices of real messages: valid prefixes with random tails reach much deeper than pure noise.
    @Test func seededMutationsOfVectors() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let (kind, sample) = Self.corpus[Int.random(in: 0..<Self.corpus.count, using: &rng)]
            var m = sample
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !m.isEmpty else { break }
                let at = Int.random(in: 0..<m.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: m[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: m.insert(contentsOf: rng.bytes(Int.random(in: 1...8, using: &rng)), at: at)
                case 2: m.removeSubrange(at..<min(m.count, at + Int.random(in: 1...8, using: &rng)))
                default: m[at] = [0xc0, 0xdb, 0xdd, 0xdf, 0xff, 0x00, 0x7f, 0x80][Int.random(in: 0..<8, using: &rng)]
                }
            }
            Self.decode(m, as: kind)
        }
    }

    /// Length fields claiming gigabytes must be refused from the header alone: quickly, without allocating.
    @Test func oversizedLengthsFailFast() throws {
        func map(_ key: String, _ value: [UInt8]) -> [UInt8] {
            [0x81, 0xa0 | UInt8(key.utf8.count)] + Array(key.utf8) + value
        }
        let huge32 = hex("db ffffffff")
        let hugeArray = hex("dd ffffffff")
        let hugeMap = hex("df ffffffff")
        let packets: [[UInt8]] = [
            [0] + huge32, [0] + hugeArray, [0] + hugeMap, [4] + map("Addr", huge32),
            [4] + map("Meta", hex("c6 ffffffff")), [2] + map("Payload", huge32), [9] + map("Buf", huge32),
            [7, 255] + [UInt8](repeating: 0xff, count: 510),
            MemberlistCodec.withCRC([0] + hugeArray),
        ]
        let streams: [[UInt8]] = [
            [6] + hex("83 a44a6f696ec2 a54e6f646573 ce ffffffff ac5573657253746174654c656e 00"),
            [6] + hex("83 a44a6f696ec2 a54e6f646573 00 ac5573657253746174654c656e cf 7fffffffffffffff"),
            [6] + hex("83 a44a6f696ec2 a54e6f646573 00 ac5573657253746174654c656e cf ffffffffffffffff"),
            [8] + map("UserMsgLen", hex("cf 7fffffffffffffff")),
            [6] + hugeMap, [9] + map("Buf", huge32),
        ]
        let serf: [[UInt8]] = [
            [2] + map("Events", hugeArray), [2] + map("StatusLTimes", hugeMap), [2] + map("LeftMembers", hugeArray),
            [4] + map("Filters", hugeArray), [4] + map("Payload", huge32), [9] + map("DestAddr", hugeMap),
            [3] + map("Name", huge32),
        ]
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<100 {
                for p in packets {
                    let (messages, errors) = MemberlistCodec.decodePacket(p)
                    #expect(messages.isEmpty && !errors.isEmpty, "\(hexString(p.prefix(16)))")
                }
                for s in streams {
                    #expect(throws: WireError.self, "\(hexString(s.prefix(16)))") {
                        try MemberlistCodec.decodeStream(s)
                    }
                }
                for s in serf {
                    #expect(throws: WireError.self, "\(hexString(s.prefix(16)))") { try SerfCodec.decode(s) }
                }
                #expect(throws: WireError.self) { try SerfCodec.decodeTags([0xff] + hugeMap) }
                #expect(throws: WireError.self) { try LZW.decompress([UInt8](repeating: 0xff, count: 16)) }
            }
        }
        // 2,300 decodes; anything that allocated gigabytes or walked a huge count would take far longer.
        #expect(elapsed < .seconds(5))
    }
}
