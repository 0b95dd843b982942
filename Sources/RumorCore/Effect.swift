import RumorWire

/// Identifies one TCP exchange between the core and whoever carries out its effects.
public struct StreamID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public var description: String { "stream#\(value)" }
}

/// Correlates a local command with the event that reports its outcome.
public typealias RequestID = UInt64

/// A timer the core asked for. Timers are data: the driver hands the same value back through `Input.timer` when
/// it fires. Timers are never cancelled; a timer that is no longer relevant is recognised and ignored when it fires
/// (its sequence number or generation no longer matches), which keeps drivers trivial.
public enum Timer: Hashable, Sendable {
    case probe
    case gossip
    case pushPull
    /// One extra state exchange a moment after joining (see `Instance.joinAttemptFinished`).
    case postJoinSync
    case reap
    case reconnect
    /// The direct-ack wait of probe `seqNo` ended: time for indirect probes.
    case probeTimeout(seqNo: UInt32)
    /// Probe `seqNo`'s protocol period ended: no ack means suspect.
    case probeDeadline(seqNo: UInt32)
    /// An indirect probe we run for someone else timed out: send them a nack.
    case relayTimeout(seqNo: UInt32)
    case suspicion(node: String, generation: UInt64)
    case leaveStep(generation: UInt64)
    case prune(node: String)
    case queryDeadline(ltime: UInt64, id: UInt32)
    /// Apply the next slice of a large push-pull (due at once; it only lets other inputs in between).
    case mergeSlice
}

/// What the core asks its driver to do. A small, uniform vocabulary so one interpreter serves the runtime and the
/// simulator alike.
public enum Effect: Sendable, Hashable {
    /// Send one UDP packet (plaintext: the driver encrypts if configured).
    case send([UInt8], to: Address)
    /// Dial `to`, write `payload`, and if `expectsReply` read one message back, reporting through
    /// `Input.streamReply` (failures too), all within `timeout`.
    case openStream(StreamID, to: Address, payload: [UInt8], expectsReply: Bool, timeout: Duration)
    /// Answer an inbound stream (`nil`: just close it).
    case replyStream(StreamID, payload: [UInt8]?)
    /// `openStream` of a push-pull whose payload is `state.encode()`, expecting a reply: for a large cluster, so the
    /// driver can encode it off its event loop (hundreds of milliseconds at 100,000 nodes).
    case openStreamState(StreamID, to: Address, state: LocalStateSnapshot, timeout: Duration)
    /// `replyStream` with `state.encode()`, likewise.
    case replyStreamState(StreamID, LocalStateSnapshot)
    /// Hand `timer` back through `Input.timer` at `at`.
    case schedule(Timer, at: Instant)
    /// Something the agent should know about.
    case emit(Event)
}

/// Events for the agent: member changes in Serf's vocabulary, user events, command outcomes and diagnostics.
public enum Event: Sendable, Hashable {
    case memberJoined(Member)
    case memberLeft(Member)
    case memberFailed(Member)
    case memberUpdated(Member)
    case memberReaped(Member)
    case userEvent(UserEvent)
    case query(IncomingQuery)
    case queryAck(id: RequestID, from: String)
    case queryResponse(id: RequestID, from: String, payload: [UInt8])
    case queryFinished(id: RequestID)
    case joinFinished(id: RequestID, joined: Int, errors: [String])
    /// The graceful leave is complete: the process may exit.
    case leaveFinished
    /// Another node claims our name from `address`. The agent asks the cluster who the name belongs to (Serf's
    /// `_serf_conflict` query) and shuts down if the majority says the other one.
    case nameConflict(address: Address)
    /// The cluster-wide spec of an app changed (deployed here or learnt from a peer): store it, run it.
    case appChanged(AppRecord)
    /// A record this node's gate refused (docs/apps-authority.md), once per record: a security event the agent
    /// logs in its own words, not folded with other warnings of the same shape.
    case appRefused(name: String, serial: UInt64, origin: String, source: String, reason: String)
    /// Input that was refused or looked wrong. The driver logs it, rate-limited.
    case warning(String)
    case debug(String)
}

public struct UserEvent: Sendable, Hashable {
    public var ltime: UInt64
    public var name: String
    public var payload: [UInt8]
    public var coalesce: Bool
    public init(ltime: UInt64, name: String, payload: [UInt8], coalesce: Bool) {
        self.ltime = ltime
        self.name = name
        self.payload = payload
        self.coalesce = coalesce
    }
}

/// A query delivered to this node, to be answered (at most once, before `deadline`) with `Command.respond`.
public struct IncomingQuery: Sendable, Hashable {
    public var ltime: UInt64
    public var id: UInt32
    public var name: String
    public var payload: [UInt8]
    public var deadline: Instant
    /// How long after arrival an answer is still accepted (the query's own timeout).
    public var timeout: Duration
    public var source: String
}

extension Effect {
    /// The effect with any state snapshot encoded now: for drivers that do not mind waiting (the simulator).
    public var encodedNow: Effect {
        switch self {
        case .openStreamState(let id, let to, let state, let timeout):
            .openStream(id, to: to, payload: state.encode(), expectsReply: true, timeout: timeout)
        case .replyStreamState(let id, let state): .replyStream(id, payload: state.encode())
        default: self
        }
    }
}
