/// Finds where msgpack values end in a buffer that is still growing, in time linear in its bytes however they
/// arrive: it remembers where it stopped and how many values are still open, instead of starting over on every
/// read (a peer dripping a large message one byte at a time would otherwise cost time quadratic in its size).
///
/// It checks only framing: a value it passes may still be invalid (too deep, bad UTF-8); the decoder says so.
public struct MessagePackScanner: Sendable {
    /// Where the next unread value header starts; once `scan` returns true, where the values end.
    public private(set) var offset: Int
    /// Values still to pass at each open nesting level (the values asked for, then each container entered): at most
    /// `MessagePackReader.maxDepth` deep, so nesting too deep is refused as early as the reader would.
    private var open: [UInt64]

    /// Scans `count` consecutive values starting at `offset`.
    public init(offset: Int, count: UInt64 = 1) {
        self.offset = offset
        self.open = [count]
    }

    /// Advances over what `bytes` now holds. True once every value is complete; false while more bytes are needed.
    /// Throws for a byte that starts no msgpack value (0xc1) and for nesting deeper than the reader allows.
    public mutating func scan(_ bytes: [UInt8]) throws -> Bool {
        while let last = open.last, last == 0 { open.removeLast() }
        while !open.isEmpty {
            guard let (header, payload, children) = try Self.header(bytes, at: offset) else { return false }
            if children > 0 && open.count >= MessagePackReader.maxDepth {
                throw WireError("msgpack nesting deeper than \(MessagePackReader.maxDepth)")
            }
            let end = offset + header + payload
            guard end <= bytes.count else { return false }
            offset = end
            open[open.count - 1] -= 1
            if children > 0 { open.append(children) }
            while let last = open.last, last == 0 { open.removeLast() }
        }
        return true
    }

    /// The value header at `i`: its length, its payload's length, and how many values it contains. Nil when the
    /// header itself is not all there yet.
    static func header(_ b: [UInt8], at i: Int) throws -> (Int, Int, UInt64)? {
        guard i < b.count else { return nil }
        let t = b[i]
        func length(_ n: Int) -> Int? {
            guard i + 1 + n <= b.count else { return nil }
            var v = 0
            for k in 1...n { v = v << 8 | Int(b[i + k]) }
            return v
        }
        switch t {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: return (1, 0, 0)
        case 0x80...0x8f: return (1, 0, UInt64(t & 0x0f) * 2)
        case 0x90...0x9f: return (1, 0, UInt64(t & 0x0f))
        case 0xa0...0xbf: return (1, Int(t & 0x1f), 0)
        case 0xc4, 0xd9: return length(1).map { (2, $0, 0) }
        case 0xc5, 0xda: return length(2).map { (3, $0, 0) }
        case 0xc6, 0xdb: return length(4).map { (5, $0, 0) }
        case 0xc7: return length(1).map { (2, $0 + 1, 0) }
        case 0xc8: return length(2).map { (3, $0 + 1, 0) }
        case 0xc9: return length(4).map { (5, $0 + 1, 0) }
        case 0xca: return (1, 4, 0)
        case 0xcb: return (1, 8, 0)
        case 0xcc, 0xd0: return (1, 1, 0)
        case 0xcd, 0xd1: return (1, 2, 0)
        case 0xce, 0xd2: return (1, 4, 0)
        case 0xcf, 0xd3: return (1, 8, 0)
        case 0xd4: return (1, 2, 0)
        case 0xd5: return (1, 3, 0)
        case 0xd6: return (1, 5, 0)
        case 0xd7: return (1, 9, 0)
        case 0xd8: return (1, 17, 0)
        case 0xdc: return length(2).map { (3, 0, UInt64($0)) }
        case 0xdd: return length(4).map { (5, 0, UInt64($0)) }
        case 0xde: return length(2).map { (3, 0, UInt64($0) * 2) }
        case 0xdf: return length(4).map { (5, 0, UInt64($0) * 2) }
        default: throw WireError("msgpack: byte 0x\(String(t, radix: 16)) starts no value")
        }
    }
}
