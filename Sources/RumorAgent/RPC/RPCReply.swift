import Logging
import NIOCore
import RumorWire

/// What a command handler answers: the header's Error, an optional body, and what to do once it is written.
struct RPCReply: Sendable {
    var error: String
    /// Commands with a response body send it even when `error` is set (the CLI reads it: docs/agent.md#rpc-framing).
    var body: (any RPCEncodable)?
    /// Close the connection after the reply (unknown command, handshake required).
    var closeAfterWrite: Bool
    /// Runs once the reply has been handed to the socket (e.g. `leave` starts the leave only after replying, and a
    /// stream starts sending records only after its first reply). To reach the connection from here, capture it in
    /// an `NIOLoopBound`.
    var afterWrite: (@Sendable () -> Void)?

    init(
        error: String = "", body: (any RPCEncodable)? = nil, closeAfterWrite: Bool = false,
        afterWrite: (@Sendable () -> Void)? = nil
    ) {
        self.error = error
        self.body = body
        self.closeAfterWrite = closeAfterWrite
        self.afterWrite = afterWrite
    }

    static let ok = RPCReply()
}

/// One decoded request as a handler sees it. Handlers run on the connection's event loop.
struct RPCCall {
    let seq: UInt64
    /// The request body, or `.null` for commands without one.
    let body: MessagePack
    let connection: RPCConnection

    var backend: any AgentRPCBackend { connection.backend }
    var eventLoop: any EventLoop { connection.backend.eventLoop }
    var logger: Logger { connection.logger }

    func reply(_ reply: RPCReply) -> EventLoopFuture<RPCReply> { eventLoop.makeSucceededFuture(reply) }

    func reply(error: String = "", body: (any RPCEncodable)? = nil) -> EventLoopFuture<RPCReply> {
        reply(RPCReply(error: error, body: body))
    }
}

/// A command's entry in the dispatch table.
struct RPCCommandHandler: Sendable {
    /// Whether a body object follows the request header (decided by the command name alone, as in Go).
    var hasBody: Bool
    /// Throws only for a malformed body, which closes the connection as Go's agent does. Failures of the operation
    /// itself belong in `RPCReply.error`.
    var run: @Sendable (RPCCall) throws -> EventLoopFuture<RPCReply>

    init(hasBody: Bool, run: @escaping @Sendable (RPCCall) throws -> EventLoopFuture<RPCReply>) {
        self.hasBody = hasBody
        self.run = run
    }
}

extension Error {
    /// The text for `responseHeader.Error`: the description, as Go's `err.Error()`.
    var rpcErrorText: String { "\(self)" }
}
