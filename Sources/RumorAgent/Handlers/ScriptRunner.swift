#if canImport(Glibc)
import Glibc
#endif
import RumorSupport
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Runs handler scripts on one dedicated thread that multiplexes every child with `poll(2)`.
///
/// Why a poll loop rather than a thread per run: a hung script then costs a process and two fds, not a thread, so
/// no number of hung handlers can starve the others of threads, and stdin, output, the slow warning and the
/// timeout are all plain nonblocking steps of one loop (nothing can deadlock on a full pipe).
///
/// Ordering and bounds: jobs are queued per *lane* (one lane per handler) and a lane runs one job at a time, in
/// order. Lanes take turns; at most `maxConcurrent` scripts run at once. Since each handler has at most one run in
/// flight, a hung handler delays only itself unless more than `maxConcurrent` handlers hang at once, and even then
/// only until the timeout kills them. A lane holds at most `maxQueuedPerLane` waiting runs; beyond that new runs are
/// dropped with a warning (Serf would instead stall its whole event pipeline behind the slow script).
public final class ScriptRunner: @unchecked Sendable {
    // @unchecked: `shared` is lock-protected; `running` is touched only by the loop thread; the fds are immutable.
    public let maxConcurrent: Int
    public let maxQueuedPerLane: Int
    private let logger: Logger
    private let shared = NIOLockedValueBox(Shared())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private var running: [RunningScript] = []

    private struct Lane {
        var pending = FIFO<ScriptJob>()
        /// Running a job or waiting in `ready`.
        var scheduled = false
        var dropped = 0
    }

    private struct Shared {
        var lanes: [String: Lane] = [:]
        var ready = FIFO<String>()
        var runningCount = 0
        var queuedCount = 0
        var stopping = false
        var stopped = false
        var onStopped: [@Sendable () -> Void] = []
    }

    public init(maxConcurrent: Int = 16, maxQueuedPerLane: Int = 1024, logger: Logger) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueuedPerLane = max(1, maxQueuedPerLane)
        self.logger = logger
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        } else {
            // Without a wake pipe the loop polls every 10 ms instead; degraded, but it still works.
            logger.error("agent: event handlers: cannot create a pipe: \(errnoDescription(errno))")
            fds = [-1, -1]
        }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
        thread.start()
        thread.submit { [self] _ in loop() }
    }

    /// Queues a run behind the lane's earlier runs. A run that is refused (after ``shutdown(_:)``, or with the lane
    /// full) completes at once with ``Termination/failed(_:)``.
    public func enqueue(_ job: ScriptJob, lane: String) {
        enum Outcome { case queued, stopped, full(dropped: Int) }
        let outcome = shared.withLockedValue { s -> Outcome in
            guard !s.stopping else { return .stopped }
            var l = s.lanes[lane] ?? Lane()
            guard l.pending.count < maxQueuedPerLane else {
                l.dropped += 1
                s.lanes[lane] = l
                return .full(dropped: l.dropped)
            }
            l.pending.append(job)
            s.queuedCount += 1
            if !l.scheduled {
                l.scheduled = true
                s.ready.append(lane)
            }
            s.lanes[lane] = l
            return .queued
        }
        switch outcome {
        case .queued:
            wake()
        case .stopped:
            logger.warning("agent: event handlers are shut down; not running '\(job.script)'")
            job.completion(.notRun("shut down"))
        case .full(let dropped):
            if dropped == 1 || dropped % 100 == 0 {  // once per backlog, then now and then: no log flood
                logger.warning("""
                    agent: Script '\(job.script)' is \(maxQueuedPerLane) runs behind; dropping \(job.eventName) \
                    events (\(dropped) so far)
                    """)
            }
            job.completion(.notRun("queue full"))
        }
    }

    /// Scripts running now, and runs waiting for their turn.
    public var load: (running: Int, queued: Int) {
        shared.withLockedValue { ($0.runningCount, $0.queuedCount) }
    }

    /// Kills the running scripts' process groups, drops queued runs and stops the thread; `done` runs after.
    public func shutdown(_ done: @escaping @Sendable () -> Void = {}) {
        let finished = shared.withLockedValue { s -> Bool in
            if s.stopped { return true }
            s.stopping = true
            s.onStopped.append(done)
            return false
        }
        if finished { done() } else { wake() }
    }

    public func shutdown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in shutdown { c.resume() } }
    }

    private func wake() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)  // EAGAIN: a wake-up is already pending, which is as good
    }

    // MARK: - The loop thread

    private func loop() {
        // A write to a pipe whose reader exited raises SIGPIPE in this thread; blocked, it becomes a plain EPIPE.
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        while step() {}
        stop()
    }

    /// One round: start what may start, poll, react. False once shutting down.
    private func step() -> Bool {
        let (starts, stopping) = takeStarts()
        if stopping { return false }
        var now = monotonicNanoseconds()
        let environment = starts.isEmpty ? [] : Self.currentEnvironment()
        for (lane, job) in starts {
            running.append(RunningScript(job: job, lane: lane, baseEnvironment: environment, now: now, logger: logger))
        }
        for script in running { script.tick(now: now) }
        if finishDone(now: now) { return true }  // a lane may have more work: start it before sleeping

        var fds: [pollfd] = []
        var owners: [RunningScript] = []
        if wakeRead >= 0 { fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)) }
        for script in running {
            for p in script.pollRequests() {
                fds.append(p)
                owners.append(script)
            }
        }
        var timeout: Int32 = wakeRead >= 0 ? -1 : 10
        if let next = running.map({ $0.wakeup(now: now) }).min() {
            let delta = next - min(next, now)
            let ms = Int32(clamping: delta / 1_000_000 + (delta % 1_000_000 == 0 ? 0 : 1))
            timeout = timeout < 0 ? ms : min(timeout, ms)
        }
        let rc = poll(&fds, nfds_t(fds.count), timeout)
        if rc < 0 && errno != EINTR {
            logger.error("agent: event handlers: poll failed: \(errnoDescription(errno))")
            usleep(10_000)  // never spin on a persistent error
        }
        guard rc > 0 else { return true }
        let offset = wakeRead >= 0 ? 1 : 0
        if offset == 1 && fds[0].revents != 0 { drainWakePipe() }
        for (i, p) in fds.enumerated().dropFirst(offset) where p.revents != 0 {
            owners[i - offset].handle(p)
        }
        now = monotonicNanoseconds()
        for script in running { script.tick(now: now) }
        _ = finishDone(now: now)
        return true
    }

    private func takeStarts() -> ([(String, ScriptJob)], Bool) {
        shared.withLockedValue { s in
            if s.stopping { return ([], true) }
            var starts: [(String, ScriptJob)] = []
            while s.runningCount < maxConcurrent, let lane = s.ready.popFirst() {
                guard let job = s.lanes[lane]?.pending.popFirst() else {
                    s.lanes[lane] = nil  // cannot happen: a ready lane has work; recover rather than trap
                    continue
                }
                s.queuedCount -= 1
                s.runningCount += 1
                starts.append((lane, job))
            }
            return (starts, false)
        }
    }

    /// Completes finished runs and frees their lanes; true if any finished.
    private func finishDone(now: UInt64) -> Bool {
        let done = running.filter(\.isFinished)
        guard !done.isEmpty else { return false }
        running.removeAll(where: \.isFinished)
        for script in done {
            let result = script.result(now: now)
            script.job.completion(result)
            report(script.job, result)
            shared.withLockedValue { s in
                s.runningCount -= 1
                if s.lanes[script.lane]?.pending.isEmpty ?? true {
                    s.lanes[script.lane] = nil  // forget idle lanes (handlers removed by a reload)
                } else {
                    s.ready.append(script.lane)
                }
            }
        }
        return true
    }

    private func report(_ job: ScriptJob, _ result: ScriptResult) {
        let script = job.script
        if result.outputTotal > job.outputLimit {
            logger.warning("""
                agent: Script '\(script)' generated \(result.outputTotal) bytes of output, truncated to \
                \(job.outputLimit)
                """)
        }
        logger.debug("agent: Event '\(job.eventName)' script output: \(logSafe(result.output))")
        guard !result.succeeded, !result.timedOut else { return }  // a timeout was logged when it was killed
        var line = "agent: Error invoking script '\(script)': \(result.termination)"
        if !result.output.isEmpty { line += "; output tail: \(logSafe(result.output.suffix(512)))" }
        logger.error("\(line)")
    }

    private func stop() {
        for script in running { script.kill() }
        let now = monotonicNanoseconds()
        for script in running { script.job.completion(script.result(now: now)) }
        if !running.isEmpty { logger.warning("agent: killed \(running.count) running event handler script(s)") }
        running.removeAll()
        let (dropped, callbacks) = shared.withLockedValue { s -> ([ScriptJob], [@Sendable () -> Void]) in
            s.stopped = true
            var dropped: [ScriptJob] = []
            for var lane in s.lanes.values { while let job = lane.pending.popFirst() { dropped.append(job) } }
            s.lanes.removeAll()
            s.ready = FIFO()
            (s.runningCount, s.queuedCount) = (0, 0)
            defer { s.onStopped.removeAll() }
            return (dropped, s.onStopped)
        }
        if !dropped.isEmpty {
            logger.warning("agent: dropped \(dropped.count) queued event handler run(s) at shutdown")
        }
        for job in dropped { job.completion(.notRun("shut down")) }
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
        // Safe from the pool's own thread: it joins the thread elsewhere, after this work item returns.
        thread.shutdownGracefully { _ in callbacks.forEach { $0() } }
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while buffer.withUnsafeMutableBytes({ Glibc.read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// The agent's environment now (`environ`), as `KEY=value` strings.
    static func currentEnvironment() -> [String] {
        var out: [String] = []
        // Imported as non-optional, yet NULL after clearenv(3): check the bits before dereferencing.
        guard Int(bitPattern: environ) != 0 else { return out }
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A queue with O(1) amortised pops (swift-collections' Deque is not a dependency).
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func append(_ e: Element) { items.append(e) }

    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let e = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return e
    }
}

extension FIFO: Sendable where Element: Sendable {}
