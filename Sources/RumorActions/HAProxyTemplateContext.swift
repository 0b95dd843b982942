import RumorCore

/// What a template sees: maps, lists and scalars.
///
/// - `backends`: selected alive members sorted by name, each with `name`, `address` (IP), `port`, `tags` (map),
///   `tag_list` ([{key, value}] sorted by key), `status`, `index` (0-based), `slot` (1-based) and `server` (srvN).
/// - `count`: how many backends.
/// - `slots`: every server slot: `slot`, `server`, `used`/`free`, `ready`/`draining`, `state` (ready, drain,
///   maint), and the member's `name`, `address`, `port`, `tags`, `tag_list` (a placeholder address when free).
/// - `slot_count`, `self` {name, tags, tag_list}, `backend_name`, `frontend_bind`, `stats_bind`, `stats_socket`,
///   `master_socket`, `check_path`, `mode` (apply mode), `runtime` (Bool), `template`, `vars`.
///
/// Member-supplied strings (names, tags) have control characters replaced, so a tag cannot inject config lines.
struct HAProxyTemplateContext {
    /// Where a free slot points. It is disabled, so HAProxy never connects there.
    static let placeholderAddress = "127.0.0.1"

    static func make(
        configuration: HAProxyActionConfiguration,
        table: SlotTable,
        backends: [BackendMember],
        localName: String,
        localTags: [String: String],
        templateName: String
    ) -> MustacheValue {
        var slotByMember: [String: Int] = [:]
        for (i, slot) in table.slots.enumerated() {
            if let m = slot.member { slotByMember[m.name] = i }
        }

        var backendList: [MustacheValue] = []
        for b in backends where b.status == .alive {
            var entry = memberFields(b)
            entry["index"] = .int(backendList.count)
            if let i = slotByMember[b.name] {
                entry["slot"] = .int(i + 1)
                entry["server"] = .string(SlotTable.serverName(index: i))
            }
            backendList.append(.map(entry))
        }

        var slotList: [MustacheValue] = []
        for (i, slot) in table.slots.enumerated() {
            var entry: [String: MustacheValue]
            if let m = slot.member {
                entry = memberFields(m)
            } else {
                entry = [
                    "name": "", "address": .string(placeholderAddress), "port": .int(configuration.defaultPort),
                    "tags": [:], "tag_list": [], "status": "none",
                ]
            }
            entry["slot"] = .int(i + 1)
            entry["index"] = .int(i)
            entry["server"] = .string(SlotTable.serverName(index: i))
            entry["used"] = .bool(slot.member != nil)
            entry["free"] = .bool(slot.member == nil)
            entry["ready"] = .bool(slot.member != nil && slot.state == .ready)
            entry["draining"] = .bool(slot.member != nil && slot.state == .drain)
            entry["state"] = .string(slot.state.rawValue)
            slotList.append(.map(entry))
        }

        return [
            "backends": .list(backendList),
            "count": .int(backendList.count),
            "slots": .list(slotList),
            "slot_count": .int(slotList.count),
            "self": ["name": .string(sanitize(localName)), "tags": sanitize(localTags), "tag_list": tagList(localTags)],
            "backend_name": .string(configuration.backendName),
            "frontend_bind": .string(configuration.frontendBind),
            "stats_bind": .string(configuration.statsBind),
            "stats_socket": .string(configuration.statsSocket),
            "master_socket": .string(configuration.masterSocket),
            "check_path": .string(configuration.checkPath),
            "mode": .string(configuration.apply.rawValue),
            "runtime": .bool(configuration.apply == .runtime),
            "template": .string(templateName),
            "vars": sanitize(configuration.vars),
        ]
    }

    private static func memberFields(_ m: BackendMember) -> [String: MustacheValue] {
        [
            "name": .string(sanitize(m.name)),
            "address": .string(m.host),
            "port": .int(m.port),
            "tags": sanitize(m.tags),
            "tag_list": tagList(m.tags),
            "status": .string(m.status.description),
        ]
    }

    private static func tagList(_ tags: [String: String]) -> MustacheValue {
        .list(tags.sorted { $0.key < $1.key }.map { .map(["key": .string(sanitize($0.key)), "value": .string(sanitize($0.value))]) })
    }

    private static func sanitize(_ tags: [String: String]) -> MustacheValue {
        var out: [String: MustacheValue] = [:]
        for (k, v) in tags { out[sanitize(k)] = .string(sanitize(v)) }
        return .map(out)
    }

    /// Replaces control characters (newlines above all) with "_".
    static func sanitize(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { isControl($0) ? "_" : $0 }))
    }

    private static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || s.value == 0x7f || (0x80..<0xa0).contains(s.value) || s == "\u{2028}" || s == "\u{2029}"
    }
}
