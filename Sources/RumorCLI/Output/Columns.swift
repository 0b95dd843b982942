/// `columnize.SimpleFormat` from github.com/ryanuber/columnize, which serf's text output goes through.
///
/// Each line is split on `|`, fields are trimmed, every column but a line's last is left-aligned to the widest field
/// (counted in scalars, as Go counts runes) and followed by two spaces. So a line whose last field is empty ends in
/// padding plus two spaces: serf prints those trailing spaces, and so do we.
enum Columns {
    static func format(_ lines: [String]) -> String {
        format(rows: lines.map { $0.split(separator: "|", omittingEmptySubsequences: false).map(GoText.trimSpace) })
    }

    /// Rows already split into fields (which may then hold `|`), aligned the same way.
    static func format(rows: [[String]]) -> String {
        var widths: [Int] = []
        for row in rows {
            for (i, field) in row.enumerated() {
                let n = field.unicodeScalars.count
                if i < widths.count { widths[i] = max(widths[i], n) } else { widths.append(n) }
            }
        }
        var out = ""
        for row in rows {
            for (i, field) in row.enumerated() {
                if i == row.count - 1 {
                    out += field + "\n"
                } else {
                    out += field + String(repeating: " ", count: max(0, widths[i] - field.unicodeScalars.count)) + "  "
                }
            }
        }
        if out.hasSuffix("\n") { out.removeLast() }
        return out
    }
}
