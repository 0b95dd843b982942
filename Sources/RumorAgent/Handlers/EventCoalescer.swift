import RumorCore

/// One coalescing window's timing (Serf's `CoalescePeriod` and `QuiescentPeriod`): a burst is flushed after
/// `quiescent` without new events, or `period` after it began, whichever comes first. Either being zero disables
/// coalescing, as in Serf.
public struct CoalescePeriods: Hashable, Sendable {
    public var period: Duration
    public var quiescent: Duration
    public init(period: Duration, quiescent: Duration) {
        self.period = period
        self.quiescent = quiescent
    }
    /// The agent's defaults for both member and user events: 3 s at most, 1 s of quiet.
    public static let serfDefault = CoalescePeriods(period: .seconds(3), quiescent: .seconds(1))
    public static let disabled = CoalescePeriods(period: .zero, quiescent: .zero)
    public var isEnabled: Bool { period > .zero && quiescent > .zero }
}

/// The open burst of one coalescer, if any.
struct CoalesceWindow: Hashable, Sendable {
    var periods: CoalescePeriods
    var quantumEnd: Instant?
    var quiescentEnd: Instant?

    mutating func touch(_ now: Instant) {
        if quantumEnd == nil { quantumEnd = now + periods.period }
        quiescentEnd = now + periods.quiescent
    }

    var deadline: Instant? {
        guard let quantumEnd, let quiescentEnd else { return nil }
        return min(quantumEnd, quiescentEnd)
    }

    func isDue(_ now: Instant) -> Bool { deadline.map { now >= $0 } ?? false }

    mutating func close() { (quantumEnd, quiescentEnd) = (nil, nil) }
}

/// Serf's member-event coalescer: per member only the latest type in a burst survives; it is dropped if it is what
/// was last sent for that member (updates excepted); survivors are grouped into one event per type.
struct MemberCoalescer: Sendable {
    var window: CoalesceWindow
    private var latest: [(type: MemberEventType, member: Member)] = []
    private var index: [String: Int] = [:]
    private(set) var lastSent: [String: MemberEventType] = [:]
    /// When events last went out (a flush, or a leading-edge delivery).
    private var lastOut: Instant?

    /// No burst open and nothing out for a quiet period: the next event may go out at once (leading edge).
    func isIdle(_ now: Instant) -> Bool {
        window.deadline == nil && (lastOut.map { now >= $0 + window.periods.quiescent } ?? true)
    }

    /// The leading edge: this event alone, now, as a burst of one; what follows within the quiet period coalesces.
    mutating func deliverNow(_ type: MemberEventType, _ members: [Member], now: Instant) -> [HandlerEvent] {
        add(type, members, now: now)
        let out = flush()
        lastOut = now
        return out
    }

    init(periods: CoalescePeriods) { window = CoalesceWindow(periods: periods) }

    mutating func add(_ type: MemberEventType, _ members: [Member], now: Instant) {
        window.touch(now)
        for m in members {
            if let i = index[m.name] {
                latest[i] = (type, m)
            } else {
                index[m.name] = latest.count
                latest.append((type, m))
            }
        }
    }

    /// Ends the burst. Unlike Serf we also forget the burst's events, which Serf keeps by mistake (so it re-sends
    /// every member's last update with each later burst).
    mutating func flush() -> [HandlerEvent] {
        var groups: [(type: MemberEventType, members: [Member])] = []
        for (type, member) in latest {
            if let previous = lastSent[member.name], previous == type, type != .update { continue }
            // A reaped member is gone for good: forgetting it keeps this map as small as the member list.
            lastSent[member.name] = type == .reap ? nil : type
            if let g = groups.firstIndex(where: { $0.type == type }) {
                groups[g].members.append(member)
            } else {
                groups.append((type, [member]))
            }
        }
        latest.removeAll()
        index.removeAll()
        lastOut = window.deadline ?? lastOut
        window.close()
        return groups.map { .member($0.type, $0.members) }
    }
}

/// Serf's user-event coalescer (for events sent with coalescing on): per name only the highest LTime of the burst
/// is delivered, with every event at that LTime.
struct UserCoalescer: Sendable {
    var window: CoalesceWindow
    private var names: [String] = []
    private var latest: [String: (ltime: UInt64, events: [UserEvent])] = [:]

    init(periods: CoalescePeriods) { window = CoalesceWindow(periods: periods) }

    mutating func add(_ event: UserEvent, now: Instant) {
        window.touch(now)
        guard let current = latest[event.name] else {
            names.append(event.name)
            latest[event.name] = (event.ltime, [event])
            return
        }
        if event.ltime > current.ltime {
            latest[event.name] = (event.ltime, [event])
        } else if event.ltime == current.ltime {
            latest[event.name]?.events.append(event)
        }
    }

    mutating func flush() -> [HandlerEvent] {
        let out = names.flatMap { latest[$0]?.events ?? [] }.map(HandlerEvent.user)
        names.removeAll()
        latest.removeAll()
        window.close()
        return out
    }
}

/// The agent's event pipeline before handlers (docs/agent.md#coalescing), a pure state machine: feed events and time,
/// deliver what comes out, and call ``advance(to:)`` at ``nextDeadline``. No clocks, so it is testable with fake
/// times.
public struct EventCoalescer: Sendable {
    private var members: MemberCoalescer
    private var users: UserCoalescer
    /// Member events after a quiet period go out at once, and only what follows waits for the burst to end
    /// (`coalesce_leading_edge`, docs/agent.md#coalescing). Off: Serf's behaviour, every event waits.
    private let leadingEdge: Bool

    public init(member: CoalescePeriods = .serfDefault, user: CoalescePeriods = .serfDefault, leadingEdge: Bool = false) {
        members = MemberCoalescer(periods: member)
        users = UserCoalescer(periods: user)
        self.leadingEdge = leadingEdge
    }

    /// Takes one event at `now`; returns what must be delivered now: bursts that were already due, then the event
    /// itself if it is not coalesced (queries, user events without coalescing, or with coalescing disabled).
    public mutating func ingest(_ event: HandlerEvent, now: Instant) -> [HandlerEvent] {
        var out = advance(to: now)
        switch event {
        case .member(let type, let list) where members.window.periods.isEnabled:
            if leadingEdge && members.isIdle(now) {
                out += members.deliverNow(type, list, now: now)
            } else {
                members.add(type, list, now: now)
            }
        case .user(let e) where e.coalesce && users.window.periods.isEnabled:
            users.add(e, now: now)
        default:
            out.append(event)
        }
        return out
    }

    /// Flushes the bursts whose deadline is at or before `now`.
    public mutating func advance(to now: Instant) -> [HandlerEvent] {
        var out: [HandlerEvent] = []
        if users.window.isDue(now) { out += users.flush() }
        if members.window.isDue(now) { out += members.flush() }
        return out
    }

    /// Flushes everything regardless of time (shutdown).
    public mutating func flushAll() -> [HandlerEvent] {
        var out: [HandlerEvent] = []
        if users.window.deadline != nil { out += users.flush() }
        if members.window.deadline != nil { out += members.flush() }
        return out
    }

    /// When ``advance(to:)`` next has something to flush; nil when no burst is open.
    public var nextDeadline: Instant? {
        [members.window.deadline, users.window.deadline].compactMap { $0 }.min()
    }
}
