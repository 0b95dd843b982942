import Testing

@testable import RumorCrypto
import RumorTestSupport

@Suite struct SecretKeyTests {
    @Test func parsesSerfKeygenOutput() throws {
        let key = try SecretKey(base64: Vectors.keyBase64)
        #expect(key.bytes.count == 32)
        #expect(key.base64 == Vectors.keyBase64)
        #expect(try SecretKey(bytes: key.bytes) == key)
    }

    @Test func neverPrintsKeyMaterial() {
        let key = Vectors.key
        var dumped = ""
        dump(key, to: &dumped)
        let texts = [
            key.description, key.debugDescription, "\(key)", String(describing: key), String(reflecting: key),
            "\([key])", "\(Keyring(primary: key))", String(reflecting: Keyring(primary: key)), dumped,
        ]
        for text in texts {
            #expect(!text.contains(Vectors.keyBase64.prefix(8)), "\(text)")
            #expect(!text.contains(hexString(key.bytes.prefix(4))), "\(text)")
            #expect(!text.contains("88, 2, 75"), "\(text)")  // the first bytes in decimal
        }
        #expect(key.description == "SecretKey(<redacted>)")
    }

    @Test func generatesDistinctRandomKeys() throws {
        let a = SecretKey.generate()
        let b = SecretKey.generate()
        #expect(a != b)
        #expect(a.bytes.count == 32)
        #expect(a.base64.count == 44)
        #expect(try SecretKey(base64: a.base64) == a)
    }

    @Test(arguments: [
        "not base64!", "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI",  // missing padding
        "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI=\u{0}", " WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI=",
        "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjJ=",  // non-zero bits under the padding
        "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bS=jI=", "WAJLakmK_icV5C2pEtpBnLTI5QNnkxb8nB-So1bSIjI=",  // URL alphabet
        "=", "====", "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI==",
    ])
    func rejectsInvalidBase64(text: String) {
        #expect(throws: CryptoError("encryption key is not valid base64")) { try SecretKey(base64: text) }
    }

    @Test(arguments: [("", 0), ("AAAAAAAAAAAAAAAAAAAAAA==", 16), ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 24), ("AAAA", 3)])
    func rejectsWrongLengths(text: String, length: Int) {
        let message = "encryption key must be 32 bytes after base64 decoding (got \(length)); libsodium's "
            + "AES-256-GCM takes 32-byte keys only, which is what `serf keygen` and `rumor keygen` make"
        #expect(throws: CryptoError(message)) { try SecretKey(base64: text) }
    }

    @Test func rawBytesMustBe32() {
        #expect(throws: CryptoError.self) { try SecretKey(bytes: [UInt8](repeating: 1, count: 16)) }
        #expect(throws: CryptoError.self) { try SecretKey(bytes: [UInt8](repeating: 1, count: 33)) }
    }

    @Test func lineBreaksAreIgnoredLikeGo() throws {
        #expect(try SecretKey(base64: "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8\r\nnB+So1bSIjI=\n") == Vectors.key)
    }

    @Test func base64MatchesRFC4648() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xfb, 0xff, 0xbf]) == "+/+/")
        #expect(Base64.decode("+/+/") == [0xfb, 0xff, 0xbf])
    }

    @Test func base64RoundTripsEveryLength() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ length) }
            let text = Base64.encode(bytes)
            #expect(text.count == (length + 2) / 3 * 4)
            #expect(Base64.decode(text) == bytes, "length \(length)")
        }
    }

    @Test func base64RejectsMalformedQuads() {
        for text in ["A", "AA", "AAA", "AAAAA", "A===", "AA=A", "=AAA", "AB==", "AAB=", "AA==AAAA", "Zg==\u{e9}"] {
            #expect(Base64.decode(text) == nil, "\(text)")
        }
    }
}
