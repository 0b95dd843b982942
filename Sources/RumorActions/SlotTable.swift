import RumorCore

/// Server state as HAProxy's runtime API spells it (`set server B/S state ready|drain|maint`).
enum SlotState: String, Sendable, Hashable {
    case ready, drain, maint
}

/// One pre-declared HAProxy server (`srv1`, `srv2`, ...) and the member it currently stands for.
struct ServerSlot: Sendable, Hashable {
    /// nil when the slot is free (rendered as a disabled placeholder, `maint` at runtime).
    var member: BackendMember?
    var state: SlotState = .maint
    /// When the slot entered `drain`, to free it after the drain timeout.
    var drainingSince: ContinuousClock.Instant?

    static let free = ServerSlot(member: nil, state: .maint, drainingSince: nil)
}

/// The assignment of members to server slots. Assignments are sticky (a member keeps its slot while it exists) so
/// a membership change touches only the slots of the members that changed: that is what lets runtime mode push
/// changes through the runtime API instead of reloading, and keeps HAProxy's per-server state (stats, sticky
/// cookies, health) attached to the same member.
struct SlotTable: Sendable, Hashable {
    /// Index 0 is `srv1`.
    var slots: [ServerSlot]

    init(count: Int) {
        slots = Array(repeating: .free, count: count)
    }

    static func serverName(index: Int) -> String { "srv\(index + 1)" }

    var usedCount: Int { slots.count { $0.member != nil } }

    /// The table after `backends` (selected members, alive or leaving) arrived at `now`.
    /// Alive members get or keep a ready slot; a leaving member's slot drains (until `drainTimeout`, then it is
    /// freed); a member that is gone, left or failed frees its slot at once. When every slot is taken the table
    /// doubles, which changes the rendered structure and so costs one reload.
    func planned(
        for backends: [BackendMember], now: ContinuousClock.Instant, drainTimeout: Duration, minimumSlots: Int
    ) -> SlotTable {
        var next = self
        if next.slots.count < minimumSlots {
            next.slots += Array(repeating: .free, count: minimumSlots - next.slots.count)
        }
        var byName: [String: BackendMember] = [:]
        for b in backends { byName[b.name] = b }
        var placed: Set<String> = []

        for i in next.slots.indices {
            guard let current = next.slots[i].member else { continue }
            guard let member = byName[current.name], !placed.contains(current.name) else {
                next.slots[i] = .free
                continue
            }
            placed.insert(member.name)
            switch member.status {
            case .alive:
                next.slots[i] = ServerSlot(member: member, state: .ready, drainingSince: nil)
            default:
                let since = next.slots[i].drainingSince ?? now
                if now - since >= drainTimeout {
                    next.slots[i] = .free
                } else {
                    next.slots[i] = ServerSlot(member: member, state: .drain, drainingSince: since)
                }
            }
        }

        // New members take the lowest free slot; a leaving member that never had a slot gets none.
        var freeIndices = next.slots.indices.filter { next.slots[$0].member == nil }[...]
        for member in backends where member.status == .alive && !placed.contains(member.name) {
            if freeIndices.isEmpty {
                let oldCount = next.slots.count
                next.slots += Array(repeating: .free, count: max(oldCount, 1))
                freeIndices = Array(oldCount..<next.slots.count)[...]
            }
            let i = freeIndices.removeFirst()
            next.slots[i] = ServerSlot(member: member, state: .ready, drainingSince: nil)
            placed.insert(member.name)
        }
        return next
    }

    /// The earliest moment a draining slot must be freed, so the pipeline can wake up for it.
    func nextDrainExpiry(drainTimeout: Duration) -> ContinuousClock.Instant? {
        slots.compactMap { $0.state == .drain ? $0.drainingSince.map { $0 + drainTimeout } : nil }.min()
    }

    /// Runtime API commands that turn HAProxy's servers from `old` into `self`, for slots both tables have.
    /// Address changes come before the state change so a slot is never ready at a stale address.
    func runtimeCommands(from old: SlotTable, backend: String) -> [String] {
        var commands: [String] = []
        for i in slots.indices {
            let o = i < old.slots.count ? old.slots[i] : .free
            let n = slots[i]
            let server = "\(backend)/\(Self.serverName(index: i))"
            guard let member = n.member else {
                if o.member != nil { commands.append("set server \(server) state maint") }
                continue
            }
            let moved = o.member == nil || o.member?.host != member.host || o.member?.port != member.port
            if moved { commands.append("set server \(server) addr \(member.host) port \(member.port)") }
            if moved || o.member == nil || o.state != n.state {
                commands.append("set server \(server) state \(n.state.rawValue)")
            }
        }
        return commands
    }

    /// A slot's server that HAProxy does not have (`show servers state` lacks it).
    struct MissingServer: Error, Equatable {
        var server: String
    }

    /// Runtime API commands that make HAProxy's servers, as `show servers state` reports them (`actual`), match
    /// this table whatever HAProxy loaded: after a start or reload, and when someone changed servers by hand.
    func reconcileCommands(actual: [String: ServerRuntimeState], backend: String) throws(MissingServer) -> [String] {
        var commands: [String] = []
        for (i, slot) in slots.enumerated() {
            let name = Self.serverName(index: i)
            guard let server = actual[name] else { throw MissingServer(server: name) }
            if let member = slot.member {
                let moved = server.address != member.host || server.port != member.port
                if moved {
                    commands.append("set server \(backend)/\(name) addr \(member.host) port \(member.port)")
                }
                if moved || server.state != slot.state {
                    commands.append("set server \(backend)/\(name) state \(slot.state.rawValue)")
                }
            } else if server.state != .maint {
                commands.append("set server \(backend)/\(name) state maint")
            }
        }
        return commands
    }
}
