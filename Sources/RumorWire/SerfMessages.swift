/// Serf message type bytes, in memberlist user messages as `[8][serfType][msgpack]` (docs/protocol.md#serf-messages).
/// Append-only, shared with every Serf node.
public enum SerfMessageType: UInt8, Sendable {
    case leave = 0
    case join = 1
    case pushPull = 2
    case userEvent = 3
    case query = 4
    case queryResponse = 5
    case conflictResponse = 6
    case keyRequest = 7
    case keyResponse = 8
    case relay = 9
}

public struct JoinIntent: Sendable, Hashable {
    public var ltime: UInt64
    public var node: String
    public init(ltime: UInt64, node: String) {
        self.ltime = ltime
        self.node = node
    }
}

public struct LeaveIntent: Sendable, Hashable {
    public var ltime: UInt64
    public var node: String
    /// Erase the member at once (`force-leave -prune`) instead of keeping a tombstone.
    public var prune: Bool
    public init(ltime: UInt64, node: String, prune: Bool = false) {
        self.ltime = ltime
        self.node = node
        self.prune = prune
    }
}

public struct UserEventMessage: Sendable, Hashable {
    /// "Can coalesce": handlers may receive only the newest event of this name in a burst.
    public var cc: Bool
    public var ltime: UInt64
    public var name: String
    /// `nil` is encoded as msgpack nil, as Go does for a nil slice.
    public var payload: [UInt8]?
    public init(ltime: UInt64, name: String, payload: [UInt8]?, cc: Bool) {
        self.cc = cc
        self.ltime = ltime
        self.name = name
        self.payload = payload
    }
}

public struct QueryMessage: Sendable, Hashable {
    public static let flagAck: UInt32 = 1
    public static let flagNoBroadcast: UInt32 = 2

    public var addr: [UInt8]
    /// Each entry is `[filterType][msgpack]`: 0 = node names, 1 = `{Expr, Tag}`. `nil` means no filters.
    public var filters: [[UInt8]]?
    public var flags: UInt32
    public var id: UInt32
    public var ltime: UInt64
    public var name: String
    public var payload: [UInt8]?
    public var port: UInt16
    public var relayFactor: UInt8
    public var sourceNode: String
    /// Nanoseconds.
    public var timeout: Int64

    public init(
        ltime: UInt64, id: UInt32, addr: [UInt8], port: UInt16, sourceNode: String, filters: [[UInt8]]?, flags: UInt32,
        relayFactor: UInt8, timeout: Int64, name: String, payload: [UInt8]?
    ) {
        self.addr = addr
        self.filters = filters
        self.flags = flags
        self.id = id
        self.ltime = ltime
        self.name = name
        self.payload = payload
        self.port = port
        self.relayFactor = relayFactor
        self.sourceNode = sourceNode
        self.timeout = timeout
    }
}

public struct QueryResponseMessage: Sendable, Hashable {
    public static let flagAck: UInt32 = 1

    public var flags: UInt32
    public var from: String
    public var id: UInt32
    public var ltime: UInt64
    public var payload: [UInt8]?
    public init(ltime: UInt64, id: UInt32, from: String, flags: UInt32, payload: [UInt8]?) {
        self.flags = flags
        self.from = from
        self.id = id
        self.ltime = ltime
        self.payload = payload
    }
}

/// Query filters, decoded from `QueryMessage.filters` entries.
public enum QueryFilter: Sendable, Hashable {
    case nodes([String])
    /// Go RE2 regular expression matched (unanchored) against our value of `tag`.
    case tag(name: String, expression: String)
}

/// One slot of Serf's recent-event ring, as carried in push-pull state.
public struct UserEventCollection: Sendable, Hashable {
    public struct Event: Sendable, Hashable {
        public var name: String
        public var payload: [UInt8]?
        public init(name: String, payload: [UInt8]?) {
            self.name = name
            self.payload = payload
        }
    }
    public var events: [Event]
    public var ltime: UInt64
    public init(ltime: UInt64, events: [Event]) {
        self.events = events
        self.ltime = ltime
    }
}

/// Serf's push-pull delegate state (docs/protocol.md#serf-push-pull).
public struct SerfPushPull: Sendable, Hashable {
    public var eventLTime: UInt64
    /// The whole recent-event ring; Serf sends 512 slots, mostly nil.
    public var events: [UserEventCollection?]
    public var ltime: UInt64
    public var leftMembers: [String]
    public var queryLTime: UInt64
    public var statusLTimes: [String: UInt64]
    /// Rumor's cluster-wide app specs (`RumorApps`, only when there are any): Serf's decoder skips keys it does not
    /// know, so serf agents take the rest of the state as before (docs/protocol.md#rumor-apps).
    public var rumorApps: [AppRecord]

    public init(
        ltime: UInt64, statusLTimes: [String: UInt64], leftMembers: [String], eventLTime: UInt64,
        events: [UserEventCollection?], queryLTime: UInt64, rumorApps: [AppRecord] = []
    ) {
        self.rumorApps = rumorApps
        self.eventLTime = eventLTime
        self.events = events
        self.ltime = ltime
        self.leftMembers = leftMembers
        self.queryLTime = queryLTime
        self.statusLTimes = statusLTimes
    }
}

/// Where a relay node forwards a query response (docs/protocol.md#relay).
public struct RelayHeader: Sendable, Hashable {
    public var destAddr: [UInt8]
    public var destPort: UInt16
    public var destZone: String
    public var destName: String
    public init(destAddr: [UInt8], destPort: UInt16, destName: String, destZone: String = "") {
        self.destAddr = destAddr
        self.destPort = destPort
        self.destZone = destZone
        self.destName = destName
    }
}

public struct KeyRequest: Sendable, Hashable {
    public var key: [UInt8]
    public init(key: [UInt8]) { self.key = key }
}

public struct KeyResponse: Sendable, Hashable {
    public var keys: [String]?
    public var message: String
    public var primaryKey: String
    public var result: Bool
    public init(result: Bool, message: String, keys: [String]?, primaryKey: String) {
        self.keys = keys
        self.message = message
        self.primaryKey = primaryKey
        self.result = result
    }
}

/// A Serf member as carried in conflict responses (docs/protocol.md#serf-bodies).
public struct SerfMemberRecord: Sendable, Hashable {
    public var addr: [UInt8]
    public var delegateCur: UInt8, delegateMax: UInt8, delegateMin: UInt8
    public var name: String
    public var port: UInt16
    public var protocolCur: UInt8, protocolMax: UInt8, protocolMin: UInt8
    /// 0 none, 1 alive, 2 leaving, 3 left, 4 failed.
    public var status: Int64
    public var tags: [String: String]

    public init(name: String, addr: [UInt8], port: UInt16, tags: [String: String], status: Int64, vsn: [UInt8]) {
        self.name = name
        self.addr = addr
        self.port = port
        self.tags = tags
        self.status = status
        let v = vsn.count >= 6 ? vsn : defaultVersionVector
        (protocolMin, protocolMax, protocolCur) = (v[0], v[1], v[2])
        (delegateMin, delegateMax, delegateCur) = (v[3], v[4], v[5])
    }
}

/// Any Serf message, decoded from a memberlist user message.
public enum SerfMessage: Sendable, Hashable {
    case leave(LeaveIntent)
    case join(JoinIntent)
    case pushPull(SerfPushPull)
    case userEvent(UserEventMessage)
    case query(QueryMessage)
    case queryResponse(QueryResponseMessage)
    /// A relay: forward `payload` (a complete Serf message, type byte included) to `header.destAddr`.
    case relay(RelayHeader, payload: [UInt8])
}

/// One app's spec as deployed cluster-wide: the newest (`serial`, then a rollback over what it rolls back, then
/// `ltime`, `origin` and `spec`) wins everywhere.
public struct AppRecord: Sendable, Hashable {
    public var name: String
    /// Raised by whoever deploys (and covered by the signature): a replayed older deploy never wins, whatever
    /// Lamport time it is re-sent under (docs/apps-authority.md). 0 in records from before signing existed.
    public var serial: UInt64
    /// The member Lamport clock's time of the deploy.
    public var ltime: UInt64
    /// The node that deployed it.
    public var origin: String
    /// The spec's JSON; empty when the app was stopped cluster-wide (a tombstone, so the stop spreads too).
    public var spec: [UInt8]
    /// The spec this deploy replaced (empty: none, a first deploy): nodes not yet in the rollout's wave keep
    /// running it, and a rollback goes back to it. Carried with the record so any node can roll back, even one
    /// that never ran it.
    public var previous: [UInt8]
    /// Non-empty: this deploy is a rollback, and why (every node takes it at once, with no waves).
    public var rollback: String
    /// The Ed25519 public key that signed it, and the signature (both empty: unsigned).
    public var signer: [UInt8]
    public var signature: [UInt8]

    public init(name: String, serial: UInt64 = 0, ltime: UInt64, origin: String, spec: [UInt8], previous: [UInt8] = [],
                rollback: String = "", signer: [UInt8] = [], signature: [UInt8] = []) {
        self.name = name
        self.serial = serial
        self.ltime = ltime
        self.origin = origin
        self.spec = spec
        self.previous = previous
        self.rollback = rollback
        self.signer = signer
        self.signature = signature
    }

    /// Whether this record replaces `other` (same app): a total order, so every node keeps the same one. At one
    /// serial a rollback wins over the deploy it undoes (it carries that deploy's serial and signature).
    public func supersedes(_ other: AppRecord) -> Bool {
        if serial != other.serial { return serial > other.serial }
        if rollback.isEmpty != other.rollback.isEmpty { return !rollback.isEmpty }
        if ltime != other.ltime { return ltime > other.ltime }
        if origin != other.origin { return origin > other.origin }
        return other.spec.lexicographicallyPrecedes(spec)
    }

    /// The serial a new deploy of an app takes: past the current one, and at least the deploy time in
    /// milliseconds, so a deployer whose agent knows nothing yet still outranks what the cluster runs.
    public static func nextSerial(after current: UInt64, unixMilliseconds: UInt64) -> UInt64 {
        max(current == .max ? current : current + 1, unixMilliseconds)
    }
}
