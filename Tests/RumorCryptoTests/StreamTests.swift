import Testing

@testable import RumorCrypto

/// memberlist's TCP frame: [0x0a][u32 BE length][vsn][nonce][ciphertext][tag], AAD = the 5 header bytes.
@Suite struct StreamTests {
    let keyring = Keyring(primary: Vectors.key)

    @Test func sealStreamFramesAndRoundTrips() throws {
        for length in [0, 1, 212, 5000] {
            let plain = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            let frame = try MemberlistEncryption.sealStream(plain, key: Vectors.key)
            let declared = length + 29
            let header: [UInt8] = [10, 0, UInt8(declared >> 16), UInt8(declared >> 8 & 255), UInt8(declared & 255)]
            #expect(Array(frame.prefix(5)) == header)
            #expect(frame.count == 5 + declared)
            #expect(frame[5] == 1)
            #expect(try MemberlistEncryption.openStream(frame, keyring: keyring) == plain)
        }
    }

    @Test func plaintextStreamIsRejected() {
        let notEncrypted = CryptoError("Encryption is configured but remote state is not encrypted")
        #expect(throws: notEncrypted) { try MemberlistEncryption.openStream(Vectors.t11.plain, keyring: keyring) }
        #expect(throws: notEncrypted) { try MemberlistEncryption.openStream([], keyring: keyring) }
        // A UDP-style packet (no stream header) is not a stream frame either.
        #expect(throws: notEncrypted) { try MemberlistEncryption.openStream(Vectors.t10.cipher, keyring: keyring) }
    }

    @Test func truncatedHeaderIsRejected() {
        #expect(throws: CryptoError("Encrypted stream is truncated: 3 of 5 header bytes")) {
            try MemberlistEncryption.openStream([10, 0, 0], keyring: keyring)
        }
    }

    @Test func oversizedDeclarationIsRejected() {
        #expect(throws: CryptoError("Remote node state is larger than limit (20971521)")) {
            try MemberlistEncryption.openStream([10, 0x01, 0x40, 0x00, 0x01], keyring: keyring)
        }
    }

    @Test func lengthMustMatchTheBody() {
        let frame = Vectors.t11.cipher
        #expect(throws: CryptoError("Encrypted stream is truncated: header declares 241 bytes, got 240")) {
            try MemberlistEncryption.openStream(Array(frame.dropLast()), keyring: keyring)
        }
        #expect(throws: CryptoError("Encrypted stream has 1 bytes after its 241-byte frame")) {
            try MemberlistEncryption.openStream(frame + [0], keyring: keyring)
        }
    }

    @Test func headerIsAuthenticated() {
        // Relabel the length and add a byte: the frame is consistent but the AAD no longer matches.
        var frame = Vectors.t11.cipher + [0]
        frame[4] = 0xf2
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.openStream(frame, keyring: keyring)
        }
    }

    @Test func wrongKeyFails() {
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.openStream(Vectors.t11.cipher, keyring: Keyring(primary: Vectors.key2))
        }
    }

    @Test func flippingBitsInTheFrameFails() {
        // Every byte of the header and a sample of the body (the full UDP sweep is in PacketTests).
        let frame = Vectors.t11.cipher
        for byte in Array(0..<20) + [100, frame.count - 17, frame.count - 1] {
            for bit in 0..<8 {
                var tampered = frame
                tampered[byte] ^= 1 << bit
                #expect(throws: CryptoError.self, "byte \(byte) bit \(bit)") {
                    try MemberlistEncryption.openStream(tampered, keyring: keyring)
                }
            }
        }
    }
}
