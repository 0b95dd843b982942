/// Lifeguard's dynamic suspicion timeout (Lifeguard §IV-B, memberlist `suspicion.go`).
///
/// A suspicion starts at `max` when enough independent confirmations are possible (`k >= 1`) and shrinks
/// logarithmically toward `min` as distinct peers confirm it, so a truly dead node is declared quickly while a
/// slow-but-alive node has time to refute.
struct Suspicion: Sendable {
    let start: Instant
    let k: Int
    let min: Duration
    let max: Duration
    private(set) var confirmations: Set<String>
    /// Bumped on every reset, so the timer that was scheduled before a reset is recognised as stale.
    private(set) var generation: UInt64
    private(set) var deadline: Instant

    init(from: String, k: Int, min: Duration, max: Duration, start: Instant, generation: UInt64) {
        self.start = start
        self.k = k
        self.min = min
        self.max = max
        self.confirmations = [from]
        self.generation = generation
        self.deadline = start + (k < 1 ? min : max)
    }

    /// Records a confirmation from `from`. Returns true if it was new (and the deadline moved), so the caller
    /// re-gossips the suspicion to help others confirm it too.
    mutating func confirm(from: String, generation next: UInt64) -> Bool {
        guard confirmations.count - 1 < k, !confirmations.contains(from) else { return false }
        confirmations.insert(from)
        generation = next
        deadline = start + Suspicion.timeout(confirmations: confirmations.count - 1, k: k, min: min, max: max)
        return true
    }

    /// `max - log(n+1)/log(k+1) * (max - min)`, floored to milliseconds and bounded below by `min`.
    static func timeout(confirmations n: Int, k: Int, min: Duration, max: Duration) -> Duration {
        let frac = CMath.log(Double(n) + 1) / CMath.log(Double(k) + 1)
        let raw = max.seconds - frac * (max.seconds - min.seconds)
        let t = Duration.milliseconds(Int64((1000 * raw).rounded(.down)))
        return t < min ? min : t
    }

    /// The lower bound: `mult * max(1, log10(max(1, n))) * interval`.
    static func minTimeout(mult: Int, nodes: Int, interval: Duration) -> Duration {
        let scale = Swift.max(1.0, CMath.log10(Swift.max(1.0, Double(nodes))))
        return interval * (Double(mult) * (scale * 1000).rounded(.down) / 1000)
    }
}
