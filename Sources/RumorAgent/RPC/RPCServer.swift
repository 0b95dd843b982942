import Logging
import NIOCore
import NIOPosix
import RumorRuntime
import Synchronization

/// The agent's RPC listener (Serf's IPC, docs/agent.md#rpc), on the backend's event loop so handlers can call the
/// backend directly.
public final class RPCServer: Sendable {
    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var closed = false
        var refused = 0
    }

    /// Clients connected at once (at most a quarter of the open-file limit); more are closed as they arrive. Idle ones that never finish a handshake go after
    /// `RPCConnection.requestDeadline`, so a flood cannot lock the CLI out for longer than that.
    public static let maxClients = 2048

    private let backend: any AgentRPCBackend
    private let authKey: String?
    private let logger: Logger
    private let streamSettings: RPCStreamSettings
    private let state = Mutex(State())

    /// `authKey`: when non-empty, clients must `auth` with it before any other command (config `rpc_auth`).
    /// `streamSettings`: coalescing for `stream` and the log source for `monitor` (Serf's agent defaults).
    public init(
        backend: any AgentRPCBackend, authKey: String?, logger: Logger, streamSettings: RPCStreamSettings = .init()
    ) {
        self.backend = backend
        self.authKey = authKey
        self.logger = logger
        self.streamSettings = streamSettings
    }

    /// The bound address (useful with port 0), once `start` has succeeded.
    public var localAddress: SocketAddress? {
        state.withLock { $0.listener?.localAddress }
    }

    public func start(host: String, port: Int) -> EventLoopFuture<Void> {
        let backend = self.backend
        let authKey = self.authKey
        let logger = self.logger
        let streamSettings = self.streamSettings
        return ServerBootstrap(group: backend.eventLoop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(acceptBackoff(logger: logger, what: "RPC"))
                    try channel.pipeline.syncOperations.addHandler(AcceptErrorLogger(logger: logger))
                }
            }
            // A TCP-level option: `socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, SO_DEBUG, which fails
            // without CAP_NET_ADMIN (in containers) and made NIO drop every client.
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            // Room for a monitor's replay (up to 512 lines) before a slow reader starts losing streamed records.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { [weak self] channel in
                guard let self, self.track(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let handler = RPCConnection(
                        backend: backend, authKey: authKey, logger: logger, streamSettings: streamSettings)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: host, port: port)
            .flatMap { [self] channel in
                let closedMeanwhile = state.withLock { state in
                    if state.closed { return true }
                    state.listener = channel
                    return false
                }
                if closedMeanwhile { return channel.close() }
                logger.info("RPC: listening on \(channel.localAddress.map { "\($0)" } ?? "\(host):\(port)")")
                return channel.eventLoop.makeSucceededVoidFuture()
            }
    }

    /// Stops listening and closes every client connection.
    public func close() -> EventLoopFuture<Void> {
        let (listener, connections) = state.withLock { state in
            state.closed = true
            defer { state.listener = nil; state.connections = [:] }
            return (state.listener, Array(state.connections.values))
        }
        let loop = backend.eventLoop
        let closes = ([listener].compactMap { $0 } + connections).map { channel in
            channel.close().recover { _ in }  // already closed is fine
        }
        return EventLoopFuture.andAllComplete(closes, on: loop)
    }

    /// Remembers a client channel until it closes; refuses it when the server is closing.
    private func track(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let (accepted, refused) = state.withLock { state -> (Bool, Int) in
            if state.closed { return (false, 0) }
            guard state.connections.count < FileLimit.share(Self.maxClients) else {
                state.refused += 1
                return (false, state.refused)
            }
            state.connections[id] = channel
            return (true, 0)
        }
        // Logged at the 1st, 10th, 100th... refusal: a flood cannot fill the log.
        if refused > 0, String(refused).dropFirst().allSatisfy({ $0 == "0" }) {
            logger.warning("RPC: refused a client: \(FileLimit.share(Self.maxClients)) connected already (\(refused) refused so far)")
        }
        if accepted {
            channel.closeFuture.whenComplete { [weak self] _ in
                self?.state.withLock { _ = $0.connections.removeValue(forKey: id) }
            }
        }
        return accepted
    }
}

/// NIO reports a client it accepted but could not set up (or a failed accept) only as an error on the listener's
/// pipeline; without this the client just sees its connection closed and the agent's log says nothing.
/// Repeats of one error are logged at the 1st, 10th, 100th... occurrence, so a flood cannot fill the log.
private final class AcceptErrorLogger: ChannelInboundHandler {
    typealias InboundIn = Any

    private let logger: Logger
    private var last = ""
    private var repeats = 0

    init(logger: Logger) { self.logger = logger }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let text = "\(error)"
        if text == last { repeats += 1 } else { (last, repeats) = (text, 1) }
        var n = repeats
        while n % 10 == 0 { n /= 10 }
        if n == 1 {
            logger.warning("RPC: could not accept a client: \(text)\(repeats > 1 ? " (\(repeats) times)" : "")")
        }
    }
}
