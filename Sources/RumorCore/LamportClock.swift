/// Serf's Lamport clock: `witness(v)` moves past any time seen, `increment()` ticks for a local event.
///
/// The clock's end (docs/membership.md#lamport-clocks-end): peers cannot push it there, because the core refuses
/// any peer-supplied time at or above ``ceiling`` (2^63: a cluster sending a million events a second reaches it in
/// 292,000 years), with a warning naming the message. Local ticks saturate at `UInt64.max` instead of trapping
/// or wrapping. serf's clock is a Go `uint64` with atomic add, so there it wraps to 0: one event at 2^64-1 makes
/// every node that witnesses it send its next events at tiny times, which the others then drop as old.
public struct LamportClock: Sendable, Hashable {
    public private(set) var time: UInt64 = 0
    public init() {}

    /// Peer-supplied Lamport times at or above this are refused (see above).
    public static let ceiling: UInt64 = 1 << 63

    @discardableResult
    public mutating func increment() -> UInt64 {
        time = time.saturatingAdd(1)
        return time
    }

    public mutating func witness(_ v: UInt64) {
        if v >= time { time = v.saturatingAdd(1) }
    }
}

extension Instance {
    /// True when a peer's Lamport time is below ``LamportClock/ceiling``; otherwise warns naming `what` carried it.
    mutating func admitLTime(_ ltime: UInt64, in what: @autoclosure () -> String) -> Bool {
        guard ltime >= LamportClock.ceiling else { return true }
        drop(.poisonedClock, "refused \(what()) with Lamport time \(ltime): at or above 2^63, no cluster gets there (a poisoned clock?)")
        return false
    }

    /// Serf's recent-message rings (user events, queries): the slot of `ltime`, or nil for a time before `minTime`
    /// or older than the ring reaches back from `clock` (logged as "received old ...").
    mutating func recentSlot(_ ltime: UInt64, clock: LamportClock, minTime: UInt64, ring: Int,
                             what: @autoclosure () -> String) -> Int? {
        if ltime < minTime { return nil }
        let window = UInt64(ring)
        let current = clock.time
        if current > window && ltime < current - window {
            warn("received old \(what()) (ltime \(ltime), current \(current))")
            return nil
        }
        return Int(ltime % window)
    }
}
