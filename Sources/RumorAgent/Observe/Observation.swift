import RumorMetrics

/// What the agent keeps so a person can see the cluster (docs/observe.md): counters, recent events, the HTTP
/// listener, and the metrics actions add. Lives on the agent's event loop.
struct Observation {
    var counters = AgentCounters()
    var events = ClusterEventLog()
    var http: HTTPServer?
    /// Families the built-in actions add to `/metrics` (containers, HAProxy servers).
    var metricsSources: [@Sendable (inout MetricsText) -> Void] = []
}
