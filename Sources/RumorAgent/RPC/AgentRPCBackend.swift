import NIOCore
import RumorWire
import RumorCore

/// The outcome of a join: how many addresses were joined, and what went wrong with the others.
public struct JoinResult: Sendable, Hashable {
    public var joined: Int
    public var errors: [String]
    public init(joined: Int, errors: [String]) {
        self.joined = joined
        self.errors = errors
    }
}

/// What the RPC server needs from the agent. Every call is made on `eventLoop` (the agent's only thread), so
/// implementations need no locks. Failed futures carry serf's error text as their description.
public protocol AgentRPCBackend: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    /// Every member, including failed and left ones until reaped.
    func members() -> [Member]
    /// Joins through `addresses` (host names, `host:port`, IPs). Succeeds with a count even if some failed.
    func join(_ addresses: [String], replay: Bool) -> EventLoopFuture<JoinResult>
    /// Graceful leave; the agent shuts down after the future completes.
    func leave() -> EventLoopFuture<Void>
    func forceLeave(node: String, prune: Bool) -> EventLoopFuture<Void>
    /// Sections `agent`, `runtime`, `serf`, `tags`, `event_handlers`, as `serf info` prints them.
    func stats() -> [String: [String: String]]

    // The requirements below map 1:1 onto `Agent`'s methods (Agent+Commands, Agent+Queries, KeyQueries).

    /// Sends a user event; fails, with nothing sent, if serf would refuse it (size limits).
    func userEvent(name: String, payload: [UInt8], coalesce: Bool) -> EventLoopFuture<Void>
    /// Starts a query; fails only when it was refused (reserved name, size, bad filter). `observer` then hears acks
    /// and responses as they arrive, and `onDone` at the deadline.
    func startQuery(_ q: OutgoingQuery, observer: QueryObserver) -> EventLoopFuture<Void>
    /// Answers a query this node received (at most once, before its deadline).
    func respond(ltime: UInt64, id: UInt32, payload: [UInt8]) -> EventLoopFuture<Void>
    /// The current tags minus `delete`, plus `set`; gossiped and written to the tags file.
    func updateTags(set: [String: String], delete: [String]) -> EventLoopFuture<Void>
    /// Subscribes to every protocol event; the token is for ``removeListener(_:)``.
    func addListener(token listener: @escaping (Event) -> Void) -> Int
    func removeListener(_ token: Int)
    /// Runs a cluster-wide key operation (`key` is base64; nil for `.list`) and summarises the answers.
    func keyOperation(_ op: KeyOperation, key: String?) -> EventLoopFuture<KeyOperationResult>
    /// The network coordinate `node` last acked a probe with (ours for our own name); nil if none is known.
    func coordinate(of node: String) -> Coordinate?
    /// `ls`/`inspect`: the container action's apps on this node as JSON text; `specs`: the cluster-wide specs;
    /// `deploy`/`scale`/`stop`/`rollback` change them (the request carries the exact spec) and answer a line.
    func apps(_ request: RPCAppsRequest) -> EventLoopFuture<String>
}

extension AgentRPCBackend {
    /// A backend that keeps no coordinates (test doubles).
    public func coordinate(of node: String) -> Coordinate? { nil }
    /// A backend without the container action.
    public func apps(_ request: RPCAppsRequest) -> EventLoopFuture<String> {
        eventLoop.makeFailedFuture(CommandError(AgentAppsError.notRunning))
    }
}
