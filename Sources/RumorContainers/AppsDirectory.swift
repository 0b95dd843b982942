#if canImport(Glibc)
import Glibc
#endif
import RumorApps
import RumorSupport

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
        let files: [String]
        do throws(FileError) { files = try FileSystem.entries(of: path) } catch {
            throw AppsDirectoryError("apps directory \(path): \(error.why)")
        }
        var entries: [String: Entry] = [:]
        for file in files where file.hasSuffix(".json") && !file.hasPrefix(".") {
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
        let bytes: [UInt8]
        do throws(FileError) { bytes = try DurableFile.readAll(path, limit: maximumFileSize) } catch {
            return .failure(AppsDirectoryError("\(path): \(error.code == EFBIG ? "larger than 1 MiB" : error.why)"))
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
