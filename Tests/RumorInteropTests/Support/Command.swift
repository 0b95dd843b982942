#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RumorSupport
import RumorTestSupport

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

    // The product's posix_spawn wrapper, not Foundation's Process: Process.run() on Linux over-reads a dirent in
    // findMaximumOpenFromProcSelfFD and crashes now and then, most often with thousands of descriptors open (the
    // connection-flood test crashed in it; swift-corelibs-foundation#5472).
    let child: ChildProcess
    do {
        child = try ChildProcess.spawn([executable] + arguments, output: .files(stdout: out.fileDescriptor, stderr: err.fileDescriptor))
    } catch {
        throw HarnessError("cannot run \(executable): \(error)")
    }
    let finished = LockedFlag()
    let timedOut = LockedFlag()
    // Watchdog: a hung CLI must not hang the suite. Kills only this child, and only while it is still unreaped.
    let watchdog = Task {
        try? await Task.sleep(for: timeout)
        if !finished.isSet {
            timedOut.set()
            child.signal(SIGKILL)
        }
    }
    let exit = try await offPool { child.waitBlocking() }
    finished.set()
    watchdog.cancel()
    let status: Int32 = switch exit {
    case .exited(let code): code
    case .signaled(let signal): 128 + signal
    case .lost: -1
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
