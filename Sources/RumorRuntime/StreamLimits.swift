import Logging
import NIOCore
import RumorWire

/// How many inbound gossip streams may be open, and how much they may hold: a peer opening connections and
/// sending nothing must not use up the agent's file descriptors or memory. The excess is closed at once.
public struct StreamLimits: Sendable {
    /// Open streams from one IP (memberlist allows 128 concurrent push-pulls in all).
    public var perPeer = 128
    /// Open streams in all.
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
        guard fromPeer < streamLimits.perPeer, openStreamTotal < streamLimits.total else {
            let limit = fromPeer >= streamLimits.perPeer ? "\(streamLimits.perPeer) from one address" : "\(streamLimits.total) in all"
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

/// Pauses accepting for a second when accept fails (out of file descriptors, say) instead of retrying at once in a
/// busy loop, and logs it once per pause; NIO's `bind` does not add this by itself.
public func acceptBackoff(logger: Logger, what: String) -> AcceptBackoffHandler {
    let last = LastLogged()
    return AcceptBackoffHandler(shouldForwardIOErrorCaught: false) { error in
        let now = NIODeadline.now()
        if now > last.at + .seconds(5) {  // a line at most every 5 s while it keeps failing
            last.at = now
            logger.warning("\(what): accept failed (\(error)); pausing new connections for 1 s")
        }
        return .seconds(1)
    }
}

/// When the last accept failure was logged.
private final class LastLogged: @unchecked Sendable {
    // @unchecked: used only on the listener's event loop.
    var at = NIODeadline.uptimeNanoseconds(0)
}
