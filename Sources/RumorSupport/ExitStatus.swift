#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// Someone else reaped it (ECHILD): the status is gone.
    case lost

    /// Decodes a `waitpid` status (the W* macros are not visible from Swift).
    public init(waitStatus: Int32) {
        self = waitStatus & 0x7f == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(waitStatus & 0x7f)
    }

    public var succeeded: Bool { self == .exited(0) }

    /// Go's `exec.ExitError` wording, as Serf logs it.
    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): signal == SIGKILL ? "signal: killed" : "signal: \(signal)"
        case .lost: "exit status unavailable"
        }
    }
}
