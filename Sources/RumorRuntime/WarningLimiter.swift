import RumorCore

/// Keeps a flood of bad input from flooding the log: each kind of warning is logged at most once per `interval`,
/// and the next line says how many were suppressed in between.
struct WarningLimiter {
    var interval: Duration = .seconds(5)
    private var last: [Substring: (at: Instant, suppressed: Int)] = [:]

    /// Returns the line to log, or nil if this warning is suppressed.
    mutating func admit(_ message: String, at now: Instant) -> String? {
        let kind = message.prefix { $0 != ":" }.prefix(48)
        if let seen = last[kind], now - seen.at < interval {
            last[kind] = (seen.at, seen.suppressed + 1)
            return nil
        }
        let suppressed = last[kind]?.suppressed ?? 0
        last[kind] = (now, 0)
        if last.count > 1024 { last = [:] }  // bounded memory against endlessly varied input
        return suppressed > 0 ? "\(message) (\(suppressed) similar suppressed)" : message
    }
}
