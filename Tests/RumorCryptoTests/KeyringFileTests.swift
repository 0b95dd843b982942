import Testing

@testable import RumorCrypto
import RumorTestSupport

/// Serf's `-keyring-file`: JSON array of base64 keys, primary first, written 0600 and atomically.
@Suite struct KeyringFileTests {
    @Test func saveThenLoadRoundTrips() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        let ring = Keyring(primary: Vectors.key, others: [Vectors.key2])
        try ring.save(to: dir.file("keyring.json"))
        // Go's json.MarshalIndent(keys, "", "  ") layout, no trailing newline.
        #expect(dir.read("keyring.json") == "[\n  \"\(Vectors.keyBase64)\",\n  \"\(Vectors.key2Base64)\"\n]")
        #expect(dir.mode("keyring.json") == 0o600)
        #expect(try Keyring.load(from: dir.file("keyring.json")) == ring)
        #expect(dir.entries() == ["keyring.json"], "no temporary file left behind")
    }

    @Test func saveReplacesAnExistingFileAndTightensItsMode() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        dir.writeFile("keyring.json", "[\"\(Vectors.key2Base64)\"]", mode: 0o644)
        try Keyring(primary: Vectors.key).save(to: dir.file("keyring.json"))
        #expect(dir.mode("keyring.json") == 0o600)
        #expect(try Keyring.load(from: dir.file("keyring.json")).keys == [Vectors.key])
    }

    @Test func loadsSerfStyleFilesWithAnyWhitespaceAndEscapes() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        // "\/" is a legal JSON escape some writers emit for "/".
        let escaped = Vectors.keyBase64.replacingSlashes()
        dir.writeFile("k", " [ \"\(escaped)\" ,\t\"\(Vectors.key2Base64)\",\"\(Vectors.keyBase64)\"\r\n]\n")
        let ring = try Keyring.load(from: dir.file("k"))
        #expect(ring.keys == [Vectors.key, Vectors.key2], "first is primary; the duplicate is dropped")
    }

    @Test func unreadableFileIsNamed() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        let missing = dir.file("missing.json")
        #expect(throws: CryptoError("cannot read keyring file \(missing): No such file or directory")) {
            try Keyring.load(from: missing)
        }
        dir.makeDirectory("adir")
        #expect(throws: CryptoError("cannot read keyring file \(dir.file("adir")): Is a directory")) {
            try Keyring.load(from: dir.file("adir"))
        }
    }

    @Test(arguments: [
        ("", "unexpected end of input at line 1, column 1"),
        ("[", "unexpected end of input at line 1, column 2 (in [0])"),
        ("keys", "expected a value at line 1, column 1"),
        ("[\"a\",]", "expected a value at line 1, column 6 (in [1])"),
        ("[\"a\"] x", "unexpected data after the top-level value at line 1, column 7"),
        ("[\"a\" \"b\"]", "expected ',' at line 1, column 6"),
        ("[\"a\u{1}\"]", "control character in a string at line 1, column 4 (in [0])"),
        ("\u{feff}[]", "expected a value at line 1, column 1"),
    ])
    func notJSONIsNamed(contents: String, detail: String) {
        #expect(throws: CryptoError("keyring file k.json is not valid JSON: \(detail)")) {
            try Keyring.parse(fileContents: Array(contents.utf8), path: "k.json")
        }
    }

    @Test(arguments: [
        "{\"keys\": []}", "\"\(Vectors.keyBase64)\"", "[1]", "[[\"a\"]]", "[null]", "null", "[\"a\", true]",
    ])
    func notAListOfStringsIsNamed(contents: String) {
        #expect(throws: CryptoError("keyring file k.json must hold a JSON array of base64 key strings")) {
            try Keyring.parse(fileContents: Array(contents.utf8), path: "k.json")
        }
    }

    @Test func badKeyIsNamedByIndex() {
        #expect(throws: CryptoError("keyring file k.json: key at index 1: encryption key is not valid base64")) {
            try Keyring.parse(fileContents: Array("[\"\(Vectors.keyBase64)\", \"nope!\"]".utf8), path: "k.json")
        }
        let short = "keyring file k.json: key at index 0: "
            + "encryption key must be 32 bytes after base64 decoding (got 16)"
        #expect(throws: CryptoError.self) {
            try Keyring.parse(fileContents: Array("[\"AAAAAAAAAAAAAAAAAAAAAA==\"]".utf8), path: "k.json")
        }
        do {
            _ = try Keyring.parse(fileContents: Array("[\"AAAAAAAAAAAAAAAAAAAAAA==\"]".utf8), path: "k.json")
        } catch {
            #expect(error.message.hasPrefix(short))
        }
    }

    @Test func emptyListIsRefused() {
        #expect(throws: CryptoError("keyring file k.json contains no keys")) {
            try Keyring.parse(fileContents: Array("[]".utf8), path: "k.json")
        }
    }

    @Test func unwritableLocationIsNamed() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        let path = dir.file("no-such-dir/keyring.json")
        #expect(throws: CryptoError("cannot write keyring file \(path): No such file or directory")) {
            try Keyring(primary: Vectors.key).save(to: path)
        }
    }
}

extension String {
    /// Escapes every "/" as "\/" (valid JSON that Go's encoder never writes).
    fileprivate func replacingSlashes() -> String {
        var out = ""
        for char in self { out += char == "/" ? "\\/" : String(char) }
        return out
    }
}
