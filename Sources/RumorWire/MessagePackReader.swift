/// Why bytes could not be decoded. Carries enough context for a log line; never traps.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static let truncated = WireError("truncated msgpack data")
}

/// A strict, bounds-checked msgpack reader over a byte slice.
///
/// Hostile input is expected (UDP from anyone): every length is checked against the remaining bytes before it is
/// used, nesting depth is capped, and nothing here can trap.
public struct MessagePackReader {
    public static let maxDepth = 32

    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        // Clamped so `remaining` can never go negative (a negative count converted to UInt64 would trap).
        self.offset = min(max(offset, 0), bytes.count)
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    /// The bytes after the current position (for Serf's "msgpack header then raw payload" layouts).
    public var rest: ArraySlice<UInt8> { bytes[min(offset, bytes.count)...] }

    public mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= remaining else { throw WireError.truncated }
        offset += n
    }

    public mutating func read() throws -> MessagePack {
        try read(depth: 0)
    }

    /// Reads one value if a complete one is present; returns `nil` (and consumes nothing) when more bytes are
    /// needed. Used to frame the RPC stream, which has no length prefix.
    public mutating func readIfComplete() throws -> MessagePack? {
        let start = offset
        do {
            return try read()
        } catch let e as WireError where e == .truncated {
            offset = start
            return nil
        }
    }

    /// Skips one complete value without materialising it (no allocation), with the same checks as `read()`.
    /// Used to find message boundaries in a stream cheaply.
    public mutating func skipValue() throws {
        try skipValue(depth: 0)
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth < Self.maxDepth else { throw WireError("msgpack nesting deeper than \(Self.maxDepth)") }
        let b = try byte()
        var containers: UInt64 = 0  // nested values still to skip
        switch b {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: return
        case 0x80...0x8f: containers = UInt64(b & 0x0f) * 2
        case 0x90...0x9f: containers = UInt64(b & 0x0f)
        case 0xa0...0xbf: return try skip(length: UInt64(b & 0x1f))
        case 0xc4, 0xd9: return try skip(length: bigEndian(1))
        case 0xcc, 0xd0: return try skip(length: 1)
        case 0xc5, 0xda: return try skip(length: bigEndian(2))
        case 0xc6, 0xdb: return try skip(length: bigEndian(4))
        case 0xc7: return try skip(length: bigEndian(1) + 1)
        case 0xc8: return try skip(length: bigEndian(2) + 1)
        case 0xc9: return try skip(length: bigEndian(4) + 1)
        case 0xca, 0xce, 0xd2: return try skip(length: 4)
        case 0xcb, 0xcf, 0xd3: return try skip(length: 8)
        case 0xcd, 0xd1: return try skip(length: 2)
        case 0xd4: return try skip(length: 2)
        case 0xd5: return try skip(length: 3)
        case 0xd6: return try skip(length: 5)
        case 0xd7: return try skip(length: 9)
        case 0xd8: return try skip(length: 17)
        case 0xdc: containers = try bigEndian(2)
        case 0xdd: containers = try bigEndian(4)
        case 0xde: containers = try bigEndian(2) * 2
        case 0xdf: containers = try bigEndian(4) * 2
        default: throw WireError("msgpack: unknown type byte 0x\(String(b, radix: 16))")
        }
        // Every element takes at least one byte: refuse counts the input cannot hold before looping.
        guard containers <= UInt64(remaining) else { throw WireError.truncated }
        for _ in 0..<containers { try skipValue(depth: depth + 1) }
    }

    private mutating func skip(length n: UInt64) throws {
        guard n <= UInt64(remaining) else { throw WireError.truncated }
        offset += Int(n)
    }

    private mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw WireError.truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func bigEndian(_ n: Int) throws -> UInt64 {
        guard n <= remaining else { throw WireError.truncated }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += n
        return v
    }

    private mutating func take(_ n: UInt64) throws -> [UInt8] {
        guard n <= UInt64(remaining) else { throw WireError.truncated }
        let n = Int(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    private mutating func read(depth: Int) throws -> MessagePack {
        guard depth < Self.maxDepth else { throw WireError("msgpack nesting deeper than \(Self.maxDepth)") }
        let b = try byte()
        switch b {
        case 0x00...0x7f: return .uint(UInt64(b))
        case 0x80...0x8f: return try readMap(count: UInt64(b & 0x0f), depth: depth)
        case 0x90...0x9f: return try readArray(count: UInt64(b & 0x0f), depth: depth)
        case 0xa0...0xbf: return .string(try take(UInt64(b & 0x1f)))
        case 0xc0: return .null
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4: return .binary(try take(bigEndian(1)))
        case 0xc5: return .binary(try take(bigEndian(2)))
        case 0xc6: return .binary(try take(bigEndian(4)))
        case 0xc7: let n = try bigEndian(1); return try ext(n)
        case 0xc8: let n = try bigEndian(2); return try ext(n)
        case 0xc9: let n = try bigEndian(4); return try ext(n)
        case 0xca: return .double(Double(Float(bitPattern: UInt32(try bigEndian(4)))))
        case 0xcb: return .double(Double(bitPattern: try bigEndian(8)))
        case 0xcc: return .uint(try bigEndian(1))
        case 0xcd: return .uint(try bigEndian(2))
        case 0xce: return .uint(try bigEndian(4))
        case 0xcf: return .uint(try bigEndian(8))
        case 0xd0: return signed(Int64(Int8(truncatingIfNeeded: try bigEndian(1))))
        case 0xd1: return signed(Int64(Int16(truncatingIfNeeded: try bigEndian(2))))
        case 0xd2: return signed(Int64(Int32(truncatingIfNeeded: try bigEndian(4))))
        case 0xd3: return signed(Int64(bitPattern: try bigEndian(8)))
        case 0xd4: return try ext(1)
        case 0xd5: return try ext(2)
        case 0xd6: return try ext(4)
        case 0xd7: return try ext(8)
        case 0xd8: return try ext(16)
        case 0xd9: return .string(try take(bigEndian(1)))
        case 0xda: return .string(try take(bigEndian(2)))
        case 0xdb: return .string(try take(bigEndian(4)))
        case 0xdc: return try readArray(count: bigEndian(2), depth: depth)
        case 0xdd: return try readArray(count: bigEndian(4), depth: depth)
        case 0xde: return try readMap(count: bigEndian(2), depth: depth)
        case 0xdf: return try readMap(count: bigEndian(4), depth: depth)
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: b)))
        default: throw WireError("msgpack: unknown type byte 0x\(String(b, radix: 16))")
        }
    }

    private func signed(_ v: Int64) -> MessagePack { v >= 0 ? .uint(UInt64(v)) : .int(v) }

    private mutating func ext(_ n: UInt64) throws -> MessagePack {
        let type = Int8(bitPattern: try byte())
        return .ext(type: type, data: try take(n))
    }

    private mutating func readArray(count: UInt64, depth: Int) throws -> MessagePack {
        // Each element takes at least one byte: refuse counts the input cannot hold before allocating.
        guard count <= UInt64(remaining) else { throw WireError.truncated }
        var out: [MessagePack] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count { out.append(try read(depth: depth + 1)) }
        return .array(out)
    }

    private mutating func readMap(count: UInt64, depth: Int) throws -> MessagePack {
        guard count <= UInt64(remaining / 2) else { throw WireError.truncated }
        var out: [MessagePack.Pair] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count {
            let k = try read(depth: depth + 1)
            let v = try read(depth: depth + 1)
            out.append(.init(k, v))
        }
        return .map(out)
    }
}
