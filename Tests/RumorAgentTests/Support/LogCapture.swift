import Logging
import NIOConcurrencyHelpers

/// Collects log lines so tests can check what was logged, at which level.
final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[(level: Logger.Level, message: String)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Sink(capture: self) }
    }

    var all: [(level: Logger.Level, message: String)] { lines.withLockedValue { $0 } }

    func contains(_ level: Logger.Level, _ fragment: String) -> Bool {
        all.contains { $0.level == level && $0.message.contains(fragment) }
    }

    /// At any level.
    func contains(_ fragment: String) -> Bool { all.contains { $0.message.contains(fragment) } }

    func messages(_ level: Logger.Level) -> [String] { all.filter { $0.level == level }.map(\.message) }

    private struct Sink: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.lines.withLockedValue { $0.append((event.level, "\(event.message)")) }
        }
    }
}
