/// Typed reads of a parsed value: nil when the value has another type, so callers name what they expected.
extension JSON {
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var doubleValue: Double? { if case .number(let d) = self { d } else { nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: [(String, JSON)]? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// A whole number in Int's range; nil for fractions, non-finite values and other types.
    public var intValue: Int? {
        guard case .number(let d) = self, d.isFinite, d == d.rounded(),
              d >= -9_007_199_254_740_992, d <= 9_007_199_254_740_992 else { return nil }
        return Int(d)
    }

    /// An object of strings (labels, tags); nil if any value is not a string.
    public var stringMapValue: [String: String]? {
        guard let pairs = objectValue else { return nil }
        var map: [String: String] = [:]
        for (key, value) in pairs {
            guard let s = value.stringValue else { return nil }
            map[key] = s
        }
        return map
    }

    /// The JSON type's name, for errors ("expected a string, got number").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public static func strings(_ map: [String: String]) -> JSON {
        .object(map.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }
}
