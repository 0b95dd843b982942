import RumorCore

/// What a template sees. Plain dictionaries and arrays, which swift-mustache walks without reflection tricks.
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
    ) -> [String: Any] {
        var slotByMember: [String: Int] = [:]
        for (i, slot) in table.slots.enumerated() {
            if let m = slot.member { slotByMember[m.name] = i }
        }

        var backendList: [[String: Any]] = []
        for b in backends where b.status == .alive {
            var entry = memberFields(b)
            entry["index"] = backendList.count
            if let i = slotByMember[b.name] {
                entry["slot"] = i + 1
                entry["server"] = SlotTable.serverName(index: i)
            }
            backendList.append(entry)
        }

        var slotList: [[String: Any]] = []
        for (i, slot) in table.slots.enumerated() {
            var entry: [String: Any]
            if let m = slot.member {
                entry = memberFields(m)
            } else {
                entry = [
                    "name": "", "address": placeholderAddress, "port": configuration.defaultPort,
                    "tags": [String: String](), "tag_list": [[String: String]](), "status": "none",
                ]
            }
            entry["slot"] = i + 1
            entry["index"] = i
            entry["server"] = SlotTable.serverName(index: i)
            entry["used"] = slot.member != nil
            entry["free"] = slot.member == nil
            entry["ready"] = slot.member != nil && slot.state == .ready
            entry["draining"] = slot.member != nil && slot.state == .drain
            entry["state"] = slot.state.rawValue
            slotList.append(entry)
        }

        return [
            "backends": backendList,
            "count": backendList.count,
            "slots": slotList,
            "slot_count": slotList.count,
            "self": ["name": sanitize(localName), "tags": sanitize(localTags), "tag_list": tagList(localTags)]
                as [String: Any],
            "backend_name": configuration.backendName,
            "frontend_bind": configuration.frontendBind,
            "stats_bind": configuration.statsBind,
            "stats_socket": configuration.statsSocket,
            "master_socket": configuration.masterSocket,
            "check_path": configuration.checkPath,
            "mode": configuration.apply.rawValue,
            "runtime": configuration.apply == .runtime,
            "template": templateName,
            "vars": sanitize(configuration.vars),
        ]
    }

    private static func memberFields(_ m: BackendMember) -> [String: Any] {
        [
            "name": sanitize(m.name),
            "address": m.host,
            "port": m.port,
            "tags": sanitize(m.tags),
            "tag_list": tagList(m.tags),
            "status": m.status.description,
        ]
    }

    private static func tagList(_ tags: [String: String]) -> [[String: String]] {
        tags.sorted { $0.key < $1.key }.map { ["key": sanitize($0.key), "value": sanitize($0.value)] }
    }

    private static func sanitize(_ tags: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in tags { out[sanitize(k)] = sanitize(v) }
        return out
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
