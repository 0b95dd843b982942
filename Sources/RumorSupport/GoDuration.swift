/// Go's duration syntax ("100ms", "1.5s", "1m30s", "24h"): the spelling Serf and Consul users already write.
/// Anything that is not a non-negative duration Go could hold (at most 2562047h47m16s) is an error naming the
/// text, never a trap.
public enum GoDuration {
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var text: String
        public var reason: String
        public var description: String {
            "invalid duration \(JSON.excerpt(text)): \(reason) (use Go syntax such as 500ms, 30s, 1m30s, 24h)"
        }
    }

    /// Parses `text` (surrounding spaces ignored). A bare "0" is allowed, as in Go; a unit is required otherwise.
    public static func parse(_ text: String) throws(ParseError) -> Duration {
        func fail(_ reason: String) -> ParseError { ParseError(text: text, reason: reason) }
        guard text.utf8.count <= 100 else { throw fail("longer than 100 bytes") }
        let s = Array(text.trimmingSpaces().unicodeScalars)
        guard !s.isEmpty else { throw fail("empty") }
        if s == ["0"] { return .zero }
        if s[0] == "-" { throw fail("negative") }
        var i = s[0] == "+" ? 1 : 0
        guard i < s.count else { throw fail("no number") }
        var total: Int64 = 0
        func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
        while i < s.count {
            // Whole part, exactly; the fraction only to nanosecond precision, as Go does.
            var whole: Int64 = 0
            var overflow = false
            let start = i
            while i < s.count, isDigit(s[i]) {
                let (times10, o1) = whole.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times10.addingReportingOverflow(Int64(s[i].value - 48))
                overflow = overflow || o1 || o2
                whole = plus
                i += 1
            }
            var fraction = 0.0
            var hasFraction = false
            if i < s.count, s[i] == "." {
                i += 1
                var scale = 0.1
                while i < s.count, isDigit(s[i]) {
                    fraction += Double(s[i].value - 48) * scale
                    scale /= 10
                    hasFraction = true
                    i += 1
                }
            }
            let wholeDigits = s[start..<i].prefix { isDigit($0) }.count
            guard wholeDigits > 0 || hasFraction else {
                throw fail("expected a number at position \(start + 1)")
            }
            let unitStart = i
            while i < s.count, !isDigit(s[i]), s[i] != "." { i += 1 }
            let unit = String(String.UnicodeScalarView(s[unitStart..<i]))
            guard let nanoseconds = unitNanoseconds[unit] else {
                throw fail(unit.isEmpty ? "missing unit (ns, us, ms, s, m or h)" : "unknown unit \(JSON.excerpt(unit))")
            }
            let (scaled, o3) = whole.multipliedReportingOverflow(by: nanoseconds)
            let part = fraction * Double(nanoseconds)
            let (sum, o4) = total.addingReportingOverflow(scaled)
            guard !overflow, !o3, !o4, Double(sum) + part < 9.223372036854775e18 else { throw fail("larger than 2562047h") }
            total = sum + Int64(part)
        }
        return .nanoseconds(total)
    }

    private static let unitNanoseconds: [String: Int64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    /// Go's `Duration.String()`: "1.5s", "1m30s", "250ms", "0s".
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !total.overflow else { return "\(seconds)s" }
        var ns = total.partialValue + attoseconds / 1_000_000_000
        if ns == 0 { return "0s" }
        let sign = ns < 0 ? "-" : ""
        ns = ns == .min ? .max : abs(ns)
        func decimal(_ value: Int64, _ unit: Int64) -> String {
            let whole = value / unit
            var fraction = String(value % unit)
            let width = String(unit).count - 1
            guard value % unit != 0 else { return "\(whole)" }
            fraction = String(repeating: "0", count: width - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return "\(whole).\(fraction)"
        }
        if ns < 1_000 { return "\(sign)\(ns)ns" }
        if ns < 1_000_000 { return "\(sign)\(decimal(ns, 1_000))µs" }
        if ns < 1_000_000_000 { return "\(sign)\(decimal(ns, 1_000_000))ms" }
        let hours = ns / 3_600_000_000_000
        let minutes = ns / 60_000_000_000 % 60
        let rest = decimal(ns % 60_000_000_000, 1_000_000_000) + "s"
        if hours > 0 { return "\(sign)\(hours)h\(minutes)m\(rest)" }
        if minutes > 0 { return "\(sign)\(minutes)m\(rest)" }
        return sign + rest
    }
}

extension Duration {
    /// Whole milliseconds (rounded toward zero), saturating.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return ms.addingReportingOverflow(attoseconds / 1_000_000_000_000_000).partialValue
    }
}

extension String {
    /// Without leading and trailing white space.
    public func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
