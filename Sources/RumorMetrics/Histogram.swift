/// A fixed-bucket histogram of seconds (Prometheus's kind): counting is an index search and two additions, so it
/// can sit on a probe's or a handler's path.
public struct Histogram: Sendable, Hashable {
    /// Upper bounds, ascending; observations above the last fall in `+Inf` only.
    public let bounds: [Double]
    /// Observations per bucket (not cumulative).
    public private(set) var counts: [Int]
    public private(set) var sum: Double = 0
    public private(set) var count = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        sum += value
        count += 1
        if let i = bounds.firstIndex(where: { value <= $0 }) { counts[i] += 1 }
    }

    /// Network round trips: a LAN's 0.1 ms up to the probe timeout's range.
    public static func roundTrips() -> Histogram {
        Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])
    }

    /// Script and action runs: milliseconds to a minute.
    public static func runs() -> Histogram {
        Histogram(bounds: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60])
    }
}
