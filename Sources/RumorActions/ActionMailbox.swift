import RumorSupport
import NIOCore
import RumorCore
import Synchronization

/// Hand-off between the agent (any thread, never blocking) and the action's single consumer loop.
///
/// Only the latest member snapshot matters, so posting replaces it; the consumer debounces on the recorded times.
/// The consumer sleeps in `wait` until something is posted, a deadline passes (an event-loop timer, so no task
/// is spawned for it), or its task is cancelled.
final class ActionMailbox: Sendable {
    struct Pending {
        var members: [Member]
        /// How many snapshots had been posted when this one was (1 for the first).
        var number: Int
        var firstChange: ContinuousClock.Instant
        var lastChange: ContinuousClock.Instant
    }

    private struct State {
        var pending: Pending?
        var posted = 0
        var exits: [(pid: Int32, status: ExitStatus)] = []
        /// Bumped by every post; `wait` returns once it moves past the caller's value.
        var sequence = 0
        var waiter: CheckedContinuation<Void, Never>?
        var waiterToken = 0
        var cancelled = false
        var reloadRequested = false
        var stopRequested = false

        /// Records a post; returns the waiter to resume (outside the lock).
        mutating func bump() -> CheckedContinuation<Void, Never>? {
            sequence += 1
            defer { waiter = nil }
            return waiter
        }
    }

    private let state = Mutex(State())

    var sequence: Int { state.withLock { $0.sequence } }

    /// Returns the snapshot's number.
    @discardableResult
    func postMembers(_ members: [Member], at now: ContinuousClock.Instant = .now) -> Int {
        let (waiter, number) = state.withLock { s -> (CheckedContinuation<Void, Never>?, Int) in
            s.posted += 1
            if s.pending == nil {
                s.pending = Pending(members: members, number: s.posted, firstChange: now, lastChange: now)
            } else {
                s.pending!.members = members
                s.pending!.number = s.posted
                s.pending!.lastChange = now
            }
            return (s.bump(), s.posted)
        }
        waiter?.resume()
        return number
    }

    func postExit(pid: Int32, status: ExitStatus) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.exits.append((pid, status))
            return s.bump()
        }
        waiter?.resume()
    }

    /// Asks the consumer to load its template again and render (SIGHUP).
    func requestReload() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.reloadRequested = true
            return s.bump()
        }
        waiter?.resume()
    }

    /// Returns whether a reload was requested since the last call.
    func takeReloadRequest() -> Bool {
        state.withLock { s in
            defer { s.reloadRequested = false }
            return s.reloadRequested
        }
    }

    /// Asks the consumer to finish; from then on `wait` returns at once. A stopped mailbox stays stopped.
    func requestStop() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.stopRequested = true
            return s.bump()
        }
        waiter?.resume()
    }

    var stopRequested: Bool { state.withLock { $0.stopRequested } }

    var pendingTimes: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)? {
        state.withLock { s in s.pending.map { ($0.firstChange, $0.lastChange) } }
    }

    func takeMembers() -> (members: [Member], number: Int)? {
        state.withLock { s in
            defer { s.pending = nil }
            return s.pending.map { ($0.members, $0.number) }
        }
    }

    func takeExits() -> [(pid: Int32, status: ExitStatus)] {
        state.withLock { s in
            defer { s.exits = [] }
            return s.exits
        }
    }

    /// Returns when `sequence` has moved past `seen`, at `deadline`, or on cancellation (then always at once).
    func wait(after seen: Int, until deadline: ContinuousClock.Instant?, on eventLoop: any EventLoop) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let token = state.withLock { s -> Int? in
                    if s.sequence != seen || s.cancelled || s.stopRequested { return nil }
                    s.waiterToken += 1
                    s.waiter = continuation
                    return s.waiterToken
                }
                guard let token else {
                    continuation.resume()
                    return
                }
                if let deadline {
                    let delay = max(.zero, deadline - .now)
                    let nanoseconds = delay.components.seconds * 1_000_000_000
                        + delay.components.attoseconds / 1_000_000_000
                    eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
                        self.resumeWaiter(token: token)
                    }
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.cancelled = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }

    private func resumeWaiter(token: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.waiterToken == token, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
