/// A decoded MessagePack value.
///
/// Serf speaks two msgpack dialects (docs/protocol.md#msgpack): the *gossip* one (go-msgpack, no options, strings and
/// byte slices both in the old "raw" family, never `str8` or `bin`) and the *RPC* one (`str8` and `bin` allowed).
/// Decoding is the same for both: every string form and every binary form is accepted, and every integer width.
public enum MessagePack: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Negative integers only; non-negative values decode as `.uint` whatever their wire width.
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    /// A `fixstr`/`str8`/`str16`/`str32` value. Kept as bytes: Go does not enforce UTF-8.
    case string([UInt8])
    case binary([UInt8])
    case array([MessagePack])
    case map([Pair])
    case ext(type: Int8, data: [UInt8])

    public struct Pair: Sendable, Hashable {
        public var key: MessagePack
        public var value: MessagePack
        public init(_ key: MessagePack, _ value: MessagePack) {
            self.key = key
            self.value = value
        }
    }
}

// MARK: - Convenience accessors

extension MessagePack {
    public static func string(_ s: String) -> MessagePack { .string(Array(s.utf8)) }

    /// The text of a string or binary value (Go lets either stand for a string in many places).
    public var stringValue: String? {
        switch self {
        case .string(let b), .binary(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    /// Raw bytes of a string or binary value; `nil` decodes to empty, as Go does for slices.
    public var bytesValue: [UInt8]? {
        switch self {
        case .string(let b), .binary(let b): return b
        case .null: return []
        default: return nil
        }
    }

    public var uintValue: UInt64? {
        switch self {
        case .uint(let v): return v
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .uint(let v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .uint(let v): return v == 0 ? false : v == 1 ? true : nil
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .uint(let v): return Double(v)
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    public var arrayValue: [MessagePack]? {
        switch self {
        case .array(let a): return a
        case .null: return []
        default: return nil
        }
    }

    public var mapValue: [Pair]? {
        switch self {
        case .map(let m): return m
        case .null: return []
        default: return nil
        }
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }
}
