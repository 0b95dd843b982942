#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and replacing whole files. A write goes to a uniquely named temporary file in the same directory, is
/// fsynced, renamed over the target and the directory fsynced: readers see the old file or the new one, never
/// half of either, even across a crash, and two writers cannot share a temporary file.
public enum DurableFile {
    /// Reads all of `path`, refusing anything but a regular file and anything over `limit` bytes (so a config key
    /// naming /dev/zero or a huge file cannot exhaust memory).
    public static func readAll(_ path: String, limit: Int = 16 << 20) throws(FileError) -> [UInt8] {
        guard let bytes = try readAllIfExists(path, limit: limit) else {
            throw FileError(path: path, operation: "read", code: ENOENT)
        }
        return bytes
    }

    /// As ``readAll(_:limit:)``, but nil when there is no such file.
    public static func readAllIfExists(_ path: String, limit: Int = 16 << 20) throws(FileError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw FileError(path: path, operation: "read", code: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path: path, operation: "read", code: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw FileError(path: path, operation: "read", code: EISDIR)
        default: throw FileError(path: path, operation: "read", code: EINVAL, reason: "not a regular file")
        }
        return try readToEnd(fd, name: path, limit: limit)
    }

    /// Everything `fd` gives until end of file (a file, or standard input), refusing more than `limit` bytes;
    /// `name` is what errors call it.
    public static func readToEnd(_ fd: Int32, name: String, limit: Int) throws(FileError) -> [UInt8] {
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: name, operation: "read", code: errno)
            }
            if n == 0 { return contents }
            contents += chunk[0..<n]
            if contents.count > limit {
                throw FileError(path: name, operation: "read", code: EFBIG, reason: "larger than \(limit) bytes")
            }
        }
    }

    /// `readAll` decoded as UTF-8, invalid sequences replaced (for templates and pid files; JSON is checked strictly
    /// by its parser).
    public static func readText(_ path: String, limit: Int = 16 << 20) throws(FileError) -> String {
        String(decoding: try readAll(path, limit: limit), as: UTF8.self)
    }

    /// Replaces `path` with `contents`, created with exactly `mode` (0600 for secrets: the umask cannot widen or
    /// narrow it), durably and atomically (see the type's comment).
    public static func writeAtomically(_ contents: some Collection<UInt8>, to path: String, mode: mode_t = 0o644)
        throws(FileError)
    {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError(path: temporary, operation: "create", code: errno) }
        var failure: FileError?
        if fchmod(fd, mode) != 0 { failure = FileError(path: temporary, operation: "set the mode of", code: errno) }
        let bytes = Array(contents)
        var written = 0
        while failure == nil, written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0, errno != EINTR {
                failure = FileError(path: temporary, operation: "write", code: errno)
            } else if n > 0 {
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = FileError(path: temporary, operation: "fsync", code: errno) }
        if close(fd) != 0, failure == nil { failure = FileError(path: temporary, operation: "close", code: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        do throws(FileError) { try move(temporary, over: path) } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Renames `from` over `to` (same directory: a rename cannot cross file systems) and fsyncs the directory so
    /// the rename itself survives a crash.
    public static func move(_ from: String, over to: String) throws(FileError) {
        guard rename(from, to) == 0 else { throw FileError(path: to, operation: "rename \(from) over", code: errno) }
        syncDirectory(of: to)
    }

    /// Best effort: a failure here does not undo a completed rename.
    private static func syncDirectory(of path: String) {
        let fd = open(FileSystem.directory(of: path), O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
