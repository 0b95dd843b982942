#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import RumorCore
import RumorWire

/// One remembered alive node: the name and its `ip:port` (IPv6 in brackets), as Serf writes them.
public struct SnapshotNode: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
    /// How Serf names a node it re-joins: `name/addr` (memberlist accepts `name/ip:port`).
    public var joinAddress: String { "\(name)/\(address)" }
    public var description: String { "\(name): \(address)" }
}

/// What replaying a snapshot file yields.
public struct SnapshotState: Sendable, Equatable {
    /// Alive nodes in file order of their last `alive:` line.
    public var alive: [SnapshotNode]
    public var memberClock: UInt64
    public var eventClock: UInt64
    public var queryClock: UInt64
    /// A `leave` line was replayed (and honoured: rejoin not requested) with no `alive:` line after it. Serf writes a
    /// `clock:` line after `leave` on shutdown, so clock lines do not clear this.
    public var left: Bool
    /// Lines that were neither a known record nor a comment, or had a bad number (skipped, like Serf does).
    public var skippedLines: Int

    public init(
        alive: [SnapshotNode] = [], memberClock: UInt64 = 0, eventClock: UInt64 = 0, queryClock: UInt64 = 0,
        left: Bool = false, skippedLines: Int = 0
    ) {
        self.alive = alive
        self.memberClock = memberClock
        self.eventClock = eventClock
        self.queryClock = queryClock
        self.left = left
        self.skippedLines = skippedLines
    }
}

public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Serf's snapshot (`-snapshot=path`, serf/snapshot.go): an append-only text log of alive nodes and Lamport clocks,
/// replayed at start so a restarted agent can re-join and does not re-deliver old user events or queries.
///
/// Confined to one event loop: every method must be called on `eventLoop` (the flush timer runs there too), except
/// `replay`, which is static and meant for start-up.
public final class Snapshotter: @unchecked Sendable {
    public static let flushInterval: TimeAmount = .milliseconds(500)
    public static let defaultMinCompactSize = 128 * 1024
    static let bytesPerNode = 128
    static let compactionThreshold = 2
    static let errorRecoveryInterval: TimeAmount = .seconds(30)
    static let compactSuffix = ".compact"

    public let path: String
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let minCompactSize: Int

    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes in the file, counting what is still buffered (Serf's `offset`).
    private var offset: Int
    private var alive = OrderedAlive()
    private var lastClock: UInt64 = 0
    private var lastEventClock: UInt64 = 0
    private var lastQueryClock: UInt64 = 0
    private var leaving = false
    private let rejoinAfterLeave: Bool
    private var closed = false
    private var flushTask: RepeatedTask?
    private var lastRecoveryAttempt: NIODeadline?

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
            throw SnapshotError("failed to open snapshot \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw SnapshotError("failed to stat snapshot \(path): \(message)")
        }
        self.path = path
        self.eventLoop = eventLoop
        self.logger = logger
        self.minCompactSize = minCompactSize
        self.rejoinAfterLeave = rejoinAfterLeave
        self.fd = fd
        self.offset = Int(st.st_size)
        for node in initial.alive { alive.set(node.name, node.address) }
        lastClock = initial.memberClock
        lastEventClock = initial.eventClock
        lastQueryClock = initial.queryClock
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
        var state = SnapshotState()
        var alive = OrderedAlive()
        var start = 0
        func number(_ line: Substring, _ prefix: String) -> UInt64? {
            let text = line.dropFirst(prefix.count)
            // Go's ParseUint: digits only (Swift would also take a leading "+").
            guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let n = UInt64(text) else {
                logger?.warning("snapshot: bad number in line: \(line)")
                state.skippedLines += 1
                return nil
            }
            return n
        }
        while let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Substring(String(decoding: bytes[start..<nl], as: UTF8.self))
            start = nl + 1
            if line.hasPrefix("alive: ") {
                let info = line.dropFirst("alive: ".count)
                guard let space = info.lastIndex(of: " ") else {
                    logger?.warning("snapshot: failed to parse address: \(line)")
                    state.skippedLines += 1
                    continue
                }
                alive.set(String(info[..<space]), String(info[info.index(after: space)...]))
                state.left = false
            } else if line.hasPrefix("not-alive: ") {
                alive.remove(String(line.dropFirst("not-alive: ".count)))
            } else if line.hasPrefix("clock: ") {
                if let n = number(line, "clock: ") { state.memberClock = n }
            } else if line.hasPrefix("event-clock: ") {
                if let n = number(line, "event-clock: ") { state.eventClock = n }
            } else if line.hasPrefix("query-clock: ") {
                if let n = number(line, "query-clock: ") { state.queryClock = n }
            } else if line.hasPrefix("coordinate: ") {
                continue  // legacy, ignored
            } else if line == "leave" {
                if rejoinAfterLeave {
                    logger?.info("snapshot: ignoring previous leave in snapshot")
                    continue
                }
                alive = OrderedAlive()
                state.memberClock = 0
                state.eventClock = 0
                state.queryClock = 0
                state.left = true
            } else if line.hasPrefix("#") {
                continue
            } else {
                logger?.warning("snapshot: unrecognized snapshot line: \(line)")
                state.skippedLines += 1
            }
        }
        state.alive = alive.nodes
        return state
    }

    // MARK: Recording

    /// Member join → `alive:`, leave or failure → `not-alive:`, user event → `event-clock:`, query → `query-clock:`
    /// (clocks only when they grew). Updates and reaps are not recorded, as in Serf. Nothing is recorded after a leave.
    public func record(_ event: Event) {
        guard !closed, !leaving else { return }
        switch event {
        case .memberJoined(let m):
            let address = Self.goAddress(m.address)
            alive.set(m.name, address)
            append("alive: \(m.name) \(address)\n")
            pollClock()
        case .memberLeft(let m), .memberFailed(let m):
            alive.remove(m.name)
            append("not-alive: \(m.name)\n")
            pollClock()
        case .userEvent(let e):
            recordEventClock(e.ltime)
        case .query(let q):
            recordQueryClock(q.ltime)
        default:
            return
        }
    }

    /// `event-clock:` for a user event at `ltime`, if newer than the last one recorded.
    func recordEventClock(_ ltime: UInt64) {
        guard !closed, !leaving, ltime > lastEventClock else { return }
        lastEventClock = ltime
        append("event-clock: \(ltime)\n")
    }

    /// `query-clock:` for a query at `ltime`, if newer than the last one recorded.
    func recordQueryClock(_ ltime: UInt64) {
        guard !closed, !leaving, ltime > lastQueryClock else { return }
        lastQueryClock = ltime
        append("query-clock: \(ltime)\n")
    }

    /// Given the core's current member clock, writes `clock: member-1` if that grew (Serf's `updateClock`).
    public func recordClock(member: UInt64) {
        guard !closed, member > 0 else { return }
        let lastSeen = member - 1
        guard lastSeen > lastClock else { return }
        lastClock = lastSeen
        append("clock: \(lastSeen)\n")
    }

    /// Writes `leave` and flushes it to disk at once. Afterwards events are no longer recorded (clocks still are);
    /// unless rejoining after a leave, the alive set is forgotten.
    public func recordLeave() {
        guard !closed else { return }
        leaving = true
        if !rejoinAfterLeave { alive = OrderedAlive() }
        append("leave\n")
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
    public var aliveNodes: [SnapshotNode] { alive.nodes }

    // MARK: Internals

    /// `ip:port` as Go's `net.TCPAddr.String()` writes it (what Serf puts in the file): IPv4-mapped IPv6 as dotted
    /// IPv4, other IPv6 in brackets with the longest run of two or more zero groups compressed (RFC 5952).
    static func goAddress(_ address: Address) -> String {
        let ip = address.ip
        if ip.count == 16, ip[0..<10].allSatisfy({ $0 == 0 }), ip[10] == 0xff, ip[11] == 0xff {
            return "\(ip[12]).\(ip[13]).\(ip[14]).\(ip[15]):\(address.port)"
        }
        guard ip.count == 16 else { return address.description }
        let groups = (0..<8).map { UInt16(ip[2 * $0]) << 8 | UInt16(ip[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { (bestStart, bestLength) = (i, j - i) }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        let host = bestStart < 0 ? hex(0..<8) : hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        return "[\(host)]:\(address.port)"
    }

    private func tick() {
        guard !closed else { return }
        pollClock()
        flush()
    }

    private func pollClock() {
        if let source = memberClockSource { recordClock(member: source()) }
    }

    private func append(_ line: String) {
        let bytes = Array(line.utf8)
        buffer += bytes
        offset += bytes.count
        if offset > maxSize {
            do {
                try compact()
            } catch {
                logger.error("snapshot: compaction of \(path) failed: \(error)")
            }
        }
    }

    var maxSize: Int { max(minCompactSize, alive.count * Self.bytesPerNode * Self.compactionThreshold) }

    /// Rewrites the file as the alive lines plus the three clocks, through `<path>.compact` and a rename.
    func compact() throws {
        let tmp = path + Self.compactSuffix
        var text = ""
        for node in alive.nodes { text += "alive: \(node.name) \(node.address)\n" }
        text += "clock: \(lastClock)\n"
        text += "event-clock: \(lastEventClock)\n"
        text += "query-clock: \(lastQueryClock)\n"
        let bytes = Array(text.utf8)
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw SnapshotError("failed to open new snapshot \(tmp): \(snapshotErrno())") }
        if let error = Self.writeAll(out, bytes) {
            _ = Glibc.close(out)
            throw SnapshotError("failed to write new snapshot \(tmp): \(error)")
        }
        guard fsync(out) == 0 else {
            let message = snapshotErrno()
            _ = Glibc.close(out)
            throw SnapshotError("failed to fsync new snapshot \(tmp): \(message)")
        }
        _ = Glibc.close(out)
        // The buffer's content is already part of the compacted state: drop it rather than append it to the old file.
        buffer.removeAll(keepingCapacity: true)
        guard rename(tmp, path) == 0 else { throw SnapshotError("failed to install new snapshot \(path): \(snapshotErrno())") }
        let reopened = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard reopened >= 0 else { throw SnapshotError("failed to open snapshot \(path): \(snapshotErrno())") }
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = reopened
        offset = bytes.count
        logger.debug("snapshot: compacted \(path) to \(bytes.count) bytes")
    }

    /// After a write error, try a compaction at most every 30 s (Serf's recovery).
    private func recover() {
        let now = NIODeadline.now()
        if let last = lastRecoveryAttempt, now - last < Self.errorRecoveryInterval { return }
        lastRecoveryAttempt = now
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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw SnapshotError("failed to open snapshot \(path): \(snapshotErrno())")
        }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SnapshotError("failed to read snapshot \(path): \(snapshotErrno())")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}

private func snapshotErrno() -> String { String(cString: strerror(errno)) }

/// Name → address, remembering the order of each name's latest `set`.
private struct OrderedAlive {
    private var entries: [String: (address: String, order: UInt64)] = [:]
    private var next: UInt64 = 0

    mutating func set(_ name: String, _ address: String) {
        entries[name] = (address, next)
        next += 1
    }
    mutating func remove(_ name: String) { entries[name] = nil }
    var count: Int { entries.count }
    var nodes: [SnapshotNode] {
        entries.sorted { $0.value.order < $1.value.order }.map { SnapshotNode(name: $0.key, address: $0.value.address) }
    }
}
