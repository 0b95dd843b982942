import Testing

@testable import RumorWire
import RumorTestSupport

@Suite struct MessagePackTests {
    /// T13: the agent's `members-filtered` reply is three RPC-dialect values back to back. Decoding then re-encoding
    /// with the RPC writer must give the captured bytes (bin for Addr, fixstr keys, sorted as sent).
    @Test func t13RPCMembersResponseRoundTrips() throws {
        var r = MessagePackReader(Vectors.t13)
        var values: [MessagePack] = []
        while !r.isAtEnd { values.append(try r.read()) }
        #expect(values.count == 3)

        let body = try MessagePackFields(values[2], context: "members")
        let members = try #require(body["Members"]?.arrayValue)
        #expect(members.count == 2)
        let b = try MessagePackFields(members[1], context: "member")
        #expect(try b.string("Name") == "b")
        #expect(b["Addr"] == .binary([127, 0, 0, 1]))
        #expect(try b.uint16("Port") == 7947)
        #expect(try b.string("Status") == "alive")
        #expect(try b.stringMap("Tags") == ["role": "web", "dc": "lab1"])
        #expect(try b.uint8("ProtocolMin") == 1)
        #expect(try b.uint8("DelegateCur") == 5)

        var w = MessagePackWriter(.rpc)
        for v in values { w.write(v) }
        #expect(hexString(w.bytes) == hexString(Vectors.t13))
    }

    @Test func stringFormsFollowTheDialect() throws {
        let s40 = String(repeating: "x", count: 40)
        var g = MessagePackWriter(.gossip)
        g.write(s40)
        #expect(Array(g.bytes.prefix(3)) == [0xda, 0x00, 0x28])
        var r = MessagePackWriter(.rpc)
        r.write(s40)
        #expect(Array(r.bytes.prefix(2)) == [0xd9, 0x28])

        // []byte: raw family in gossip, bin in RPC; nil is c0 in both.
        var gb = MessagePackWriter(.gossip)
        gb.writeBytes([127, 0, 0, 1] as [UInt8])
        gb.writeBytes(nil as [UInt8]?)
        #expect(gb.bytes == [0xa4, 127, 0, 0, 1, 0xc0])
        var rb = MessagePackWriter(.rpc)
        rb.writeBytes([127, 0, 0, 1] as [UInt8])
        #expect(rb.bytes == [0xc4, 0x04, 127, 0, 0, 1])

        var big = MessagePackWriter(.gossip)
        big.writeString([UInt8](repeating: 0x41, count: 70_000))
        #expect(Array(big.bytes.prefix(5)) == [0xdb, 0x00, 0x01, 0x11, 0x70])
    }

    @Test func integersUseTheSmallestGoForm() throws {
        func enc(_ body: (inout MessagePackWriter) -> Void) -> [UInt8] {
            var w = MessagePackWriter(.gossip)
            body(&w)
            return w.bytes
        }
        #expect(enc { $0.write(UInt64(127)) } == [0x7f])
        #expect(enc { $0.write(UInt64(128)) } == [0xcc, 0x80])
        #expect(enc { $0.write(UInt64(7947)) } == [0xcd, 0x1f, 0x0b])
        #expect(enc { $0.write(UInt64(3_200_000_000)) } == [0xce, 0xbe, 0xbc, 0x20, 0x00])
        #expect(enc { $0.write(UInt64.max) } == [0xcf] + [UInt8](repeating: 0xff, count: 8))
        #expect(enc { $0.write(Int64(-1)) } == [0xff])
        #expect(enc { $0.write(Int64(-33)) } == [0xd0, 0xdf])
        #expect(enc { $0.write(Int64(-129)) } == [0xd1, 0xff, 0x7f])
        #expect(enc { $0.write(Int64.min) } == [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func everyIntegerWidthDecodes() throws {
        let cases: [([UInt8], MessagePack)] = [
            ([0x05], .uint(5)), ([0xcc, 0xff], .uint(255)), ([0xcd, 0x01, 0x00], .uint(256)),
            ([0xce, 0, 1, 0, 0], .uint(65536)), ([0xcf, 0, 0, 0, 1, 0, 0, 0, 0], .uint(1 << 32)),
            ([0xd0, 0x05], .uint(5)), ([0xd0, 0xfb], .int(-5)), ([0xd1, 0xff, 0xfb], .int(-5)),
            ([0xd2, 0xff, 0xff, 0xff, 0xfb], .int(-5)), ([0xd3, 0, 0, 0, 0, 0, 0, 0, 9], .uint(9)),
            ([0xe0], .int(-32)),
        ]
        for (bytes, want) in cases {
            var r = MessagePackReader(bytes)
            #expect(try r.read() == want, "\(hexString(bytes))")
        }
    }

    /// Go sorts struct and map keys by bytes; Swift's `String <` normalises first and can disagree.
    @Test func mapKeysSortBytewise() throws {
        let decomposed = "A\u{30A}"  // bytes 41 cc 8a; Swift orders it like U+00C5, after "B"
        #expect(MessagePackWriter.sortedKeys([decomposed: 1, "B": 2]) == [decomposed, "B"])
        var w = MessagePackWriter(.gossip)
        w.write(["b": "2", "a": "1"] as [String: String])
        #expect(w.bytes == hex("82 a161 a131 a162 a132"))
    }

    @Test func extRoundTripsAtEverySize() throws {
        for size in [1, 2, 3, 4, 8, 16, 17, 255, 256, 300, 70_000] {
            let v = MessagePack.ext(type: 5, data: [UInt8](repeating: 0xab, count: size))
            var w = MessagePackWriter(.rpc)
            w.write(v)
            var r = MessagePackReader(w.bytes)
            #expect(try r.read() == v, "ext of \(size) bytes")
            #expect(r.isAtEnd)
        }
    }

    /// skipValue must land exactly where read() does, on every captured body.
    @Test func skipValueMatchesRead() throws {
        for bytes in [Vectors.t13, Vectors.t3Plain, Vectors.t2, Vectors.t12] {
            var a = MessagePackReader(bytes, offset: 1)
            var b = MessagePackReader(bytes, offset: 1)
            while !a.isAtEnd {
                _ = try a.read()
                try b.skipValue()
                #expect(a.offset == b.offset)
            }
        }
    }

    @Test func oversizedLengthsThrowWithoutAllocating() throws {
        let hostile: [[UInt8]] = [
            hex("db ffffffff"), hex("dd ffffffff"), hex("df ffffffff"), hex("c6 ffffffff"), hex("c9 ffffffff 01"),
            hex("da ffff"), hex("dc ffff"), hex("de ffff"), hex("dd ffffffff c0c0c0"), hex("df 7fffffff c0c0"),
        ]
        for bytes in hostile {
            var r = MessagePackReader(bytes)
            #expect(throws: WireError.self, "\(hexString(bytes))") { try r.read() }
            var s = MessagePackReader(bytes)
            #expect(throws: WireError.self, "\(hexString(bytes))") { try s.skipValue() }
            var t = MessagePackReader(bytes)
            #expect(try t.readIfComplete() == nil, "a declared length past the end means 'need more bytes'")
        }
    }

    @Test func nestingDepthIsCapped() throws {
        let deep = [UInt8](repeating: 0x91, count: 100) + [0x00]
        var r = MessagePackReader(deep)
        #expect(throws: WireError.self) { try r.read() }
        var s = MessagePackReader(deep)
        #expect(throws: WireError.self) { try s.skipValue() }
    }

    /// An out-of-range start offset used to make `remaining` negative and trap on conversion to UInt64.
    @Test func outOfRangeOffsetsAreClamped() throws {
        var past = MessagePackReader([0xa3, 0x61], offset: 100)
        #expect(past.remaining == 0)
        #expect(throws: WireError.self) { try past.read() }
        var before = MessagePackReader([0x05], offset: -3)
        #expect(try before.read() == .uint(5))
    }

    @Test func goStructFieldRules() throws {
        // Unknown keys skipped, missing keys zero, nil accepted, bin refused for a string field.
        let v = MessagePack.map([
            .init(.string("Name"), .string("n")), .init(.string("Extra"), .uint(1)), .init(.string("Port"), .null),
            .init(.string("Bin"), .binary([1])),
        ])
        let f = try MessagePackFields(v, context: "x")
        #expect(try f.string("Name") == "n")
        #expect(try f.uint16("Port") == 0)
        #expect(try f.uint32("Missing") == 0)
        #expect(try f.bytes("Bin") == [1])
        #expect(throws: WireError.self) { try f.string("Bin") }
        #expect(throws: WireError.self) { try f.string("Extra") }
        let big = try MessagePackFields(.map([.init(.string("Port"), .uint(70_000))]), context: "x")
        #expect(throws: WireError.self) { try big.uint16("Port") }
    }
}
