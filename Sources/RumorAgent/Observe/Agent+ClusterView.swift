import RumorApps
import RumorRuntime
import RumorCore
import RumorSupport
import RumorWire

/// `/v1/...`: the cluster as this node knows it, in JSON. Everything here is already gossiped (members, tags, app
/// records) or this node's own engine state; app specs are summarized, never with their `env` values.
extension Agent {
    func membersJSON() -> JSON {
        let (members, suspects, awareness) = runtime.withInstance { ($0.allMembers, $0.suspects, $0.awareness) }
        return .array(members.map { m in
            var fields: [(String, JSON)] = [
                ("name", .string(m.name)), ("addr", .string("\(m.address)")),
                ("status", .string(m.status == .alive && suspects.contains(m.name) ? "suspect" : m.status.description)),
                ("tags", .strings(m.tags)),
            ]
            if m.name == name { fields.append(("health_score", .number(Double(awareness)))) }
            return .object(fields)
        })
    }

    /// Each cluster-wide app: the record's facts, a summary of its spec, and its rollout.
    func appsJSON() -> JSON {
        let records = runtime.withInstance { $0.appRecords }.values.sorted { $0.name < $1.name }
        let members = coordinatorMembers()
        return .array(records.map { r in
            var fields: [(String, JSON)] = [
                ("app", .string(r.name)), ("state", .string(r.spec.isEmpty ? "stopped" : "deployed")),
                ("serial", .string(String(r.serial))), ("origin", .string(r.origin)),
                ("signed", .bool(!r.signer.isEmpty)),
            ]
            if let spec = try? AppSpec.parse(String(decoding: r.spec, as: UTF8.self), name: r.name, file: "the deployed spec") {
                fields += [("spec_hash", .string(StableHash.ofSpec(r.spec))), ("image", .string(spec.image)),
                           ("update_parallelism", .number(Double(spec.update.parallelism)))]
                if let replicas = spec.replicas { fields.append(("replicas", .number(Double(replicas)))) }
                if case .server(let n) = spec.containersPer, spec.replicas == nil { fields.append(("per_node", .number(Double(n)))) }
                if !spec.placement.isEmpty { fields.append(("placement", .strings(spec.placement))) }
            }
            if !r.spec.isEmpty { fields.append(("rollout", rolloutJSON(r, members: members))) }
            if !r.rollback.isEmpty { fields.append(("rollback", .string(r.rollback))) }
            return .object(fields)
        })
    }

    /// Containers per node: every node's ready ones from its `app:` tags and what it runs from its `run:` tags,
    /// and this node's own from its engine (state, health, id), which no tag carries.
    func containersJSON() -> JSON {
        let members = self.members()
        var local: JSON = .null
        if let appsProvider, let text = try? appsProvider(.ls, ""), let parsed = try? JSON.parse(text) { local = parsed }
        let rows: [JSON] = members.filter { $0.status == .alive || $0.status == .leaving }.map { m in
            var containers: [JSON] = []
            var runs: [(String, JSON)] = []
            for (key, value) in m.tags.sorted(by: { $0.key < $1.key }) {
                if key.hasPrefix(AppTag.prefix) {
                    let app = String(key.dropFirst(AppTag.prefix.count))
                    for e in AppTag.parse(value).endpoints {
                        containers.append(.object([
                            ("app", .string(app)), ("name", .string(AppSpec.containerName(app: app, slot: e.slot, node: m.name))),
                            ("slot", .number(Double(e.slot))),
                            ("endpoint", .string("\(HostPort(host: e.host ?? m.address.host, port: e.port))")),
                            ("ready", .bool(true)),
                        ]))
                    }
                } else if key.hasPrefix("run:"), let (hash, state, rule) = RunTag.parse(value) {
                    var run: [(String, JSON)] = [("template_hash", .string(hash)), ("state", .string(Self.runStateName(state)))]
                    if !rule.isEmpty { run.append(("refused", .string(rule))) }
                    runs.append((String(key.dropFirst(4)), .object(run)))
                }
            }
            return .object([("node", .string(m.name)), ("status", .string(m.status.description)),
                            ("runs_apps", .bool(m.tags[AppTag.runnerKey] != nil)),
                            ("containers", .array(containers)), ("runs", .object(runs))])
        }
        return .object([("node", .string(name)), ("nodes", .array(rows)), ("local", local)])
    }

    static func runStateName(_ state: RunTag.State) -> String {
        switch state {
        case .converged: "converged"
        case .progressing: "progressing"
        case .failed: "failing"
        case .refused: "refused"
        }
    }

    /// What the page polls: everything at once, events after `since`.
    func clusterJSON(since: Int) -> JSON {
        .object([
            ("node", .string(name)), ("version", .string(RumorVersion.number)),
            ("members", membersJSON()), ("apps", appsJSON()), ("containers", containersJSON()),
            ("events", observation.events.json(since: since)),
        ])
    }
}
