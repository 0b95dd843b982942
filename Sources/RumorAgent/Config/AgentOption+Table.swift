extension AgentOption {
    /// The flag as help and README show it: `--retry-join <address>`.
    public var flagUsage: String? {
        guard let flag else { return nil }
        return valueName.map { "--\(flag) <\($0)>" } ?? "--\(flag)"
    }

    /// README's option table (Markdown), one row per setting, generated from ``all``; a test keeps README equal.
    public static func markdownTable(_ options: [AgentOption] = all) -> String {
        func code(_ s: String) -> String { "`" + s.replacingOccurrences(of: "|", with: "\\|") + "`" }
        var rows = ["| flag | config key | default | meaning |", "| --- | --- | --- | --- |"]
        for option in options {
            let flag = option.flagUsage.map { code($0) + (option.repeatable ? " (repeatable)" : "") } ?? ""
            let key = option.key.map(code) ?? ""
            let value = option.defaultText.isEmpty ? "" : code(option.defaultText)
            rows.append("| \(flag) | \(key) | \(value) | \(option.help.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        return rows.joined(separator: "\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
