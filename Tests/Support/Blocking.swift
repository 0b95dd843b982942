import Dispatch
import Foundation

/// Runs blocking work (sockets, child processes) off Swift's cooperative pool: with two cores, a test blocking a
/// pool thread would starve the action under test, which also runs there.
package func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

package struct DeadlineExceeded: Error, CustomStringConvertible {
    package var what: String
    package var waited: Duration
    package var description: String { "timed out after \(waited): \(what)" }
}

/// Polls `condition` until it holds or `timeout` passes; returns how long it took. Polling with a deadline is
/// the only synchronisation the tests use with external processes: no fixed sleeps.
@discardableResult
package func eventually(
    _ what: String, timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async throws -> Duration {
    let start = ContinuousClock.now
    while true {
        if try await condition() { return ContinuousClock.now - start }
        if ContinuousClock.now - start > timeout { throw DeadlineExceeded(what: what, waited: timeout) }
        try await Task.sleep(for: interval)
    }
}

/// A fresh directory under /tmp, removed by `remove()`. Short paths: unix socket paths are limited to 107 bytes.
package struct TemporaryDirectory: Sendable {
    package let path: String

    package init(_ prefix: String) throws {
        var template = Array("/tmp/rumor-\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    package func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes `text` to `name` with `mode` (not atomically: the code under test is what writes atomically).
    package func writeFile(_ name: String, _ text: String, mode: mode_t = 0o644) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        chmod(file(name), mode)
    }

    /// The text of `name`, or nil if it cannot be read.
    package func read(_ name: String) -> String? {
        FileManager.default.contents(atPath: file(name)).map { String(decoding: $0, as: UTF8.self) }
    }

    package func bytes(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: file(name)).map { [UInt8]($0) } }

    package func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }

    /// Writes an executable shell script and returns its path.
    @discardableResult
    package func script(_ name: String, _ body: String) throws -> String {
        // Through a close-on-exec fd: a child forked meanwhile by a parallel test must not hold it open, or exec'ing
        // the script fails with ETXTBSY ("Text file busy", exit 126).
        let p = file(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let bytes = Array(("#!/bin/sh\n" + body + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw POSIXError(.EIO) }
        return p
    }

    /// The permission bits of `name`.
    package func mode(_ name: String) -> mode_t {
        var info = stat()
        guard stat(file(name), &info) == 0 else { return 0 }
        return info.st_mode & 0o777
    }

    /// The names in the directory, sorted.
    package func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    package func makeDirectory(_ name: String) {
        try? FileManager.default.createDirectory(atPath: file(name), withIntermediateDirectories: true)
    }

    package func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Duration {
    package var ms: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

package func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
