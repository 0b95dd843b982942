import HashTreeCollections
import RumorWire

/// One Rumor node's protocol state: SWIM membership with Lifeguard (the memberlist layer) and Serf's member,
/// intent and event layer on top, as one value.
///
/// The instance is a pure state machine. Every input (a packet, a stream, a fired timer, a local command) arrives
/// with the current instant through ``handle(_:at:)`` and returns the effects to carry out: packets to send,
/// streams to open, timers to schedule and events to emit. It never reads a clock, never does IO and takes its
/// randomness from an injected seed, so the simulator can run thousands of them deterministically.
///
/// Vocabulary (from SWIM and Lifeguard): a *probe* pings one member per *protocol period*; a missed ack leads to
/// *indirect probes* through `indirectChecks` peers and then *suspicion*; a suspected node *refutes* by gossiping
/// a higher *incarnation*; the *local health multiplier* (awareness) slows our own probing when we seem to be the
/// unhealthy one. Updates travel *piggybacked* on probes and gossip packets.
public struct Instance: Sendable {
    public let name: String
    public private(set) var address: Address
    public let settings: MemberlistSettings
    public let serfSettings: SerfSettings

    var rng: SplitMix64
    var now: Instant = .zero
    var effects: [Effect] = []

    // MARK: memberlist (SWIM) state
    // The two per-member tables are persistent hash tries: a copy of an instance shares them, and a change copies
    // only the path to one entry, not the table. The simulator's converged start rests on it (10,000 nodes share
    // one view; a Dictionary copied whole by each node's first change would need 30 GB). Lookups cost about the
    // same at agent sizes, and a table grows without rehashing every entry.
    var nodes: TreeDictionary<String, NodeState> = [:]
    var probeOrder: [String] = []
    var probeIndex = 0
    var probeInFlight: UInt32?
    var probeDue = false
    var seqNo: UInt32 = 0
    var pendingAcks: [UInt32: AckWait] = [:]
    var suspicions: [String: Suspicion] = [:]
    /// Lifeguard local health score, 0 (healthy) up to `awarenessMaxMultiplier - 1`.
    public internal(set) var awareness = 0
    /// What the protocol has done since start (`/metrics`).
    public internal(set) var counters = ProtocolCounters()
    var incarnation: UInt32 = 0
    var meta: [UInt8]
    var leaving = false
    var memberlistQueue = BroadcastQueue()
    /// `broadcastsEnqueued` at the last gossip round, and when the last eager one went (Instance+Gossip.swift).
    var gossipedUpTo: UInt64 = 0
    var lastEagerGossip: Instant?
    /// The next alive node after us in name order, nil when it must be looked up again (Instance+Gossip.swift).
    var ringSuccessorName: String?
    /// When a gap in user-event Lamport times last started a push-pull (Instance+Events.swift).
    var lastEventRepair: Instant?
    var generation: UInt64 = 0
    var streams: [StreamID: StreamPurpose] = [:]
    var nextStream: UInt64 = 0
    var joins: [RequestID: JoinProgress] = [:]
    /// Push-pulls received and not yet fully applied (see Instance+Merge).
    var pendingMerges: [PendingMerge] = []

    // MARK: Serf state
    var members: TreeDictionary<String, MemberState> = [:]
    var recentIntents: [String: Intent] = [:]
    /// Rumor's cluster-wide app specs and who may change them (AppRegister.swift, Instance+Apps.swift).
    var apps = AppRegister()
    public internal(set) var clock = LamportClock()
    public internal(set) var eventClock = LamportClock()
    public internal(set) var queryClock = LamportClock()
    var eventMinTime: UInt64 = 0
    var queryMinTime: UInt64 = 0
    var eventBuffer: [UserEventCollection?]
    var queryBuffer: [QuerySeen?]
    var intentQueue: BroadcastQueue
    var queryQueue: BroadcastQueue
    var eventQueue: BroadcastQueue
    public internal(set) var tags: [String: String]
    var serfState: SerfLifecycle = .alive
    var leaveStep: LeaveStep?
    var outgoingQueries: [QueryKey: OutgoingQueryState] = [:]
    var incomingQueries: [QueryKey: IncomingQueryState] = [:]
    /// Our network coordinate (nil when disabled), and the last coordinate each peer acked a probe with.
    var vivaldi: Vivaldi?
    var coordinates: [String: Coordinate] = [:]
    /// When each failed member was last pinged back (after it pinged us) and last sent a joining push-pull: at
    /// most one of each per `reconnectPingInterval`.
    var reconnectPingsBack: [String: Instant] = [:]
    var reconnectPushPulls: [String: Instant] = [:]
    /// Failed members reaped after the reconnect timeout: still pinged by the reconnect loop until the tombstone
    /// timeout, so halves that reaped each other in a long partition find each other again (at most
    /// `maxForgottenPeers`, the oldest dropped first).
    var forgottenPeers: [String: ForgottenPeer] = [:]

    /// Creates a node. Call ``start(at:)`` once before any other input.
    ///
    /// - Parameters:
    ///   - address: the advertised address peers use to reach us (never 0.0.0.0).
    ///   - seed: the only source of randomness (probe order, gossip targets, query ids).
    public init(
        name: String, address: Address, tags: [String: String], settings: MemberlistSettings = .lan,
        serfSettings: SerfSettings = SerfSettings(), seed: UInt64
    ) {
        self.name = name
        self.address = address
        self.settings = settings
        self.serfSettings = serfSettings
        self.rng = SplitMix64(seed: seed)
        self.tags = tags
        self.meta = SerfCodec.encodeTags(tags)
        self.vivaldi = serfSettings.disableCoordinates ? nil : Vivaldi()
        self.eventBuffer = Array(repeating: nil, count: serfSettings.eventBuffer)
        self.queryBuffer = Array(repeating: nil, count: serfSettings.queryBuffer)
        self.intentQueue = BroadcastQueue(maxDepth: serfSettings.maxQueueDepth)
        self.queryQueue = BroadcastQueue(maxDepth: serfSettings.maxQueueDepth)
        self.eventQueue = BroadcastQueue(maxDepth: serfSettings.maxQueueDepth)
        // Serf starts each Lamport clock at 1 (created at 0, incremented once).
        clock.increment()
        eventClock.increment()
        queryClock.increment()
    }

    /// Announces ourselves (member-join for the local node, as serf does) and starts the periodic timers.
    public mutating func start(at now: Instant) -> [Effect] {
        begin(now)
        incarnation = 1
        let me = Alive(incarnation: incarnation, node: name, addr: address.ip, port: address.port, meta: meta)
        aliveNode(me, bootstrap: true)
        scheduleTimers()
        return finish()
    }

    /// Starts the periodic timers of a node that is already a member (``replica(name:address:seed:)``), without
    /// announcing anything.
    public mutating func resume(at now: Instant) -> [Effect] {
        begin(now)
        scheduleTimers()
        return finish()
    }

    private mutating func scheduleTimers() {
        // Random first ticks, as memberlist does, so nodes started together do not probe and gossip in lockstep;
        // the first periodic push-pull comes a full interval after that (a join has just synchronised state).
        schedule(.probe, after: randomStagger(settings.probeInterval))
        schedule(.gossip, after: randomStagger(settings.gossipInterval))
        schedule(.pushPull, after: randomStagger(settings.pushPullInterval) + settings.pushPullInterval)
        schedule(.reap, after: serfSettings.reapInterval)
        schedule(.reconnect, after: reconnectTickInterval)
    }

    /// Feeds one input and returns what to do about it.
    public mutating func handle(_ input: Input, at now: Instant) -> [Effect] {
        begin(now)
        switch input {
        case .packet(let bytes, let from): receivePacket(bytes, from: from)
        case .stream(let id, let payload, let from): receiveStream(id, DecodedStream.decode(payload), from: from)
        case .decodedStream(let id, let decoded, let from): receiveStream(id, decoded, from: from)
        case .streamReply(let id, let result): receiveStreamReply(id, result.map(DecodedStream.decode))
        case .decodedStreamReply(let id, let result): receiveStreamReply(id, result)
        case .timer(let timer): fire(timer)
        case .command(let command): run(command)
        }
        return finish()
    }

    private mutating func begin(_ now: Instant) {
        precondition(now >= self.now, "time went backwards: \(now) < \(self.now) at \(name)")
        self.now = now
        effects.removeAll(keepingCapacity: true)
    }

    private mutating func finish() -> [Effect] {
        gossipEagerly()
        let out = effects
        effects.removeAll(keepingCapacity: true)
        return out
    }

    private mutating func fire(_ timer: Timer) {
        switch timer {
        case .probe: probeTick()
        case .gossip: gossipTick()
        case .pushPull: pushPullTick()
        case .postJoinSync: pushPullWithRandomPeer()
        case .reap: reapTick()
        case .reconnect: reconnectTick()
        case .probeTimeout(let seq): probeTimedOut(seq)
        case .probeDeadline(let seq): probeDeadlinePassed(seq)
        case .relayTimeout(let seq): relayTimedOut(seq)
        case .suspicion(let node, let gen): suspicionExpired(node, generation: gen)
        case .leaveStep(let gen): leaveStepFired(generation: gen)
        case .prune(let node): pruneFired(node)
        case .queryDeadline(let ltime, let id): queryDeadlinePassed(QueryKey(ltime: ltime, id: id))
        case .mergeSlice: continueMerges()
        }
    }

    private mutating func run(_ command: Command) {
        switch command {
        case .join(let addresses, let replay, let id): join(addresses, replay: replay, id: id)
        case .leave: leave()
        case .forceLeave(let node, let prune): forceLeave(node, prune: prune)
        case .setTags(let tags): setTags(tags)
        case .userEvent(let name, let payload, let coalesce): sendUserEvent(name: name, payload: payload, coalesce: coalesce)
        case .query(let query, let id): startQuery(query, id: id)
        case .respond(let ltime, let id, let payload): respond(ltime: ltime, id: id, payload: payload)
        case .deployApp(let name, let spec, let rollback, let authority):
            deployApp(name: name, spec: spec, rollback: rollback, authority: authority)
        case .setAppGate(let gate): apps.gate = gate
        case .putApp(let record): _ = mergeApp(record, from: "the local store", gated: false)
        case .pushPullWith(let node): pushPull(with: node)
        }
    }

    // MARK: - Effect helpers

    mutating func schedule(_ timer: Timer, after delay: Duration) {
        effects.append(.schedule(timer, at: now + delay))
    }

    mutating func emit(_ event: Event) { effects.append(.emit(event)) }

    mutating func warn(_ message: String) { effects.append(.emit(.warning(message))) }

    /// Refused input: counted for `/metrics` by reason, and logged (rate-limited by the driver).
    mutating func drop(_ reason: ProtocolCounters.DropReason, _ message: String) {
        counters.dropped[reason, default: 0] += 1
        warn(message)
    }

    mutating func nextGeneration() -> UInt64 {
        generation += 1
        return generation
    }

    mutating func nextSeqNo() -> UInt32 {
        seqNo &+= 1
        return seqNo
    }

    mutating func openStream(_ purpose: StreamPurpose, to: Address, payload: [UInt8], expectsReply: Bool, timeout: Duration) {
        nextStream += 1
        let id = StreamID(nextStream)
        if expectsReply { streams[id] = purpose }
        effects.append(.openStream(id, to: to, payload: payload, expectsReply: expectsReply, timeout: timeout))
    }

    /// A uniformly random delay in `[0, interval)`, so periodic work across nodes does not synchronise.
    mutating func randomStagger(_ interval: Duration) -> Duration {
        let ns = interval.nanoseconds
        return ns > 0 ? .nanoseconds(Int64.random(in: 0..<ns, using: &rng)) : .zero
    }

    // MARK: - Read-only views

    /// Every member Serf knows, including failed and left ones until they are reaped.
    public var allMembers: [Member] { members.values.map(\.member).sorted { $0.name < $1.name } }

    public func member(named name: String) -> Member? { members[name]?.member }

    /// Nodes memberlist suspects now (Serf still reports them alive until the suspicion ends).
    public var suspects: Set<String> { Set(suspicions.keys) }

    public var localMember: Member {
        members[name]?.member
            ?? Member(name: name, address: address, tags: tags, status: .alive, vsn: defaultVersionVector)
    }

    public var estimatedNodeCount: Int { nodes.count }

    public var incarnationNumber: UInt32 { incarnation }

    public var pendingBroadcasts: (intents: Int, events: Int, queries: Int, memberlist: Int) {
        (intentQueue.count, eventQueue.count, queryQueue.count, memberlistQueue.count)
    }

    public var isLeaving: Bool { serfState != .alive }
}

// MARK: - Internal state records

/// memberlist's view of one node.
struct NodeState: Sendable {
    var name: String
    var address: Address
    var meta: [UInt8]
    var vsn: [UInt8]
    var incarnation: UInt32
    var state: PushNodeState.State
    var stateChange: Instant

    var isDeadOrLeft: Bool { state == .dead || state == .left }
    var protocolMax: UInt8 { vsn.count > 1 ? vsn[1] : 0 }
}

/// Serf's view of one member.
struct MemberState: Sendable {
    var member: Member
    /// The Lamport time of the newest intent applied to this member.
    var statusLTime: UInt64
    /// When it became failed or left, for reaping.
    var leaveTime: Instant?
}

enum AckWait: Sendable {
    /// Our own probe of `target`, sent at `sentAt` (for the RTT that network coordinates learn from).
    case probe(target: String, expectedNacks: Int, nacks: Int, sentAt: Instant)
    /// An indirect probe we run for `requester`; its ack or nack goes back under `originalSeq`.
    case relay(requester: Address, originalSeq: UInt32, wantsNack: Bool)
    /// The reconnect loop's ping of failed member `target`: an ack means it is reachable again.
    case reconnect(target: String)
}

/// A failed member the reap erased: where it was, and when it was reaped.
struct ForgottenPeer: Sendable, Hashable {
    var address: Address
    var reapedAt: Instant
}

enum StreamPurpose: Sendable {
    case pushPull(join: RequestID?)
    case tcpPing(seqNo: UInt32)
}

struct JoinProgress: Sendable {
    var outstanding: Int
    var joined = 0
    var errors: [String] = []
    var replay: Bool
}

struct Intent: Sendable {
    var isLeave: Bool
    var ltime: UInt64
    var received: Instant
}

enum SerfLifecycle: Sendable {
    case alive, leaving, left
}

enum LeaveStep: Sendable {
    /// Waiting for the Serf leave intent to finish spreading.
    case intent(generation: UInt64, token: UInt64)
    /// Waiting for memberlist dead-about-ourselves to finish spreading.
    case dead(generation: UInt64, token: UInt64)
    /// Staying up for `leavePropagateDelay` so peers can still probe us.
    case propagate(generation: UInt64)
}

struct QueryKey: Hashable, Sendable {
    var ltime: UInt64
    var id: UInt32
}

struct QuerySeen: Sendable {
    var ltime: UInt64
    var ids: [UInt32]
}

struct OutgoingQueryState: Sendable {
    var request: RequestID
    var deadline: Instant
    var acks: Set<String> = []
    var responses: Set<String> = []
}
