/// When the snapshot log is rewritten, and what the rewrite holds (Serf's rules, serf/snapshot.go): the log is
/// compacted once it is larger than twice 128 bytes per alive node (and at least `minimumSize`), and after a write
/// error a compaction is tried at most every 30 s. Pure: the `Snapshotter` does the writing and renaming.
struct SnapshotCompaction {
    static let bytesPerNode = 128
    static let threshold = 2
    static let recoveryInterval = Duration.seconds(30)

    /// The smallest size that triggers a compaction (Serf: 128 KiB), so a small cluster is not rewritten often.
    let minimumSize: Int
    private var lastRecoveryAttempt: ContinuousClock.Instant?

    init(minimumSize: Int) {
        self.minimumSize = minimumSize
    }

    func maxSize(aliveNodes: Int) -> Int { max(minimumSize, aliveNodes * Self.bytesPerNode * Self.threshold) }

    /// Whether a log of `size` bytes (counting what is still buffered) must be compacted.
    func isDue(size: Int, aliveNodes: Int) -> Bool { size > maxSize(aliveNodes: aliveNodes) }

    /// The compacted file: the alive lines, then the three clocks.
    static func content(of recorder: SnapshotRecorder) -> [UInt8] {
        var records = recorder.alive.nodes.map { SnapshotRecord.alive(name: $0.name, address: $0.address) }
        records += [.clock(recorder.clock), .eventClock(recorder.eventClock), .queryClock(recorder.queryClock)]
        return Array(records.map(\.line).joined().utf8)
    }

    /// A write failed at `now`: returns whether to try a compaction to recover (at most once per 30 s).
    mutating func shouldRecover(at now: ContinuousClock.Instant) -> Bool {
        if let last = lastRecoveryAttempt, now - last < Self.recoveryInterval { return false }
        lastRecoveryAttempt = now
        return true
    }
}
