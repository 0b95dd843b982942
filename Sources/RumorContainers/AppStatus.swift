import RumorApps
import RumorSupport

/// What `rumor apps ls` and `rumor apps inspect` show about one app on this node.
struct AppStatus: Sendable {
    var app: String
    var image: String
    var specError: String?
    var engineError: String?
    var advertiseError: String?
    /// The worker has published its tag at least once.
    var advertised = false
    var wanted = 0
    var converged = false
    var containers: [ObservedContainer] = []
    var history: [Int: AppReconciler.SlotHistory] = [:]
    var spec: AppSpec?

    init(app: String, image: String) {
        self.app = app
        self.image = image
    }

    mutating func update(spec: AppSpec?, wanted: Int, observed: [ObservedContainer],
                         history: [Int: AppReconciler.SlotHistory], converged: Bool) {
        if let spec {
            image = spec.image
            self.spec = spec
        }
        self.wanted = wanted
        self.containers = observed.sorted { ($0.slot ?? 0, $0.name) < ($1.slot ?? 0, $1.name) }
        self.history = history
        self.converged = converged
    }

    /// The last error of the app: the spec, the engine, the tags, or the most recent slot failure.
    var lastError: String? {
        specError ?? engineError ?? advertiseError
            ?? history.sorted { $0.key < $1.key }.compactMap { $0.value.gaveUp ? "slot \($0.key) gave up: \($0.value.lastError ?? "")" : $0.value.lastError }.last
    }

    var json: JSON {
        var slots = Set(history.keys)
        for c in containers { if let s = c.slot { slots.insert(s) } }
        let rows: [JSON] = containers.map { c in
            let h = c.slot.flatMap { history[$0] }
            return .object([
                ("name", .string(c.name)), ("id", .string(String(c.id.prefix(12)))), ("slot", .number(Double(c.slot ?? 0))),
                ("state", .string(c.status)), ("health", .string(c.health.rawValue)),
                ("ports", .array((spec?.hostPorts(slot: c.slot ?? 0) ?? []).map { .number(Double($0)) })),
                ("restarts", .number(Double(h?.restarts ?? 0))), ("last_error", h?.lastError.map(JSON.string) ?? .null),
            ])
        }
        return .object([
            ("app", .string(app)), ("image", .string(image)), ("wanted", .number(Double(wanted))),
            ("running", .number(Double(containers.filter(\.running).count))),
            ("ready", .number(Double(containers.filter(\.isReady).count))), ("converged", .bool(converged)),
            ("last_error", lastError.map(JSON.string) ?? .null), ("containers", .array(rows)),
        ])
    }
}
