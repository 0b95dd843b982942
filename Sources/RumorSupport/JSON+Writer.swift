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

    /// This value for an error line: compact JSON cut to about `limit` characters, without serializing all of a
    /// huge value first.
    public func preview(limit: Int = 60) -> String {
        var out = ""
        var budget = limit
        preview(into: &out, budget: &budget)
        return budget < 0 ? out + "…" : out
    }

    private func preview(into out: inout String, budget: inout Int) {
        guard budget >= 0 else { return }
        switch self {
        case .string(let s):
            let cut = String(String.UnicodeScalarView(s.unicodeScalars.prefix(budget + 1)))
            var quoted = ""
            JSON.quote(cut, into: &quoted)
            out += quoted
            budget -= quoted.count
        case .array(let items):
            out += "["
            budget -= 1
            for (n, item) in items.enumerated() where budget >= 0 {
                if n > 0 { out += ","; budget -= 1 }
                item.preview(into: &out, budget: &budget)
            }
            if budget >= 0 { out += "]" }
        case .object(let pairs):
            out += "{"
            budget -= 1
            for (n, (k, v)) in pairs.enumerated() where budget >= 0 {
                if n > 0 { out += ","; budget -= 1 }
                JSON.string(k).preview(into: &out, budget: &budget)
                out += ":"
                v.preview(into: &out, budget: &budget)
            }
            if budget >= 0 { out += "}" }
        default:
            let text = serialized()
            out += text
            budget -= text.count
        }
    }

    /// A user's value for an error line: quoted (so controls and newlines stay on one line) and cut to `limit`
    /// characters, so a 1 MiB value gives a readable message.
    public static func excerpt(_ s: String, limit: Int = 60, quoted: Bool = true) -> String {
        let cut = !s.unicodeScalars.dropFirst(limit).isEmpty
        let text = cut ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(limit))) : s
        var out = ""
        quote(text, into: &out)
        if !quoted { out = String(out.dropFirst().dropLast()) }
        return cut ? out + "… (\(s.utf8.count) bytes)" : out
    }
}
