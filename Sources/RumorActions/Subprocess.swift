#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child ended.
enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a `waitpid` status (the W* macros are not visible from Swift).
    init(waitStatus: Int32) {
        if waitStatus & 0x7f == 0 {
            self = .exited((waitStatus >> 8) & 0xff)
        } else {
            self = .signaled(waitStatus & 0x7f)
        }
    }

    var succeeded: Bool { self == .exited(0) }

    var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A child started with posix_spawn. Its stdout and stderr go to one pipe, `output`, that the caller drains.
/// Blocking calls only: callers run these off any event loop (on the action's thread pool).
struct Subprocess: Sendable {
    let pid: pid_t
    /// Read end of the child's combined stdout/stderr, close-on-exec, or -1 when output went to /dev/null.
    let output: Int32
    let command: String

    /// Starts `argv` (argv[0] is looked up on PATH when it has no slash). The child gets default signal
    /// dispositions and an empty mask (the agent ignores SIGPIPE and may block others), its own process group
    /// (a terminal's Ctrl-C is for the agent, which stops HAProxy itself), and no descriptor but 0-2: HAProxy must
    /// not inherit the agent's gossip or RPC sockets, or they would outlive the agent.
    static func spawn(_ argv: [String], captureOutput: Bool = true) throws(HAProxyActionError) -> Subprocess {
        let command = argv.joined(separator: " ")
        precondition(!argv.isEmpty)
        var pipeFDs: [Int32] = [-1, -1]
        if captureOutput {
            guard GNU.pipeCloexec(&pipeFDs) == 0 else { throw .spawn(command: command, errno: errno) }
        }
        defer { if pipeFDs[1] >= 0 { close(pipeFDs[1]) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        GNU.addCloseFrom(&actions, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)

        let cArgs = argv.map { strdup($0) }
        defer { cArgs.forEach { free($0) } }
        var argvPointers = cArgs + [nil]
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &argvPointers, environ)
        guard rc == 0 else {
            if pipeFDs[0] >= 0 { close(pipeFDs[0]) }
            throw .spawn(command: command, errno: rc)
        }
        return Subprocess(pid: pid, output: pipeFDs[0], command: command)
    }

    /// Runs `argv` to completion and returns its status and combined output (at most `outputLimit` bytes kept).
    /// A child still running at `timeout` is killed.
    static func run(
        _ argv: [String], timeout: Duration = .seconds(30), outputLimit: Int = 1 << 20
    ) throws(HAProxyActionError) -> (status: ExitStatus, output: String) {
        let child = try spawn(argv)
        defer { child.closeOutput() }
        let deadline = ContinuousClock.now + timeout
        var collected: [UInt8] = []
        var reaped: ExitStatus?
        func keep(_ bytes: [UInt8]) {
            if collected.count < outputLimit { collected += bytes.prefix(outputLimit - collected.count) }
        }
        reading: while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                kill(child.pid, SIGKILL)
                break
            }
            switch child.readOutput(timeout: min(remaining, .milliseconds(100))) {
            case .data(let bytes): keep(bytes)
            case .eof: break reading
            case .timeout:
                // EOF never comes if a grandchild (or a child another thread spawned) holds the pipe open.
                if let status = child.reapIfExited() {
                    reaped = status
                    while case .data(let bytes) = child.readOutput(timeout: .zero) { keep(bytes) }
                    break reading
                }
            }
        }
        let status = reaped ?? child.waitBlocking()
        return (status, String(decoding: collected, as: UTF8.self))
    }

    enum ReadResult {
        case data([UInt8])
        case eof
        case timeout
    }

    /// Waits up to `timeout` for output; `.eof` once every writer (the child and its children) has closed it.
    func readOutput(timeout: Duration) -> ReadResult {
        guard output >= 0 else { return .eof }
        var pfd = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        let ms = Int32(clamping: max(0, timeout.milliseconds))
        let ready = poll(&pfd, 1, ms)
        if ready == 0 || (ready < 0 && errno == EINTR) { return .timeout }
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
        if n < 0 { return errno == EINTR || errno == EAGAIN ? .timeout : .eof }
        if n == 0 { return .eof }
        return .data(Array(buffer[0..<n]))
    }

    /// Reaps the child, blocking until it exits.
    func waitBlocking() -> ExitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            if errno != EINTR { return .exited(-1) }
        }
        return ExitStatus(waitStatus: status)
    }

    /// Reaps the child if it has exited; nil while it runs.
    func reapIfExited() -> ExitStatus? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return ExitStatus(waitStatus: status) }
        if r == -1 && errno == ECHILD { return .exited(-1) }
        return nil
    }

    func signal(_ sig: Int32) {
        kill(pid, sig)
    }

    func closeOutput() {
        if output >= 0 { close(output) }
    }
}

/// glibc extensions that Swift's Glibc module hides (they need _GNU_SOURCE), looked up at run time.
private enum GNU {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static let pipe2: Pipe2? = symbol("pipe2")
    private static let addclosefrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }

    /// pipe2(O_CLOEXEC): atomic, so a child spawned by another thread at the same moment cannot inherit the
    /// write end (which would hold our EOF hostage). Falls back to pipe + FD_CLOEXEC.
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

/// Blocks the calling (thread-pool) thread briefly, while polling an external process that has no event to wait on.
func sleepBriefly(_ duration: Duration) {
    var request = timespec(
        tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
