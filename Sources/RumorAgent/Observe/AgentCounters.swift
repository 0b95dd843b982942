/// What the agent saw of the cluster since start (`/metrics`), counted as events are dispatched: Serf's
/// `serf.member.*`, `serf.events` and `serf.queries`, and the app records this node's trust refused.
struct AgentCounters: Sendable {
    var memberEvents: [MemberEventType: Int] = [:]
    var userEvents = 0
    var queries = 0
    var appChanges = 0
    var appRefusals = 0
    /// Container events the container action fired, by app and event (`container-replaced`, ...).
    var containerEvents: [String: [String: Int]] = [:]
}
