#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Minimal file IO for keyring files (RumorCrypto avoids Foundation). Errors are strerror texts.
enum POSIXFile {
    /// Keyring files are tiny; refuse anything absurd rather than reading it all.
    static let maxReadSize = 1 << 20

    struct Failure: Error {
        let reason: String
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func readAll(_ path: String) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(reason: errorText(errno))) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(reason: errorText(errno)))
            }
            if count == 0 { return .success(contents) }
            contents.append(contentsOf: chunk[0..<count])
            if contents.count > maxReadSize { return .failure(Failure(reason: "larger than \(maxReadSize) bytes")) }
        }
    }

    /// Replaces `path` atomically with `contents`, mode 0600 (key material): write a temporary file in the same
    /// directory, fsync it, then rename it over the target, so readers never see a partial keyring.
    static func writeAtomically(_ path: String, contents: [UInt8]) -> Result<Void, Failure> {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .failure(Failure(reason: errorText(errno))) }
        var failure: String?
        // The umask may have narrowed the mode; make it exactly 0600.
        if fchmod(fd, 0o600) != 0 { failure = errorText(errno) }
        var written = 0
        while failure == nil, written < contents.count {
            let count = contents.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno != EINTR { failure = errorText(errno) } else if count > 0 { written += count }
        }
        if failure == nil, fsync(fd) != 0 { failure = errorText(errno) }
        if close(fd) != 0, failure == nil { failure = errorText(errno) }
        if failure == nil, rename(temporary, path) != 0 { failure = errorText(errno) }
        if let failure {
            unlink(temporary)
            return .failure(Failure(reason: failure))
        }
        syncDirectory(of: path)
        return .success(())
    }

    /// Best effort: persist the rename itself. A failure here does not undo a completed write.
    private static func syncDirectory(of path: String) {
        let directory = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[..<$0]) } ?? "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
