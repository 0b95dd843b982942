import Testing

@testable import RumorWire
import RumorTestSupport

@Suite struct CRC32Tests {
    /// Bit-at-a-time reference, obviously correct and slow.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func knownValues() throws {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        // The checksums in captured gossip packets cover everything after the 5-byte header.
        #expect(CRC32.checksum(Vectors.t4.dropFirst(5)) == 0xDCBE_DD83)
        #expect(CRC32.checksum(Vectors.t5[5...]) == 0xA639_CC5A)
    }

    @Test func matchesTheReferenceAtEveryLengthAndAlignment() throws {
        var rng = SeededGenerator(seed: 7)
        let data = rng.bytes(300)
        for start in 0..<9 {
            for end in start...data.count where (end - start) < 40 || end == data.count {
                let slice = data[start..<end]
                #expect(CRC32.checksum(slice) == Self.reference(Array(slice)), "\(start)..<\(end)")
            }
        }
        // A collection without contiguous storage takes the copying path.
        let lazy = (0..<1000).lazy.map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(CRC32.checksum(lazy) == Self.reference(Array(lazy)))
    }
}
