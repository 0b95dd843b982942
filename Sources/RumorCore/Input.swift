import RumorWire

/// Everything that can happen to a node, as data.
public enum Input: Sendable {
    /// A UDP packet arrived (already decrypted).
    case packet([UInt8], from: Address)
    /// A TCP stream arrived and its one message was read (already decrypted). Answer with `Effect.replyStream`.
    case stream(StreamID, payload: [UInt8], from: Address)
    /// The same, decoded already (by `DecodedStream.decode`, which a driver may run off its event loop).
    case decodedStream(StreamID, DecodedStream, from: Address)
    /// The reply to an `Effect.openStream`, or why there is none.
    case streamReply(StreamID, Result<[UInt8], StreamFailure>)
    /// The same, decoded already (off the driver's event loop, for a large reply).
    case decodedStreamReply(StreamID, Result<DecodedStream, StreamFailure>)
    case timer(Timer)
    case command(Command)
}

public struct StreamFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// What the local agent asks of the protocol.
public enum Command: Sendable {
    /// Join through these addresses (already resolved). Reported by `Event.joinFinished(id:)`.
    case join([Address], replay: Bool, id: RequestID)
    /// Graceful leave. Reported by `Event.leaveFinished`.
    case leave
    /// Mark a failed member left (and optionally erase it at once).
    case forceLeave(node: String, prune: Bool)
    /// Replace our tags; gossiped as a new alive message.
    case setTags([String: String])
    case userEvent(name: String, payload: [UInt8], coalesce: Bool)
    case query(OutgoingQuery, id: RequestID)
    case respond(ltime: UInt64, id: UInt32, payload: [UInt8])
    /// Deploys (or, with an empty spec, stops) an app cluster-wide at the member clock's time; the record carries
    /// the spec it replaces. A non-empty `rollback` (why) marks a rollback. `authority`: the deployer's serial and
    /// signature (an automatic rollback passes the deploy's it undoes); nil takes the next serial, unsigned
    /// (docs/apps-authority.md). `Event.appChanged`.
    case deployApp(name: String, spec: [UInt8], rollback: String = "", authority: AppAuthority? = nil)
    /// Who may change apps from now on (`apps_trust`, re-read on SIGHUP); records already kept stay.
    case setAppGate(any AppRecordGate)
    /// A record from the agent's own store (its data directory), merged like one from a peer.
    case putApp(AppRecord)
    /// Exchange state with this member now (its app specs differ from ours).
    case pushPullWith(node: String)
}

public struct OutgoingQuery: Sendable, Hashable {
    public var name: String
    public var payload: [UInt8]
    public var filterNodes: [String]
    /// Tag name → Go RE2 regular expression.
    public var filterTags: [String: String]
    public var requestAck: Bool
    public var relayFactor: UInt8
    /// `nil`: Serf's default, `gossipInterval * queryTimeoutMult * ceil(log10(n+1))`.
    public var timeout: Duration?

    public init(
        name: String, payload: [UInt8], filterNodes: [String] = [], filterTags: [String: String] = [:],
        requestAck: Bool = false, relayFactor: UInt8 = 0, timeout: Duration? = nil
    ) {
        self.name = name
        self.payload = payload
        self.filterNodes = filterNodes
        self.filterTags = filterTags
        self.requestAck = requestAck
        self.relayFactor = relayFactor
        self.timeout = timeout
    }
}
