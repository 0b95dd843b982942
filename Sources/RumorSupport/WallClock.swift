#if canImport(Glibc)
import Glibc
#endif

/// The wall clock, for what a person reads or what must order across machines (deploy serials); intervals use
/// monotonic clocks instead.
public enum WallClock {
    public static func unixMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(0, ts.tv_sec)) * 1000 + UInt64(max(0, ts.tv_nsec)) / 1_000_000
    }
}
