import RumorSupport
import RumorWire

/// Which spec this node runs of each cluster-wide app, and when a rolling deploy must roll back: decided from the
/// records, the members' tags and the time, with no IO and no clock of its own. The agent feeds it on every record
/// change, member event and second, and carries out what it returns (docs/architecture.md).
///
/// A deploy that changes an app's containers rolls across the nodes that run it in waves (``Rollout``:
/// `update.parallelism`, `monitor`, `failure_action`, `progress_deadline`), and every node follows it from its own
/// view, with no manager: a node runs the new spec once its wave has come and the previous spec (carried in the
/// record) until then; what each node runs, and whether it settled, keeps failing or refused the spec, is its
/// `run:<app>` tag (``RunTag``). When a rollout fails with `rollback`, every node that sees it goes back to the
/// previous spec at once and re-deploys it as a rollback record, under the deploy's authority
/// (docs/apps-authority.md), so every other node, those that come later, and `rumor apps deploy --wait` learn it.
/// A first deploy, a rollback and a change that keeps the containers (a scale) take effect everywhere at once.
public struct AppsCoordinator: Sendable {
    /// A member as the coordinator needs it.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var isAlive: Bool
        public var tags: [String: String]
        public init(name: String, isAlive: Bool, tags: [String: String]) {
            self.name = name
            self.isAlive = isAlive
            self.tags = tags
        }
        /// Alive and running apps (its `rumor:apps` tag): the nodes a rollout waits for.
        var runsApps: Bool { isAlive && tags[AppTag.runnerKey] != nil }
    }

    /// Deploy `spec` again as a rollback of `app`, with the serial and signature of the deploy it undoes.
    public struct Rollback: Sendable, Equatable {
        public var app: String
        public var spec: [UInt8]
        public var reason: String
        public var serial: UInt64
        public var signer: [UInt8]
        public var signature: [UInt8]
    }

    public struct Output: Sendable, Equatable {
        /// App → the spec this node runs now (empty: stopped).
        public var toRun: [String: [UInt8]] = [:]
        public var rollbacks: [Rollback] = []
        /// Rollouts whose status changed, for the log: app, generation, status.
        public var changes: [(app: String, generation: Int, status: Rollout.Status)] = []

        public static func == (a: Output, b: Output) -> Bool {
            a.toRun == b.toRun && a.rollbacks == b.rollbacks
                && a.changes.map { "\($0.app)#\($0.generation)#\($0.status)" } == b.changes.map { "\($0.app)#\($0.generation)#\($0.status)" }
        }
    }

    private struct Following: Sendable {
        let serial: UInt64
        let ltime: UInt64
        let origin: String
        let newHash: String
        var rollout: Rollout
        var decision: Rollout.Decision?
        /// This node asked for the rollback already.
        var rolledBack = false
    }

    /// This node's name: the waves say which nodes may run the new spec.
    public let node: String
    private var following: [String: Following] = [:]

    public init(node: String) { self.node = node }

    /// A rollout is under way (the agent steps the coordinator every second only then).
    public var isRollingOut: Bool { !following.isEmpty }

    public mutating func step(records: [String: AppRecord], members: [Member], now: Duration) -> Output {
        var out = Output()
        for (app, record) in records { out.toRun[app] = spec(toRun: record, members: members, now: now, out: &out) }
        following = following.filter { records[$0.key] != nil }
        return out
    }

    /// The rollout of `record` this node follows: the one under way, or a new one when the record replaces a spec
    /// with other containers (nil: it applies everywhere at once). A rollout's specs are parsed once; a record
    /// that applies at once is parsed again on each step (steps come every second only while a rollout is under way).
    private func rollout(of record: AppRecord, now: Duration) -> Following? {
        if let f = following[record.name], f.serial == record.serial, f.ltime == record.ltime, f.origin == record.origin { return f }
        guard !record.spec.isEmpty, !record.previous.isEmpty, record.rollback.isEmpty,
            let new = Self.parse(record.spec, record.name), let old = Self.parse(record.previous, record.name),
            new.templateHash != old.templateHash
        else { return nil }
        return Following(serial: record.serial, ltime: record.ltime, origin: record.origin, newHash: new.templateHash,
                         rollout: Rollout(app: record.name, generation: Int(clamping: record.ltime), policy: new.update, startedAt: now))
    }

    private mutating func spec(toRun record: AppRecord, members: [Member], now: Duration, out: inout Output) -> [UInt8] {
        let app = record.name
        guard var f = rollout(of: record, now: now) else {
            following[app] = nil
            return record.spec
        }
        let generation = f.rollout.generation
        var nodes: [String: Rollout.NodeState] = [:]
        for m in members where m.runsApps {
            guard let (hash, run, _) = m.tags[RunTag.key(app: app)].flatMap(RunTag.parse) else { continue }
            let current = hash == f.newHash
            nodes[m.name] = Rollout.NodeState(generation: current ? generation : 0, healthy: run == .converged ? 1 : 0,
                                              total: 1, failed: current && (run == .failed || run == .refused))
        }
        let decision = f.rollout.step(nodes: nodes, now: now)
        if decision.status != f.decision?.status { out.changes.append((app, generation, decision.status)) }
        f.decision = decision
        // Whoever sees the failure first re-deploys the previous spec: often the failing node alone, which goes
        // back at once and so reports the failure only briefly. Several doing so is harmless: the records carry
        // the same spec, and every node keeps the same one of them.
        if case .rollingBack(let reason) = decision.status, !f.rolledBack {
            f.rolledBack = true
            let refused = Self.refusals(of: app, templateHash: f.newHash, members: members)
            out.rollbacks.append(Rollback(app: app, spec: record.previous,
                                          reason: refused.isEmpty ? reason : "refused by " + refused.joined(separator: "; "),
                                          serial: record.serial, signer: record.signer, signature: record.signature))
        }
        following[app] = f
        switch decision.status {
        case .done: return record.spec
        case .progressing, .paused, .rollingBack: return decision.allowed.contains(node) ? record.spec : record.previous
        }
    }

    /// Nodes that run apps and refused this spec of the app (their `apps_allow`), as "node (apps_allow: rule)".
    public static func refusals(of app: String, templateHash: String, members: [Member]) -> [String] {
        members.filter(\.runsApps).sorted { $0.name < $1.name }.compactMap { m in
            guard let (hash, run, rule) = m.tags[RunTag.key(app: app)].flatMap(RunTag.parse), hash == templateHash, run == .refused
            else { return nil }
            return "\(m.name) (apps_allow: \(rule))"
        }
    }

    /// The rollout's state for `rumor apps status` and `deploy --wait`: `progressing` (with the wave), `done`,
    /// `rolling back` or `paused` (with why), and `refused` (the nodes whose `apps_allow` refused the spec). With no
    /// waves (a first deploy, a rollback, a scale) it is done once every alive node that runs apps and reports the
    /// app runs the deployed spec, settled, and `failed` (with why) while a node's containers of it keep failing;
    /// for a stop, once no node carries the app's tags.
    public func status(of record: AppRecord, members: [Member]) -> JSON {
        let spec = record.spec.isEmpty ? nil : Self.parse(record.spec, record.name)
        var fields: [(String, JSON)]
        if let decision = following[record.name]?.decision {
            switch decision.status {
            case .progressing(let wave, let of):
                fields = [("state", .string("progressing")), ("wave", .number(Double(wave))), ("waves", .number(Double(of)))]
            case .done: fields = [("state", .string("done"))]
            case .rollingBack(let reason): fields = [("state", .string("rolling back")), ("reason", .string(reason))]
            case .paused(let reason): fields = [("state", .string("paused")), ("reason", .string(reason))]
            }
        } else if let spec {
            let runners = members.filter(\.runsApps)
            let reports = runners.compactMap { $0.tags[RunTag.key(app: record.name)].flatMap(RunTag.parse) }
            var settled = !reports.isEmpty && reports.allSatisfy { $0.templateHash == spec.templateHash && $0.state == .converged }
            func ready(_ m: Member) -> Int { AppTag.parse(m.tags[AppTag.key(app: record.name)] ?? "").endpoints.count }
            if let replicas = spec.replicas {  // a node's share is empty until it is stable: count what serves
                settled = settled && runners.map(ready).reduce(0, +) >= replicas
            } else if case .server(let n) = spec.containersPer, spec.advertisedPort(slot: 1) != nil {
                // A scale keeps the template: count what each matching node advertises (its count is known).
                settled = settled && runners.filter { spec.isPlaced(onNodeWithTags: $0.tags) }.allSatisfy { ready($0) == (spec.running ? n : 0) }
            }
            fields = [("state", .string(settled ? "done" : "progressing"))]
            // No rollout to roll back (a first deploy, a scale): a node whose containers keep failing ends the wait.
            let failing = runners.filter { m in
                m.tags[RunTag.key(app: record.name)].flatMap(RunTag.parse).map { $0.templateHash == spec.templateHash && $0.state == .failed } ?? false
            }.map(\.name).sorted()
            if !failing.isEmpty {
                fields = [("state", .string("failed")), ("reason", .string("\(failing.joined(separator: ", ")): its containers keep failing (rumor apps ls on the node says why)"))]
            }
        } else {
            fields = [("state", .string("done"))]
        }
        if let spec {
            let refused = Self.refusals(of: record.name, templateHash: spec.templateHash, members: members)
            if !refused.isEmpty { fields.append(("refused", .array(refused.map(JSON.string)))) }
        } else {
            // A stop is done once no alive node carries the app's tags: a worker clears them after removing the
            // containers.
            let holding = members.filter { $0.isAlive && ($0.tags[AppTag.key(app: record.name)] != nil || $0.tags[RunTag.key(app: record.name)] != nil) }
            fields = [("state", .string(holding.isEmpty ? "done" : "progressing"))]
            if !holding.isEmpty { fields.append(("holding", .array(holding.map { .string($0.name) }.sorted { ($0.stringValue ?? "") < ($1.stringValue ?? "") }))) }
        }
        return .object(fields)
    }

    static func parse(_ bytes: [UInt8], _ app: String) -> AppSpec? {
        try? AppSpec.parse(String(decoding: bytes, as: UTF8.self), name: app, file: "the deployed spec")
    }
}
