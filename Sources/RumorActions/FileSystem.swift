#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

func errnoDescription(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "errno \(code)" }
    return String(cString: s)
}

/// The few file operations the action needs, on plain POSIX calls (no Foundation in the agent).
enum FileSystem {
    static func readText(_ path: String) throws(HAProxyActionError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(path: path, operation: "read", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to `path` (created 0644, truncated) and fsyncs it, so a rename after this never exposes a
    /// half-written file to HAProxy even across a crash.
    static func writeText(_ text: String, to path: String) throws(HAProxyActionError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .file(path: path, operation: "write", errno: errno) }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, operation: "write", errno: errno)
            }
            bytes = bytes.dropFirst(n)
        }
        guard fsync(fd) == 0 else { throw .file(path: path, operation: "fsync", errno: errno) }
    }

    /// Atomically replaces the file `to` with the file `from` (same directory: the rename cannot cross file
    /// systems).
    static func replace(_ to: String, with from: String) throws(HAProxyActionError) {
        guard rename(from, to) == 0 else { throw .file(path: to, operation: "rename \(from) over", errno: errno) }
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Modification time and size, to notice that a template was edited.
    static func fingerprint(_ path: String) -> [Int]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_size), Int(st.st_ino)]
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// `mkdir -p` with mode 0755.
    static func makeDirectories(_ path: String) throws(HAProxyActionError) {
        if path.isEmpty || exists(path) { return }
        let parent = directory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .file(path: path, operation: "create directory", errno: errno)
        }
    }

    /// `name` if it is an executable path, else its first executable match on PATH.
    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
