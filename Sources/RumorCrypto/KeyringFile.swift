import RumorSupport

/// Serf's keyring file (`-keyring-file`): a JSON array of base64 keys, primary first. Serf rewrites it after every
/// install, use and remove, so rotations survive restarts.
extension Keyring {
    /// Keyring files are tiny; refuse anything absurd rather than reading it all.
    static let maxFileSize = 1 << 20

    /// Reads and validates a keyring file. Every error names the file and the problem.
    public static func load(from path: String) throws(CryptoError) -> Keyring {
        let contents: [UInt8]
        do throws(FileError) { contents = try DurableFile.readAll(path, limit: maxFileSize) } catch {
            throw CryptoError("cannot read keyring file \(path): \(error.why)")
        }
        return try parse(fileContents: contents, path: path)
    }

    /// Parses keyring file contents; `path` is only used in error messages.
    public static func parse(fileContents: [UInt8], path: String) throws(CryptoError) -> Keyring {
        let json: JSON
        do throws(JSON.ParseError) { json = try JSON.parse(fileContents) } catch {
            throw CryptoError("keyring file \(path) is not valid JSON: \(error)")
        }
        var texts: [String] = []
        if case .array(let items) = json {
            for case .string(let text) in items { texts.append(text) }
            if texts.count != items.count { texts = [] }
        }
        guard case .array(let items) = json, texts.count == items.count else {
            throw CryptoError("keyring file \(path) must hold a JSON array of base64 key strings")
        }
        var keys: [SecretKey] = []
        for (index, text) in texts.enumerated() {
            do throws(CryptoError) {
                keys.append(try SecretKey(base64: text))
            } catch {
                throw CryptoError("keyring file \(path): key at index \(index): \(error.message)")
            }
        }
        guard let primary = keys.first else { throw CryptoError("keyring file \(path) contains no keys") }
        return Keyring(primary: primary, others: Array(keys.dropFirst()))
    }

    /// The file contents Serf writes: Go's `json.MarshalIndent(keys, "", "  ")`, primary first.
    public var fileContents: [UInt8] { Array(JSON.array(keys.map { .string($0.base64) }).serialized(indent: 2).utf8) }

    /// Writes the keyring file durably with mode 0600 (key material).
    public func save(to path: String) throws(CryptoError) {
        do throws(FileError) { try DurableFile.writeAtomically(fileContents, to: path, mode: 0o600) } catch {
            throw CryptoError("cannot write keyring file \(path): \(error.why)")
        }
    }
}
