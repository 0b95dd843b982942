#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers

/// Writes Serf-style log lines (`2026/11/23 04:44:19 [INFO] agent: message key=value`) to stderr, and hands each
/// line to subscribers (the RPC `monitor` command) with its level.
public struct AgentLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    /// Everything is formatted for the sink, so `monitor --log-level=debug` sees debug lines even when the agent
    /// prints only info; `stderrLevel` decides what reaches stderr.
    public var logLevel: Logger.Level = .trace
    public var stderrLevel: Logger.Level
    let sink: LogSink

    public init(level: Logger.Level, sink: LogSink = .shared) {
        self.stderrLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(Self.timestamp()) [\(Self.label(event.level))] \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        sink.write(line, level: event.level, toStderr: event.level >= stderrLevel)
    }

    static func label(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "INFO"
        case .warning: "WARN"
        case .error, .critical: "ERR"
        }
    }

    static func timestamp() -> String {
        var t = time(nil)
        var tm = tm()
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y/%m/%d %H:%M:%S", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Where log lines go: stderr, and any live subscribers. Thread-safe: loggers are used from any thread.
public final class LogSink: Sendable {
    public static let shared = LogSink()

    public typealias Subscriber = @Sendable (String, Logger.Level) -> Void
    private let subscribers = NIOLockedValueBox<[UInt64: Subscriber]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)
    /// Recent lines, replayed to a new monitor as serf does.
    private let recent = NIOLockedValueBox<[(String, Logger.Level)]>([])
    static let recentLimit = 512

    public init() {}

    func write(_ line: String, level: Logger.Level, toStderr: Bool = true) {
        // One write(2) per line: lines from different threads never interleave.
        if toStderr {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        }
        recent.withLockedValue {
            $0.append((line, level))
            if $0.count > Self.recentLimit { $0.removeFirst($0.count - Self.recentLimit) }
        }
        for s in subscribers.withLockedValue({ Array($0.values) }) { s(line, level) }
    }

    /// Subscribes to future lines after replaying the recent ones; returns a token for ``unsubscribe(_:)``.
    public func subscribe(_ s: @escaping Subscriber) -> UInt64 {
        let id = nextID.withLockedValue { $0 += 1; return $0 }
        // Snapshot the backlog and register under one lock order, so no line falls between the two.
        let backlog = recent.withLockedValue { backlog in
            subscribers.withLockedValue { $0[id] = s }
            return backlog
        }
        for (line, level) in backlog { s(line, level) }
        return id
    }

    public func unsubscribe(_ id: UInt64) { _ = subscribers.withLockedValue { $0.removeValue(forKey: id) } }
}

extension Logger.Level {
    /// Serf's level names: trace, debug, info, warn, err.
    public init?(serfName: String) {
        switch serfName.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warning
        case "err", "error": self = .error
        default: return nil
        }
    }
}
