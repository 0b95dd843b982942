/// Traffic and refusals the runtime sees below the core (`/metrics`): what arrives and leaves on the sockets, and
/// what never reaches the core. Plain integers bumped on the event loop.
public struct RuntimeCounters: Sendable {
    public internal(set) var packetsSent = 0
    public internal(set) var packetBytesSent = 0
    public internal(set) var packetsReceived = 0
    public internal(set) var packetBytesReceived = 0
    /// Inbound streams handed to the core, and their bytes (after decryption).
    public internal(set) var streamsReceived = 0
    public internal(set) var streamBytesReceived = 0
    /// Packets that did not decrypt (wrong key, plaintext where encryption is required, corrupt).
    public internal(set) var packetsUndecryptable = 0
    /// Inbound streams that failed (unreadable, too large, timed out) or were refused by the stream limits.
    public internal(set) var streamsFailed = 0
    public internal(set) var streamsRefused = 0
    /// Open streams closed to let a peer holding fewer in when every slot was taken (`StreamLimits.admission`).
    public internal(set) var streamsDisplaced = 0

    public init() {}
}
