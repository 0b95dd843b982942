import RumorSupport

/// A new generation of an app rolling across the nodes that run it, as one node follows it: nodes take it in
/// waves of `update.parallelism`, ordered by a hash of (app#generation, node) so every node computes the same
/// waves and each deploy starts somewhere else; the next wave may start once every node of the previous ones has
/// been healthy on the new generation for `update.monitor`. A node whose new containers failed, or no node settling
/// for `update.progress_deadline`, ends the rollout with `update.failure_action`: roll back (every node goes back
/// to the previous spec: the driver re-deploys it as a newer version, so the decision spreads like any deploy),
/// pause (updated nodes stay, the others wait for the next deploy) or continue (the failure is noted and ignored).
/// Pure: fed with what the nodes report and the time; it keeps only when each node became healthy.
public struct Rollout: Sendable {
    /// One node's app as it reports it (tags or a query): the generation its containers run and their health.
    public struct NodeState: Sendable, Equatable {
        public var generation: Int
        public var healthy: Int
        public var total: Int
        /// Its containers of `generation` failed for good (gave up restarting, or never became healthy).
        public var failed: Bool

        public init(generation: Int, healthy: Int, total: Int, failed: Bool = false) {
            self.generation = generation
            self.healthy = healthy
            self.total = total
            self.failed = failed
        }
    }

    public enum Status: Sendable, Equatable {
        case progressing(wave: Int, of: Int)
        case done
        /// Every node should go back to the previous spec.
        case rollingBack(reason: String)
        case paused(reason: String)
    }

    public struct Decision: Sendable, Equatable {
        /// Nodes that may run the new generation now; the others keep (or go back to) the previous one.
        public var allowed: Set<String> = []
        public var status: Status
        /// Failures that `continue` let pass, by node.
        public var ignored: [String: String] = [:]
        /// Ask again by then even if no node reports anything (a monitor period or the deadline ends).
        public var wakeAt: Duration?
    }

    public let app: String
    public let generation: Int
    public let policy: AppSpec.UpdatePolicy
    /// A rollback's own rollout: if it fails too it pauses rather than rolling back again (Swarm does the same).
    public let isRollback: Bool
    private var healthySince: [String: Duration] = [:]
    private var lastProgress: Duration
    private var settledBefore = 0
    private var ignored: [String: String] = [:]
    private var ended: Status?

    public init(app: String, generation: Int, policy: AppSpec.UpdatePolicy, isRollback: Bool = false, startedAt: Duration) {
        self.app = app
        self.generation = generation
        self.policy = policy
        self.isRollback = isRollback
        lastProgress = startedAt
    }

    /// The order nodes take `generation` in: the same on every node, different for each generation.
    public static func order(app: String, generation: Int, nodes: some Sequence<String>) -> [String] {
        let key = StableHash.fnv1a("\(app)#\(generation)")
        return nodes.map { ($0, StableHash.weight(key: key, node: StableHash.nodeKey($0))) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            .map(\.0)
    }

    /// - Parameter nodes: every node that runs the app (alive and matching), with what it reports.
    public mutating func step(nodes: [String: NodeState], now: Duration) -> Decision {
        let updated = Set(nodes.filter { $0.value.generation == generation }.keys)
        if let ended { return decision(ended, updated: updated, all: Set(nodes.keys)) }

        for (name, state) in nodes {
            if state.generation == generation, !state.failed, state.healthy >= state.total {
                healthySince[name] = healthySince[name] ?? now
            } else {
                healthySince[name] = nil
            }
        }
        let failures = nodes.filter { $0.value.generation == generation && $0.value.failed && ignored[$0.key] == nil }
        if let (name, _) = failures.min(by: { $0.key < $1.key }) {
            let reason = "\(name): its containers of generation \(generation) failed"
            if let end = end(reason) { return decision(end, updated: updated, all: Set(nodes.keys)) }
            for failed in failures.keys { ignored[failed] = "its containers of generation \(generation) failed" }
        }

        func settled(_ name: String) -> Bool {
            ignored[name] != nil || healthySince[name].map { now - $0 >= policy.monitor } ?? false
        }
        let order = Self.order(app: app, generation: generation, nodes: nodes.keys)
        let parallelism = max(1, policy.parallelism)
        let waves = stride(from: 0, to: order.count, by: parallelism).map { Array(order[$0..<min($0 + parallelism, order.count)]) }
        var result = Decision(status: .done, ignored: ignored)
        result.allowed = updated
        var current: Int?
        for (index, wave) in waves.enumerated() {
            result.allowed.formUnion(wave)
            if !wave.allSatisfy(settled) {
                current = index
                break
            }
        }
        let settledCount = order.filter(settled).count
        if settledCount > settledBefore {
            (settledBefore, lastProgress) = (settledCount, now)
        }
        guard let current else {
            ended = .done
            return decision(.done, updated: updated, all: Set(nodes.keys))
        }
        if now - lastProgress >= policy.progressDeadline {
            let reason = "no node settled for \(GoDuration.format(policy.progressDeadline)) (\(settledCount) of \(order.count) done)"
            if let end = end(reason) { return decision(end, updated: updated, all: Set(nodes.keys)) }
            lastProgress = now  // continue: give the next nodes a deadline of their own
        }
        result.status = .progressing(wave: current + 1, of: waves.count)
        result.wakeAt = lastProgress + policy.progressDeadline
        for name in waves[current] {
            if let since = healthySince[name], now - since < policy.monitor {
                result.wakeAt = min(result.wakeAt!, since + policy.monitor)
            }
        }
        return result
    }

    /// The end `failure_action` gives a failure, or nil for `continue`.
    private mutating func end(_ reason: String) -> Status? {
        switch (policy.failureAction, isRollback) {
        case (.rollback, false): ended = .rollingBack(reason: reason)
        case (.rollback, true): ended = .paused(reason: "rollback failed too: \(reason)")
        case (.pause, _): ended = .paused(reason: reason)
        case (.continue, _): return nil
        }
        return ended
    }

    private func decision(_ status: Status, updated: Set<String>, all: Set<String>) -> Decision {
        var d = Decision(status: status, ignored: ignored)
        switch status {
        case .done: d.allowed = all
        case .paused: d.allowed = updated
        case .rollingBack, .progressing: d.allowed = []
        }
        return d
    }
}
