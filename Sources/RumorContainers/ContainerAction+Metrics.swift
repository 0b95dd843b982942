import NIOConcurrencyHelpers
import RumorApps
import RumorMetrics

extension ContainerAction {
    /// This node's app containers by engine state and health, what each app wants here, and the restarts its slots
    /// made (docs/observe.md).
    public func metrics(_ m: inout MetricsText) {
        let statuses = shared.withLockedValue { $0.workers }.sorted { $0.key < $1.key }.map { $0.value.status.withLockedValue { $0 } }
        m.family("rumor_app_containers", .gauge, "This node's containers of each app by engine state and health.")
        for s in statuses {
            var counts: [String: [String: Int]] = [:]
            for c in s.containers { counts[c.status, default: [:]][c.health.rawValue, default: 0] += 1 }
            for (state, byHealth) in counts.sorted(by: { $0.key < $1.key }) {
                for (health, n) in byHealth.sorted(by: { $0.key < $1.key }) {
                    m.sample("rumor_app_containers", [("app", s.app), ("state", state), ("health", health)], n)
                }
            }
        }
        m.family("rumor_app_containers_wanted", .gauge, "Containers of each app this node should run now.")
        for s in statuses { m.sample("rumor_app_containers_wanted", [("app", s.app)], s.wanted) }
        m.family("rumor_app_restarts", .gauge, "Restarts the slots of each app have made on this node (rumor apps ls's restarts, summed).")
        for s in statuses { m.sample("rumor_app_restarts", [("app", s.app)], s.history.values.reduce(0) { $0 + $1.restarts }) }
    }
}
