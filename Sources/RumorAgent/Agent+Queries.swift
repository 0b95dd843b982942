import Logging
import NIOCore
import RumorCore
import RumorRuntime

/// Callbacks for one outgoing query, run on the agent's loop as acks and responses arrive.
public struct QueryObserver: Sendable {
    public var onAck: @Sendable (String) -> Void = { _ in }
    public var onResponse: @Sendable (String, [UInt8]) -> Void = { _, _ in }
    public var onDone: @Sendable () -> Void = {}
    public init(
        onAck: @escaping @Sendable (String) -> Void = { _ in },
        onResponse: @escaping @Sendable (String, [UInt8]) -> Void = { _, _ in },
        onDone: @escaping @Sendable () -> Void = {}
    ) {
        self.onAck = onAck
        self.onResponse = onResponse
        self.onDone = onDone
    }
}

extension Agent {
    /// Sends a query; `observer` hears each ack and response, then `onDone` at the deadline.
    @discardableResult
    public func query(_ q: OutgoingQuery, observer: QueryObserver) -> RequestID {
        eventLoop.preconditionInEventLoop()
        nextRequest += 1
        queryObservers[nextRequest] = observer
        runtime.submit(.query(q, id: nextRequest))
        return nextRequest
    }

    /// Routes query traffic; returns true if the event was consumed here (internal queries never reach handlers).
    func routeQueryEvent(_ event: Event) -> Bool {
        switch event {
        case .queryAck(let id, let from):
            queryObservers[id]?.onAck(from)
        case .queryResponse(let id, let from, let payload):
            queryObservers[id]?.onResponse(from, payload)
        case .queryFinished(let id):
            queryObservers.removeValue(forKey: id)?.onDone()
        case .query(let q) where q.name.hasPrefix("_serf_"):
            answerInternalQuery(q)
        default:
            return false
        }
        return true
    }

    /// Serf's internal queries that need agent state (the keyring). `_serf_ping` and `_serf_conflict` are
    /// answered by the core itself.
    func answerInternalQuery(_ q: IncomingQuery) {
        guard let op = KeyOperation(queryName: q.name) else {
            logger.debug("agent: ignoring unknown internal query \(q.name)")
            return
        }
        let payload = KeyQueries.answer(op, payload: q.payload, security: security)
        runtime.submit(.respond(ltime: q.ltime, id: q.id, payload: payload))
    }
}
