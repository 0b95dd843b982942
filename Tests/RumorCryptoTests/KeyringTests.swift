import Testing

@testable import RumorCrypto

/// memberlist keyring semantics: primary first, install is idempotent, use promotes, remove refuses the primary.
@Suite struct KeyringTests {
    let a = SecretKey.generate()
    let b = SecretKey.generate()
    let c = SecretKey.generate()

    @Test func primaryComesFirstWithoutDuplicates() {
        let ring = Keyring(primary: a, others: [b, a, c, b])
        #expect(ring.keys == [a, b, c])
        #expect(ring.primary == a)
        #expect(ring.contains(c))
        #expect(!ring.contains(SecretKey.generate()))
    }

    @Test func installAppendsOnce() {
        var ring = Keyring(primary: a)
        let added = ring.install(b)
        let again = ring.install(b)
        let primaryAgain = ring.install(a)
        #expect(added && !again && !primaryAgain)
        #expect(ring.keys == [a, b])
    }

    @Test func usePromotesAnInstalledKey() throws {
        var ring = Keyring(primary: a, others: [b, c])
        try ring.use(c)
        #expect(ring.keys == [c, a, b])
        try ring.use(c)
        #expect(ring.keys == [c, a, b])
        #expect(throws: CryptoError("Requested key is not in the keyring")) { try ring.use(SecretKey.generate()) }
        #expect(ring.keys == [c, a, b])
    }

    @Test func removeRefusesThePrimary() throws {
        var ring = Keyring(primary: a, others: [b, c])
        #expect(throws: CryptoError("Removing the primary key is not allowed")) { try ring.remove(a) }
        #expect(try ring.remove(b))
        #expect(ring.keys == [a, c])
        #expect(try !ring.remove(b), "removing an absent key is a no-op, as in memberlist")
        #expect(ring.keys == [a, c])
    }

    /// The operator's rotation: install new everywhere, use new, remove old. Old traffic decrypts until the end.
    @Test func rotationKeepsTrafficFlowing() throws {
        var ring = Keyring(primary: a)
        let oldPacket = try MemberlistEncryption.seal([1, 2, 3], key: ring.primary)
        ring.install(b)
        try ring.use(b)
        #expect(try MemberlistEncryption.open(oldPacket, keyring: ring) == [1, 2, 3])
        let newPacket = try MemberlistEncryption.seal([4], key: ring.primary)
        #expect(try MemberlistEncryption.open(newPacket, keyring: Keyring(primary: b)) == [4])
        try ring.remove(a)
        #expect(ring.keys == [b])
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.open(oldPacket, keyring: ring)
        }
    }
}
