import Foundation

/// A harness failure with a message meant for a human reading the test report.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where the two programs under test live.
///
/// A missing serf is a failure, not a skip: CI installs it, and an interop suite that silently skips proves nothing.
enum Binaries {
    static func serf() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["SERF_BIN"], !path.isEmpty {
            guard isExecutable(path) else { throw HarnessError("SERF_BIN=\(path) is not an executable file") }
            return path
        }
        let dirs = (env["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        if let found = dirs.map({ $0 + "/serf" }).first(where: isExecutable) { return found }
        throw HarnessError(
            """
            serf is not installed: no executable 'serf' on PATH or in /usr/bin, /usr/local/bin (set SERF_BIN to \
            point at one). The interop tests need the real serf 0.8.x agent; CI installs it.
            """)
    }

    static func rumor() throws -> String {
        let path: String
        if let env = ProcessInfo.processInfo.environment["RUMOR_BIN"], !env.isEmpty {
            path = env
        } else {
            path = packageRoot.appendingPathComponent(".build/debug/rumor").path
        }
        guard isExecutable(path) else {
            throw HarnessError(
                "rumor binary not found at \(path): run `swift build --product rumor` first, or set RUMOR_BIN")
        }
        return path
    }

    /// The directory holding Package.swift, found by walking up from this source file.
    static let packageRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    private static func isExecutable(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
            && FileManager.default.isExecutableFile(atPath: path)
    }
}
