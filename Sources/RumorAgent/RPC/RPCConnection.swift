import Logging
import NIOCore
import RumorWire

/// One RPC client connection: frames the msgpack stream, enforces handshake and auth, and runs one request at a time.
///
/// Requests are handled strictly in order, as Go's agent does: the next header is not read until the previous reply
/// has been written, so replies come out in request order even when a handler completes asynchronously. Server-pushed
/// records (streams, monitors, queries) can be written in between with `send(_:_:)` or `sendRecord(seq:_:)`; each
/// header+body pair is a single write, so they never interleave with a reply.
///
/// Event-loop bound: every method runs on the channel's loop (which is the backend's loop).
final class RPCConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Requests are small (the largest serf sends is a 1 KiB query); anything near this is abuse.
    static let maxBufferedBytes = 1 << 20

    private enum State {
        case idle
        case awaitingBody(RPCRequestHeader, RPCCommandHandler?)
        case busy
        case closed
    }

    let backend: any AgentRPCBackend
    let streamSettings: RPCStreamSettings
    private let authKey: String?
    private(set) var logger: Logger

    /// A client must finish its handshake, and every request it starts, within this (memberlist's TCP timeout for
    /// gossip streams): an idle or dripping connection is closed instead of holding a descriptor for ever.
    static let requestDeadline: TimeAmount = .seconds(10)

    private var context: ChannelHandlerContext?
    private var state = State.idle
    /// Bytes received and not yet consumed start at `consumed`; `scanner` finds where the next object ends,
    /// resuming where it stopped, so a request dripped byte by byte costs linear time.
    private var pending: [UInt8] = []
    private var consumed = 0
    private var scanner = MessagePackScanner(offset: 0)
    private var deadline: Scheduled<Void>?
    private var isProcessing = false
    private(set) var didHandshake = false
    private(set) var didAuth = false
    /// Cancellers of streams and monitors, by the Seq that started them (for `stop` and for disconnects).
    private var subscriptions: [UInt64: () -> Void] = [:]
    /// The Seq of this connection's monitor (serf allows one per connection).
    var monitorSeq: UInt64?
    /// Queries delivered through this connection's streams, by the ID their record carried (counting up from 1 per
    /// connection, as serf's `queryID`), until answered or expired. Oldest first in `pendingOrder`, for the cap.
    private var pendingQueries: [UInt64: (ltime: UInt64, id: UInt32)] = [:]
    private var pendingOrder: [UInt64] = []
    private var lastQueryID: UInt64 = 0
    /// Records dropped because the client stopped reading, reported once per burst.
    private var droppedRecords = 0

    /// More pending queries than a client can plausibly still answer; the oldest are forgotten first.
    static let maxPendingQueries = 4096

    init(backend: any AgentRPCBackend, authKey: String?, logger: Logger, streamSettings: RPCStreamSettings = .init()) {
        self.backend = backend
        self.streamSettings = streamSettings
        self.authKey = authKey.flatMap { $0.isEmpty ? nil : $0 }
        self.logger = logger
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { logger[metadataKey: "rpc-client"] = "\(remote)" }
        logger.info("RPC: accepted client")
        armDeadline()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    /// Runs while a handshake or a request is outstanding; closes the connection when it passes.
    private func armDeadline() {
        guard deadline == nil, let context else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.requestDeadline) { [self] in
            deadline = nil
            let what = didHandshake ? "a complete request" : "a handshake"
            fail("no \(what) within \(Self.requestDeadline.nanoseconds / 1_000_000_000) s", level: .info)
        }
    }

    /// Called after each read and each request: the clock runs only while something is unfinished.
    private func updateDeadline() {
        if !didHandshake || consumed < pending.count {
            armDeadline()
        } else {
            deadline?.cancel()
            deadline = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        cancelAllSubscriptions()
        logger.debug("RPC: client disconnected")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and the like are the client's business, not the operator's.
        fail("socket error: \(error)", level: .debug)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .closed = state { return }
        let buffer = unwrapInboundIn(data)
        guard pending.count - consumed + buffer.readableBytes <= Self.maxBufferedBytes else {
            return fail("more than \(Self.maxBufferedBytes) bytes of unprocessed requests")
        }
        pending.append(contentsOf: buffer.readableBytesView)
        processBuffered()
    }

    // MARK: Framing

    /// Reads as many requests as are complete, stopping while one is in flight. Replies that complete synchronously
    /// re-enter through `finish`; the flag turns that into another turn of this loop instead of recursion.
    private func processBuffered() {
        if isProcessing { return }
        isProcessing = true
        defer {
            isProcessing = false
            updateDeadline()
        }
        do {
            while true {
                switch state {
                case .busy, .closed:
                    return
                case .idle:
                    guard let value = try nextObject() else { return }
                    try accept(header: RPCRequestHeader(from: value))
                case .awaitingBody(let header, let handler):
                    guard let body = try nextObject() else { return }
                    dispatch(header, body: body, handler: handler)
                }
            }
        } catch {
            fail("malformed request: \(error)")
        }
    }

    /// One complete msgpack object from the buffer, or nil until more bytes arrive.
    private func nextObject() throws -> MessagePack? {
        guard try scanner.scan(pending) else { return nil }
        var reader = MessagePackReader(Array(pending[consumed..<scanner.offset]))
        let value = try reader.read()
        consumed = scanner.offset
        // Drop consumed bytes once they are most of the buffer: amortised linear, however requests are pipelined.
        if consumed == pending.count {
            pending.removeAll(keepingCapacity: true)
            consumed = 0
        } else if consumed > 4096 && consumed * 2 > pending.count {
            pending.removeFirst(consumed)
            consumed = 0
        }
        scanner = MessagePackScanner(offset: consumed)
        return value
    }

    private func accept(header: RPCRequestHeader) throws {
        if !didHandshake && header.command != RPCProtocol.Command.handshake {
            logger.warning("RPC: '\(header.command)' before handshake; closing")
            return finish(header, RPCReply(error: RPCProtocol.ErrorText.handshakeRequired, closeAfterWrite: true))
        }
        let handler = RPCCommands.table[header.command]
        if handler?.hasBody == true {
            state = .awaitingBody(header, handler)
        } else {
            dispatch(header, body: .null, handler: handler)
        }
    }

    // MARK: Dispatch

    private var needsAuth: Bool { authKey != nil && !didAuth }

    private func dispatch(_ header: RPCRequestHeader, body: MessagePack, handler: RPCCommandHandler?) {
        let command = header.command
        if needsAuth && command != RPCProtocol.Command.auth && command != RPCProtocol.Command.handshake {
            // The body (already read) is dropped to stay in sync; serf leaves it unread (docs/agent.md#rpc-quirks).
            logger.warning("RPC: client sent '\(command)' before auth")
            return finish(header, RPCReply(error: RPCProtocol.ErrorText.authRequired))
        }
        guard let handler else {
            logger.warning("RPC: unsupported command '\(command)'; closing")
            return finish(header, RPCReply(error: RPCProtocol.ErrorText.unsupportedCommand, closeAfterWrite: true))
        }
        state = .busy
        let future: EventLoopFuture<RPCReply>
        do {
            future = try handler.run(RPCCall(seq: header.seq, body: body, connection: self))
        } catch {
            return fail("malformed '\(command)' request: \(error)")
        }
        future.hop(to: backend.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let reply): self.finish(header, reply)
            case .failure(let error): self.finish(header, RPCReply(error: error.rpcErrorText))
            }
        }
    }

    private func finish(_ header: RPCRequestHeader, _ reply: RPCReply) {
        if case .closed = state { return }
        let written = send(RPCResponseHeader(error: reply.error, seq: header.seq), reply.body)
        if let after = reply.afterWrite { written.whenComplete { _ in after() } }
        if reply.closeAfterWrite {
            state = .closed
            written.assumeIsolated().whenComplete { _ in self.context?.close(promise: nil) }
            return
        }
        state = .idle
        processBuffered()
    }

    // MARK: Output and subscriptions (also for streaming handlers)

    /// Writes a header and optional body as one write.
    @discardableResult
    func send(_ header: RPCResponseHeader, _ body: (any RPCEncodable)?) -> EventLoopFuture<Void> {
        guard let context else { return backend.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        var w = MessagePackWriter(.rpc, capacity: 128)
        header.encode(to: &w)
        body?.encode(to: &w)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: w.bytes)), promise: promise)
        return promise.futureResult
    }

    func markHandshake() { didHandshake = true }

    /// Checks a presented token; constant-time in the token's length, so timing does not reveal a prefix.
    func authenticate(_ key: String) -> Bool {
        let want = Array((authKey ?? "").utf8)
        let got = Array(key.utf8)
        var diff = UInt8(want.count == got.count ? 0 : 1)
        for i in 0..<got.count { diff |= got[i] ^ (i < want.count ? want[i] : 0) }
        if diff == 0 { didAuth = true }
        return diff == 0
    }

    /// Writes one streamed record (stream, monitor, query results) unless the client has stopped reading and the
    /// socket's buffer is past its high-water mark: serf drops records then too (its per-stream buffer is 512), and
    /// an agent must never buffer without bound for a stuck client.
    func sendRecord(seq: UInt64, _ body: any RPCEncodable) {
        guard let context else { return }
        if case .closed = state { return }
        guard context.channel.isWritable else {
            droppedRecords += 1
            // Counted, and logged on the first drop only: a monitor drop that logged per line would feed itself.
            if droppedRecords == 1 { logger.warning("RPC: client is not reading; dropping streamed records") }
            return
        }
        if droppedRecords > 0 {
            logger.warning("RPC: dropped \(droppedRecords) streamed record(s) for a slow client")
            droppedRecords = 0
        }
        send(RPCResponseHeader(seq: seq), body)
    }

    func hasSubscription(seq: UInt64) -> Bool { subscriptions[seq] != nil }

    /// Registers what to do when the client sends `stop` for `seq` or disconnects.
    func addSubscription(seq: UInt64, cancel: @escaping () -> Void) { subscriptions[seq] = cancel }

    func cancelSubscription(seq: UInt64) { subscriptions.removeValue(forKey: seq)?() }

    // MARK: Queries received through streams

    /// Remembers a query delivered to this client; returns the ID its stream record carries.
    func registerQuery(ltime: UInt64, id: UInt32) -> UInt64 {
        lastQueryID += 1
        pendingQueries[lastQueryID] = (ltime, id)
        pendingOrder.append(lastQueryID)
        if pendingOrder.count > Self.maxPendingQueries {
            let excess = pendingOrder.count - Self.maxPendingQueries
            for old in pendingOrder.prefix(excess) { pendingQueries[old] = nil }
            pendingOrder.removeFirst(excess)
        }
        return lastQueryID
    }

    func pendingQuery(_ id: UInt64) -> (ltime: UInt64, id: UInt32)? { pendingQueries[id] }

    /// Forgets a query once it can no longer be answered.
    func expireQuery(_ id: UInt64) {
        guard pendingQueries.removeValue(forKey: id) != nil else { return }
        pendingOrder.removeAll { $0 == id }
    }

    private func cancelAllSubscriptions() {
        let all = subscriptions
        subscriptions = [:]
        for cancel in all.values { cancel() }
    }

    /// Logs why and closes; never traps, whatever the client sent.
    private func fail(_ reason: String, level: Logger.Level = .warning) {
        if case .closed = state { return }
        state = .closed
        logger.log(level: level, "RPC: closing client connection: \(reason)")
        context?.close(promise: nil)
    }
}
