/// A point in time as the core sees it: an offset from an arbitrary epoch chosen by whoever drives the core.
///
/// The core never reads a clock. The runtime passes `now` with every input; the simulator passes virtual time.
/// Arithmetic saturates: durations come from peers and RPC clients (query timeouts), and a huge one must mean
/// "far in the future", never a trap.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// The saturation point of `+`: later than any real instant.
    public static let distantFuture = Instant(nanoseconds: .max)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds.saturatingAdd(d.nanoseconds))
    }

    public static func - (a: Instant, b: Instant) -> Duration {
        .nanoseconds(a.nanoseconds.saturatingAdd(b.nanoseconds == .min ? .max : -b.nanoseconds))
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Int64 {
    /// `self + other`, clamped to the representable range instead of trapping.
    @inlinable public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

extension UInt64 {
    /// `self + other`, clamped at `.max` instead of trapping.
    @inlinable public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension UInt32 {
    /// `self + other`, clamped at `.max` instead of trapping.
    @inlinable public func saturatingAdd(_ other: UInt32) -> UInt32 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension Duration {
    /// Whole nanoseconds, saturating; Serf puts durations on the wire as int64 nanoseconds.
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : ns.saturatingAdd(atto / 1_000_000_000)
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Scaled, saturating at the Int64 nanosecond range (a NaN factor gives zero).
    public static func * (d: Duration, k: Double) -> Duration {
        let product = Double(d.nanoseconds) * k
        guard !product.isNaN else { return .zero }
        // 2^63 is exactly representable; anything at or past it does not fit.
        if product >= 9_223_372_036_854_775_808.0 { return .nanoseconds(Int64.max) }
        if product <= -9_223_372_036_854_775_808.0 { return .nanoseconds(Int64.min) }
        return .nanoseconds(Int64(product))
    }

    /// `self` limited to `range`: peer-supplied timeouts become something the protocol can schedule.
    public func clamped(to range: ClosedRange<Duration>) -> Duration { min(max(self, range.lowerBound), range.upperBound) }
}
