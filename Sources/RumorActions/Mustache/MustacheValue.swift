/// What a template can see. A closed set of cases instead of `Any`: rendering needs no reflection or dynamic
/// casts, and a context is `Sendable` and comparable in tests.
public enum MustacheValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([MustacheValue])
    case map([String: MustacheValue])

    /// Mustache's falsy values skip a section and render an inverted one: false, an empty list, or nothing.
    var isFalsy: Bool {
        switch self {
        case .bool(let b): return !b
        case .list(let items): return items.isEmpty
        case .string, .int, .map: return false
        }
    }

    /// How a `{{name}}` tag prints the value. Lists and maps have no text of their own.
    var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .list, .map: return ""
        }
    }
}

extension MustacheValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: MustacheValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, MustacheValue)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
