#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Console {
    /// A line on stdout, written at once: streamed output (query acks, monitor lines) must reach a pipe as it
    /// happens, not when a buffer fills. Commands that stream use only this for stdout, so lines keep their order.
    static func line(_ text: String) { line(bytes: Array(text.utf8)) }

    /// Raw bytes and a newline (payloads are printed as they are, like Go's `%s` of a `[]byte`).
    static func line(bytes text: [UInt8]) {
        let bytes = text + [0x0a]
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    /// Ends the process with `status` on Ctrl-C (SIGINT) or SIGTERM, after writing `message` (if any) to stderr.
    /// For commands that block in a stream until interrupted, as serf's monitor and query do. The handler only
    /// calls async-signal-safe functions.
    static func exitOnInterrupt(status: Int32, message: String? = nil) {
        InterruptExit.status = status
        InterruptExit.message = message.map { Array(($0 + "\n").utf8) } ?? []
        signal(SIGINT, interruptHandler)
        signal(SIGTERM, interruptHandler)
    }
}

/// Set once before the handler is installed, read only by it.
private enum InterruptExit {
    nonisolated(unsafe) static var status: Int32 = 1
    nonisolated(unsafe) static var message: [UInt8] = []
}

private func interruptHandler(_: Int32) {
    InterruptExit.message.withUnsafeBytes { raw in
        if let base = raw.baseAddress, raw.count > 0 { _ = write(2, base, raw.count) }
    }
    _exit(InterruptExit.status)
}

/// serf's complaint about a command line, then exit 1 (serf follows it with the help text; we leave that to
/// `--help`).
func usageError(_ message: String) -> ExitCode {
    Console.error(message)
    return ExitCode.failure
}
