/// Writes msgpack the way go-msgpack 0.5.5 does, in one of Serf's two dialects (docs/protocol.md#msgpack).
///
/// Struct encoders write their keys in sorted order themselves, as Go does, so output is byte-identical to serf's.
public struct MessagePackWriter: Sendable {
    public enum Dialect: Sendable {
        /// memberlist/Serf gossip: strings and byte slices in the raw family (fixstr, `da`, `db`), never str8/bin.
        case gossip
        /// Agent RPC: str8 allowed for strings, `bin` for byte slices.
        case rpc
    }

    public let dialect: Dialect
    public private(set) var bytes: [UInt8]

    public init(_ dialect: Dialect, capacity: Int = 64) {
        self.dialect = dialect
        self.bytes = []
        bytes.reserveCapacity(capacity)
    }

    // MARK: Scalars

    public mutating func writeNil() { bytes.append(0xc0) }

    public mutating func write(_ v: Bool) { bytes.append(v ? 0xc3 : 0xc2) }

    public mutating func write(_ v: UInt64) {
        switch v {
        case 0...0x7f: bytes.append(UInt8(v))
        case 0x80...0xff: bytes.append(0xcc); appendBE(v, 1)
        case 0x100...0xffff: bytes.append(0xcd); appendBE(v, 2)
        case 0x1_0000...0xffff_ffff: bytes.append(0xce); appendBE(v, 4)
        default: bytes.append(0xcf); appendBE(v, 8)
        }
    }

    public mutating func write(_ v: Int64) {
        if v >= 0 { return write(UInt64(v)) }
        switch v {
        case -32 ..< 0: bytes.append(UInt8(bitPattern: Int8(v)))
        case -128 ..< -32: bytes.append(0xd0); appendBE(UInt64(bitPattern: v), 1)
        case -32768 ..< -128: bytes.append(0xd1); appendBE(UInt64(bitPattern: v), 2)
        case Int64(Int32.min) ..< -32768: bytes.append(0xd2); appendBE(UInt64(bitPattern: v), 4)
        default: bytes.append(0xd3); appendBE(UInt64(bitPattern: v), 8)
        }
    }

    public mutating func write(_ v: Int) { write(Int64(v)) }
    public mutating func write(_ v: UInt32) { write(UInt64(v)) }
    public mutating func write(_ v: UInt16) { write(UInt64(v)) }
    public mutating func write(_ v: UInt8) { write(UInt64(v)) }

    public mutating func write(_ v: Double) {
        bytes.append(0xcb)
        appendBE(v.bitPattern, 8)
    }

    // MARK: Strings and bytes

    public mutating func write(_ s: String) { writeString(s.utf8) }

    /// A Go `string`.
    public mutating func writeString<C: Collection<UInt8>>(_ s: C) {
        let n = s.count
        switch (dialect, n) {
        case (_, 0..<32): bytes.append(0xa0 | UInt8(n))
        case (.rpc, 32..<256): bytes.append(0xd9); appendBE(UInt64(n), 1)
        case (_, ..<65536): bytes.append(0xda); appendBE(UInt64(n), 2)
        default: bytes.append(0xdb); appendBE(UInt64(n), 4)
        }
        bytes.append(contentsOf: s)
    }

    /// A Go `[]byte`: raw/str family in gossip, `bin` in RPC. A nil slice is written as `c0`.
    public mutating func writeBytes<C: Collection<UInt8>>(_ b: C?) {
        guard let b else { return writeNil() }
        guard dialect == .rpc else { return writeString(b) }
        let n = b.count
        switch n {
        case 0..<256: bytes.append(0xc4); appendBE(UInt64(n), 1)
        case 256..<65536: bytes.append(0xc5); appendBE(UInt64(n), 2)
        default: bytes.append(0xc6); appendBE(UInt64(n), 4)
        }
        bytes.append(contentsOf: b)
    }

    // MARK: Containers

    public mutating func writeArrayHeader(_ n: Int) {
        switch n {
        case 0..<16: bytes.append(0x90 | UInt8(n))
        case 16..<65536: bytes.append(0xdc); appendBE(UInt64(n), 2)
        default: bytes.append(0xdd); appendBE(UInt64(n), 4)
        }
    }

    public mutating func writeMapHeader(_ n: Int) {
        switch n {
        case 0..<16: bytes.append(0x80 | UInt8(n))
        case 16..<65536: bytes.append(0xde); appendBE(UInt64(n), 2)
        default: bytes.append(0xdf); appendBE(UInt64(n), 4)
        }
    }

    /// A `map[string]string`, keys sorted so the encoding is canonical (Go's is random; any order decodes).
    public mutating func write(_ m: [String: String]?) {
        guard let m else { return writeNil() }
        writeMapHeader(m.count)
        for k in Self.sortedKeys(m) {
            write(k)
            write(m[k]!)
        }
    }

    /// Keys in bytewise UTF-8 order, as Go sorts struct keys. (Swift's `String <` compares Unicode scalars after
    /// normalisation, which can differ from byte order for non-ASCII text.)
    public static func sortedKeys<V>(_ m: [String: V]) -> [String] {
        m.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// A `[]string`; nil is written as `c0`.
    public mutating func write(_ a: [String]?) {
        guard let a else { return writeNil() }
        writeArrayHeader(a.count)
        for s in a { write(s) }
    }

    /// Any decoded value, re-encoded in this writer's dialect.
    public mutating func write(_ v: MessagePack) {
        switch v {
        case .null: writeNil()
        case .bool(let b): write(b)
        case .int(let i): write(i)
        case .uint(let u): write(u)
        case .double(let d): write(d)
        case .string(let s): writeString(s)
        case .binary(let b): writeBytes(b)
        case .array(let a):
            writeArrayHeader(a.count)
            for e in a { write(e) }
        case .map(let m):
            writeMapHeader(m.count)
            for p in m {
                write(p.key)
                write(p.value)
            }
        case .ext(let t, let d):
            // fixext for the five fixed sizes, then ext8/16/32: a 1-byte length for every size truncated longer data.
            switch d.count {
            case 1: bytes.append(0xd4)
            case 2: bytes.append(0xd5)
            case 4: bytes.append(0xd6)
            case 8: bytes.append(0xd7)
            case 16: bytes.append(0xd8)
            case 0..<256: bytes.append(0xc7); appendBE(UInt64(d.count), 1)
            case 256..<65536: bytes.append(0xc8); appendBE(UInt64(d.count), 2)
            default: bytes.append(0xc9); appendBE(UInt64(d.count), 4)
            }
            bytes.append(UInt8(bitPattern: t))
            bytes.append(contentsOf: d)
        }
    }

    /// Appends already-encoded bytes (a nested message or a type byte).
    public mutating func appendRaw<C: Collection<UInt8>>(_ raw: C) { bytes.append(contentsOf: raw) }

    private mutating func appendBE(_ v: UInt64, _ n: Int) {
        for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
}
