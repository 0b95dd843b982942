import Logging
import NIOCore
import RumorCore

extension Agent {
    /// Serf's `retry_join`: keep trying every `retry_interval` until one target answers, or give up after
    /// `retry_max` attempts (0: never give up). The future fails only when the attempts are exhausted.
    public func retryJoin() -> EventLoopFuture<Void> {
        guard !configuration.retryJoin.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        retryJoinAttempt(1, promise: promise)
        return promise.futureResult
    }

    private func retryJoinAttempt(_ n: Int, promise: EventLoopPromise<Void>) {
        join(configuration.retryJoin, replay: configuration.replayOnJoin).whenComplete { [self] result in
            if case .success(let r) = result, r.joined > 0 {
                logger.info("agent: retry join succeeded, joined \(r.joined) nodes")
                return promise.succeed(())
            }
            let why = (try? result.get().errors.joined(separator: "; ")) ?? "unknown error"
            if configuration.retryMax > 0 && n >= configuration.retryMax {
                return promise.fail(StartupError("max join retry exhausted after \(n) attempts: \(why)"))
            }
            logger.warning("agent: join failed: \(why), retrying in \(configuration.retryInterval)")
            eventLoop.scheduleTask(in: .nanoseconds(configuration.retryInterval.nanoseconds)) {
                self.retryJoinAttempt(n + 1, promise: promise)
            }
        }
    }
}
