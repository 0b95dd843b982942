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

/// What to do with a new inbound stream.
public enum StreamAdmission: Equatable, Sendable {
    case admit
    /// Admit it after closing the oldest stream of this address, the one holding the most.
    case admitDisplacing([UInt8])
    /// Refuse it; the text says which limit.
    case refuse(String)
}

extension StreamLimits {
    /// Whether a stream from `ip` may open, given what each address holds (`open`) and the cap on all of them.
    /// Each address gets at most `perPeer`. When every slot is taken, a newcomer from an address holding fewer than
    /// the largest holder (less one, so two addresses never trade a slot back and forth) takes the largest
    /// holder's oldest stream: however many addresses a flood comes from, a peer from another address gets in.
    public func admission(from ip: [UInt8], open: [[UInt8]: Int], totalCap: Int) -> StreamAdmission {
        let fromPeer = open[ip, default: 0]
        guard fromPeer < perPeer else { return .refuse("\(perPeer) from one address") }
        guard open.values.reduce(0, +) >= totalCap else { return .admit }
        // The largest holder; among equals the smallest address, so the choice does not depend on hash order.
        let largest = open.max { a, b in a.value != b.value ? a.value < b.value : a.key.lexicographicallyPrecedes(b.key) == false }
        if let largest, largest.value > fromPeer + 1 { return .admitDisplacing(largest.key) }
        return .refuse("\(totalCap) in all")
    }
}

extension Runtime {
    /// Counts `channel` in, or refuses it (false) when its peer or everyone together has too many open; when
    /// everything is taken, a peer holding few streams displaces the oldest of the one holding the most.
    func admitStream(_ channel: any Channel) -> Bool {
        eventLoop.preconditionInEventLoop()
        guard let remote = channel.remoteAddress.flatMap(Address.init) else { return false }
        let ip = remote.ip
        let decision = streamLimits.admission(
            from: ip, open: openStreams.mapValues(\.count), totalCap: FileLimit.share(streamLimits.total))
        switch decision {
        case .refuse(let limit):
            counters.streamsRefused += 1
            if let line = warnings.admit("refused a stream from \(remote): too many open (limit \(limit))", at: now) {
                logger.warning("\(line)")
            }
            return false
        case .admitDisplacing(let victim):
            if let oldest = openStreams[victim]?.first {
                counters.streamsDisplaced += 1
                forgetStream(oldest, from: victim)
                oldest.close(promise: nil)
                if let line = warnings.admit("closed a stream from \(oldest.remoteAddress.map { "\($0)" } ?? "?") to let one from \(remote) in: every slot was taken", at: now) {
                    logger.warning("\(line)")
                }
            }
        case .admit:
            break
        }
        openStreams[ip, default: []].append(channel)
        openStreamTotal += 1
        channel.closeFuture.whenComplete { [self] _ in forgetStream(channel, from: ip) }
        return true
    }

    /// Uncounts `channel` (once: a displaced stream is uncounted when displaced, and again on its close).
    private func forgetStream(_ channel: any Channel, from ip: [UInt8]) {
        guard var list = openStreams[ip], let at = list.firstIndex(where: { $0 === channel }) else { return }
        list.remove(at: at)
        openStreams[ip] = list.isEmpty ? nil : list
        openStreamTotal -= 1
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
