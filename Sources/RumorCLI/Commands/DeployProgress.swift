import RumorApps
import RumorSupport

/// What `rumor apps deploy|scale|stop|rollback --wait` says while it waits, from the app's status (`apps status`):
/// on a terminal one line whenever something changed (the wave, nodes and containers ready of total, whom it waits
/// for); in any case a summary at the end. Pure: fed the status each poll.
struct DeployProgress {
    let app: String
    /// The spec being rolled out; nil for a stop.
    let spec: AppSpec?
    private var last = ""
    private(set) var waves = 0
    private(set) var ready = (ready: 0, wanted: 0)

    init(app: String, spec: AppSpec?) {
        self.app = app
        self.spec = spec
    }

    /// The line for this status, or nil when it says what the last one said.
    mutating func line(_ status: JSON) -> String? {
        let text = describe(status)
        guard text != last else { return nil }
        last = text
        return text
    }

    func describe(_ status: JSON) -> String {
        let rollout = status["rollout"]
        let nodes = (status["nodes"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == "alive" }
        guard let spec else {
            let holding = (rollout?["holding"]?.arrayValue ?? []).compactMap(\.stringValue)
            return holding.isEmpty ? "\(app): stopping" : "\(app): stopping, removing on \(holding.joined(separator: ", "))"
        }
        let ours = spec.templateHash
        var parts: [String] = []
        if let wave = rollout?["wave"]?.intValue { parts.append("wave \(wave) of \(rollout?["waves"]?.intValue ?? 0)") }
        let settled = nodes.filter { $0["template_hash"]?.stringValue == ours && $0["run"]?.stringValue == "converged" }
        parts.append("nodes \(settled.count)/\(nodes.count) on it")
        let (containers, wanted) = Self.containers(nodes, ours: ours, spec: spec)
        parts.append("containers \(containers)/\(wanted) ready")
        let waiting = nodes.filter { n in !settled.contains { $0["node"] == n["node"] } }.compactMap { n -> String? in
            guard let name = n["node"]?.stringValue else { return nil }
            let why = n["template_hash"]?.stringValue != ours ? "previous spec" : n["run"]?.stringValue ?? "no report yet"
            return "\(name) (\(why))"
        }
        if !waiting.isEmpty { parts.append("waiting for " + waiting.prefix(5).joined(separator: ", ") + (waiting.count > 5 ? ", …" : "")) }
        return "\(app): " + parts.joined(separator: " · ")
    }

    /// Containers ready on nodes running the new spec, and how many the spec wants (replicas, or per node).
    static func containers(_ nodes: [JSON], ours: String, spec: AppSpec) -> (ready: Int, wanted: Int) {
        let ready = nodes.filter { $0["template_hash"]?.stringValue == ours }.reduce(0) { $0 + ($1["ready"]?.arrayValue?.count ?? 0) }
        let wanted: Int
        if let replicas = spec.replicas { wanted = spec.running ? replicas : 0 }
        else if case .server(let n) = spec.containersPer { wanted = spec.running ? n * nodes.filter { $0["template_hash"] != nil }.count : 0 }
        else { wanted = ready }
        return (ready, wanted)
    }

    /// Notes the status the wait ended on, for the summary.
    mutating func finish(_ status: JSON) {
        if let spec {
            ready = Self.containers((status["nodes"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == "alive" },
                                    ours: spec.templateHash, spec: spec)
        }
    }

    mutating func sawWave(_ n: Int) { waves = max(waves, n) }

    func summary(seconds: Double) -> String {
        let took = (seconds * 10).rounded() / 10
        guard spec != nil else { return "\(app): stopped on every node, in \(took) s" }
        var parts: [String] = []
        if waves > 0 { parts.append("\(waves) wave\(waves == 1 ? "" : "s")") }
        parts.append("\(ready.ready) of \(ready.wanted) containers ready")
        return "\(app): rolled out on every node: \(parts.joined(separator: ", ")), in \(took) s"
    }
}
