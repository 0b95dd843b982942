/// Reads a msgpack map as a Go struct would be decoded: keys in any order, unknown keys skipped, missing keys left
/// at the zero value, `nil` accepted for any field, any integer width for any integer field.
///
/// A value of the wrong type is an error naming the field, so a log line says exactly what was malformed.
public struct MessagePackFields: Sendable {
    /// Kept as decoded and searched linearly: Go structs have a handful of fields, and building a dictionary cost
    /// more than all the lookups of a message together (it was half the time of decoding a ping).
    private let pairs: [MessagePack.Pair]
    private let context: String

    public init(_ value: MessagePack, context: String) throws {
        self.context = context
        guard let pairs = value.mapValue else { throw WireError("\(context): expected a map") }
        self.pairs = pairs
    }

    public func has(_ key: String) -> Bool { self[key].map { !$0.isNull } ?? false }

    /// The value for `key`; with duplicate keys the last one wins, as when Go decodes into a struct.
    public subscript(_ key: String) -> MessagePack? {
        let wanted = key.utf8
        for p in pairs.reversed() {
            switch p.key {
            case .string(let k), .binary(let k):
                if k.count == wanted.count && k.elementsEqual(wanted) { return p.value }
            default:
                continue
            }
        }
        return nil
    }

    private func fail(_ key: String, _ want: String) -> WireError {
        WireError("\(context).\(key): expected \(want)")
    }

    public func string(_ key: String) throws -> String {
        guard let v = self[key], !v.isNull else { return "" }
        guard case .string(let b) = v else {
            // go-msgpack refuses bin for a string (docs/protocol.md#msgpack-gossip); so do we, never to accept what Go
            // would reject and then gossip it on.
            throw fail(key, "string")
        }
        return String(decoding: b, as: UTF8.self)
    }

    public func bytes(_ key: String) throws -> [UInt8] {
        guard let v = self[key] else { return [] }
        guard let b = v.bytesValue else { throw fail(key, "bytes") }
        return b
    }

    public func uint(_ key: String, max: UInt64 = .max) throws -> UInt64 {
        guard let v = self[key], !v.isNull else { return 0 }
        guard let u = v.uintValue, u <= max else { throw fail(key, "unsigned integer ≤ \(max)") }
        return u
    }

    public func uint32(_ key: String) throws -> UInt32 { UInt32(try uint(key, max: UInt64(UInt32.max))) }
    public func uint16(_ key: String) throws -> UInt16 { UInt16(try uint(key, max: UInt64(UInt16.max))) }
    public func uint8(_ key: String) throws -> UInt8 { UInt8(try uint(key, max: UInt64(UInt8.max))) }

    public func int(_ key: String) throws -> Int64 {
        guard let v = self[key], !v.isNull else { return 0 }
        guard let i = v.intValue else { throw fail(key, "integer") }
        return i
    }

    public func bool(_ key: String) throws -> Bool {
        guard let v = self[key], !v.isNull else { return false }
        guard let b = v.boolValue else { throw fail(key, "bool") }
        return b
    }

    public func double(_ key: String) throws -> Double {
        guard let v = self[key], !v.isNull else { return 0 }
        guard let d = v.doubleValue else { throw fail(key, "float") }
        return d
    }

    public func stringArray(_ key: String) throws -> [String] {
        guard let v = self[key] else { return [] }
        guard let a = v.arrayValue else { throw fail(key, "array of strings") }
        return try a.map {
            guard let s = $0.stringValue else { throw fail(key, "array of strings") }
            return s
        }
    }

    public func stringMap(_ key: String) throws -> [String: String] {
        guard let v = self[key] else { return [:] }
        return try Self.stringMap(v, context: "\(context).\(key)")
    }

    public static func stringMap(_ v: MessagePack, context: String) throws -> [String: String] {
        guard let pairs = v.mapValue else { throw WireError("\(context): expected map of strings") }
        var out: [String: String] = [:]
        for p in pairs {
            guard let k = p.key.stringValue, let s = p.value.isNull ? "" : p.value.stringValue else {
                throw WireError("\(context): expected map of strings")
            }
            out[k] = s
        }
        return out
    }
}
