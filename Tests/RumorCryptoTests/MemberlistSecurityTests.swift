import Testing

@testable import RumorCrypto
import RumorTestSupport

/// The runtime's seam (RumorRuntime conforms MemberlistSecurity to PacketSecurity without adding behaviour).
@Suite struct MemberlistSecurityTests {
    @Test func strictModeRejectsPlaintext() {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key))
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try security.openPacket(Vectors.t10.plain)
        }
        #expect(throws: CryptoError("Encryption is configured but remote state is not encrypted")) {
            try security.openStream(Vectors.t11.plain)
        }
    }

    @Test func strictModeOpensCapturedTraffic() throws {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key))
        #expect(try security.openPacket(Vectors.t10.cipher) == Vectors.t10.plain)
        #expect(try security.openStream(Vectors.t11.cipher) == Vectors.t11.plain)
    }

    @Test func migrationModeAcceptsPlaintextButStillEncrypts() throws {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key), allowPlaintext: true)
        #expect(try security.openPacket(Vectors.t10.plain) == Vectors.t10.plain)
        #expect(try security.openStream(Vectors.t11.plain) == Vectors.t11.plain)
        #expect(try security.openPacket(Vectors.t10.cipher) == Vectors.t10.plain)
        #expect(try security.openStream(Vectors.t11.cipher) == Vectors.t11.plain)

        let sealed = try security.sealPacket(Vectors.t10.plain)
        #expect(sealed != Vectors.t10.plain)
        #expect(sealed.count == Vectors.t10.plain.count + security.overhead)
        #expect(try MemberlistEncryption.open(sealed, keyring: Keyring(primary: Vectors.key)) == Vectors.t10.plain)
        let frame = try security.sealStream(Vectors.t11.plain)
        #expect(frame.first == 10)
    }

    @Test func migrationModeStillRejectsAnEncryptedStreamItCannotOpen() {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key2), allowPlaintext: true)
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try security.openStream(Vectors.t11.cipher)
        }
    }

    @Test func overheadIsVersion1() {
        #expect(MemberlistSecurity(keyring: Keyring(primary: Vectors.key)).overhead == 29)
    }

    @Test func rotationChangesWhatIsSealedAndOpened() throws {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key))
        #expect(try security.install(Vectors.key2))
        #expect(try !security.install(Vectors.key2))
        try security.use(Vectors.key2)
        #expect(security.keyring.keys == [Vectors.key2, Vectors.key])
        let sealed = try security.sealPacket([42])
        #expect(try MemberlistEncryption.open(sealed, keyring: Keyring(primary: Vectors.key2)) == [42])
        #expect(try security.openPacket(Vectors.t10.cipher) == Vectors.t10.plain, "old key still opens")

        #expect(throws: CryptoError("Removing the primary key is not allowed")) { try security.remove(Vectors.key2) }
        #expect(throws: CryptoError("Requested key is not in the keyring")) { try security.use(SecretKey.generate()) }
        #expect(try security.remove(Vectors.key))
        #expect(security.keyring.keys == [Vectors.key2])
        #expect(throws: CryptoError.self) { try security.openPacket(Vectors.t10.cipher) }
    }

    @Test func rotationRewritesTheKeyringFile() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        let path = dir.file("keyring.json")
        try Keyring(primary: Vectors.key).save(to: path)
        let security = try #require(try MemberlistSecurity.configured(encryptKey: nil, keyringFile: path))
        #expect(security.keyringFile == path)

        try security.install(Vectors.key2)
        #expect(try Keyring.load(from: path).keys == [Vectors.key, Vectors.key2])
        try security.use(Vectors.key2)
        #expect(try Keyring.load(from: path).keys == [Vectors.key2, Vectors.key])
        try security.remove(Vectors.key)
        #expect(try Keyring.load(from: path).keys == [Vectors.key2])
        #expect(dir.mode("keyring.json") == 0o600)
    }

    @Test func failedFileWriteIsReportedButTheKeyStaysInstalled() throws {
        let dir = try TemporaryDirectory("crypto")
        defer { dir.remove() }
        let path = dir.file("gone/keyring.json")
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key), keyringFile: path)
        #expect(throws: CryptoError("cannot write keyring file \(path): No such file or directory")) {
            try security.install(Vectors.key2)
        }
        #expect(security.keyring.contains(Vectors.key2), "as in Serf, memory changes even if the file write fails")
    }

    @Test func configuredFollowsSerfsAgentRules() throws {
        #expect(try MemberlistSecurity.configured(encryptKey: nil, keyringFile: nil) == nil)
        #expect(throws: CryptoError("Encryption key not allowed while using a keyring")) {
            try MemberlistSecurity.configured(encryptKey: Vectors.keyBase64, keyringFile: "/x")
        }
        let fromKey = try #require(try MemberlistSecurity.configured(encryptKey: Vectors.keyBase64, keyringFile: nil))
        #expect(fromKey.keyring.keys == [Vectors.key])
        #expect(fromKey.keyringFile == nil)
        #expect(!fromKey.allowPlaintext)
        #expect(throws: CryptoError("encryption key is not valid base64")) {
            try MemberlistSecurity.configured(encryptKey: "???", keyringFile: nil)
        }
    }

    @Test func concurrentRotationAndSealingStayConsistent() async throws {
        let security = MemberlistSecurity(keyring: Keyring(primary: Vectors.key))
        let keys = (0..<8).map { _ in SecretKey.generate() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for key in keys {
                    try security.install(key)
                    try security.use(key)
                }
            }
            for _ in 0..<4 {
                group.addTask {
                    for round in 0..<200 {
                        let plain = [UInt8(truncatingIfNeeded: round)]
                        // Sealed and opened against the same live keyring: keys are only added, so it always opens.
                        let opened = try security.openPacket(try security.sealPacket(plain))
                        #expect(opened == plain)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(security.keyring.primary == keys.last)
        #expect(security.keyring.keys.count == 9)
    }
}
