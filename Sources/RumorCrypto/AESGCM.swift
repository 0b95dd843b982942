import CSodium

/// AES-256-GCM through libsodium (12-byte nonce, 16-byte tag appended to the ciphertext). The only place that
/// touches libsodium's AEAD API and its pointers.
enum AESGCM {
    static let nonceSize = Int(crypto_aead_aes256gcm_NPUBBYTES)
    static let tagSize = Int(crypto_aead_aes256gcm_ABYTES)

    /// Returns ciphertext followed by the tag.
    static func seal(
        _ plaintext: ArraySlice<UInt8>, key: SecretKey, nonce: [UInt8], aad: ArraySlice<UInt8>
    ) throws(CryptoError) -> [UInt8] {
        try Sodium.requireAESGCM()
        precondition(nonce.count == nonceSize, "GCM nonce must be 12 bytes")
        let outputSize = plaintext.count + tagSize
        var produced: UInt64 = 0
        var status: Int32 = -1
        let output = [UInt8](unsafeUninitializedCapacity: outputSize) { out, initialized in
            withInput(plaintext) { message, messageCount in
                withInput(aad) { ad, adCount in
                    nonce.withUnsafeBufferPointer { npub in
                        key.bytes.withUnsafeBufferPointer { k in
                            status = crypto_aead_aes256gcm_encrypt(
                                out.baseAddress!, &produced, message, messageCount, ad, adCount, nil,
                                npub.baseAddress!, k.baseAddress!)
                        }
                    }
                }
            }
            initialized = status == 0 ? Int(produced) : 0
        }
        guard status == 0, output.count == outputSize else { throw CryptoError("AES-GCM encryption failed") }
        return output
    }

    /// Returns the plaintext, or nil if the tag does not verify (wrong key, wrong AAD or tampering).
    static func open(
        _ sealed: ArraySlice<UInt8>, key: SecretKey, nonce: ArraySlice<UInt8>, aad: ArraySlice<UInt8>
    ) throws(CryptoError) -> [UInt8]? {
        try Sodium.requireAESGCM()
        precondition(nonce.count == nonceSize, "GCM nonce must be 12 bytes")
        guard sealed.count >= tagSize else { return nil }
        var produced: UInt64 = 0
        var status: Int32 = -1
        // libsodium wants a writable buffer even for an empty plaintext.
        let output = [UInt8](unsafeUninitializedCapacity: max(sealed.count - tagSize, 1)) { out, initialized in
            withInput(sealed) { cipher, cipherCount in
                withInput(aad) { ad, adCount in
                    nonce.withUnsafeBufferPointer { npub in
                        key.bytes.withUnsafeBufferPointer { k in
                            status = crypto_aead_aes256gcm_decrypt(
                                out.baseAddress!, &produced, nil, cipher, cipherCount, ad, adCount,
                                npub.baseAddress!, k.baseAddress!)
                        }
                    }
                }
            }
            initialized = status == 0 ? Int(produced) : 0
        }
        return status == 0 ? output : nil
    }

    /// A valid pointer even for empty input (an empty array's base address may be nil), plus the count.
    private static func withInput<R>(
        _ bytes: ArraySlice<UInt8>, _ body: (UnsafePointer<UInt8>, UInt64) -> R
    ) -> R {
        if bytes.isEmpty {
            let placeholder: UInt8 = 0
            return withUnsafePointer(to: placeholder) { body($0, 0) }
        }
        return bytes.withUnsafeBufferPointer { body($0.baseAddress!, UInt64($0.count)) }
    }
}
