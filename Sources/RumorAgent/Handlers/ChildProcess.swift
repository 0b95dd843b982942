#if canImport(Glibc)
import Glibc
#endif

/// A `/bin/sh -c SCRIPT` child leading its own process group (so a timeout can kill everything it started), with a
/// nonblocking pipe to its stdin and one nonblocking pipe carrying both its stdout and stderr.
final class ChildProcess {
    let pid: pid_t
    /// Our ends; -1 once closed. A class, so an fd is closed exactly once whoever holds it.
    private(set) var stdinFD: Int32
    private(set) var outputFD: Int32

    private init(pid: pid_t, stdinFD: Int32, outputFD: Int32) {
        self.pid = pid
        self.stdinFD = stdinFD
        self.outputFD = outputFD
    }

    deinit {
        closeStdin()
        closeOutput()
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
        init(_ what: String, _ code: Int32) { description = "\(what): \(String(cString: strerror(code)))" }
    }

    static func spawn(script: String, environment: [String]) throws(SpawnError) -> ChildProcess {
        let input = try makePipe()
        let output: (read: Int32, write: Int32)
        do { output = try makePipe() } catch {
            close(input.read); close(input.write)
            throw error
        }
        // Our ends never block the supervisor loop; the child's ends stay blocking, as scripts expect.
        _ = fcntl(input.write, F_SETFL, fcntl(input.write, F_GETFL) | O_NONBLOCK)
        _ = fcntl(output.read, F_SETFL, fcntl(output.read, F_GETFL) | O_NONBLOCK)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 0/1/2 clears close-on-exec there; every pipe fd is >= 3 and close-on-exec, so nothing else leaks.
        posix_spawn_file_actions_adddup2(&actions, input.read, 0)
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, output.write, 2)
        // Nothing else of the agent's (sockets, files opened without close-on-exec) may leak into scripts and
        // whatever they leave running.
        if let addCloseFrom = Self.addCloseFrom { _ = addCloseFrom(&actions, 3) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        // Ignored signals survive exec; a script must see SIGPIPE etc. as a shell started from a terminal would.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(script), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
        close(input.read)
        close(output.write)
        guard rc == 0 else {
            close(input.write)
            close(output.read)
            throw SpawnError("cannot start /bin/sh", rc)
        }
        return ChildProcess(pid: pid, stdinFD: input.write, outputFD: output.read)
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// glibc >= 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift cannot see without _GNU_SOURCE.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(sym, to: AddCloseFrom.self)
    }()

    /// A pipe whose ends are close-on-exec and above 0/1/2, so the dup2s above cannot clobber them (an agent started
    /// with stdin closed would otherwise get fd 0 back).
    private static func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SpawnError("cannot create a pipe", errno) }
        for i in 0..<2 {
            let high = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)
            let err = errno
            close(fds[i])
            if high < 0 {
                if i == 1 { close(fds[0]) }
                throw SpawnError("cannot create a pipe", err)
            }
            fds[i] = high
        }
        return (fds[0], fds[1])
    }

    /// SIGKILLs the whole process group: the shell and whatever it started.
    func killGroup() {
        if kill(-pid, SIGKILL) != 0 { _ = kill(pid, SIGKILL) }
    }

    /// The raw wait status if the shell has exited (reaping it), without blocking.
    func reap() -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r == -1 && errno == EINTR { continue }
            // 0: still running. -1 (ECHILD): someone else reaped it; report an unknown exit rather than wait forever.
            return r == 0 ? nil : -1
        }
    }

    func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    func closeOutput() {
        if outputFD >= 0 { close(outputFD); outputFD = -1 }
    }
}

/// How a script ended.
public enum Termination: Hashable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// It never ran (no shell, no pipes), or its exit status was lost.
    case failed(String)

    /// Decodes a wait status (the W* macros are not visible from Swift).
    init(waitStatus status: Int32) {
        if status == -1 {
            self = .failed("exit status unavailable")
        } else if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    /// Go's `exec.ExitError` wording, as Serf logs it.
    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let sig): sig == SIGKILL ? "signal: killed" : "signal: \(sig)"
        case .failed(let why): why
        }
    }
}
