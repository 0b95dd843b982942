#if canImport(Glibc)
import Glibc
#endif
import RumorSupport
import Logging
import NIOCore
import RumorCore

public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Serf's snapshot (`-snapshot=path`, serf/snapshot.go): an append-only text log of alive nodes and Lamport clocks,
/// replayed at start so a restarted agent can re-join and does not re-deliver old user events or queries.
///
/// The IO around three pure parts: `SnapshotFormat` (lines in and out), `SnapshotRecorder` (what is recorded) and
/// `SnapshotCompaction` (when the log is rewritten and to what). This class owns the file, the write buffer and
/// the 500 ms flush timer.
///
/// Confined to one event loop: every method must be called on `eventLoop` (the flush timer runs there too), except
/// `replay`, which is static and meant for start-up.
public final class Snapshotter: @unchecked Sendable {
    public static let flushInterval: TimeAmount = .milliseconds(500)
    public static let defaultMinCompactSize = 128 * 1024

    public let path: String
    private let eventLoop: any EventLoop
    private let logger: Logger

    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes in the file, counting what is still buffered (Serf's `offset`).
    private var offset: Int
    private var recorder: SnapshotRecorder
    private var compaction: SnapshotCompaction
    private var closed = false
    private var flushTask: RepeatedTask?

    /// Polled every flush tick (500 ms, like Serf's clock ticker); its result goes to `recordClock(member:)`.
    /// Set it to the core's current member Lamport time.
    public var memberClockSource: (() -> UInt64)?

    /// Opens `path` for appending (creating the file, not its directory) and starts the 500 ms flush timer.
    /// `initial` is the replayed state, so compaction and the "only when it grew" checks continue from it.
    public init(
        path: String, eventLoop: any EventLoop, logger: Logger, initial: SnapshotState = SnapshotState(),
        rejoinAfterLeave: Bool = false, minCompactSize: Int = Snapshotter.defaultMinCompactSize
    ) throws {
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SnapshotError("failed to open snapshot \(path): \(errnoDescription(errno))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = errnoDescription(errno)
            _ = Glibc.close(fd)
            throw SnapshotError("failed to stat snapshot \(path): \(message)")
        }
        self.path = path
        self.eventLoop = eventLoop
        self.logger = logger
        self.fd = fd
        self.offset = Int(st.st_size)
        recorder = SnapshotRecorder(initial: initial, rejoinAfterLeave: rejoinAfterLeave)
        compaction = SnapshotCompaction(minimumSize: minCompactSize)
        flushTask = eventLoop.scheduleRepeatedTask(initialDelay: Self.flushInterval, delay: Self.flushInterval) {
            [weak self] _ in
            self?.tick()
        }
    }

    deinit {
        flushTask?.cancel()
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    // MARK: Replay

    /// Reads `path` the way Serf does. A missing file is an empty state; malformed lines are skipped and counted.
    /// Like Serf, a final line without its `\n` is ignored (it was cut short by a crash).
    public static func replay(path: String, rejoinAfterLeave: Bool, logger: Logger? = nil) throws -> SnapshotState {
        guard let text = try readBytes(path) else { return SnapshotState() }
        return replay(bytes: text, rejoinAfterLeave: rejoinAfterLeave, logger: logger)
    }

    /// `replay(path:)` on bytes already in memory.
    public static func replay(bytes: [UInt8], rejoinAfterLeave: Bool, logger: Logger? = nil) -> SnapshotState {
        SnapshotFormat.replay(bytes, rejoinAfterLeave: rejoinAfterLeave, logger: logger)
    }

    // MARK: Recording

    /// Member join → `alive:`, leave or failure → `not-alive:`, user event → `event-clock:`, query → `query-clock:`
    /// (clocks only when they grew). Updates and reaps are not recorded, as in Serf. Nothing is recorded after a leave.
    public func record(_ event: Event) {
        guard !closed, let record = recorder.record(event) else { return }
        append(record)
        if record.changesMembers { pollClock() }
    }

    /// `query-clock:` for a query at `ltime`, if newer than the last one recorded.
    func recordQueryClock(_ ltime: UInt64) {
        guard !closed, let record = recorder.query(ltime: ltime) else { return }
        append(record)
    }

    /// Given the core's current member clock, writes `clock: member-1` if that grew (Serf's `updateClock`).
    public func recordClock(member: UInt64) {
        guard !closed, let record = recorder.memberClock(member) else { return }
        append(record)
    }

    /// Writes `leave` and flushes it to disk at once. Afterwards events are no longer recorded (clocks still are);
    /// unless rejoining after a leave, the alive set is forgotten.
    public func recordLeave() {
        guard !closed else { return }
        append(recorder.leave())
        flush()
        if fsync(fd) != 0 { logger.error("snapshot: failed to sync leave to \(path): \(snapshotErrno())") }
    }

    /// Records the last clock (from `memberClockSource`), flushes, syncs and closes. Idempotent.
    public func close() {
        guard !closed else { return }
        pollClock()
        flushTask?.cancel()
        flushTask = nil
        flush()
        if fsync(fd) != 0 { logger.error("snapshot: failed to sync \(path): \(snapshotErrno())") }
        _ = Glibc.close(fd)
        fd = -1
        closed = true
    }

    /// Writes the buffered lines out (the timer does this every 500 ms).
    public func flush() {
        guard fd >= 0, !buffer.isEmpty else { return }
        let pending = buffer
        buffer.removeAll(keepingCapacity: true)
        if let error = Self.writeAll(fd, pending) {
            logger.error("snapshot: failed to update \(path): \(error)")
            recover()
        }
    }

    /// Current alive set (for tests and diagnostics).
    public var aliveNodes: [SnapshotNode] { recorder.alive.nodes }

    // MARK: Internals

    private func tick() {
        guard !closed else { return }
        pollClock()
        flush()
    }

    private func pollClock() {
        if let source = memberClockSource { recordClock(member: source()) }
    }

    private func append(_ record: SnapshotRecord) {
        let bytes = Array(record.line.utf8)
        buffer += bytes
        offset += bytes.count
        if compaction.isDue(size: offset, aliveNodes: recorder.alive.count) {
            do {
                try compact()
            } catch {
                logger.error("snapshot: compaction of \(path) failed: \(error)")
            }
        }
    }

    var maxSize: Int { compaction.maxSize(aliveNodes: recorder.alive.count) }

    /// Rewrites the file as `SnapshotCompaction.content`, durably (a temporary file, fsync, rename).
    func compact() throws {
        let bytes = SnapshotCompaction.content(of: recorder)
        do throws(FileError) { try DurableFile.writeAtomically(bytes, to: path) } catch {
            throw SnapshotError("failed to write new snapshot: \(error)")
        }
        // The buffer's content is already part of the compacted state: drop it rather than append it to the old file.
        buffer.removeAll(keepingCapacity: true)
        let reopened = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard reopened >= 0 else { throw SnapshotError("failed to open snapshot \(path): \(snapshotErrno())") }
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = reopened
        offset = bytes.count
        logger.debug("snapshot: compacted \(path) to \(bytes.count) bytes")
    }

    /// After a write error, try a compaction at most every 30 s (Serf's recovery).
    private func recover() {
        guard compaction.shouldRecover(at: .now) else { return }
        logger.info("snapshot: attempting compaction to recover from error")
        do {
            try compact()
            logger.info("snapshot: finished compaction, recovered from error state")
        } catch {
            logger.error("snapshot: compaction failed, will retry after 30s: \(error)")
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> String? {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return snapshotErrno()
            }
            done += n
        }
        return nil
    }

    private static func readBytes(_ path: String) throws -> [UInt8]? {
        do throws(FileError) { return try DurableFile.readAllIfExists(path, limit: 1 << 30) } catch {
            throw SnapshotError("failed to read snapshot \(path): \(error.why)")
        }
    }
}

private func snapshotErrno() -> String { errnoDescription(errno) }
