import RumorSupport
#if canImport(Glibc)
import Glibc
#endif
import Logging
import RumorCore

/// One run in progress: feeds stdin, collects output, warns when slow, kills on timeout and notices the exit. Every
/// method runs on the ``ScriptRunner`` loop thread, and none of them blocks.
final class RunningScript {
    let job: ScriptJob
    let lane: String
    private let logger: Logger
    private let child: ChildProcess?
    private var stdin: [UInt8]
    private var written = 0
    private var output: OutputRing
    private let started: UInt64
    private var slowWarned = false
    private(set) var timedOut = false
    private var termination: Termination?
    /// How soon to look for the exit again once the output pipe hit EOF (the shell is exiting: poll quickly).
    private var reapDelay: UInt64 = 1_000_000

    /// `baseEnvironment`: the agent's, to which the job's `SERF_*` variables are added.
    init(job: ScriptJob, lane: String, baseEnvironment: [String], now: UInt64, logger: Logger) {
        self.job = job
        self.lane = lane
        self.logger = logger
        self.started = now
        stdin = job.invocation.stdin
        output = OutputRing(capacity: job.outputLimit)
        do {
            child = try ChildProcess.spawn(
                ["/bin/sh", "-c", job.script], environment: job.invocation.environment(base: baseEnvironment),
                stdin: .pipe, nonblocking: true)
            if stdin.isEmpty { child?.closeStdin() }
        } catch {
            child = nil
            termination = .failed("\(error)")
        }
    }

    var isFinished: Bool { termination != nil }

    /// The fds to poll and for what.
    func pollRequests() -> [pollfd] {
        guard let child, termination == nil else { return [] }
        var out: [pollfd] = []
        if child.stdinFD >= 0 { out.append(pollfd(fd: child.stdinFD, events: Int16(POLLOUT), revents: 0)) }
        if child.outputFD >= 0 { out.append(pollfd(fd: child.outputFD, events: Int16(POLLIN), revents: 0)) }
        return out
    }

    func handle(_ p: pollfd) {
        guard termination == nil, p.revents != 0 else { return }
        if p.fd == child?.stdinFD { writeStdin() } else if p.fd == child?.outputFD { readOutput(limit: 256 * 1024) }
    }

    /// Absolute time (monotonic ns) by which ``tick(now:)`` must run again.
    func wakeup(now: UInt64) -> UInt64 {
        let outputOpen = (child?.outputFD ?? -1) >= 0
        // While output is open the exit is usually announced by EOF; the slow poll only catches a shell that exited
        // while something it started in the background still holds the pipe.
        var at = now.saturatingAdd(outputOpen ? 100_000_000 : reapDelay)
        if !slowWarned { at = min(at, started.saturatingAdd(job.slowThreshold)) }
        if !timedOut { at = min(at, started.saturatingAdd(job.timeout)) }
        return max(at, now)
    }

    /// Time-driven work: the slow warning, the timeout, and noticing the exit.
    func tick(now: UInt64) {
        guard termination == nil, let child else { return }
        let elapsed = Duration.nanoseconds(Int64(clamping: now &- min(now, started)))
        if !slowWarned && elapsed >= job.slowThreshold {
            slowWarned = true
            logger.warning("agent: Script '\(job.script)' slow, execution exceeding \(GoDuration.format(job.slowThreshold))")
        }
        if !timedOut && elapsed >= job.timeout {
            timedOut = true
            child.signalGroup(SIGKILL)
            logger.error("""
                agent: Script '\(job.script)' timed out after \(GoDuration.format(job.timeout)) handling \(job.eventName); \
                killed its process group \(child.pid)
                """)
        }
        guard let status = child.reapIfExited() else {
            if child.outputFD < 0 { reapDelay = min(reapDelay * 2, 50_000_000) }
            return
        }
        // The shell is gone; take what is already in the pipe but don't wait for anything it left running.
        readOutput(limit: 1024 * 1024)
        if child.stdinFD >= 0 { abandonStdin() }
        child.closeOutput()
        termination = Termination(status)
    }

    /// Shutdown: kill the group and wait for the shell (SIGKILL cannot be refused, so this is brief).
    func kill() {
        guard termination == nil, let child else { return }
        child.signalGroup(SIGKILL)
        _ = child.waitBlocking()
        child.closeStdin()
        child.closeOutput()
        termination = .signaled(SIGKILL)
    }

    func result(now: UInt64) -> ScriptResult {
        ScriptResult(
            termination: termination ?? .failed("unfinished"), output: output.bytes, outputTotal: output.totalWritten,
            timedOut: timedOut, duration: .nanoseconds(Int64(clamping: now &- min(now, started))))
    }

    private func writeStdin() {
        guard let child, child.stdinFD >= 0 else { return }
        while written < stdin.count {
            let n = stdin.withUnsafeBytes { buf in
                Glibc.write(child.stdinFD, buf.baseAddress! + written, min(buf.count - written, 64 * 1024))
            }
            if n > 0 { written += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            // EPIPE: the script exited or closed stdin without reading it all; that is its right.
            abandonStdin()
            return
        }
        child.closeStdin()
    }

    private func abandonStdin() {
        logger.debug("agent: Script '\(job.script)' did not read all of its stdin (\(written)/\(stdin.count) bytes)")
        child?.closeStdin()
    }

    /// Reads what is available, up to `limit` bytes (so one chatty script cannot starve the others).
    private func readOutput(limit: Int) {
        guard let child, child.outputFD >= 0 else { return }
        var total = 0
        while total < limit {
            switch child.readOutput(timeout: .zero, limit: 16 * 1024) {
            case .data(let bytes):
                bytes.withUnsafeBytes { output.write($0) }
                total += bytes.count
            case .timeout:
                return
            case .eof:
                // Every writer is gone; the exit follows shortly.
                child.closeOutput()
                reapDelay = 1_000_000
                return
            }
        }
    }
}

extension UInt64 {
    /// A monotonic time plus a duration, saturating (a huge or negative configured timeout must not trap).
    /// (The UInt64 overload is RumorCore's.)
    func saturatingAdd(_ d: Duration) -> UInt64 { saturatingAdd(UInt64(clamping: d.nanoseconds)) }
}
