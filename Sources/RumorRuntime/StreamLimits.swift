#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import RumorWire

/// How many inbound gossip streams may be open, and how much they may hold: a peer opening connections and
/// sending nothing must not use up the agent's file descriptors or memory. The excess is closed at once.
public struct StreamLimits: Sendable {
    /// Open streams from one IP (memberlist allows 128 concurrent push-pulls in all).
    public var perPeer = 128
    /// Open streams in all (at most a quarter of the open-file limit, see `FileLimit.share`).
    public var total = 4096
    /// Bytes all inbound streams may buffer at once (three streams at memberlist's 20 MiB limit).
    public var bufferedBytes = 3 * StreamFramer.maxStateBytes

    public init() {}
}

extension Runtime {
    /// Counts `channel` in, or refuses it (false) when its peer or everyone together has too many open.
    func admitStream(_ channel: any Channel) -> Bool {
        eventLoop.preconditionInEventLoop()
        guard let remote = channel.remoteAddress.flatMap(Address.init) else { return false }
        let ip = remote.ip
        let fromPeer = openStreams[ip, default: 0]
        let total = FileLimit.share(streamLimits.total)
        guard fromPeer < streamLimits.perPeer, openStreamTotal < total else {
            counters.streamsRefused += 1
            let limit = fromPeer >= streamLimits.perPeer ? "\(streamLimits.perPeer) from one address" : "\(total) in all"
            if let line = warnings.admit("refused a stream from \(remote): too many open (limit \(limit))", at: now) {
                logger.warning("\(line)")
            }
            return false
        }
        openStreams[ip] = fromPeer + 1
        openStreamTotal += 1
        channel.closeFuture.whenComplete { [self] _ in
            let left = (openStreams[ip] ?? 1) - 1
            openStreams[ip] = left > 0 ? left : nil
            openStreamTotal -= 1
        }
        return true
    }
}

/// Pauses accepting for a second when accept fails for want of resources (out of file descriptors, say) instead of
/// retrying at once, and logs it at most once per 5 s. NIO leaves the listener registered for reading after such a
/// failure, so its own `AcceptBackoffHandler` never gets the chance to hold reads back, and epoll wakes the loop for
/// the same doomed accept thousands of times a second; turning auto-read off unregisters it until the pause ends.
public func acceptBackoff(logger: Logger, what: String) -> any ChannelHandler {
    AcceptPause(logger: logger, what: what)
}

private final class AcceptPause: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used only on the listener's event loop.
    typealias InboundIn = Any

    private let logger: Logger
    private let what: String
    private var paused = false
    private var lastLogged = NIODeadline.uptimeNanoseconds(0)

    init(logger: Logger, what: String) {
        self.logger = logger
        self.what = what
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let io = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(io.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        let now = NIODeadline.now()
        if now > lastLogged + .seconds(5) {
            lastLogged = now
            logger.warning("\(what): accept failed (\(error)); pausing new connections for 1 s")
        }
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(ChannelOptions.autoRead, value: false)
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            paused = false
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}
