/// A JSON-shaped value for action configuration.
///
/// RumorActions does not depend on the agent's own JSON type (the agent depends on us, not the other way round),
/// so the agent maps its parsed `"actions": {...}` object onto this enum. Objects keep the last value of a
/// duplicated key, as the agent's JSON subscript does.
public indirect enum ActionConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ActionConfigValue])
    case object([String: ActionConfigValue])

    public subscript(key: String) -> ActionConfigValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    /// The JSON type name, for error messages ("expected a string, got number").
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension ActionConfigValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: ActionConfigValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(dictionaryLiteral elements: (String, ActionConfigValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}
