import Logging
import NIOCore
import NIOPosix
@testable import RumorAgent
@testable import RumorCore
import RumorWire
import Synchronization
import Testing

/// A backend for the event, query, tags, stream and key commands: records what it is asked, lets a test push
/// agent events to the listeners, and answers queries with scripted acks and responses.
final class EventFakeBackend: AgentRPCBackend, @unchecked Sendable {
    // @unchecked: `listeners` and `observers` are touched on `eventLoop` only; the rest is behind the mutex.
    struct Calls: Sendable {
        var events: [(name: String, payload: [UInt8], coalesce: Bool)] = []
        var queries: [OutgoingQuery] = []
        var responses: [(ltime: UInt64, id: UInt32, payload: [UInt8])] = []
        var tagUpdates: [(set: [String: String], delete: [String])] = []
        var keyOperations: [(op: KeyOperation, key: String?)] = []
    }

    /// How `startQuery` plays out: refused with `refusal`, or acks and responses then `done` after `doneAfter`.
    struct QueryScript: Sendable {
        var refusal: String?
        var acks: [String] = []
        var responses: [(from: String, payload: [UInt8])] = []
        var doneAfter: TimeAmount = .milliseconds(50)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let eventLoop: any EventLoop
    private let recorded = Mutex(Calls())
    private let script = Mutex(QueryScript())
    private let keyResult = Mutex<Result<KeyOperationResult, Failure>>(.success(KeyOperationResult()))
    private let eventError = Mutex<String?>(nil)
    /// Errors `respond` gives, by query ID (e.g. "response is past the deadline").
    private let respondErrors = Mutex<[UInt32: String]>([:])
    private var listeners: [Int: (Event) -> Void] = [:]
    private var nextToken = 0

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    var calls: Calls { recorded.withLock { $0 } }
    var listenerCount: Int { (try? eventLoop.submit { self.listeners.count }.wait()) ?? -1 }

    func setQueryScript(_ s: QueryScript) { script.withLock { $0 = s } }
    func setKeyResult(_ r: Result<KeyOperationResult, Failure>) { keyResult.withLock { $0 = r } }
    func setEventError(_ text: String?) { eventError.withLock { $0 = text } }
    func setRespondError(id: UInt32, _ text: String) { respondErrors.withLock { $0[id] = text } }

    /// Hands `event` to every listener, on the loop, as the agent does.
    func emit(_ event: Event) {
        eventLoop.execute { for l in self.listeners.values { l(event) } }
    }

    // MARK: AgentRPCBackend

    func members() -> [Member] { FakeBackend.sampleMembers }

    func join(_ addresses: [String], replay: Bool) -> EventLoopFuture<JoinResult> {
        eventLoop.makeSucceededFuture(JoinResult(joined: addresses.count, errors: []))
    }

    func leave() -> EventLoopFuture<Void> { eventLoop.makeSucceededVoidFuture() }

    func forceLeave(node: String, prune: Bool) -> EventLoopFuture<Void> { eventLoop.makeSucceededVoidFuture() }

    func stats() -> [String: [String: String]] { FakeBackend.sampleStats }

    func userEvent(name: String, payload: [UInt8], coalesce: Bool) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let text = eventError.withLock({ $0 }) { return eventLoop.makeFailedFuture(Failure(description: text)) }
        recorded.withLock { $0.events.append((name, payload, coalesce)) }
        return eventLoop.makeSucceededVoidFuture()
    }

    /// Acks and responses are delivered synchronously, before the future completes: the server must still write
    /// its reply first.
    func startQuery(_ q: OutgoingQuery, observer: QueryObserver) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        let s = script.withLock { $0 }
        if let refusal = s.refusal { return eventLoop.makeFailedFuture(Failure(description: refusal)) }
        recorded.withLock { $0.queries.append(q) }
        for a in s.acks { observer.onAck(a) }
        for r in s.responses { observer.onResponse(r.from, r.payload) }
        eventLoop.scheduleTask(in: s.doneAfter) { observer.onDone() }
        return eventLoop.makeSucceededVoidFuture()
    }

    func respond(ltime: UInt64, id: UInt32, payload: [UInt8]) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let text = respondErrors.withLock({ $0[id] }) {
            return eventLoop.makeFailedFuture(Failure(description: text))
        }
        recorded.withLock { $0.responses.append((ltime, id, payload)) }
        return eventLoop.makeSucceededVoidFuture()
    }

    func updateTags(set: [String: String], delete: [String]) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        recorded.withLock { $0.tagUpdates.append((set, delete)) }
        return eventLoop.makeSucceededVoidFuture()
    }

    func addListener(token listener: @escaping (Event) -> Void) -> Int {
        eventLoop.preconditionInEventLoop()
        nextToken += 1
        listeners[nextToken] = listener
        return nextToken
    }

    func removeListener(_ token: Int) {
        eventLoop.preconditionInEventLoop()
        listeners[token] = nil
    }

    func keyOperation(_ op: KeyOperation, key: String?) -> EventLoopFuture<KeyOperationResult> {
        eventLoop.preconditionInEventLoop()
        recorded.withLock { $0.keyOperations.append((op, key)) }
        return eventLoop.makeCompletedFuture(keyResult.withLock { $0 }.mapError { $0 as any Error })
    }
}

/// An RPCServer on an ephemeral loopback port in front of an EventFakeBackend, with coalescing off (so records come
/// at once) and a private log sink for `monitor`.
struct RPCEventHarness: Sendable {
    let backend: EventFakeBackend
    let server: RPCServer
    let sink: LogSink
    let port: Int

    var address: String { "127.0.0.1:\(port)" }

    static func with(
        coalesce: CoalescePeriods = .disabled, _ body: (RPCEventHarness) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = EventFakeBackend(eventLoop: group.next())
        let sink = LogSink()
        let settings = RPCStreamSettings(memberCoalesce: coalesce, userCoalesce: coalesce, logSink: sink)
        let server = RPCServer(
            backend: backend, authKey: nil, logger: Logger(label: "rpc-event-test") { _ in SwiftLogNoOpLogHandler() },
            streamSettings: settings)
        var failure: (any Error)?
        do {
            try await server.start(host: "127.0.0.1", port: 0).get()
            let port = try #require(server.localAddress?.port)
            try await body(RPCEventHarness(backend: backend, server: server, sink: sink, port: port))
        } catch {
            failure = error
        }
        try? await server.close().get()
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }

    /// The real serf CLI against this server.
    func serf(_ command: String, _ args: String..., timeout: Duration = .seconds(20)) async throws -> ProcessOutput {
        try await Subprocess.run("/usr/bin/serf", [command, "-rpc-addr=\(address)"] + args, timeout: timeout)
    }

    /// A raw connection that has done its handshake (Seq 1).
    func connect() throws -> RawConnection {
        let c = try RawConnection(address)
        try c.send(RPCProtocol.Command.handshake, seq: 1, RPCHandshakeRequest())
        let header = try c.readHeader()
        guard header == RPCResponseHeader(seq: 1) else { throw EventFakeBackend.Failure(description: "\(header)") }
        return c
    }
}

extension Member {
    /// A member for stream tests.
    static func sample(_ name: String, ip: [UInt8] = [127, 0, 0, 1], port: UInt16 = 7946, tags: [String: String] = [:],
                       status: MemberStatus = .alive) -> Member {
        Member(name: name, address: Address(ip: ip, port: port), tags: tags, status: status, vsn: [1, 5, 2, 2, 5, 5])
    }
}

extension IncomingQuery {
    static func sample(_ name: String, payload: String, ltime: UInt64 = 7, id: UInt32 = 42) -> IncomingQuery {
        IncomingQuery(
            ltime: ltime, id: id, name: name, payload: Array(payload.utf8), deadline: .zero, timeout: .seconds(3),
            source: "origin")
    }
}
