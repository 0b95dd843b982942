#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Questions about paths and directories (no Foundation in the agent).
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// The directory part of `path`: "." for a bare name, "/" for a file at the root.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Modification time, size and inode, to notice that a file was edited or replaced.
    public static func fingerprint(_ path: String) -> [Int]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_size), Int(st.st_ino)]
    }

    /// `mkdir -p` with mode 0755.
    public static func makeDirectories(_ path: String) throws(FileError) {
        if path.isEmpty || exists(path) { return }
        let parent = directory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw FileError(path: path, operation: "create directory", code: errno)
        }
    }

    /// The names in `directory` (without "." and ".."), sorted bytewise.
    public static func entries(of directory: String) throws(FileError) -> [String] {
        guard let d = opendir(directory) else { throw FileError(path: directory, operation: "list", code: errno) }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// `name` if it is an executable path, else its first executable match on PATH.
    public static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// This machine's host name (Serf's default node name), or nil if it has none.
    public static func hostName() -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
