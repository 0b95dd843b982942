import NIOCore
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
/// implementations need no locks.
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
}
