import RumorSupport
/// The JSON the serf CLI prints: Go's `json.MarshalIndent(v, "", "  ")` (Go 1.19) for strings, integers, objects
/// with keys in the order given (Go sorts map keys; struct fields keep declaration order) and arrays.
indirect enum IndentedJSON {
    case null
    case int(Int64)
    case string(String)
    case array([IndentedJSON])
    case object([(String, IndentedJSON)])

    /// A Go `map[string]string`: keys sorted bytewise.
    static func stringMap(_ m: [String: String]) -> IndentedJSON {
        .object(m.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { ($0, .string(m[$0]!)) })
    }

    var rendered: String {
        var out = ""
        render(into: &out, indent: "")
        return out
    }

    private func render(into out: inout String, indent: String) {
        switch self {
        case .null:
            out += "null"
        case .int(let v):
            out += String(v)
        case .string(let s):
            Self.quote(s, into: &out)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += indent + "  "
                item.render(into: &out, indent: indent + "  ")
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case .object(let pairs):
            guard !pairs.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in pairs.enumerated() {
                out += indent + "  "
                Self.quote(key, into: &out)
                out += ": "
                value.render(into: &out, indent: indent + "  ")
                out += i == pairs.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        }
    }

    /// Go's escaping: `\"`, `\\`, `\n`, `\r`, `\t`, other controls and the HTML-sensitive `<`, `>`, `&` as `\u00XX`,
    /// and U+2028/U+2029 (which break JavaScript) as escapes; everything else as is.
    private static func quote(_ s: String, into out: inout String) {
        let hex = Array("0123456789abcdef")
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            case "<", ">", "&", "\u{0}"..."\u{1f}":
                let v = Int(scalar.value)
                out += "\\u00" + String(hex[v >> 4]) + String(hex[v & 0xf])
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
