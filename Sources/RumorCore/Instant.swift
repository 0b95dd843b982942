/// A point in time as the core sees it: an offset from an arbitrary epoch chosen by whoever drives the core.
///
/// The core never reads a clock. The runtime passes `now` with every input; the simulator passes virtual time.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds + d.nanoseconds) }

    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(a.nanoseconds - b.nanoseconds) }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// Whole nanoseconds, saturating; Serf puts durations on the wire as int64 nanoseconds.
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : ns + atto / 1_000_000_000
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func * (d: Duration, k: Double) -> Duration { .nanoseconds(Int64(Double(d.nanoseconds) * k)) }
}
