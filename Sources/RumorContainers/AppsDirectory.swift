#if canImport(Glibc)
import Glibc
#endif
import RumorApps

/// The spec files of `--apps-dir`: one `<app>.json` per app. Read whole on every poll (they are small, and a
/// content compare cannot miss an edit that keeps size and mtime); files over 1 MiB are refused, not read.
public struct AppsDirectory: Sendable {
    public let path: String
    static let maximumFileSize = 1 << 20

    public init(path: String) { self.path = path }

    public enum Entry: Sendable, Equatable {
        case spec(AppSpec)
        case invalid(String)
    }

    /// App name → its spec or the error that names file and key. Throws when the directory cannot be read.
    public func load() throws(AppsDirectoryError) -> [String: Entry] {
        guard let dir = opendir(path) else {
            throw AppsDirectoryError("apps directory \(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var entries: [String: Entry] = [:]
        while let entry = readdir(dir) {
            let file = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard file.hasSuffix(".json"), !file.hasPrefix(".") else { continue }
            let name = String(file.dropLast(5))
            let full = path + "/" + file
            switch Self.readText(full) {
            case .failure(let error): entries[name] = .invalid(error.description)
            case .success(let text):
                do { entries[name] = .spec(try AppSpec.parse(text, name: name, file: full)) } catch {
                    entries[name] = .invalid(error.description)
                }
            }
        }
        return entries
    }

    static func readText(_ path: String) -> Result<String, AppsDirectoryError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(AppsDirectoryError("\(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(AppsDirectoryError("\(path): \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > maximumFileSize { return .failure(AppsDirectoryError("\(path): larger than 1 MiB")) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(AppsDirectoryError("\(path): not UTF-8 text"))
        }
        return .success(text)
    }
}

public struct AppsDirectoryError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}
