#if canImport(Glibc)
import RumorSupport
import Glibc
#endif

/// Serf's `tags_file`: a JSON object of tags, read at start and rewritten when tags change at runtime.
enum TagsFile {
    static func load(_ config: AgentConfiguration) throws -> [String: String] {
        guard let path = config.tagsFile else { return config.tags }
        guard let text = try FileIO.readIfExists(path) else { return [:] }
        do {
            return try JSON.parse(text).stringMap("tags file \(path)")
        } catch {
            throw AgentConfiguration.Error("failed to read tags file \(path): \(error)")
        }
    }

    static func save(_ tags: [String: String], to path: String) throws {
        let json = JSON.object(tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        try FileIO.writeAtomically(json.serialized(indent: 2) + "\n", to: path)
    }
}

/// Small POSIX file helpers (no Foundation in the agent).
enum FileIO {
    static func readIfExists(_ path: String) throws -> String? {
        guard let f = fopen(path, "r") else {
            if errno == ENOENT { return nil }
            throw AgentConfiguration.Error("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n > 0 { bytes += chunk[0..<n] }
            if n < chunk.count { break }
        }
        if ferror(f) != 0 { throw AgentConfiguration.Error("cannot read \(path)") }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func read(_ path: String) throws -> String {
        guard let text = try readIfExists(path) else { throw AgentConfiguration.Error("cannot open \(path): no such file") }
        return text
    }

    /// Writes to a temporary file and renames it over `path`, so readers never see half a file.
    static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw AgentConfiguration.Error("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw AgentConfiguration.Error("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// `*.json` files of a directory, in lexical order (Serf's `-config-dir`).
    static func jsonFiles(in dir: String) throws -> [String] {
        guard let d = opendir(dir) else {
            throw AgentConfiguration.Error("cannot read config directory \(dir): \(String(cString: strerror(errno)))")
        }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(dir + "/" + name) }
        }
        return names.sorted()
    }
}

func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "rumor" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
