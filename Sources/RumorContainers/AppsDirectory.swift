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
        /// A spec from the cluster that this worker's `apps_allow` refuses: no container is made from it.
        case refused(AppSpec, AppPolicy.Refusal)
    }

    /// App name → its spec or the error that names file and key. Throws when the directory cannot be read.
    public func load() throws(FileError) -> [String: Entry] {
        var entries: [String: Entry] = [:]
        for file in try FileSystem.entries(of: path) where file.hasSuffix(".json") && !file.hasPrefix(".") {
            let name = String(file.dropLast(5))
            let full = path + "/" + file
            do {
                let bytes = try DurableFile.readAll(full, limit: Self.maximumFileSize)
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    entries[name] = .invalid("\(full): not UTF-8 text")
                    continue
                }
                entries[name] = .spec(try AppSpec.parse(text, name: name, file: full))
            } catch {
                entries[name] = .invalid("\(error)")
            }
        }
        return entries
    }
}
