import Logging
import NIOCore
import RumorApps
import RumorCore
import RumorRuntime
import RumorSupport
import RumorWire

/// Rolling deploys of cluster-wide apps (docs/membership.md#app-specs). A deploy that changes an app's
/// containers rolls across the nodes that run it in waves (``Rollout``: `update.parallelism`, `monitor`,
/// `failure_action`, `progress_deadline`), and every node follows it from its own view, with no manager: a node
/// runs the new spec once its wave has come and the previous spec (carried in the record) until then; what each
/// node runs, and whether it settled or keeps failing, is its `run:<app>` tag (``RunTag``). When a rollout fails
/// with `rollback`, every node that sees it goes back to the previous spec at once and re-deploys it as a rollback
/// record, so every other node, those that come later, and `rumor apps deploy --wait` learn it too.
/// A first deploy, a rollback and a change that keeps the containers (a scale) take effect everywhere at once.
struct AppRolloutState {
    let ltime: UInt64
    let origin: String
    let newHash: String
    var rollout: Rollout
    var decision: Rollout.Decision?
    /// This node re-deployed the previous spec already.
    var rolledBack = false
}

extension Agent {
    /// Seconds of the agent's monotonic clock, the time ``Rollout`` is fed.
    var rolloutNow: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    /// Steps the rollouts under way again: on member events and every second (monitor periods and deadlines end
    /// with no event). App changes call `updateRollouts` themselves.
    func followRollouts() {
        if !rollouts.isEmpty { updateRollouts() }
    }

    /// Steps every app's rollout with the current view and tells the container action when what this node should
    /// run changed.
    func updateRollouts() {
        let members = members()
        var run: [String: [UInt8]] = [:]
        for (app, record) in runtime.withInstance({ $0.appRecords }) {
            run[app] = spec(toRun: record, members: members)
        }
        if run != appsToRun {
            appsToRun = run
            for listener in appListeners { listener() }
        }
    }

    /// The rollout of `record` this node follows: the one under way, or a new one when the record replaces a spec
    /// with other containers (nil: it applies everywhere at once). The specs are parsed once per record.
    private func rolloutState(of record: AppRecord) -> AppRolloutState? {
        if let state = rollouts[record.name], state.ltime == record.ltime, state.origin == record.origin { return state }
        let app = record.name
        guard !record.spec.isEmpty, !record.previous.isEmpty, record.rollback.isEmpty,
            let new = try? AppSpec.parse(String(decoding: record.spec, as: UTF8.self), name: app, file: "the deployed spec"),
            let old = try? AppSpec.parse(String(decoding: record.previous, as: UTF8.self), name: app, file: "the previous spec"),
            new.templateHash != old.templateHash
        else { return nil }
        return AppRolloutState(ltime: record.ltime, origin: record.origin, newHash: new.templateHash,
                               rollout: Rollout(app: app, generation: Int(clamping: record.ltime), policy: new.update,
                                                startedAt: rolloutNow))
    }

    private func spec(toRun record: AppRecord, members: [Member]) -> [UInt8] {
        let app = record.name
        guard var state = rolloutState(of: record) else {
            rollouts[app] = nil
            return record.spec
        }
        let generation = state.rollout.generation
        var nodes: [String: Rollout.NodeState] = [:]
        for m in members where m.status == .alive && m.tags[Self.appsTag] != nil {
            guard let value = m.tags[RunTag.key(app: app)], let (hash, run, _) = RunTag.parse(value) else { continue }
            let current = hash == state.newHash
            nodes[m.name] = Rollout.NodeState(generation: current ? generation : 0, healthy: run == .converged ? 1 : 0,
                                              total: 1, failed: current && (run == .failed || run == .refused))
        }
        let decision = state.rollout.step(nodes: nodes, now: rolloutNow)
        if decision.status != state.decision?.status { logRollout(app, decision.status, generation: generation) }
        state.decision = decision
        // Whoever sees the failure first re-deploys the previous spec: often the failing node alone, which goes
        // back at once and so reports the failure only briefly. Several doing so is harmless: the records carry
        // the same spec, and every node keeps the same one of them.
        if case .rollingBack(let reason) = decision.status, !state.rolledBack {
            state.rolledBack = true
            let refused = refusals(of: app, templateHash: state.newHash, members: members)
            // Under the authority of the deploy it undoes (docs/apps-authority.md#rollback-without-a-key-on-any-worker):
            // its serial, so a newer deploy made meanwhile still wins, and its signature, which named this spec.
            runtime.submit(.deployApp(name: app, spec: record.previous,
                                      rollback: refused.isEmpty ? reason : "refused by " + refused.joined(separator: "; "),
                                      authority: AppAuthority(serial: record.serial, signer: record.signer, signature: record.signature)))
        }
        rollouts[app] = state
        switch decision.status {
        case .done: return record.spec
        case .progressing, .paused, .rollingBack: return decision.allowed.contains(name) ? record.spec : record.previous
        }
    }

    private func logRollout(_ app: String, _ status: Rollout.Status, generation: Int) {
        switch status {
        case .progressing(let wave, let of): logger.info("apps: \(app): rolling out generation \(generation): wave \(wave) of \(of)")
        case .done: logger.info("apps: \(app): generation \(generation) runs on every node")
        case .rollingBack(let reason): logger.warning("apps: \(app): rolling back generation \(generation): \(reason)")
        case .paused(let reason): logger.warning("apps: \(app): rollout of generation \(generation) paused: \(reason)")
        }
    }

    /// Nodes that run apps and refused this spec of the app (their `apps_allow`), as "node (rule)".
    func refusals(of app: String, templateHash: String, members: [Member]) -> [String] {
        members.filter { $0.status == .alive && $0.tags[Self.appsTag] != nil }.sorted { $0.name < $1.name }.compactMap { m in
            guard let (hash, run, rule) = m.tags[RunTag.key(app: app)].flatMap(RunTag.parse), hash == templateHash, run == .refused
            else { return nil }
            return "\(m.name) (apps_allow: \(rule))"
        }
    }

    /// The rollout's state for `rumor apps status` and `deploy --wait`: `progressing` (with the wave), `done`,
    /// `rolling back` or `paused` (with why). With no waves (a first deploy, a rollback, a scale) it is done once
    /// every alive node that runs apps and reports the app runs the deployed spec, settled.
    func rolloutJSON(_ record: AppRecord) -> JSON {
        var json = rolloutStateJSON(record)
        if case .object(var fields) = json, !record.spec.isEmpty,
            let spec = try? AppSpec.parse(String(decoding: record.spec, as: UTF8.self), name: record.name, file: "the deployed spec")
        {
            let refused = refusals(of: record.name, templateHash: spec.templateHash, members: members())
            if !refused.isEmpty { fields.append(("refused", .array(refused.map(JSON.string)))) }
            json = .object(fields)
        }
        return json
    }

    private func rolloutStateJSON(_ record: AppRecord) -> JSON {
        if let decision = rollouts[record.name]?.decision {
            switch decision.status {
            case .progressing(let wave, let of):
                return .object([("state", .string("progressing")), ("wave", .number(Double(wave))), ("waves", .number(Double(of)))])
            case .done: return .object([("state", .string("done"))])
            case .rollingBack(let reason): return .object([("state", .string("rolling back")), ("reason", .string(reason))])
            case .paused(let reason): return .object([("state", .string("paused")), ("reason", .string(reason))])
            }
        }
        guard !record.spec.isEmpty,
            let spec = try? AppSpec.parse(String(decoding: record.spec, as: UTF8.self), name: record.name, file: "the deployed spec")
        else { return .object([("state", .string("done"))]) }
        let runners = members().filter { $0.status == .alive && $0.tags[Self.appsTag] != nil }
        let reports = runners.compactMap { $0.tags[RunTag.key(app: record.name)].flatMap(RunTag.parse) }.map { ($0.templateHash, $0.state) }
        var settled = !reports.isEmpty && reports.allSatisfy { $0.0 == spec.templateHash && $0.1 == .converged }
        if let replicas = spec.replicas {  // a node's share is empty until it is stable: count what serves
            let ready = runners.map { AppTag.parse($0.tags[AppTag.key(app: record.name)] ?? "").endpoints.count }.reduce(0, +)
            settled = settled && ready >= replicas
        }
        return .object([("state", .string(settled ? "done" : "progressing"))])
    }
}
