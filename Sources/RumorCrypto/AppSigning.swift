import CSodium
import RumorSupport

/// Who may change the cluster's apps: an Ed25519 key (libsodium's `crypto_sign`) signs each deploy on the client,
/// and every node checks the signature against the public keys it trusts (`apps_trust`). The exact statement that
/// is signed, and why it resists replay and forgery, is in docs/apps-authority.md.
public struct AppPublicKey: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError("a deploy public key is \(Self.byteCount) bytes (got \(bytes.count))")
        }
        self.bytes = bytes
    }

    /// Standard base64, as `rumor apps keygen` prints it (44 characters).
    public init(base64 text: String) throws(CryptoError) {
        guard let decoded = Base64.decode(text) else {
            throw CryptoError("\(JSON.excerpt(text)) is not a deploy public key: not base64 (rumor apps keygen prints one)")
        }
        guard decoded.count == Self.byteCount else {
            throw CryptoError("\(JSON.excerpt(text)) is not a deploy public key: \(decoded.count) bytes, expected \(Self.byteCount)")
        }
        bytes = decoded
    }

    public var base64: String { Base64.encode(bytes) }
    /// The whole key: it is public, and a shortened one could be confused with another in a log.
    public var description: String { base64 }
}

/// The secret half: made by `rumor apps keygen`, kept by the people who deploy, never on the cluster's nodes.
/// Printing or dumping it never shows the key bytes.
public struct AppSigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let seedByteCount = 32
    private let secret: [UInt8]  // libsodium's 64-byte form: the seed, then the public key
    public let publicKey: AppPublicKey

    public init(seed: [UInt8]) throws(CryptoError) {
        guard Sodium.initialized else { throw CryptoError("libsodium failed to initialise (sodium_init)") }
        guard seed.count == Self.seedByteCount else {
            throw CryptoError("a deploy signing key is \(Self.seedByteCount) bytes (got \(seed.count))")
        }
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        guard crypto_sign_seed_keypair(&pk, &sk, seed) == 0 else { throw CryptoError("crypto_sign_seed_keypair failed") }
        secret = sk
        publicKey = try AppPublicKey(bytes: pk)
    }

    public static func generate() throws(CryptoError) -> AppSigningKey {
        guard Sodium.initialized else { throw CryptoError("libsodium failed to initialise (sodium_init)") }
        return try AppSigningKey(seed: Sodium.randomBytes(seedByteCount))
    }

    /// The key file: comment lines (`#`) and one line of base64 (the seed).
    public init(fileText: String, path: String) throws(CryptoError) {
        let lines = fileText.split(whereSeparator: \.isNewline).map { String($0).trimmingSpaces() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard lines.count == 1, let seed = Base64.decode(lines[0]), seed.count == Self.seedByteCount else {
            throw CryptoError("\(path) is not a deploy signing key (expected one line of base64 holding 32 bytes, as rumor apps keygen writes)")
        }
        try self.init(seed: seed)
    }

    public var fileText: String {
        "# Rumor deploy signing key (secret). Its public key: \(publicKey.base64)\n" + Base64.encode(Array(secret.prefix(32))) + "\n"
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        _ = crypto_sign_detached(&signature, nil, message, UInt64(message.count), secret)
        return signature
    }

    public var description: String { "AppSigningKey(public \(publicKey.base64), secret <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension AppPublicKey {
    public func verifies(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard Sodium.initialized, signature.count == Int(crypto_sign_BYTES) else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), bytes) == 0
    }
}

/// What a deploy's signature covers (docs/apps-authority.md#the-statement): a domain string, the operation, the
/// serial, the app's name (length-prefixed) and the SHA-256 of the new spec and of the spec it replaces. Binary
/// and fixed in layout, so no two different deploys have the same statement.
public enum AppStatement {
    public enum Operation: UInt8, Sendable {
        /// A deploy, scale or stop (an empty spec). Its authority also covers the automatic rollback to `previous`.
        case deploy = 1
        /// `rumor apps rollback`: the spec the current deploy replaced, taken everywhere at once.
        case rollback = 2
    }

    static let domain = Array("rumor app record v1\0".utf8)

    public static func bytes(_ op: Operation, name: String, serial: UInt64, spec: [UInt8], previous: [UInt8]) -> [UInt8] {
        var out = domain
        out.append(op.rawValue)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: serial >> UInt64(shift))) }
        let nameBytes = Array(name.utf8)
        let count = UInt32(clamping: nameBytes.count)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        out += nameBytes
        out += sha256(spec)
        out += sha256(previous)
        return out
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        precondition(Sodium.initialized, "sodium_init failed")
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256(&digest, bytes, UInt64(bytes.count))
        return digest
    }
}
