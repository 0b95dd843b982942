#if canImport(Glibc)
import Glibc
#endif
import Logging
import RumorCore

/// How long one input (with the effects it caused, agent callbacks included) kept the event loop busy, in CPU
/// time of the loop's thread, so a busy machine does not inflate it. Anything over `threshold` is logged at debug
/// level: the loop answers probes and acks, so a long hold is what makes healthy nodes look failed.
struct LoopBusy {
    static let threshold: UInt64 = 20_000_000
    /// The longest hold seen, in nanoseconds.
    private(set) var longest: UInt64 = 0

    /// `cpu` and `wall`: what handling `input` took in CPU time and in elapsed time. A long wall time with little
    /// CPU means the loop waited (a blocking write, or the machine was busy) rather than worked.
    mutating func record(cpu: UInt64, wall: UInt64, _ input: Input, logger: Logger) {
        longest = max(longest, cpu)
        guard cpu > Self.threshold || wall > 5 * Self.threshold else { return }
        logger.debug(
            "runtime: event loop held \(cpu / 1_000_000) ms (CPU) by \(Self.kind(of: input)), \(wall / 1_000_000) ms elapsed")
    }

    static func kind(of input: Input) -> String {
        switch input {
        case .packet: "a packet"
        case .stream, .decodedStream: "a stream"
        case .streamReply, .decodedStreamReply: "a stream reply"
        case .timer(let timer): "timer \(timer)"
        case .command: "a command"
        }
    }

    /// CPU time of the calling thread.
    static func threadCPUNanoseconds() -> UInt64 {
        #if canImport(Glibc)
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        #else
        return 0
        #endif
    }
}
