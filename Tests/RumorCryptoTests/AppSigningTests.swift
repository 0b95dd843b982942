import RumorCrypto
import Testing

/// Deploy keys (docs/apps-authority.md#keys): Ed25519 through libsodium, a key file that round-trips, and a
/// statement in which every field counts.
@Suite struct AppSigningTests {
    @Test func aSignatureVerifies_onlyForItsStatement_andOnlyWithItsKey() throws {
        let key = try AppSigningKey.generate()
        let other = try AppSigningKey.generate()
        let statement = AppStatement.bytes(.deploy, name: "site", serial: 7, spec: Array("v2".utf8), previous: Array("v1".utf8))
        let signature = key.sign(statement)
        #expect(signature.count == 64)
        #expect(key.publicKey.verifies(signature, of: statement))
        #expect(!other.publicKey.verifies(signature, of: statement), "another key")
        var flipped = statement
        flipped[flipped.count - 1] ^= 1
        #expect(!key.publicKey.verifies(signature, of: flipped), "one bit of the statement")
        #expect(!key.publicKey.verifies(Array(signature.prefix(63)), of: statement), "a short signature")
    }

    @Test func everyFieldOfTheStatementCounts() {
        let base = AppStatement.bytes(.deploy, name: "site", serial: 7, spec: Array("v2".utf8), previous: Array("v1".utf8))
        let variants = [
            AppStatement.bytes(.rollback, name: "site", serial: 7, spec: Array("v2".utf8), previous: Array("v1".utf8)),
            AppStatement.bytes(.deploy, name: "sitf", serial: 7, spec: Array("v2".utf8), previous: Array("v1".utf8)),
            AppStatement.bytes(.deploy, name: "site", serial: 8, spec: Array("v2".utf8), previous: Array("v1".utf8)),
            AppStatement.bytes(.deploy, name: "site", serial: 7, spec: Array("v3".utf8), previous: Array("v1".utf8)),
            AppStatement.bytes(.deploy, name: "site", serial: 7, spec: Array("v2".utf8), previous: Array("v0".utf8)),
            AppStatement.bytes(.deploy, name: "site", serial: 7, spec: Array("v1".utf8), previous: Array("v2".utf8)),
        ]
        #expect(variants.allSatisfy { $0 != base } && Set(variants).count == variants.count)
    }

    @Test func theKeyFile_roundTrips_andNothingPrintsTheSecret() throws {
        let key = try AppSigningKey.generate()
        let read = try AppSigningKey(fileText: key.fileText, path: "k")
        #expect(read.publicKey == key.publicKey)
        #expect(key.fileText.contains(key.publicKey.base64), "the comment names the public key")
        let secretLine = try #require(key.fileText.split(separator: "\n").last.map(String.init))
        for shown in [String(describing: key), String(reflecting: key), "\(key)"] {
            #expect(!shown.contains(secretLine) && shown.contains("redacted"))
        }
        #expect(throws: CryptoError.self) { try AppSigningKey(fileText: "not a key\n", path: "k") }
        #expect(throws: CryptoError.self) { try AppPublicKey(base64: "AAAA") }
        #expect(try AppPublicKey(base64: key.publicKey.base64) == key.publicKey)
    }
}
