/// Prometheus's text exposition format (version 0.0.4), written by hand: a few families per scrape do not need a
/// client library, and each part of the agent adds its own families to one `MetricsText` without sharing a registry.
///
/// Names follow Prometheus's conventions (base units in the name, `_total` for counters); docs/observe.md maps each
/// to memberlist's and Serf's telemetry names.
public struct MetricsText: Sendable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public private(set) var text = ""
    private var families: Set<String> = []

    public init() {}

    /// Starts a family: its `# HELP` and `# TYPE` lines. A family is written once per scrape; a second call with the
    /// same name is a programming error, and is ignored rather than emitting output promtool would reject.
    @discardableResult
    public mutating func family(_ name: String, _ kind: Kind, _ help: String) -> Bool {
        guard families.insert(name).inserted else { return false }
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        return true
    }

    /// One sample of the current family.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int) {
        sample(name, labels, Double(value))
    }

    /// A family with one sample: the common case of a single counter or gauge.
    public mutating func single(_ name: String, _ kind: Kind, _ help: String, _ value: Double) {
        family(name, kind, help)
        sample(name, [], value)
    }

    /// A histogram's samples: cumulative `_bucket`s with `le`, then `_sum` and `_count`.
    public mutating func histogram(_ name: String, _ labels: [(String, String)] = [], _ h: Histogram) {
        var cumulative = 0
        for (bound, count) in zip(h.bounds, h.counts) {
            cumulative += count
            sample(name + "_bucket", labels + [("le", Self.format(bound))], cumulative)
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], h.count)
        sample(name + "_sum", labels, h.sum)
        sample(name + "_count", labels, h.count)
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Label values escape `\`, `"` and newlines; HELP text the same but quotes.
    static func escapeLabel(_ value: String) -> String { escape(value, quotes: true) }
    static func escapeHelp(_ value: String) -> String { escape(value, quotes: false) }

    private static func escape(_ value: String, quotes: Bool) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
