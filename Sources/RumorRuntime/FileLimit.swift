#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Raises the soft limit on open files to the hard limit, as Go's runtime does at start for serf: a service's soft
/// limit is usually 1,024, which a few hundred peers and RPC clients (or a flood of idle connections) exhaust.
public enum FileLimit {
    public static func raiseToHard(logger: Logger) {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return logger.debug("agent: could not read the open-file limit (errno \(errno))")
        }
        guard limit.rlim_cur < limit.rlim_max else {
            return logger.debug("agent: open-file limit is \(limit.rlim_cur), the hard limit already")
        }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("agent: raised the open-file limit from \(before) to \(limit.rlim_max)")
        } else {
            logger.debug("agent: could not raise the open-file limit from \(before) to \(limit.rlim_max) (errno \(errno))")
        }
        #endif
    }

    /// The soft limit on open files now (nil when it cannot be read or is unlimited).
    public static var soft: Int? {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < UInt64(Int.max) else { return nil }
        return Int(limit.rlim_cur)
        #else
        return nil
        #endif
    }

    /// `wanted`, but at most a quarter of the open-file limit: connections refused at once cost a descriptor only
    /// for a moment, so whatever floods one listener, the others (and outbound dials) still find descriptors.
    public static func share(_ wanted: Int) -> Int {
        guard let soft else { return wanted }
        return max(8, min(wanted, soft / 4))
    }
}
