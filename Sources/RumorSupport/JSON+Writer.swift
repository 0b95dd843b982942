extension JSON {
    /// Serializes with `indent` spaces per level (0: compact), keys in their stored order. With `indent: 2` this
    /// is Go's `json.MarshalIndent(v, "", "  ")`, byte for byte, as serf writes keyrings and prints JSON.
    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0)
        return out
    }

    private func write(to out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        let pad = { (l: Int) in String(repeating: " ", count: indent * l) }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d):
            out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (n, item) in items.enumerated() {
                out += pad(level + 1)
                item.write(to: &out, indent: indent, level: level + 1)
                out += (n < items.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{" + newline
            for (n, (k, v)) in pairs.enumerated() {
                out += pad(level + 1)
                JSON.quote(k, into: &out)
                out += indent > 0 ? ": " : ":"
                v.write(to: &out, indent: indent, level: level + 1)
                out += (n < pairs.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "}"
        }
    }

    /// The one quoting rule, Go's: `\"`, `\\`, `\n`, `\r`, `\t`, other controls and the HTML-sensitive `<`, `>`,
    /// `&` as `\u00XX`, U+2028/U+2029 (which break JavaScript) escaped; everything else as is.
    public static func quote(_ s: String, into out: inout String) {
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

    public static func quoted(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }

    /// A user's value for an error line: quoted (so controls and newlines stay on one line) and cut to `limit`
    /// characters, so a 1 MiB value gives a readable message.
    public static func excerpt(_ s: String, limit: Int = 60, quoted: Bool = true) -> String {
        let cut = s.unicodeScalars.count > limit
        let text = cut ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(limit))) : s
        var out = ""
        quote(text, into: &out)
        if !quoted { out = String(out.dropFirst().dropLast()) }
        return cut ? out + "… (\(s.utf8.count) bytes)" : out
    }
}
