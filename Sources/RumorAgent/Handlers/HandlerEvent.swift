import RumorCore

/// Serf's member event types, named as in `SERF_EVENT` and handler filters.
public enum MemberEventType: String, CaseIterable, Hashable, Sendable {
    case join = "member-join"
    case leave = "member-leave"
    case failed = "member-failed"
    case update = "member-update"
    case reap = "member-reap"
}

extension Event {
    /// A member event as Serf names it, with its member; nil for any other event.
    public var memberChange: (MemberEventType, Member)? {
        switch self {
        case .memberJoined(let m): (.join, m)
        case .memberLeft(let m): (.leave, m)
        case .memberFailed(let m): (.failed, m)
        case .memberUpdated(let m): (.update, m)
        case .memberReaped(let m): (.reap, m)
        default: nil
        }
    }
}

/// A query as handlers see it, with the way to answer it.
public struct HandlerQuery: Sendable {
    public var ltime: UInt64
    public var id: UInt32
    public var name: String
    public var payload: [UInt8]
    /// Sends the reply; ``EventHandlers`` calls it at most once per query, on its event loop.
    public var respond: @Sendable ([UInt8]) -> Void

    public init(ltime: UInt64, id: UInt32, name: String, payload: [UInt8],
                respond: @escaping @Sendable ([UInt8]) -> Void) {
        self.ltime = ltime
        self.id = id
        self.name = name
        self.payload = payload
        self.respond = respond
    }
}

/// What handler scripts receive: after coalescing, one member event may carry several members.
public enum HandlerEvent: Sendable {
    case member(MemberEventType, [Member])
    case user(UserEvent)
    case query(HandlerQuery)
    /// An action's own event (`container-start`, ...): its type and the variables it adds to the environment.
    case action(type: String, environment: [String: String])

    /// Converts a core event; nil for events handlers never see (command outcomes, diagnostics, internal queries).
    public init?(_ event: Event, respond: @escaping @Sendable (_ ltime: UInt64, _ id: UInt32, [UInt8]) -> Void) {
        if let (type, m) = event.memberChange {
            self = .member(type, [m])
            return
        }
        switch event {
        case .userEvent(let e): self = .user(e)
        case .query(let q) where !q.name.hasPrefix("_serf_"):
            let (ltime, id) = (q.ltime, q.id)
            self = .query(HandlerQuery(ltime: ltime, id: id, name: q.name, payload: q.payload) { payload in
                respond(ltime, id, payload)
            })
        default: return nil
        }
    }

    /// The `SERF_EVENT` value.
    public var typeName: String {
        switch self {
        case .member(let type, _): type.rawValue
        case .user: "user"
        case .query: "query"
        case .action(let type, _): type
        }
    }
}

extension HandlerEvent: CustomStringConvertible {
    public var description: String {
        switch self {
        case .member(let type, let members): "\(type.rawValue) [\(members.map(\.name).joined(separator: ", "))]"
        case .user(let e): "user-event '\(e.name)' ltime \(e.ltime)"
        case .query(let q): "query '\(q.name)' ltime \(q.ltime) id \(q.id)"
        case .action(let type, let env): "\(type) \(env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        }
    }
}
