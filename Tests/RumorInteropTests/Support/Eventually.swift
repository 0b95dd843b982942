import Foundation
import RumorTestSupport
import Testing

/// A set of agents a test started, which can tell which died unasked and show their logs.
protocol WatchedNodes {
    func unexpectedExits() -> [String]
    func diagnostics(lines: Int) -> String
}

extension Cluster: WatchedNodes {}
extension ExtraArgsAgents: WatchedNodes {}

extension WatchedNodes {
    /// Polls `check` every `interval` until it reports no problems, instead of sleeping and hoping.
    ///
    /// `check` returns what is still wrong (empty means done); a thrown error counts as a problem and is retried.
    /// On timeout, or as soon as a node dies unasked, records an issue quoting the last problems and every node's
    /// log tail, then throws to end the test.
    func eventually(
        _ what: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(200),
        sourceLocation: SourceLocation = #_sourceLocation, _ check: () async throws -> [String]
    ) async throws {
        let start = ContinuousClock.now
        var last = ["not checked yet"]
        var crashed: [String] = []
        do {
            try await RumorTestSupport.eventually(what, timeout: timeout, every: interval) {
                crashed = unexpectedExits()
                if !crashed.isEmpty { return true }
                do { last = try await check() } catch { last = ["check threw: \(error)"] }
                return last.isEmpty
            }
            if crashed.isEmpty { return }
        } catch {}
        let verdict = crashed.isEmpty
            ? "Timed out after \(timeout)"
            : "Node(s) died unexpectedly (\(crashed.joined(separator: ", "))) after \(ContinuousClock.now - start)"
        Issue.record(
            Comment(rawValue: """
                \(verdict) waiting for: \(what)
                Last observed:
                  \(last.joined(separator: "\n  "))
                \(diagnostics(lines: 25))
                """),
            sourceLocation: sourceLocation)
        throw HarnessError("gave up waiting for: \(what)")
    }
}
