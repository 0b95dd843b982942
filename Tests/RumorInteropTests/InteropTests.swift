import Testing

/// Interop of `rumor agent` with the real `serf agent` (0.8.x), both run as processes on loopback.
///
/// Serialized because failure detection runs at the default (lan) timings, as serf's does, and is sensitive to CPU
/// starvation on a 2-core CI machine that is also running other test targets; it costs ~50 s instead of ~20 s.
/// Each test still has its own IP range (127.0.<index>.k, see `Cluster`), so running them in parallel works too
/// and nothing depends on the order or on a previous test's leftovers.
@Suite(.serialized) struct InteropTests {
    /// Third octets of each test's loopback range; distinct so tests never share an address.
    enum Range {
        static let serfOnly = 40
        static let mixed = 41
        static let failure = 42
        static let leave = 43
        static let restart = 44
        static let cli = 45
        static let hostile = 46
    }
}
