import NIOConcurrencyHelpers
import NIOCore

/// Wakes a loop that waits for "something changed" or a deadline, whichever comes first. Signals coalesce: any
/// number of them while the loop works make one more pass, which is all a reconcile loop needs.
///
/// Deadlines are timers on `eventLoop` (the agent's), not `Task.sleep`: a sleeping task wakes on Swift's global
/// pool, which then keeps a thread per core alive for an otherwise idle action.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Which wait a timer belongs to: a timer of a wait that already ended must not end the next one.
        var round = 0
    }
    private let state = NIOLockedValueBox(State())
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func signal() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter { s.waiter = nil; return w }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once if one came since the last wait), at `timeout`, or on cancellation.
    func wait(timeout: Duration) async {
        var timer: Scheduled<Void>?
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let round = state.withLockedValue { s -> Int? in
                    if s.pending { s.pending = false; return nil }
                    s.waiter = c
                    s.round += 1
                    return s.round
                }
                guard let round else { return c.resume() }
                timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [weak self] in self?.timedOut(round) }
            }
        } onCancel: {
            signal()
        }
        timer?.cancel()
        state.withLockedValue { $0.pending = false }
    }

    /// `Task.sleep` on the event loop's timers (see above); returns early on cancellation.
    static func sleep(for duration: Duration, on eventLoop: any EventLoop) async {
        await Wakeup(eventLoop: eventLoop).wait(timeout: duration)
    }

    private func timedOut(_ round: Int) {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            guard s.round == round, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
