/// GIF-style LZW as Go's `compress/lzw` does it, LSB order, 8-bit literals (docs/protocol.md#compression), memberlist's
/// only compression algorithm.
///
/// Codes 0-255 are literals, 256 is clear, 257 is end-of-data, dictionary codes start at 258. Codes start 9 bits wide
/// and grow to 12, packed least-significant-bit first.
public enum LZW {
    private static let clearCode: UInt32 = 256
    private static let eoiCode: UInt32 = 257
    private static let maxWidth: UInt32 = 12
    /// The encoder resets when its next code would reach this (Go's `maxCode`).
    private static let maxCode: UInt32 = 1 << maxWidth - 1

    // MARK: Encoder

    /// Hash table size for the encoder: 4x the code space, as in Go, so linear probing stays short.
    private static let tableSize = 4 << 12
    private static let tableMask = UInt32(tableSize - 1)

    /// Compresses `input`. Like Go 1.19 (the serf binary's toolchain) the stream starts with a clear code and always
    /// ends with end-of-data, so the output is byte-identical to what a Serf agent sends.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var w = BitWriter(capacity: input.count / 2 + 16)
        w.write(clearCode)
        guard let first = input.first else {
            w.write(eoiCode)
            return w.finish()
        }
        // Each entry is key << 12 | code, where key = prefix code << 8 | next byte; 0 marks an empty slot (a
        // valid entry's low 12 bits are a dictionary code >= 258, never 0).
        var table = [UInt32](repeating: 0, count: tableSize)
        var hi = eoiCode
        var overflow: UInt32 = 1 << 9
        var code = UInt32(first)

        /// Go's `incHi`: advance the implied next code, widening or (when out of codes) emitting clear and resetting.
        /// Returns false after a reset, when the pending key must not be inserted.
        func incHi(_ w: inout BitWriter, _ table: inout [UInt32]) -> Bool {
            hi += 1
            if hi == overflow {
                w.width += 1
                overflow <<= 1
            }
            guard hi == maxCode else { return true }
            w.write(clearCode)
            w.width = 9
            hi = eoiCode
            overflow = 1 << 9
            for i in table.indices { table[i] = 0 }
            return false
        }

        next: for byte in input.dropFirst() {
            let literal = UInt32(byte)
            let key = code << 8 | literal
            var hash = (key >> 12 ^ key) & tableMask
            var entry = table[Int(hash)]
            while entry != 0 {
                if entry >> 12 == key {
                    code = entry & maxCode
                    continue next
                }
                hash = (hash + 1) & tableMask
                entry = table[Int(hash)]
            }
            w.write(code)
            code = literal
            if incHi(&w, &table) { table[Int(hash)] = key << 12 | hi }
        }
        w.write(code)
        _ = incHi(&w, &table)
        w.write(eoiCode)
        return w.finish()
    }

    private struct BitWriter {
        var out: [UInt8] = []
        var bits: UInt32 = 0
        var nBits: UInt32 = 0
        var width: UInt32 = 9

        init(capacity: Int) { out.reserveCapacity(capacity) }

        mutating func write(_ code: UInt32) {
            bits |= code << nBits
            nBits += width
            while nBits >= 8 {
                out.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
                nBits -= 8
            }
        }

        /// Flushes the final partial byte, zero-padded.
        mutating func finish() -> [UInt8] {
            if nBits > 0 { out.append(UInt8(truncatingIfNeeded: bits)) }
            return out
        }
    }

    // MARK: Decoder

    /// Decompresses a Go LZW stream, with or without a leading clear code. Bytes after end-of-data are ignored (as
    /// memberlist does). Throws on an invalid code, on a missing end-of-data code, and when the output would exceed
    /// `limit` bytes, so a tiny hostile packet cannot expand into gigabytes.
    public static func decompress(_ input: [UInt8], limit: Int = 16 << 20) throws -> [UInt8] {
        try input.withUnsafeBufferPointer { try decompress($0, limit: limit) }
    }

    static func decompress(_ input: UnsafeBufferPointer<UInt8>, limit: Int) throws -> [UInt8] {
        let invalid: UInt32 = 0xFFFF
        var out: [UInt8] = []
        out.reserveCapacity(min(max(limit, 0), input.count &* 3))
        // Each dictionary code c expands to the expansion of prefix[c] followed by suffix[c]. Every entry ever
        // written has prefix[c] < c (and unwritten ones are 0), so walking a chain always terminates.
        var prefix = [UInt16](repeating: 0, count: 1 << 12)
        var suffix = [UInt8](repeating: 0, count: 1 << 12)
        // A chain is at most 4096 - 258 + 1 long, plus one byte for the code == hi case.
        var scratch = [UInt8](repeating: 0, count: (1 << 12) + 1)

        var bits: UInt32 = 0
        var nBits: UInt32 = 0
        var pos = 0
        var width: UInt32 = 9
        var hi = eoiCode
        var overflow: UInt32 = 1 << 9
        var last = invalid

        while true {
            while nBits < width {
                guard pos < input.count else { throw WireError("lzw: missing end-of-data code") }
                bits |= UInt32(input[pos]) << nBits
                nBits += 8
                pos += 1
            }
            let code = bits & (1 << width - 1)
            bits >>= width
            nBits -= width

            if code < clearCode {
                guard out.count < limit else { throw limitError(limit) }
                out.append(UInt8(code))
                if last != invalid {
                    suffix[Int(hi)] = UInt8(code)
                    prefix[Int(hi)] = UInt16(last)
                }
            } else if code == clearCode {
                width = 9
                hi = eoiCode
                overflow = 1 << 9
                last = invalid
                continue
            } else if code == eoiCode {
                return out
            } else if code <= hi {
                var i = scratch.count
                var c = code
                if code == hi && last != invalid {
                    // The code being defined right now: last's expansion followed by its own first byte.
                    c = last
                    while c >= clearCode { c = UInt32(prefix[Int(c)]) }
                    i -= 1
                    scratch[i] = UInt8(c)
                    c = last
                }
                while c >= clearCode {
                    guard i > 1 else { throw WireError("lzw: corrupt dictionary chain") }
                    i -= 1
                    scratch[i] = suffix[Int(c)]
                    c = UInt32(prefix[Int(c)])
                }
                i -= 1
                scratch[i] = UInt8(c)
                guard scratch.count - i <= limit - out.count else { throw limitError(limit) }
                out.append(contentsOf: scratch[i...])
                if last != invalid {
                    suffix[Int(hi)] = UInt8(c)
                    prefix[Int(hi)] = UInt16(last)
                }
            } else {
                throw WireError("lzw: invalid code \(code) (next expected at most \(hi))")
            }
            last = code
            hi += 1
            if hi >= overflow {
                if width == maxWidth {
                    // Table full and no clear yet: stop adding entries, as Go does.
                    last = invalid
                    hi -= 1
                } else {
                    width += 1
                    overflow <<= 1
                }
            }
        }
    }

    private static func limitError(_ limit: Int) -> WireError {
        WireError("lzw: decompressed data exceeds the limit of \(limit) bytes")
    }
}
