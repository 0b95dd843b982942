import RumorCore
import RumorMetrics

/// Handler runs since start, for `/metrics` (Serf has no such telemetry; its nearest is `serf.events`): runs by
/// event type, failed runs (a non-zero exit, a signal, a timeout, or never started), and how long runs took.
public struct HandlerCounters: Sendable {
    public internal(set) var runs: [String: Int] = [:]
    public internal(set) var failures = 0
    public internal(set) var durations = Histogram.runs()

    mutating func record(event: String, _ result: ScriptResult) {
        runs[event, default: 0] += 1
        if !result.succeeded { failures += 1 }
        durations.observe(result.duration.seconds)
    }
}
