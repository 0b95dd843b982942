import RumorCore

/// What goes into the snapshot, as a value fed with agent events and clock readings: it returns the record to
/// append (nil: nothing), and keeps the alive set and the last clocks a compaction writes out. No IO: the
/// `Snapshotter` appends what it returns. Serf's rules (serf/snapshot.go): member updates and reaps are not
/// recorded, clocks only when they grew, and nothing but clocks after a leave.
struct SnapshotRecorder {
    let rejoinAfterLeave: Bool
    private(set) var alive: OrderedAlive
    /// The last member clock recorded (one less than the core's current time, as Serf writes it).
    private(set) var clock: UInt64
    private(set) var eventClock: UInt64
    private(set) var queryClock: UInt64
    private(set) var leaving = false

    /// Continues from a replayed file, so the "only when it grew" checks and compaction start from it.
    init(initial: SnapshotState = SnapshotState(), rejoinAfterLeave: Bool) {
        self.rejoinAfterLeave = rejoinAfterLeave
        alive = OrderedAlive(initial.alive)
        clock = initial.memberClock
        eventClock = initial.eventClock
        queryClock = initial.queryClock
    }

    /// Member join → `alive:`, leave or failure → `not-alive:`, user event → `event-clock:`, query →
    /// `query-clock:`. A member record should be followed by the member clock (`memberClock`), as Serf does.
    mutating func record(_ event: Event) -> SnapshotRecord? {
        guard !leaving else { return nil }
        switch event {
        case .memberJoined(let m):
            let address = SnapshotFormat.goAddress(m.address)
            alive.set(m.name, address)
            return .alive(name: m.name, address: address)
        case .memberLeft(let m), .memberFailed(let m):
            alive.remove(m.name)
            return .notAlive(name: m.name)
        case .userEvent(let e):
            return userEvent(ltime: e.ltime)
        case .query(let q):
            return query(ltime: q.ltime)
        default:
            return nil
        }
    }

    /// `event-clock:` for a user event at `ltime`, if newer than the last one recorded.
    mutating func userEvent(ltime: UInt64) -> SnapshotRecord? {
        guard !leaving, ltime > eventClock else { return nil }
        eventClock = ltime
        return .eventClock(ltime)
    }

    /// `query-clock:` for a query at `ltime`, if newer than the last one recorded.
    mutating func query(ltime: UInt64) -> SnapshotRecord? {
        guard !leaving, ltime > queryClock else { return nil }
        queryClock = ltime
        return .queryClock(ltime)
    }

    /// Given the core's current member clock, `clock: member-1` if that grew (Serf's `updateClock`). Still
    /// recorded after a leave: Serf writes the last clock on shutdown.
    mutating func memberClock(_ member: UInt64) -> SnapshotRecord? {
        guard member > 0 else { return nil }
        let lastSeen = member - 1
        guard lastSeen > clock else { return nil }
        clock = lastSeen
        return .clock(lastSeen)
    }

    /// `leave`; afterwards events are no longer recorded and, unless rejoining after a leave, the alive set is
    /// forgotten.
    mutating func leave() -> SnapshotRecord {
        leaving = true
        if !rejoinAfterLeave { alive = OrderedAlive() }
        return .leave
    }
}
