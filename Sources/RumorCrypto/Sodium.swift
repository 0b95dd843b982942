import CSodium

/// libsodium bootstrap. `sodium_init` must run before any other libsodium call (randombytes picks its source there).
public enum Sodium {
    /// A static let is initialised exactly once, thread-safely, on first use.
    static let initialized: Bool = sodium_init() >= 0

    /// libsodium's AES-256-GCM needs hardware AES (AES-NI and PCLMUL on x86); without it encryption is impossible.
    public static var aesGCMAvailable: Bool {
        initialized && crypto_aead_aes256gcm_is_available() == 1
    }

    static func requireAESGCM() throws(CryptoError) {
        guard initialized else { throw CryptoError("libsodium failed to initialise (sodium_init)") }
        guard aesGCMAvailable else {
            throw CryptoError(
                "AES-256-GCM is not available on this CPU: libsodium needs hardware AES (AES-NI and PCLMUL on x86)")
        }
    }

    /// Cryptographically secure random bytes (the GCM nonces and generated keys).
    static func randomBytes(_ count: Int) -> [UInt8] {
        precondition(initialized, "sodium_init failed")
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            randombytes_buf(buffer.baseAddress!, count)
            initialized = count
        }
    }
}
