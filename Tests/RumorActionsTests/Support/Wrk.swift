import RumorSupport
import Foundation
@testable import RumorActions
import RumorTestSupport

/// Starts wrk in the background; `finish()` waits for it and parses the report. Each connection pauses
/// `delayMilliseconds` between requests (wrk's `delay()` hook) so the load is steady rather than flat-out, which
/// on two cores would starve everything else, the action under test included.
final class WrkRun: Sendable {
    private let process: ChildProcess
    private let scriptPath: String

    init(url: String, connections: Int, threads: Int, duration: Duration, delayMilliseconds: Int,
        directory: TemporaryDirectory) throws
    {
        guard let wrk = WrkResult.wrkBinary else { throw TestNetwork.Failure(description: "wrk is not installed") }
        scriptPath = directory.file("pace.lua")
        try "function delay()\n  return \(delayMilliseconds)\nend\n".write(
            toFile: scriptPath, atomically: true, encoding: .utf8)
        let seconds = Int(duration.components.seconds)
        process = try ChildProcess.spawn([
            wrk, "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "--timeout", "5s", "-s",
            scriptPath, url,
        ])
    }

    func finish() async throws -> WrkResult {
        let process = self.process
        let text = try await offPool { () -> String in
            var collected: [UInt8] = []
            while true {
                switch process.readOutput(timeout: .seconds(1)) {
                case .data(let bytes): collected += bytes
                case .eof:
                    _ = process.waitBlocking()
                    return String(decoding: collected, as: UTF8.self)
                case .timeout: continue
                }
            }
        }
        return WrkResult.parse(text)
    }
}
