/// A JSON value with one strict reader (``parse(_:)-(Array<UInt8>)``) and one writer (``serialized(indent:)``),
/// for config files, tags files, keyrings and the CLI's output.
/// (Foundation's JSON would cost several MiB of resident memory in an agent that otherwise needs ~10.)
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    /// Keys in document order; a duplicated key is kept twice (the subscript reads the last, as Go does).
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        default: false
        }
    }

    public func hash(into h: inout Hasher) { h.combine(serialized()) }

    public subscript(key: String) -> JSON? {
        if case .object(let pairs) = self { return pairs.last { $0.0 == key }?.1 }
        return nil
    }
}
