#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// libc's text for an errno value ("No such file or directory").
public func errnoDescription(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

/// A system call on a file that failed: which file, what we tried, and errno.
public struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    /// What was attempted, as a verb phrase: "read", "write", "rename ... over".
    public var operation: String
    public var code: Int32
    /// Set instead of errno when the failure is not a system call's ("larger than 1048576 bytes").
    public var reason: String?

    public init(path: String, operation: String, code: Int32, reason: String? = nil) {
        self.path = path
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    /// Why, without the path: "No such file or directory".
    public var why: String { reason ?? errnoDescription(code) }

    public var description: String { "\(path): cannot \(operation): \(why)" }
}
