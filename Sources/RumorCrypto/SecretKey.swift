/// A 32-byte AES-256-GCM key. libsodium only offers AES-256-GCM, so the 16- and 24-byte keys memberlist would also
/// accept are refused with an explanation. Printing, debug-printing and dumping never show the key bytes.
public struct SecretKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public static let byteCount = 32

    /// The raw key. Needed for the key-query payloads (`_serf_install-key` carries raw bytes); handle with care.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(
                "encryption key must be 32 bytes (got \(bytes.count)); "
                    + "libsodium's AES-256-GCM takes 32-byte keys only")
        }
        self.bytes = bytes
    }

    /// Parses Serf's text form: standard base64 with padding (what `serf keygen` prints).
    public init(base64 text: String) throws(CryptoError) {
        guard let decoded = Base64.decode(text) else { throw CryptoError("encryption key is not valid base64") }
        guard decoded.count == Self.byteCount else {
            throw CryptoError(
                "encryption key must be 32 bytes after base64 decoding (got \(decoded.count)); "
                    + "libsodium's AES-256-GCM takes 32-byte keys only, "
                    + "which is what `serf keygen` and `rumor keygen` make")
        }
        bytes = decoded
    }

    /// Standard base64 with padding: 44 characters, as in keyring files and list-keys replies.
    public var base64: String { Base64.encode(bytes) }

    /// A fresh random key from libsodium's CSPRNG.
    public static func generate() -> SecretKey {
        SecretKey(unchecked: Sodium.randomBytes(byteCount))
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var description: String { "SecretKey(<redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
