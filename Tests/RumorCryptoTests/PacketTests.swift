import Testing

@testable import RumorCrypto
import RumorTestSupport

/// memberlist's UDP layout: [vsn][nonce][ciphertext][tag], every key tried, vsn 0 padding, and tampering.
@Suite struct PacketTests {
    let keyring = Keyring(primary: Vectors.key)

    @Test func flippingAnySingleBitMakesOpenFail() throws {
        let packet = Vectors.joinIntent.cipher
        #expect(try MemberlistEncryption.open(packet, keyring: keyring) == Vectors.joinIntent.plain)
        for byte in packet.indices {
            for bit in 0..<8 {
                var tampered = packet
                tampered[byte] ^= 1 << bit
                // The vsn byte is not authenticated by GCM: 1→0 is caught by the PKCS7 check, other flips by the
                // version check; every other byte is covered by the tag.
                #expect(throws: CryptoError.self, "byte \(byte) bit \(bit)") {
                    try MemberlistEncryption.open(tampered, keyring: keyring)
                }
            }
        }
    }

    @Test func wrongKeyFails() {
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.open(Vectors.t10.cipher, keyring: Keyring(primary: Vectors.key2))
        }
    }

    @Test func everyInstalledKeyIsTried() throws {
        let ring = Keyring(primary: Vectors.key2, others: [SecretKey.generate(), Vectors.key])
        #expect(try MemberlistEncryption.open(Vectors.t10.cipher, keyring: ring) == Vectors.t10.plain)
    }

    @Test func sealUsesAFreshNonceEachTime() throws {
        let plain: [UInt8] = Array("hello".utf8)
        let first = try MemberlistEncryption.seal(plain, key: Vectors.key)
        let second = try MemberlistEncryption.seal(plain, key: Vectors.key)
        #expect(first != second)
        #expect(first.count == plain.count + MemberlistEncryption.overhead)
        #expect(first.first == 1)
        #expect(try MemberlistEncryption.open(first, keyring: keyring) == plain)
        #expect(try MemberlistEncryption.open(second, keyring: keyring) == plain)
    }

    @Test func emptyPlaintextRoundTrips() throws {
        let sealed = try MemberlistEncryption.seal([], key: Vectors.key)
        #expect(sealed.count == 29)
        #expect(try MemberlistEncryption.open(sealed, keyring: keyring) == [])
    }

    @Test func aadMustMatch() throws {
        let sealed = try MemberlistEncryption.seal([1, 2, 3], key: Vectors.key, aad: [7, 7])
        #expect(try MemberlistEncryption.open(sealed, keyring: keyring, aad: [7, 7]) == [1, 2, 3])
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.open(sealed, keyring: keyring)
        }
    }

    @Test func version0PadsAndRoundTrips() throws {
        for length in 0...48 {
            let plain = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            let sealed = try MemberlistEncryption.seal(plain, key: Vectors.key, version: 0)
            #expect(sealed.first == 0)
            // PKCS7 always adds 1...16 bytes, so the padded plaintext is the next multiple of 16 above `length`.
            #expect(sealed.count == 29 + (length / 16 + 1) * 16, "length \(length)")
            #expect(try MemberlistEncryption.open(sealed, keyring: keyring) == plain, "length \(length)")
        }
    }

    @Test(arguments: [
        hex("00000000000000000000000000000000"),  // pad byte 0
        hex("11111111111111111111111111111111"),  // pad byte 17 > block
        hex("00000000000000000000000000000203"),  // claims 3, only the last 2 agree
        hex("0000000000000000000000000000ff02"),
    ])
    func version0RejectsBadPadding(padded: [UInt8]) throws {
        // vsn is outside the authenticated data, so a vsn-1 packet relabelled 0 exercises the padding check.
        var sealed = try MemberlistEncryption.seal(padded, key: Vectors.key, version: 1)
        sealed[0] = 0
        #expect(throws: CryptoError("Decrypted payload has invalid PKCS7 padding")) {
            try MemberlistEncryption.open(sealed, keyring: keyring)
        }
    }

    @Test func version0AcceptsAFullPaddingBlock() throws {
        var sealed = try MemberlistEncryption.seal([UInt8](repeating: 16, count: 16), key: Vectors.key, version: 1)
        sealed[0] = 0
        #expect(try MemberlistEncryption.open(sealed, keyring: keyring) == [])
    }

    @Test func rejectsUnsupportedVersions() throws {
        var sealed = try MemberlistEncryption.seal([1, 2, 3], key: Vectors.key)
        for version: UInt8 in [2, 3, 255] {
            sealed[0] = version
            #expect(throws: CryptoError("Unsupported encryption version \(version)")) {
                try MemberlistEncryption.open(sealed, keyring: keyring)
            }
        }
        #expect(throws: CryptoError("Unsupported encryption version 2")) {
            try MemberlistEncryption.seal([1], key: Vectors.key, version: 2)
        }
    }

    @Test func rejectsShortPayloads() {
        #expect(throws: CryptoError("Cannot decrypt empty payload")) {
            try MemberlistEncryption.open([], keyring: keyring)
        }
        #expect(throws: CryptoError("Payload is too small to decrypt: 28")) {
            try MemberlistEncryption.open([1] + [UInt8](repeating: 0, count: 27), keyring: keyring)
        }
        // vsn 0 always carries a padding block, so its minimum is 45.
        #expect(throws: CryptoError("Payload is too small to decrypt: 44")) {
            try MemberlistEncryption.open([0] + [UInt8](repeating: 0, count: 43), keyring: keyring)
        }
    }

    @Test func plaintextPacketIsRejected() {
        // A plaintext ping starts with 0 and so reads as vsn 0; its "tag" cannot verify.
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.open(Vectors.t10.plain, keyring: keyring)
        }
    }
}
