import RumorWire

/// Serf's network coordinates: each node keeps a Vivaldi coordinate, updated from the round-trip time of every
/// direct probe and the coordinate the peer put in its ack, so `serf rtt` can estimate the latency between any two
/// nodes. Same algorithm and constants as serf's `coordinate` package (8 dimensions, height, adjustment window,
/// gravity towards the origin, a median-of-3 latency filter per peer), so Rumor and serf nodes agree.
struct Vivaldi: Sendable {
    static let dimensions = 8
    static let errorMax = 1.5
    static let ce = 0.25
    static let cc = 0.25
    static let adjustmentWindow = 20
    static let heightMin = 10.0e-6
    static let latencyFilterSize = 3
    static let gravityRho = 150.0
    /// RTTs outside (0, 10 s] are not measurements.
    static let maxRTT: Duration = .seconds(10)

    private(set) var coordinate = Vivaldi.origin
    private var adjustmentSamples = [Double](repeating: 0, count: adjustmentWindow)
    private var adjustmentIndex = 0
    private var latencySamples: [String: [Double]] = [:]
    /// How many times the coordinate went invalid (NaN or infinite) and was reset; serf reports it in `info`.
    private(set) var resets = 0

    static var origin: Coordinate {
        Coordinate(vec: [Double](repeating: 0, count: dimensions), error: errorMax, adjustment: 0, height: heightMin)
    }

    enum Rejection: Error, CustomStringConvertible {
        case dimensions(Int)
        case invalid
        case rtt(Duration)

        var description: String {
            switch self {
            case .dimensions(let n): "coordinate has \(n) dimensions, expected \(Vivaldi.dimensions)"
            case .invalid: "coordinate is invalid"
            case .rtt(let d): "round trip time \(d) is not in (0, 10s]"
            }
        }
    }

    /// One observation: `node`, whose coordinate is `other`, answered a probe after `rtt`.
    mutating func update(node: String, other: Coordinate, rtt: Duration, rng: inout SplitMix64) throws(Rejection) {
        guard other.vec.count == Self.dimensions else { throw .dimensions(other.vec.count) }
        guard other.isValid else { throw .invalid }
        guard rtt >= .zero, rtt <= Self.maxRTT else { throw .rtt(rtt) }
        let seconds = filteredLatency(node, rtt.seconds)
        updateVivaldi(other, seconds, &rng)
        updateAdjustment(other, seconds)
        updateGravity(&rng)
        if !coordinate.isValid {
            resets += 1
            coordinate = Self.origin
        }
    }

    mutating func forget(_ node: String) { latencySamples[node] = nil }

    /// The median of the last few RTTs to `node`: one slow ack should not throw the coordinate off.
    private mutating func filteredLatency(_ node: String, _ seconds: Double) -> Double {
        var samples = latencySamples[node] ?? []
        samples.append(seconds)
        if samples.count > Self.latencyFilterSize { samples.removeFirst() }
        latencySamples[node] = samples
        return samples.sorted()[samples.count / 2]
    }

    private mutating func updateVivaldi(_ other: Coordinate, _ rtt: Double, _ rng: inout SplitMix64) {
        let rtt = max(rtt, Self.zero)
        let distance = coordinate.distance(to: other)
        let wrongness = abs(distance - rtt) / rtt
        let weight = coordinate.error / max(coordinate.error + other.error, Self.zero)
        coordinate.error = min(
            Self.ce * weight * wrongness + coordinate.error * (1 - Self.ce * weight), Self.errorMax)
        coordinate = coordinate.applying(force: Self.cc * weight * (rtt - distance), from: other, &rng)
    }

    /// A sliding mean of how far the measured RTTs are from the coordinate distance, which the Euclidean model
    /// cannot capture alone.
    private mutating func updateAdjustment(_ other: Coordinate, _ rtt: Double) {
        adjustmentSamples[adjustmentIndex] = rtt - coordinate.rawDistance(to: other)
        adjustmentIndex = (adjustmentIndex + 1) % Self.adjustmentWindow
        coordinate.adjustment = adjustmentSamples.reduce(0, +) / (2 * Double(Self.adjustmentWindow))
    }

    /// A weak pull towards the origin so the whole cluster's coordinates do not drift away together.
    private mutating func updateGravity(_ rng: inout SplitMix64) {
        let distance = Self.origin.distance(to: coordinate)
        let force = -1 * (distance / Self.gravityRho) * (distance / Self.gravityRho)
        coordinate = coordinate.applying(force: force, from: Self.origin, &rng)
    }

    static let zero = 1.0e-6
}

extension Coordinate {
    var isValid: Bool { (vec + [error, adjustment, height]).allSatisfy(\.isFinite) }

    /// Estimated RTT in seconds, adjustments included unless that would make it negative.
    func distance(to other: Coordinate) -> Double {
        let raw = rawDistance(to: other)
        let adjusted = raw + adjustment + other.adjustment
        return adjusted > 0 ? adjusted : raw
    }

    func rawDistance(to other: Coordinate) -> Double {
        magnitude(zip(vec, other.vec).map { $0 - $1 }) + height + other.height
    }

    /// Moves `force` seconds along the direction away from `other` (towards it when negative).
    func applying(force: Double, from other: Coordinate, _ rng: inout SplitMix64) -> Coordinate {
        var result = self
        let (unit, distance) = unitVector(from: other, &rng)
        result.vec = zip(vec, unit).map { $0 + $1 * force }
        if distance > Vivaldi.zero {
            result.height = max((height + other.height) * force / distance + height, Vivaldi.heightMin)
        }
        return result
    }

    /// The unit vector from `other` to us and the distance; coincident points get a random direction.
    private func unitVector(from other: Coordinate, _ rng: inout SplitMix64) -> ([Double], Double) {
        let difference = zip(vec, other.vec).map { $0 - $1 }
        let length = magnitude(difference)
        if length > Vivaldi.zero { return (difference.map { $0 / length }, length) }
        let random = vec.map { _ in Double.random(in: 0..<1, using: &rng) - 0.5 }
        let randomLength = magnitude(random)
        if randomLength > Vivaldi.zero { return (random.map { $0 / randomLength }, 0) }
        return ([1] + [Double](repeating: 0, count: max(vec.count - 1, 0)), 0)
    }

    private func magnitude(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
