/// memberlist message type bytes (docs/protocol.md#message-types).
///
/// This list is append-only and shared with every memberlist node in the world: never renumber a case.
public enum MessageType: UInt8, Sendable {
    case ping = 0
    case indirectPing = 1
    case ack = 2
    case suspect = 3
    case alive = 4
    case dead = 5
    case pushPull = 6
    case compound = 7
    case user = 8
    case compress = 9
    case encrypt = 10
    case nack = 11
    case hasCRC = 12
    case err = 13
}

/// The version vector every Serf agent advertises: memberlist [min 1, max 5, cur 2], Serf [min 2, max 5, cur 5].
/// Advertising anything else risks "protocol version is incompatible" rejections (docs/protocol.md#versions).
public let defaultVersionVector: [UInt8] = [1, 5, 2, 2, 5, 5]

public struct Ping: Sendable, Hashable {
    /// The intended recipient's name; a node ignores pings naming someone else (catches stale address reuse).
    public var node: String
    public var seqNo: UInt32
    public var sourceAddr: [UInt8]
    public var sourceNode: String
    public var sourcePort: UInt16

    public init(node: String, seqNo: UInt32, sourceAddr: [UInt8] = [], sourceNode: String = "", sourcePort: UInt16 = 0) {
        self.node = node
        self.seqNo = seqNo
        self.sourceAddr = sourceAddr
        self.sourceNode = sourceNode
        self.sourcePort = sourcePort
    }
}

public struct IndirectPing: Sendable, Hashable {
    public var nack: Bool
    public var node: String
    public var port: UInt16
    public var seqNo: UInt32
    public var sourceAddr: [UInt8]
    public var sourceNode: String
    public var sourcePort: UInt16
    public var target: [UInt8]

    public init(
        nack: Bool, node: String, port: UInt16, seqNo: UInt32, sourceAddr: [UInt8] = [], sourceNode: String = "",
        sourcePort: UInt16 = 0, target: [UInt8]
    ) {
        self.nack = nack
        self.node = node
        self.port = port
        self.seqNo = seqNo
        self.sourceAddr = sourceAddr
        self.sourceNode = sourceNode
        self.sourcePort = sourcePort
        self.target = target
    }
}

public struct Ack: Sendable, Hashable {
    /// Serf puts a network coordinate here; an empty payload is accepted and skipped by Serf.
    public var payload: [UInt8]
    public var seqNo: UInt32

    public init(seqNo: UInt32, payload: [UInt8] = []) {
        self.seqNo = seqNo
        self.payload = payload
    }
}

public struct Nack: Sendable, Hashable {
    public var seqNo: UInt32
    public init(seqNo: UInt32) { self.seqNo = seqNo }
}

public struct Suspect: Sendable, Hashable {
    public var from: String
    public var incarnation: UInt32
    public var node: String
    public init(incarnation: UInt32, node: String, from: String) {
        self.from = from
        self.incarnation = incarnation
        self.node = node
    }
}

public struct Alive: Sendable, Hashable {
    public var addr: [UInt8]
    public var incarnation: UInt32
    public var meta: [UInt8]
    public var node: String
    public var port: UInt16
    /// Always 6 bytes: pmin, pmax, pcur, dmin, dmax, dcur.
    public var vsn: [UInt8]

    public init(incarnation: UInt32, node: String, addr: [UInt8], port: UInt16, meta: [UInt8], vsn: [UInt8] = defaultVersionVector) {
        self.addr = addr
        self.incarnation = incarnation
        self.meta = meta
        self.node = node
        self.port = port
        self.vsn = vsn
    }
}

public struct Dead: Sendable, Hashable {
    /// Equal to `node` for a graceful leave: receivers then record the node as *left*, not dead.
    public var from: String
    public var incarnation: UInt32
    public var node: String
    public init(incarnation: UInt32, node: String, from: String) {
        self.from = from
        self.incarnation = incarnation
        self.node = node
    }
}

/// One node's entry in a push-pull state exchange.
public struct PushNodeState: Sendable, Hashable {
    public enum State: Int64, Sendable {
        case alive = 0
        case suspect = 1
        case dead = 2
        case left = 3
    }

    public var addr: [UInt8]
    public var incarnation: UInt32
    public var meta: [UInt8]
    public var name: String
    public var port: UInt16
    public var state: State
    public var vsn: [UInt8]

    public init(name: String, addr: [UInt8], port: UInt16, meta: [UInt8], incarnation: UInt32, state: State, vsn: [UInt8]) {
        self.addr = addr
        self.incarnation = incarnation
        self.meta = meta
        self.name = name
        self.port = port
        self.state = state
        self.vsn = vsn
    }
}

/// A push-pull message: header, node states, then the Serf delegate's opaque state bytes (docs/protocol.md#push-pull).
public struct PushPull: Sendable, Hashable {
    public var join: Bool
    public var nodes: [PushNodeState]
    public var userState: [UInt8]

    public init(join: Bool, nodes: [PushNodeState], userState: [UInt8]) {
        self.join = join
        self.nodes = nodes
        self.userState = userState
    }
}

/// Any single memberlist message, after the containers (compound, compress, CRC) have been unwrapped.
public enum MemberlistMessage: Sendable, Hashable {
    case ping(Ping)
    case indirectPing(IndirectPing)
    case ack(Ack)
    case nack(Nack)
    case suspect(Suspect)
    case alive(Alive)
    case dead(Dead)
    case pushPull(PushPull)
    /// A Serf message: the bytes after memberlist's type byte, opaque to memberlist.
    case user([UInt8])
    /// An error reply on a stream.
    case err(String)

    /// The type byte it travels under.
    public var type: MessageType {
        switch self {
        case .ping: .ping
        case .indirectPing: .indirectPing
        case .ack: .ack
        case .nack: .nack
        case .suspect: .suspect
        case .alive: .alive
        case .dead: .dead
        case .pushPull: .pushPull
        case .user: .user
        case .err: .err
        }
    }
}
