import RumorCore
import RumorMetrics

/// A built-in action: something the agent keeps in step with the cluster's membership (HAProxy today, containers
/// next). The one seam every action implements, so the agent holds `[any AgentAction]` and never names an action:
/// adding one is a folder here and one line in the CLI's list of actions.
///
/// The agent calls, in order: `preflight()` before it starts (so a bad configuration stops start-up with a clear
/// error), `run()` in its own child task, `membersChanged` on every membership change, `reload()` on SIGHUP, and
/// `stop()` when the agent stops. Everything but `run()` returns at once and may be called from any thread.
public protocol AgentAction: AnyObject, Sendable {
    /// The action's key under `"actions"` in the configuration, and its name in logs.
    var name: String { get }
    /// Checks what can be checked before anything runs (configuration, templates, binaries); throws an error that
    /// names what is wrong.
    func preflight() throws
    /// Runs the action until `stop()` is called or the calling task is cancelled, then undoes what it started
    /// (stops the processes it runs) and returns. Throws only when the action cannot work at all; a failed step
    /// is logged and retried by the action itself.
    func run() async throws
    /// The current member list (all members, any status; the action selects). Never blocks.
    func membersChanged(_ members: [Member])
    /// SIGHUP: read the action's files again and apply. Never blocks.
    func reload()
    /// Makes `run()` finish. Never blocks.
    func stop()
    /// The agent left the cluster on purpose (a graceful leave, not a crash or a plain stop); called before `stop()`.
    /// An action that runs things for this node may take them down as `run()` finishes. Never blocks.
    func agentLeft()

    /// Returns once the action has published what it advertises about this node (its tags), so the agent joins
    /// with them: a restarted worker must not show up without its containers, or load balancers would drop them.
    /// The agent waits at most a few seconds. Runs while `run()` already runs.
    func ready() async

    /// Adds the action's families to the agent's `/metrics` (docs/observe.md). Never blocks.
    func metrics(_ out: inout MetricsText)
}

extension AgentAction {
    public func agentLeft() {}
    public func ready() async {}
    public func metrics(_ out: inout MetricsText) {}
}
