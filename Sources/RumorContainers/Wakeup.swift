import NIOConcurrencyHelpers

/// Wakes a loop that waits for "something changed" or a deadline, whichever comes first. Signals coalesce: any
/// number of them while the loop works make one more pass, which is all a reconcile loop needs.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = NIOLockedValueBox(State())

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
        let timer = Task { [weak self] in
            // Only a deadline that passed signals: a cancelled timer (the wait ended first) must not, or the next
            // wait would return at once and the loop would spin.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.signal()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { s -> Bool in
                    if s.pending { s.pending = false; return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            signal()
        }
        state.withLockedValue { $0.pending = false }
    }
}
