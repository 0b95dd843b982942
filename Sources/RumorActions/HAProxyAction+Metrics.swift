import RumorCore
import RumorMetrics

extension HAProxyAction {
    /// HAProxy's servers as this action last applied them, and how it applied changes (docs/observe.md).
    public func metrics(_ m: inout MetricsText) {
        let s = statistics
        m.family("rumor_haproxy_servers", .gauge, "HAProxy server slots after the last apply: ready (routing), draining, free (placeholders).")
        m.sample("rumor_haproxy_servers", [("state", "ready")], s.servers.ready)
        m.sample("rumor_haproxy_servers", [("state", "draining")], s.servers.draining)
        m.sample("rumor_haproxy_servers", [("state", "free")], s.servers.free)
        m.family("rumor_haproxy_applies_total", .counter, "Changes applied to HAProxy, by how: runtime API only, reload, or a start.")
        m.sample("rumor_haproxy_applies_total", [("how", "runtime")], s.runtimeApplies)
        m.sample("rumor_haproxy_applies_total", [("how", "reload")], s.reloads)
        m.sample("rumor_haproxy_applies_total", [("how", "start")], s.starts)
        m.single("rumor_haproxy_rejected_total", .counter, "Renders HAProxy's check rejected (the running config stayed).", Double(s.rejected))
        m.single("rumor_haproxy_restarts_total", .counter, "HAProxy restarts after it died.", Double(s.restarts))
        m.single("rumor_haproxy_last_apply_seconds", .gauge, "Time from a membership change to HAProxy applying it, last time.",
                 s.lastApplyLatency?.seconds ?? 0)
    }
}
