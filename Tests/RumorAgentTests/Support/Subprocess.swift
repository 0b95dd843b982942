import Dispatch
import Foundation
import Synchronization
import RumorTestSupport

/// What a finished child process left behind.
struct ProcessOutput: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)" }
}

struct SubprocessTimedOut: Error, CustomStringConvertible {
    var command: String
    var description: String { "timed out: \(command)" }
}

/// Runs a program to completion off the cooperative pool, killing it if it outlives `timeout`.
enum Subprocess {
    static func run(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)
    ) async throws -> ProcessOutput {
        try await offPool { try runBlocking(path, arguments, environment: environment, timeout: timeout) }
    }

    /// Blocks the calling thread: call it from a thread of its own (as ``run`` does), never on Swift's cooperative
    /// pool, where a wait for a child starves every other test (there is one pool thread per core).
    static func runBlocking(
        _ path: String, _ arguments: [String], environment: [String: String], timeout: Duration
    ) throws -> ProcessOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        // The caller's SERF_* variables would change what the serf CLI does; only explicit ones get through.
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SERF_") }
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()

        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        // Threads of their own: Dispatch's global queue, like the cooperative pool, has about one thread per core.
        let collected = Mutex<(out: Data, err: Data)>((Data(), Data()))
        let readers = DispatchGroup()
        for (pipe, isOut) in [(out, true), (err, false)] {
            readers.enter()
            Thread.detachNewThread {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.withLock { if isOut { $0.out = data } else { $0.err = data } }
                readers.leave()
            }
        }

        let timedOut = Mutex(false)
        let pid = process.processIdentifier
        let killer = DispatchWorkItem {
            timedOut.withLock { $0 = true }
            kill(pid, SIGKILL)
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
        process.waitUntilExit()
        killer.cancel()
        readers.wait()

        let command = ([path] + arguments).joined(separator: " ")
        if timedOut.withLock({ $0 }) { throw SubprocessTimedOut(command: command) }
        let (o, e) = collected.withLock { ($0.out, $0.err) }
        return ProcessOutput(
            status: process.terminationStatus,
            stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self)
        )
    }
}
