/// CRC-32/IEEE (the zlib/Ethernet polynomial, reflected), as Go's `crc32.ChecksumIEEE` computes it.
/// memberlist prefixes gossip packets with it (type 12, docs/protocol.md#crc): it runs on every packet, both ways.
public enum CRC32 {
    /// Slicing-by-8 tables, built once: `tables[0]` is the classic byte-at-a-time table and `tables[k][n]` is the CRC
    /// of byte n followed by k zero bytes, which lets the loop fold eight input bytes per step.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for k in 1..<8 {
            for n in 0..<256 {
                let prev = t[(k - 1) * 256 + n]
                t[k * 256 + n] = t[Int(prev & 0xff)] ^ (prev >> 8)
            }
        }
        return t
    }()

    public static func checksum<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        // Arrays and slices take the fast path; anything else is copied once into contiguous storage.
        if let crc = bytes.withContiguousStorageIfAvailable({ checksum(buffer: $0) }) { return crc }
        return Array(bytes).withUnsafeBufferPointer { checksum(buffer: $0) }
    }

    private static func checksum(buffer p: UnsafeBufferPointer<UInt8>) -> UInt32 {
        tables.withUnsafeBufferPointer { t in
            var crc: UInt32 = 0xFFFF_FFFF
            var i = 0
            while i + 8 <= p.count {
                let lo = crc ^ (UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24)
                let hi = UInt32(p[i + 4]) | UInt32(p[i + 5]) << 8 | UInt32(p[i + 6]) << 16 | UInt32(p[i + 7]) << 24
                crc = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int(lo >> 8 & 0xff)]
                    ^ t[5 * 256 + Int(lo >> 16 & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int(hi >> 8 & 0xff)]
                    ^ t[1 * 256 + Int(hi >> 16 & 0xff)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < p.count {
                crc = t[Int((crc ^ UInt32(p[i])) & 0xff)] ^ (crc >> 8)
                i += 1
            }
            return ~crc
        }
    }
}
