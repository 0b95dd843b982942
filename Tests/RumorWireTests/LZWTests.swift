import Testing

@testable import RumorWire
import RumorTestSupport

@Suite struct LZWTests {
    /// The `Buf` of a captured compress message.
    static func buf(_ packet: [UInt8]) throws -> [UInt8] {
        var r = MessagePackReader(packet, offset: 1)
        return try MessagePackFields(r.read(), context: "compress").bytes("Buf")
    }

    /// Packs codes LSB-first at the given widths, to build hand-made streams.
    static func pack(_ codes: [(code: UInt32, width: UInt32)]) -> [UInt8] {
        var out: [UInt8] = []
        var bits: UInt64 = 0
        var n: UInt64 = 0
        for (code, width) in codes {
            bits |= UInt64(code) << n
            n += UInt64(width)
            while n >= 8 {
                out.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
                n -= 8
            }
        }
        if n > 0 { out.append(UInt8(truncatingIfNeeded: bits)) }
        return out
    }

    @Test func t3DecompressesAndRecompressesByteForByte() throws {
        let buf = try Self.buf(Vectors.t3Packet)
        #expect(buf.count == 98)
        #expect(try LZW.decompress(buf) == Vectors.t3Plain)
        #expect(hexString(LZW.compress(Vectors.t3Plain)) == hexString(buf))
    }

    /// Every compressed message captured from real agents is reproduced exactly (Go 1.19 writer, leading clear).
    @Test(arguments: [
        Vectors.t3Packet, Vectors.t9, Vectors.t9Response, Vectors.compressCompound3,
        Array(Vectors.crcCompressCompound.dropFirst(5)),
    ])
    func capturedStreamsAreReproduced(packet: [UInt8]) throws {
        let buf = try Self.buf(packet)
        let plain = try LZW.decompress(buf)
        #expect(hexString(LZW.compress(plain)) == hexString(buf))
    }

    @Test func emptyInputIsClearThenEndOfData() throws {
        // clear (256) and EOI (257), 9 bits each, LSB first: 0x20300, as Go 1.19's Close writes for no input.
        #expect(LZW.compress([]) == [0x00, 0x03, 0x02])
        #expect(try LZW.decompress([0x00, 0x03, 0x02]) == [])
    }

    /// Older Go writers started with a literal instead of a clear code; both forms must decode.
    @Test func streamsWithoutLeadingClearDecode() throws {
        #expect(try LZW.decompress([0x41, 0x02, 0x02]) == [0x41])
        // Produced by the capture tools' LZW encoder with leading_clear=False (docs/interop.md#capture-tools).
        let old = hex("549e0829f2448a932754041234b8b0e0c1840101")
        #expect(try LZW.decompress(old) == Array("TOBEORNOTTOBEORTOBEORNOT".utf8))
        let current = hex("00a93c1152e48914274fa80824687061c183090302")
        #expect(LZW.compress(Array("TOBEORNOTTOBEORTOBEORNOT".utf8)) == current)
    }

    @Test func randomDataRoundTrips() throws {
        var rng = SeededGenerator(seed: 0x5eed)
        for size in [1, 2, 3, 255, 256, 257, 511, 512, 1000, 4095, 4096, 4097, 10_000, 70_000] {
            let data = rng.bytes(size)
            #expect(try LZW.decompress(LZW.compress(data)) == data, "random \(size) bytes")
        }
        // Small alphabets build long dictionary chains and hit every width change.
        for alphabet in [2, 4, 16] {
            let data = (0..<50_000).map { _ in UInt8.random(in: 0..<UInt8(alphabet), using: &rng) }
            #expect(try LZW.decompress(LZW.compress(data)) == data, "alphabet \(alphabet)")
        }
    }

    /// 100 KB forces many table resets at code 4095; the output must match the verified Python port of Go's writer.
    @Test func largeInputsMatchTheReferenceEncoder() throws {
        let sentence = Array("The quick brown fox jumps over the lazy dog. ".utf8)
        let text = Array((0..<100_000).map { sentence[$0 % sentence.count] })
        var x: UInt32 = 12345
        let lcg: [UInt8] = (0..<100_000).map { _ in
            x = (x &* 1_103_515_245 &+ 12345) & 0x7fff_ffff
            return 97 + UInt8((x >> 16) % 16)
        }
        // Lengths and CRCs of lzw_enc.py's output for the same inputs.
        for (data, length, crc) in [(text, 4114, UInt32(0x197b_725a)), (lcg, 62768, UInt32(0x253c_dc31))] {
            let packed = LZW.compress(data)
            #expect(packed.count == length)
            #expect(CRC32.checksum(packed) == crc)
            #expect(try LZW.decompress(packed) == data)
        }
    }

    @Test func missingEndOfDataIsAnError() throws {
        let buf = try Self.buf(Vectors.t3Packet)
        for n in 0..<buf.count - 1 {
            #expect(throws: WireError("lzw: missing end-of-data code"), "prefix \(n)") {
                try LZW.decompress(Array(buf.prefix(n)))
            }
        }
    }

    @Test func trailingBytesAfterEndOfDataAreIgnored() throws {
        let buf = try Self.buf(Vectors.t3Packet)
        #expect(try LZW.decompress(buf + [0xff, 0x00, 0x13]) == Vectors.t3Plain)
    }

    @Test func invalidCodesAreErrors() throws {
        // After a clear the next code may only be a literal, clear or EOI.
        #expect(throws: WireError.self) { try LZW.decompress(Self.pack([(256, 9), (300, 9), (257, 9)])) }
        // One past the next dictionary code.
        #expect(throws: WireError.self) { try LZW.decompress(Self.pack([(65, 9), (259, 9), (257, 9)])) }
        // code == next code right after a literal is the legal KwKwK case.
        #expect(try LZW.decompress(Self.pack([(65, 9), (258, 9), (257, 9)])) == [65, 65, 65])
    }

    @Test func outputLimitStopsZipBombs() throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let packed = LZW.compress(zeros)
        #expect(packed.count < 20_000)
        #expect(try LZW.decompress(packed, limit: zeros.count) == zeros)
        let error = #expect(throws: WireError.self) { try LZW.decompress(packed, limit: 1000) }
        #expect(error?.message.contains("limit") == true)
        #expect(throws: WireError.self) { try LZW.decompress(LZW.compress([1, 2, 3]), limit: 2) }
        #expect(throws: WireError.self) { try LZW.decompress(LZW.compress([1, 2, 3]), limit: 0) }
    }
}
