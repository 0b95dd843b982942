#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What a finished command printed and how it ended.
struct CommandResult: Sendable, CustomStringConvertible {
    let commandLine: String
    let status: Int32
    let stdout: String
    let stderr: String
    let timedOut: Bool

    var succeeded: Bool { status == 0 && !timedOut }

    var description: String {
        var text = "`\(commandLine)` " + (timedOut ? "timed out" : "exited \(status)")
        if !stdout.isEmpty { text += "\n  stdout: " + stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        if !stderr.isEmpty { text += "\n  stderr: " + stderr.trimmingCharacters(in: .whitespacesAndNewlines) }
        return text
    }
}

/// Runs a short-lived command (a CLI call) to completion, killing it if it outlives `timeout`.
///
/// Output goes to temp files rather than pipes so a chatty command can never block on a full pipe.
func runCommand(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(10)) async throws
    -> CommandResult
{
    let tmp = FileManager.default.temporaryDirectory
    let id = UUID().uuidString
    let outURL = tmp.appendingPathComponent("rumor-interop-\(id).out")
    let errURL = tmp.appendingPathComponent("rumor-interop-\(id).err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer {
        try? out.close()
        try? err.close()
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice

    let finished = LockedFlag()
    let timedOut = LockedFlag()
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { p in
            finished.set()
            continuation.resume(returning: p.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            continuation.resume(throwing: HarnessError("cannot run \(executable): \(error)"))
            return
        }
        // Watchdog: a hung CLI must not hang the suite. Kills only this pid, and only while it is still ours.
        let pid = process.processIdentifier
        Task {
            try? await Task.sleep(for: timeout)
            if !finished.isSet {
                timedOut.set()
                kill(pid, SIGKILL)
            }
        }
    }
    let line = ([executable] + arguments).joined(separator: " ")
    return CommandResult(
        commandLine: line, status: status, stdout: readText(outURL), stderr: readText(errURL),
        timedOut: timedOut.isSet)
}

func readText(_ url: URL) -> String {
    guard let data = try? Data(contentsOf: url) else { return "" }
    return String(decoding: data, as: UTF8.self)
}

/// A one-way boolean shared between a process's termination handler and its watchdog.
final class LockedFlag: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
