import NIOCore
import RumorAgent
import RumorCore
import RumorWire
import Synchronization

/// A test double for the RPC layer: fixed members and stats, and a record of every call it received.
final class FakeBackend: AgentRPCBackend {
    struct Calls: Sendable {
        var joins: [(addresses: [String], replay: Bool)] = []
        var forceLeaves: [(node: String, prune: Bool)] = []
        var leaves = 0
    }

    let eventLoop: any EventLoop
    let fixedMembers: [Member]
    let fixedStats: [String: [String: String]]
    /// How long `join` takes, to test that slow replies keep their order.
    let joinDelay: TimeAmount
    private let recorded = Mutex(Calls())

    init(
        eventLoop: any EventLoop, members: [Member] = FakeBackend.sampleMembers,
        stats: [String: [String: String]] = FakeBackend.sampleStats, joinDelay: TimeAmount = .zero
    ) {
        self.eventLoop = eventLoop
        self.fixedMembers = members
        self.fixedStats = stats
        self.joinDelay = joinDelay
    }

    var calls: Calls { recorded.withLock { $0 } }

    func members() -> [Member] {
        eventLoop.preconditionInEventLoop()
        return fixedMembers
    }

    /// Addresses starting with "bad" fail; the rest count as joined.
    func join(_ addresses: [String], replay: Bool) -> EventLoopFuture<JoinResult> {
        eventLoop.preconditionInEventLoop()
        recorded.withLock { $0.joins.append((addresses, replay)) }
        let bad = addresses.filter { $0.hasPrefix("bad") }
        let result = JoinResult(
            joined: addresses.count - bad.count, errors: bad.map { "Failed to join \($0): connection refused" })
        if joinDelay == .zero { return eventLoop.makeSucceededFuture(result) }
        return eventLoop.scheduleTask(in: joinDelay) { result }.futureResult
    }

    func leave() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        recorded.withLock { $0.leaves += 1 }
        return eventLoop.makeSucceededVoidFuture()
    }

    struct NoSuchMember: Error, CustomStringConvertible {
        var node: String
        var description: String { "member '\(node)' not found" }
    }

    func forceLeave(node: String, prune: Bool) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        recorded.withLock { $0.forceLeaves.append((node, prune)) }
        guard fixedMembers.contains(where: { $0.name == node }) else {
            return eventLoop.makeFailedFuture(NoSuchMember(node: node))
        }
        return eventLoop.makeSucceededVoidFuture()
    }

    func stats() -> [String: [String: String]] {
        eventLoop.preconditionInEventLoop()
        return fixedStats
    }

    // MARK: Fixtures

    /// At most one tag each, so serf's text output (tags in Go map order) is deterministic.
    static let sampleMembers: [Member] = [
        Member(name: "web-2", address: Address(ip: [127, 0, 0, 1], port: 7947), tags: ["role": "web"],
               status: .alive, vsn: [1, 5, 2, 2, 5, 5]),
        Member(name: "alpha", address: Address(ip: [127, 0, 0, 1], port: 7946), tags: [:],
               status: .alive, vsn: [1, 5, 2, 2, 5, 5]),
        Member(name: "db", address: Address(ip: [10, 0, 0, 3], port: 7946), tags: ["role": "db"],
               status: .failed, vsn: [1, 5, 2, 2, 5, 4]),
        Member(name: "v6", address: Address(ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], port: 7950),
               tags: ["role": "web"], status: .left, vsn: [1, 5, 2, 3, 4, 4]),
    ]

    static let sampleStats: [String: [String: String]] = [
        "agent": ["name": "alpha"],
        "runtime": ["os": "linux", "arch": "amd64", "version": "swift6.3", "max_procs": "2"],
        "serf": ["members": "4", "failed": "1", "left": "1", "encrypted": "false"],
        "tags": [:],
        "event_handlers": ["member-join:handler": "/bin/true"],
    ]
}
