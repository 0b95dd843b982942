import NIOCore
import RumorCore

/// A timer on an event loop that follows a moving deadline, such as a coalescer's next flush: set again only when
/// the deadline changed, gone when there is none. Used on its event loop only. `now` is the agent's one clock for
/// the coalescers (monotonic, the event loop's).
final class DeadlineTimer {
    private let eventLoop: any EventLoop
    private var scheduled: Scheduled<Void>?
    private var at: Instant?

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    static var now: Instant { Instant(nanoseconds: Int64(clamping: NIODeadline.now().uptimeNanoseconds)) }

    /// Runs `fire` at `deadline` (nil: never), in place of whatever was set.
    func set(_ deadline: Instant?, _ fire: @escaping () -> Void) {
        guard deadline != at else { return }
        cancel()
        at = deadline
        guard let deadline else { return }
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(clamping: deadline.nanoseconds))) {
            [weak self] in
            self?.scheduled = nil
            self?.at = nil
            fire()
        }
    }

    func cancel() {
        scheduled?.cancel()
        scheduled = nil
        at = nil
    }
}
