import RumorWire

/// A member's status as Serf reports it. The numbering matches Serf's `MemberStatus` (0 is "none").
///
/// Legal transitions: alive → leaving → left (graceful), alive → failed (detected), failed → left (force-leave),
/// leaving → alive (a newer join intent), failed/left → alive (it came back). Left and failed members are erased
/// (member-reap) after the tombstone and reconnect timeouts.
public enum MemberStatus: Int, Sendable, Hashable, CustomStringConvertible {
    case none = 0
    case alive = 1
    case leaving = 2
    case left = 3
    case failed = 4

    public var description: String {
        switch self {
        case .none: "none"
        case .alive: "alive"
        case .leaving: "leaving"
        case .left: "left"
        case .failed: "failed"
        }
    }

    public init?(name: String) {
        switch name {
        case "none": self = .none
        case "alive": self = .alive
        case "leaving": self = .leaving
        case "left": self = .left
        case "failed": self = .failed
        default: return nil
        }
    }
}

/// A cluster member as the agent, RPC and event handlers see it.
public struct Member: Sendable, Hashable {
    public var name: String
    public var address: Address
    public var tags: [String: String]
    public var status: MemberStatus
    /// memberlist [min, max, cur] then Serf [min, max, cur].
    public var vsn: [UInt8]

    public init(name: String, address: Address, tags: [String: String], status: MemberStatus, vsn: [UInt8]) {
        self.name = name
        self.address = address
        self.tags = tags
        self.status = status
        self.vsn = vsn.count >= 6 ? vsn : defaultVersionVector
    }

    public var protocolMin: UInt8 { vsn[0] }
    public var protocolMax: UInt8 { vsn[1] }
    public var protocolCur: UInt8 { vsn[2] }
    public var delegateMin: UInt8 { vsn[3] }
    public var delegateMax: UInt8 { vsn[4] }
    public var delegateCur: UInt8 { vsn[5] }
}
