import Foundation
import Testing

extension Cluster {
    /// Polls `check` every `interval` until it reports no problems, instead of sleeping and hoping.
    ///
    /// `check` returns what is still wrong (empty means done); a thrown error counts as a problem and is retried.
    /// On timeout, or as soon as a node dies unasked, records an issue quoting the last problems and every node's
    /// log tail, then throws to end the test.
    func eventually(
        _ what: String, timeout: Duration = .seconds(30), interval: Duration = .milliseconds(200),
        sourceLocation: SourceLocation = #_sourceLocation, _ check: () async throws -> [String]
    ) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var last = ["not checked yet"]
        var verdict = "Timed out after \(timeout)"
        while true {
            let crashed = unexpectedExits()
            if !crashed.isEmpty {
                verdict = "Node(s) died unexpectedly (\(crashed.joined(separator: ", "))) after \(clock.now - start)"
                break
            }
            do {
                last = try await check()
            } catch {
                last = ["check threw: \(error)"]
            }
            if last.isEmpty { return }
            if clock.now - start >= timeout { break }
            try await Task.sleep(for: interval)
        }
        let message = """
            \(verdict) waiting for: \(what)
            Last observed:
              \(last.joined(separator: "\n  "))
            \(diagnostics())
            """
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        throw HarnessError("gave up waiting for: \(what)")
    }
}
