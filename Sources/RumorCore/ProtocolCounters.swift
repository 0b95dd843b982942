import RumorMetrics
import RumorWire

/// What the protocol has done since start, for `/metrics`: plain integers the core bumps on paths it already takes
/// (an array index per message, no allocation), read by the agent when scraped. Memberlist's telemetry names are in
/// docs/observe.md beside each.
public struct ProtocolCounters: Sendable {
    /// Memberlist messages by `MessageType` raw value (a compound's parts each count; the compound itself not).
    public internal(set) var received = [Int](repeating: 0, count: 16)
    public internal(set) var sent = [Int](repeating: 0, count: 16)
    /// Own probes started, and those whose period ended with no ack (the target became suspect).
    public internal(set) var probes = 0
    public internal(set) var probesFailed = 0
    /// Direct acks' round trips (seconds), as memberlist's `probeNode` timing.
    public internal(set) var probeRoundTrips = Histogram.roundTrips()
    /// Push-pull exchanges this node started, and those that failed.
    public internal(set) var pushPulls = 0
    public internal(set) var pushPullsFailed = 0
    /// Input the core refused, by reason.
    public internal(set) var dropped: [DropReason: Int] = [:]

    public enum DropReason: String, Sendable, CaseIterable {
        /// Did not decode (packet, stream, Serf message or state).
        case malformed
        /// Decoded but not for us or not allowed where it came (a ping naming another node, push-pull over UDP).
        case unexpected
        /// A Lamport time at or past 2^63.
        case poisonedClock = "poisoned_clock"
    }

    public init() {}

    /// The message types worth a label (memberlist's names); the rest are envelopes.
    public static let messageTypes: [(MessageType, String)] = [
        (.ping, "ping"), (.indirectPing, "indirect_ping"), (.ack, "ack"), (.nack, "nack"), (.suspect, "suspect"),
        (.alive, "alive"), (.dead, "dead"), (.user, "user"), (.pushPull, "push_pull"), (.err, "err"),
    ]

    mutating func probeAcked(rtt: Duration) { probeRoundTrips.observe(rtt.seconds) }

    mutating func countSent(_ message: [UInt8]) {
        if let first = message.first, Int(first) < sent.count { sent[Int(first)] += 1 }
    }
}
