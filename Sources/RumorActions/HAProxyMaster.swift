import RumorSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOPosix
import Synchronization

/// An HAProxy master process (`haproxy -W -S <master socket> -f <config>`) that the action started.
///
/// A watcher on the action's thread pool forwards HAProxy's output to the agent's log (keeping the last lines for
/// error reports) and reaps the master when it exits, then calls `onExit` so the action can restart it.
final class HAProxyMaster: Sendable {
    let process: ChildProcess
    let api: HAProxyRuntimeAPI
    private let watch = Mutex(WatchState())

    private struct WatchState {
        var exit: ExitStatus?
        var recentLines: [String] = []
    }

    private init(process: ChildProcess, api: HAProxyRuntimeAPI) {
        self.process = process
        self.api = api
    }

    var pid: Int32 { process.pid }
    var exitStatus: ExitStatus? { watch.withLock { $0.exit } }
    var recentOutput: String { watch.withLock { $0.recentLines.joined(separator: "\n") } }

    /// Starts HAProxy on `configFile` and returns once its first worker runs (blocking; call on a pool thread).
    static func start(
        configuration: HAProxyActionConfiguration,
        pool: NIOThreadPool,
        logger: Logger,
        onExit: @escaping @Sendable (Int32, ExitStatus) -> Void
    ) throws(HAProxyActionError) -> HAProxyMaster {
        for socket in [configuration.masterSocket, configuration.statsSocket] {
            do throws(FileError) { try FileSystem.makeDirectories(FileSystem.directory(of: socket)) } catch {
                throw .file(error)
            }
        }
        // An HAProxy answering on our master socket was left by a previous run of the agent (killed without
        // stopping it). The new one binds next to it (HAProxy uses SO_REUSEPORT), then the old one is told to
        // finish its connections and exit: a takeover without a gap.
        let api = HAProxyRuntimeAPI(statsSocket: configuration.statsSocket, masterSocket: configuration.masterSocket)
        let stale = FileSystem.exists(configuration.masterSocket) ? try? api.processList(timeout: .seconds(1)) : nil
        var argv = [
            configuration.haproxyBinary, "-W", "-S", "\(configuration.masterSocket),mode,600", "-f",
            configuration.output,
        ]
        if stale != nil, FileSystem.exists(configuration.statsSocket) {
            // Take the listening sockets over from it (`expose-fd listeners`), so no connection waiting in its
            // accept queue is reset when it stops.
            argv += ["-x", configuration.statsSocket]
        }
        let process: ChildProcess
        do throws(ChildProcess.SpawnError) { process = try ChildProcess.spawn(argv) } catch { throw .spawn(error) }
        let master = HAProxyMaster(process: process, api: api)
        pool.submit { _ in master.watchOutputAndExit(logger: logger, onExit: onExit) }

        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let status = master.exitStatus {
                throw .startFailed(reason: "haproxy exited during start-up (\(status))", output: master.recentOutput)
            }
            if let list = try? master.api.processList(timeout: .seconds(1)), list.masterPID == process.pid,
                !list.workers.isEmpty
            {
                if let stale, stale.masterPID != process.pid, stale.masterPID > 1 {
                    logger.warning(
                        "took over from an HAProxy left running by a previous run; stopping it gracefully",
                        metadata: ["pid": "\(stale.masterPID)"])
                    kill(stale.masterPID, SIGUSR1)
                }
                return master
            }
            sleepBriefly(.milliseconds(10))
        }
        master.stop(grace: .seconds(1))
        throw .startFailed(reason: "no worker after 15s", output: master.recentOutput)
    }

    /// Runs on a pool thread for the life of the process.
    private func watchOutputAndExit(logger: Logger, onExit: @Sendable (Int32, ExitStatus) -> Void) {
        var partial: [UInt8] = []
        var outputOpen = process.outputFD >= 0
        var status: ExitStatus?
        while status == nil {
            if outputOpen {
                switch process.readOutput(timeout: .milliseconds(200)) {
                case .data(let bytes):
                    partial += bytes
                    while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                        record(String(decoding: partial[..<newline], as: UTF8.self), logger: logger)
                        partial.removeSubrange(...newline)
                    }
                case .eof:
                    outputOpen = false
                case .timeout:
                    break
                }
                status = process.reapIfExited()
            } else {
                status = process.waitBlocking()
            }
        }
        if !partial.isEmpty { record(String(decoding: partial, as: UTF8.self), logger: logger) }
        process.closeOutput()
        watch.withLock { $0.exit = status }
        onExit(process.pid, status!)
    }

    private func record(_ line: String, logger: Logger) {
        guard !line.isEmpty else { return }
        watch.withLock { s in
            s.recentLines.append(line)
            if s.recentLines.count > 40 { s.recentLines.removeFirst(s.recentLines.count - 40) }
        }
        logger.log(level: Self.level(of: line), "haproxy: \(line)", metadata: ["haproxy.pid": "\(process.pid)"])
    }

    /// HAProxy labels routine reload and stop messages as warnings; only the rest (servers going down,
    /// alerts) deserves an operator's attention.
    static func level(of line: String) -> Logger.Level {
        if line.hasPrefix("[ALERT]") { return .error }
        guard line.hasPrefix("[WARNING]") else { return .debug }
        let routine = [
            " stopped (cumulated conns", "exited with code 0", "Exiting Master process", "All workers exited",
            "Stopping frontend", "Stopping backend", "Stopping proxy", "Proxy <HTTPCLIENT>", "Reexecuting Master",
        ]
        return routine.contains { line.contains($0) } ? .info : .warning
    }

    /// Soft stop (SIGUSR1: workers finish their connections), then SIGTERM, then SIGKILL. Blocking.
    func stop(grace: Duration) {
        for (signal, wait) in [(SIGUSR1, grace), (SIGTERM, Duration.seconds(3)), (SIGKILL, Duration.seconds(3))] {
            if exitStatus != nil { return }
            process.signal(signal)
            let deadline = ContinuousClock.now + wait
            while exitStatus == nil, ContinuousClock.now < deadline { sleepBriefly(.milliseconds(10)) }
        }
    }
}
