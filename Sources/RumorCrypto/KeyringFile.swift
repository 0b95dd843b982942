/// Serf's keyring file (`-keyring-file`): a JSON array of base64 keys, primary first. Serf rewrites it after every
/// install, use and remove, so rotations survive restarts.
extension Keyring {
    /// Reads and validates a keyring file. Every error names the file and the problem.
    public static func load(from path: String) throws(CryptoError) -> Keyring {
        let contents: [UInt8]
        switch POSIXFile.readAll(path) {
        case .success(let bytes): contents = bytes
        case .failure(let failure): throw CryptoError("cannot read keyring file \(path): \(failure.reason)")
        }
        return try parse(fileContents: contents, path: path)
    }

    /// Parses keyring file contents; `path` is only used in error messages.
    public static func parse(fileContents: [UInt8], path: String) throws(CryptoError) -> Keyring {
        let texts: [String]
        do throws(JSONStringArray.ParseError) {
            texts = try JSONStringArray.parse(fileContents)
        } catch .notJSON(let detail) {
            throw CryptoError("keyring file \(path) is not valid JSON: \(detail)")
        } catch {
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

    /// The file contents Serf writes: pretty-printed JSON, primary first.
    public var fileContents: [UInt8] { JSONStringArray.write(keys.map(\.base64)) }

    /// Writes the keyring file atomically with mode 0600.
    public func save(to path: String) throws(CryptoError) {
        if case .failure(let failure) = POSIXFile.writeAtomically(path, contents: fileContents) {
            throw CryptoError("cannot write keyring file \(path): \(failure.reason)")
        }
    }
}
