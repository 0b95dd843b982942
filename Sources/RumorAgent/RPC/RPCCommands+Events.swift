import Logging
import NIOCore
import RumorCore
import RumorWire

/// Handlers for user events, queries, tags, event streams, log monitors, key rotation and coordinates, with the
/// semantics of serf's ipc.go.
extension RPCCommands {
    typealias ErrorText = RPCProtocol.ErrorText

    // MARK: Events and tags

    static func event(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCEventRequest(from: call.body)
        return call.backend.userEvent(name: req.name, payload: req.payload ?? [], coalesce: req.coalesce)
            .map { RPCReply.ok }
            .recover { RPCReply(error: $0.rpcErrorText) }
    }

    static func tags(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCTagsRequest(from: call.body)
        return call.backend.updateTags(set: req.tags, delete: req.deleteTags)
            .map { RPCReply.ok }
            .recover { RPCReply(error: $0.rpcErrorText) }
    }

    // MARK: Queries

    /// Replies with a bare header (the refusal, if any), then streams ack and response records with the request's
    /// Seq, then `done` at the deadline.
    static func query(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCQueryRequest(from: call.body)
        let q = OutgoingQuery(
            name: req.name, payload: req.payload ?? [], filterNodes: req.filterNodes, filterTags: req.filterTags,
            requestAck: req.requestAck, relayFactor: req.relayFactor,
            // 0 means the agent's default (serf's DefaultQueryParams); anything else is taken as given.
            timeout: req.timeoutNanoseconds == 0 ? nil : .nanoseconds(req.timeoutNanoseconds))
        let stream = RPCQueryResultStream(seq: call.seq, connection: call.connection)
        let results = NIOLoopBound(stream, eventLoop: call.eventLoop)
        typealias Kind = RPCProtocol.QueryRecordType
        let observer = QueryObserver(
            onAck: { from in results.value.emit(RPCQueryRecord(type: Kind.ack, from: from)) },
            onResponse: { from, payload in
                results.value.emit(RPCQueryRecord(type: Kind.response, from: from, payload: payload.nilIfEmpty))
            },
            onDone: { results.value.emit(.done) })
        return call.backend.startQuery(q, observer: observer)
            .map { RPCReply(afterWrite: { results.value.open() }) }
            .recover { RPCReply(error: $0.rpcErrorText) }
    }

    /// Answers a query this client received through a stream. After the deadline the ID is unknown, as in serf
    /// (which forgets it when the query times out).
    static func respond(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCRespondRequest(from: call.body)
        guard let pending = call.connection.pendingQuery(req.id) else {
            return call.reply(error: ErrorText.invalidQueryID)
        }
        let connection = NIOLoopBound(call.connection, eventLoop: call.eventLoop)
        return call.backend.respond(ltime: pending.ltime, id: pending.id, payload: req.payload ?? [])
            .map { RPCReply.ok }
            .recover { error in
                let text = error.rpcErrorText
                guard text == pastDeadline else { return RPCReply(error: text) }
                connection.value.expireQuery(req.id)
                return RPCReply(error: ErrorText.invalidQueryID)
            }
    }

    /// The core's words for a query whose deadline has passed (serf's `Query.Respond`).
    static let pastDeadline = "response is past the deadline"

    // MARK: Streams and monitors

    /// Checks as serf does (filter first, then the Seq), replies, and only then starts listening.
    static func stream(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCStreamRequest(from: call.body)
        guard let filters = RPCEventStream.parseFilter(req.type) else {
            return call.reply(error: ErrorText.invalidFilter)
        }
        let connection = call.connection
        guard !connection.hasSubscription(seq: call.seq) else { return call.reply(error: ErrorText.streamExists) }
        let stream = RPCEventStream(
            seq: call.seq, filters: filters, connection: connection, settings: connection.streamSettings)
        connection.addSubscription(seq: call.seq) { stream.stop() }
        let bound = NIOLoopBound(stream, eventLoop: call.eventLoop)
        return call.reply(RPCReply(afterWrite: { bound.value.start() }))
    }

    static func monitor(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let req = try RPCMonitorRequest(from: call.body)
        let name = req.logLevel.uppercased()
        guard let level = RPCLogMonitor.level(name) else { return call.reply(error: "Unknown log level: \(name)") }
        let connection = call.connection
        // One per connection; a Seq already streaming would lose its canceller, so it is refused the same way.
        guard connection.monitorSeq == nil, !connection.hasSubscription(seq: call.seq) else {
            return call.reply(error: ErrorText.monitorExists)
        }
        let monitor = RPCLogMonitor(
            seq: call.seq, minimum: level, connection: connection, sink: connection.streamSettings.logSink)
        let seq = call.seq
        connection.monitorSeq = seq
        let weakConnection = WeakBox(connection)
        connection.addSubscription(seq: seq) {
            monitor.stop()
            if weakConnection.value?.monitorSeq == seq { weakConnection.value?.monitorSeq = nil }
        }
        let bound = NIOLoopBound(monitor, eventLoop: call.eventLoop)
        return call.reply(RPCReply(afterWrite: { bound.value.start() }))
    }

    // MARK: Keys

    /// `install-key`, `use-key`, `remove-key` (body `{Key}`) and `list-keys` (no body). The reply body is sent
    /// even with an error: the summary ("1/2 nodes reported failure") comes with the per-node messages.
    static func keyCommand(_ op: KeyOperation) -> RPCCommandHandler {
        RPCCommandHandler(hasBody: op != .list) { call in
            let key = op == .list ? nil : try RPCKeyRequest(from: call.body).key
            call.logger.info("agent: Initiating \(op.logDescription)")
            return call.backend.keyOperation(op, key: key).map { result in
                RPCReply(
                    error: result.error ?? "",
                    body: RPCKeyResponse(
                        keys: op == .list ? result.keys : nil, messages: result.messages, numErr: result.numErr,
                        numNodes: result.numNodes, numResp: result.numResp))
            }.recover { error in
                RPCReply(error: error.rpcErrorText, body: RPCKeyResponse(keys: op == .list ? [:] : nil))
            }
        }
    }

    // MARK: Coordinates

    /// The coordinate the node last acked one of our probes with (ours for our own name), as serf's cached
    /// coordinates; an unknown node (or coordinates disabled) is a zero coordinate with Ok false, which `serf rtt`
    /// reports as "Could not find a coordinate for node ...".
    static func getCoordinate(_ call: RPCCall) throws -> EventLoopFuture<RPCReply> {
        let request = try RPCCoordinateRequest(from: call.body)
        guard let c = call.backend.coordinate(of: request.node) else { return call.reply(body: RPCCoordinateResponse.unknown) }
        return call.reply(
            body: RPCCoordinateResponse(adjustment: c.adjustment, error: c.error, height: c.height, vec: c.vec, ok: true))
    }
}

extension KeyOperation {
    /// serf's log wording for each operation.
    var logDescription: String {
        switch self {
        case .install: "key installation"
        case .use: "primary key change"
        case .remove: "key removal"
        case .list: "key listing"
        }
    }
}

/// A weak reference that can sit in an escaping closure without keeping the connection alive.
private struct WeakBox<T: AnyObject> {
    weak var value: T?
    init(_ value: T) { self.value = value }
}
