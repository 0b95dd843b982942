/// CRC-32/IEEE (the zlib/Ethernet polynomial, reflected), as Go's `crc32.ChecksumIEEE` computes it.
/// memberlist prefixes gossip packets with it (type 12, doc §2.6).
public enum CRC32 {
    /// Byte-at-a-time lookup table for the reflected polynomial 0xEDB88320, built once.
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        // Fast path over contiguous storage (arrays and slices); the generic loop covers everything else.
        if let crc = bytes.withContiguousStorageIfAvailable({ update(0, $0) }) { return crc }
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { crc = t[Int(UInt8(truncatingIfNeeded: crc) ^ b)] ^ (crc >> 8) }
        }
        return ~crc
    }

    private static func update(_ initial: UInt32, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = ~initial
        table.withUnsafeBufferPointer { t in
            for b in bytes { crc = t[Int(UInt8(truncatingIfNeeded: crc) ^ b)] ^ (crc >> 8) }
        }
        return ~crc
    }
}
