import RumorWire
import Testing

@testable import RumorCrypto
import RumorTestSupport

/// Captured Serf traffic must decrypt, and re-encrypting with the captured nonce must give the very same bytes.
@Suite struct KnownAnswerTests {
    let keyring = Keyring(primary: Vectors.key)

    @Test func libsodiumOffersAESGCM() {
        #expect(Sodium.aesGCMAvailable, "these tests need AES-NI; libsodium's AES-256-GCM is unavailable")
    }

    @Test func t10KeyIsTheDocumentedBytes() {
        #expect(hexString(Vectors.key.bytes) == "58024b6a498afe2715e42da912da419cb4c8e503679316fc9c1f92a356d22232")
    }

    @Test func t10DecryptsToThePing() throws {
        let plain = try MemberlistEncryption.open(Vectors.t10.cipher, keyring: keyring)
        #expect(hexString(plain) == hexString(Vectors.t10.plain))
        let decoded = MemberlistCodec.decodePacket(plain)
        #expect(decoded.errors.isEmpty)
        let ping = Ping(node: "c", seqNo: 1, sourceAddr: [127, 0, 0, 1], sourceNode: "d", sourcePort: 7949)
        #expect(decoded.messages == [.ping(ping)])
    }

    @Test func t10ReencryptsToTheCapturedBytes() throws {
        let nonce = Array(Vectors.t10.cipher[1..<13])
        let sealed = try MemberlistEncryption.seal(
            Vectors.t10.plain, key: Vectors.key, version: 1, nonce: nonce, aad: [])
        #expect(hexString(sealed) == hexString(Vectors.t10.cipher))
    }

    @Test(arguments: Vectors.udpPackets.indices)
    func capturedPacketRoundTrips(index: Int) throws {
        let vector = Vectors.udpPackets[index]
        let plain = try MemberlistEncryption.open(vector.cipher, keyring: keyring)
        #expect(hexString(plain) == hexString(vector.plain))
        #expect(MemberlistCodec.decodePacket(plain).errors.isEmpty)
        let nonce = Array(vector.cipher[1..<13])
        let sealed = try MemberlistEncryption.seal(vector.plain, key: Vectors.key, version: 1, nonce: nonce, aad: [])
        #expect(hexString(sealed) == hexString(vector.cipher))
    }

    /// T12 end to end: the list-keys reply inside the encrypted query response names exactly our key.
    @Test func listKeysResponseNamesTheKey() throws {
        let plain = try MemberlistEncryption.open(Vectors.listKeysResponse.cipher, keyring: keyring)
        guard case .user(let serf) = try #require(MemberlistCodec.decodePacket(plain).messages.first),
            case .queryResponse(let response) = try SerfCodec.decode(serf)
        else {
            Issue.record("expected a Serf query response")
            return
        }
        let keys = try SerfCodec.decodeKeyResponse(try #require(response.payload))
        #expect(keys.keys == [Vectors.keyBase64])
        #expect(keys.primaryKey == Vectors.key.base64)
        #expect(keys.result)
    }

    @Test func t11StreamDecryptsWithHeaderAsAAD() throws {
        for vector in [Vectors.t11, Vectors.t11Reply] {
            let plain = try MemberlistEncryption.openStream(vector.cipher, keyring: keyring)
            #expect(hexString(plain) == hexString(vector.plain))
            #expect(plain.count == 212)
            #expect(plain.first == 9, "a compress wrapper")
        }
    }

    @Test func t11ReencryptsToTheCapturedFrame() throws {
        let nonce = Array(Vectors.t11.cipher[6..<18])
        let sealed = try MemberlistEncryption.sealStream(Vectors.t11.plain, key: Vectors.key, nonce: nonce)
        #expect(hexString(sealed) == hexString(Vectors.t11.cipher))
    }

    @Test func t11WithoutAADDoesNotDecrypt() {
        let body = Array(Vectors.t11.cipher.dropFirst(5))
        #expect(throws: CryptoError("No installed keys could decrypt the message")) {
            try MemberlistEncryption.open(body, keyring: keyring)
        }
    }

    @Test func t11StreamPlaintextDecodes() throws {
        let plain = try MemberlistEncryption.openStream(Vectors.t11.cipher, keyring: keyring)
        guard case .pushPull(let pushPull) = try MemberlistCodec.decodeStream(plain) else {
            Issue.record("expected a push-pull")
            return
        }
        #expect(pushPull.nodes.map(\.name) == ["d"])
    }
}
