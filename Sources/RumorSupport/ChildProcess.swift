#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A child started with posix_spawn, leading its own process group (a terminal's Ctrl-C is for the agent, and a
/// timeout can kill everything the child started), with default signal dispositions and an empty mask (the agent
/// ignores SIGPIPE and may block others), and no descriptor of ours but the pipes on 0-2: the agent's gossip and RPC
/// sockets must not outlive it in a script's background job or in HAProxy.
///
/// Its stdout and stderr share one pipe, `outputFD`, that the caller drains; stdin is /dev/null or a pipe,
/// `stdinFD`. Each of our ends is closed exactly once, by `close…()` or when the value goes away.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The command line, for error messages.
    public let command: String
    private let stdinBox: Atomic<Int32>
    private let outputBox: Atomic<Int32>

    public enum Input: Sendable { case null, pipe }
    /// `inherit`: the child writes to our stdout and stderr (test servers whose errors belong in the test log).
    /// `files`: its stdout and stderr go to these descriptors of ours, kept apart (a CLI call's output files).
    public enum Output: Sendable, Equatable { case pipe, null, inherit, files(stdout: Int32, stderr: Int32) }

    public struct SpawnError: Error, CustomStringConvertible, Sendable {
        public var command: String
        public var what: String
        public var code: Int32
        public var description: String { "cannot run \(command): \(what): \(errnoDescription(code))" }
    }

    private init(pid: pid_t, command: String, stdinFD: Int32, outputFD: Int32) {
        self.pid = pid
        self.command = command
        stdinBox = Atomic(stdinFD)
        outputBox = Atomic(outputFD)
    }

    deinit {
        closeStdin()
        closeOutput()
    }

    /// Our end of the child's stdin, or -1 (none, or closed).
    public var stdinFD: Int32 { stdinBox.load(ordering: .acquiring) }
    /// Our end of the child's combined stdout and stderr, or -1 (none, or closed).
    public var outputFD: Int32 { outputBox.load(ordering: .acquiring) }

    /// Starts `argv` (argv[0] is looked up on PATH when it has no slash) with `environment` (nil: ours).
    /// `nonblocking` makes our pipe ends nonblocking, for a caller polling several children from one thread; the
    /// child's ends stay blocking, as programs expect.
    public static func spawn(
        _ argv: [String], environment: [String]? = nil, stdin: Input = .null, output: Output = .pipe,
        nonblocking: Bool = false
    ) throws(SpawnError) -> ChildProcess {
        precondition(!argv.isEmpty, "spawn needs a program")
        let command = argv.joined(separator: " ")
        func fail(_ what: String, _ code: Int32) -> SpawnError { SpawnError(command: command, what: what, code: code) }

        var input: (read: Int32, write: Int32) = (-1, -1)
        var out: (read: Int32, write: Int32) = (-1, -1)
        defer {
            // The child's ends are the child's now (or nobody's, on failure).
            for fd in [input.read, out.write] where fd >= 0 { close(fd) }
        }
        do throws(FileError) {
            if stdin == .pipe { input = try Pipe.make() }
            if output == .pipe { out = try Pipe.make() }
        } catch {
            for fd in [input.write, out.read] where fd >= 0 { close(fd) }
            throw fail("cannot create a pipe", error.code)
        }
        if nonblocking {
            for fd in [input.write, out.read] where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto 0-2 clears close-on-exec there; the pipes sit above 2 so the dup2s cannot clobber each other.
        if input.read >= 0 {
            posix_spawn_file_actions_adddup2(&actions, input.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if out.write >= 0 {
            posix_spawn_file_actions_adddup2(&actions, out.write, 1)
            posix_spawn_file_actions_adddup2(&actions, out.write, 2)
        } else if output == .null {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else if case .files(let stdout, let stderr) = output {
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
            posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        }
        // Descriptors opened without close-on-exec (by us or a library) must not leak either.
        GNU.addCloseFrom(&actions, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        // Ignored signals survive exec; a child must see SIGPIPE etc. as one started from a terminal would.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let cArgs = argv.map { strdup($0) }
        let cEnv = environment?.map { strdup($0) }
        defer {
            cArgs.forEach { free($0) }
            cEnv?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let argvPointers = cArgs + [nil]
        let rc: Int32
        if let cEnv {
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, argvPointers, cEnv + [nil])
        } else {
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, argvPointers, environ)
        }
        guard rc == 0 else {
            for fd in [input.write, out.read] where fd >= 0 { close(fd) }
            throw fail("cannot start \(argv[0])", rc)
        }
        return ChildProcess(pid: pid, command: command, stdinFD: input.write, outputFD: out.read)
    }

    public enum ReadResult: Sendable, Equatable {
        case data([UInt8])
        case eof
        case timeout
    }

    /// Waits up to `timeout` for output; `.eof` once every writer (the child and its children) has closed it.
    public func readOutput(timeout: Duration, limit: Int = 16384) -> ReadResult {
        let fd = outputFD
        guard fd >= 0 else { return .eof }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(clamping: max(0, timeout.milliseconds)))
        if ready == 0 || (ready < 0 && errno == EINTR) { return .timeout }
        var buffer = [UInt8](repeating: 0, count: max(1, limit))
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return errno == EINTR || errno == EAGAIN ? .timeout : .eof }
        if n == 0 { return .eof }
        return .data(Array(buffer[0..<n]))
    }

    /// Reaps the child if it has exited; nil while it runs.
    public func reapIfExited() -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return ExitStatus(waitStatus: status) }
            if r == -1 && errno == EINTR { continue }
            // 0: still running. -1 (ECHILD): reaped elsewhere; report that rather than wait forever.
            return r == 0 ? nil : .lost
        }
    }

    /// Reaps the child, blocking until it exits.
    public func waitBlocking() -> ExitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return .lost }
        }
        return ExitStatus(waitStatus: status)
    }

    /// Sends `sig` to the child only.
    public func signal(_ sig: Int32) {
        kill(pid, sig)
    }

    /// Sends `sig` to the child's whole process group: the child and whatever it started.
    public func signalGroup(_ sig: Int32) {
        if kill(-pid, sig) != 0 { _ = kill(pid, sig) }
    }

    public func closeStdin() {
        let fd = stdinBox.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
    }

    public func closeOutput() {
        let fd = outputBox.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
    }
}

/// Pipes for children.
enum Pipe {
    /// A close-on-exec pipe with both ends above 0-2 (an agent started with stdin closed would otherwise get fd 0
    /// back, and the dup2s onto 0-2 would clobber it).
    static func make() throws(FileError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard GNU.pipeCloexec(&fds) == 0 else { throw FileError(path: "pipe", operation: "create", code: errno) }
        for i in 0..<2 where fds[i] < 3 {
            let high = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)
            let code = errno
            close(fds[i])
            fds[i] = high
            if high < 0 {
                for fd in fds where fd >= 0 { close(fd) }
                throw FileError(path: "pipe", operation: "create", code: code)
            }
        }
        return (fds[0], fds[1])
    }
}

/// glibc extensions that Swift's Glibc module hides (they need _GNU_SOURCE), looked up at run time.
enum GNU {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    nonisolated(unsafe) private static let pipe2: Pipe2? = symbol("pipe2")
    nonisolated(unsafe) private static let addclosefrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }

    /// pipe2(O_CLOEXEC): atomic, so a child another thread spawns at the same moment cannot inherit the write end
    /// (which would hold our EOF hostage). Falls back to pipe + FD_CLOEXEC.
    static func pipeCloexec(_ fds: inout [Int32]) -> Int32 {
        if let pipe2 { return pipe2(&fds, O_CLOEXEC) }
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    /// Closes every descriptor from `from` on in the child (glibc 2.34+); without it only close-on-exec ones close.
    static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ from: Int32) {
        if let addclosefrom { _ = addclosefrom(&actions, from) }
    }
}
