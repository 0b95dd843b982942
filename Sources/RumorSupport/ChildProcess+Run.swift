#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ChildProcess {
    /// Runs `argv` to completion and returns its status and combined output (at most `outputLimit` bytes kept).
    /// A child still running at `timeout` is killed with its process group. Blocking: call off any event loop.
    public static func run(
        _ argv: [String], timeout: Duration = .seconds(30), outputLimit: Int = 1 << 20
    ) throws(SpawnError) -> (status: ExitStatus, output: String) {
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
                child.signalGroup(SIGKILL)
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
}

/// Blocks the calling (pool) thread briefly, while polling an external process that has no event to wait on.
public func sleepBriefly(_ duration: Duration) {
    var request = timespec(
        tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}
