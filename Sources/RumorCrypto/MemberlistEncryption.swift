/// memberlist's encrypted layouts (security.go, net.go):
///
///     packet (UDP, no AAD):  [vsn][nonce 12][AES-GCM ciphertext][tag 16]
///     stream (TCP):          [0x0a][len u32 BE][vsn][nonce 12][ciphertext][tag 16], AAD = the 5 header bytes
///
/// vsn 1 (what every Serf agent sends) has no padding; vsn 0 PKCS7-pads the plaintext to 16 bytes first.
public enum MemberlistEncryption {
    public static let versionSize = 1
    public static let nonceSize = 12
    public static let tagSize = 16
    /// Bytes vsn 1 adds to a packet; subtract it from the UDP packet budget.
    public static let overhead = versionSize + nonceSize + tagSize
    /// The stream frame's type byte (memberlist's encryptMsg).
    public static let streamType: UInt8 = 10
    public static let streamHeaderSize = 5
    /// memberlist refuses stream frames declaring more than this (maxPushStateBytes).
    public static let maxStreamLength = 20 * 1024 * 1024

    // MARK: Packets

    /// Encrypts with a fresh random nonce.
    public static func seal(
        _ plaintext: [UInt8], key: SecretKey, version: UInt8 = 1, aad: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        try Sodium.requireAESGCM()
        return try seal(plaintext, key: key, version: version, nonce: Sodium.randomBytes(nonceSize), aad: aad)
    }

    /// Deterministic-nonce entry point for known-answer tests. Never reuse a nonce with a key in production.
    static func seal(
        _ plaintext: [UInt8], key: SecretKey, version: UInt8, nonce: [UInt8], aad: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        guard version <= 1 else { throw CryptoError("Unsupported encryption version \(version)") }
        guard nonce.count == nonceSize else { throw CryptoError("nonce must be \(nonceSize) bytes") }
        let message = version == 0 ? pkcs7Pad(plaintext) : plaintext
        let sealed = try AESGCM.seal(message[...], key: key, nonce: nonce, aad: aad[...])
        return [version] + nonce + sealed
    }

    /// Decrypts with each key in turn, primary first, as memberlist's decryptPayload does.
    public static func open(_ bytes: [UInt8], keyring: Keyring, aad: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        try open(bytes[...], keys: keyring.keys, aad: aad[...])
    }

    static func open(
        _ bytes: ArraySlice<UInt8>, keys: [SecretKey], aad: ArraySlice<UInt8>
    ) throws(CryptoError) -> [UInt8] {
        guard let version = bytes.first else { throw CryptoError("Cannot decrypt empty payload") }
        guard version <= 1 else { throw CryptoError("Unsupported encryption version \(version)") }
        guard bytes.count >= minimumLength(version: version) else {
            throw CryptoError("Payload is too small to decrypt: \(bytes.count)")
        }
        let nonceStart = bytes.startIndex + versionSize
        let nonce = bytes[nonceStart..<nonceStart + nonceSize]
        let sealed = bytes[(nonceStart + nonceSize)...]
        for key in keys {
            guard let plain = try AESGCM.open(sealed, key: key, nonce: nonce, aad: aad) else { continue }
            return version == 0 ? try pkcs7Unpad(plain) : plain
        }
        throw CryptoError("No installed keys could decrypt the message")
    }

    /// memberlist's encryptedLength(vsn, 0): vsn 0 always carries at least one block of padding.
    static func minimumLength(version: UInt8) -> Int {
        overhead + (version == 0 ? 16 : 0)
    }

    static func pkcs7Pad(_ bytes: [UInt8]) -> [UInt8] {
        let padding = 16 - bytes.count % 16
        return bytes + [UInt8](repeating: UInt8(padding), count: padding)
    }

    /// Unlike memberlist (which trusts the last byte and can panic), every padding byte is checked.
    static func pkcs7Unpad(_ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let last = bytes.last, (1...16).contains(last), Int(last) <= bytes.count,
            bytes.suffix(Int(last)).allSatisfy({ $0 == last })
        else { throw CryptoError("Decrypted payload has invalid PKCS7 padding") }
        return Array(bytes.dropLast(Int(last)))
    }

    // MARK: Streams

    /// Frames and encrypts one stream message with the 5 header bytes as additional data.
    public static func sealStream(_ plaintext: [UInt8], key: SecretKey) throws(CryptoError) -> [UInt8] {
        try Sodium.requireAESGCM()
        return try sealStream(plaintext, key: key, nonce: Sodium.randomBytes(nonceSize))
    }

    /// Deterministic-nonce entry point for known-answer tests.
    static func sealStream(_ plaintext: [UInt8], key: SecretKey, nonce: [UInt8]) throws(CryptoError) -> [UInt8] {
        let length = plaintext.count + overhead
        guard length <= maxStreamLength else {
            throw CryptoError(
                "stream message of \(plaintext.count) bytes is too large to send (peers refuse over 20 MiB)")
        }
        let header = streamHeader(length: length)
        return header + (try seal(plaintext, key: key, version: 1, nonce: nonce, aad: header))
    }

    /// Checks the frame (type byte, declared length) and decrypts it with every key.
    public static func openStream(_ bytes: [UInt8], keyring: Keyring) throws(CryptoError) -> [UInt8] {
        guard bytes.first == streamType else {
            throw CryptoError("Encryption is configured but remote state is not encrypted")
        }
        guard bytes.count >= streamHeaderSize else {
            throw CryptoError("Encrypted stream is truncated: \(bytes.count) of \(streamHeaderSize) header bytes")
        }
        let declared = bytes[1..<5].reduce(0) { $0 << 8 | Int($1) }
        guard declared <= maxStreamLength else {
            throw CryptoError("Remote node state is larger than limit (\(declared))")
        }
        let body = bytes[streamHeaderSize...]
        guard body.count >= declared else {
            throw CryptoError("Encrypted stream is truncated: header declares \(declared) bytes, got \(body.count)")
        }
        guard body.count == declared else {
            throw CryptoError("Encrypted stream has \(body.count - declared) bytes after its \(declared)-byte frame")
        }
        return try open(body, keys: keyring.keys, aad: bytes[..<streamHeaderSize])
    }

    static func streamHeader(length: Int) -> [UInt8] {
        [streamType] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) }
    }
}
