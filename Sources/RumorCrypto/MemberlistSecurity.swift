import Synchronization

/// The agent's live encryption state: a keyring that key queries rotate at runtime while the event loop seals and
/// opens packets concurrently, plus Serf's keyring-file persistence. RumorRuntime conforms it to PacketSecurity.
public final class MemberlistSecurity: Sendable {
    /// Migration mode (memberlist's GossipVerifyIncoming = false): plaintext is accepted on receive; everything
    /// sent is still encrypted.
    public let allowPlaintext: Bool
    /// When set, every successful install/use/remove rewrites this file, as Serf does.
    public let keyringFile: String?
    private let ring: Mutex<Keyring>
    /// Serialises file writes; each writer snapshots the keyring inside it, so the last write is the newest state.
    private let fileLock = Mutex<Void>(())

    public init(keyring: Keyring, keyringFile: String? = nil, allowPlaintext: Bool = false) {
        ring = Mutex(keyring)
        self.keyringFile = keyringFile
        self.allowPlaintext = allowPlaintext
    }

    /// Security for an agent configured with `-encrypt` or `-keyring-file` (Serf refuses both together).
    /// Returns nil when neither is set, i.e. encryption is off.
    public static func configured(
        encryptKey: String?, keyringFile: String?, allowPlaintext: Bool = false
    ) throws(CryptoError) -> MemberlistSecurity? {
        if encryptKey != nil, keyringFile != nil {
            throw CryptoError("Encryption key not allowed while using a keyring")
        }
        let keyring: Keyring
        if let keyringFile {
            keyring = try Keyring.load(from: keyringFile)
        } else if let encryptKey {
            keyring = Keyring(primary: try SecretKey(base64: encryptKey))
        } else {
            return nil
        }
        try Sodium.requireAESGCM()
        return MemberlistSecurity(keyring: keyring, keyringFile: keyringFile, allowPlaintext: allowPlaintext)
    }

    /// A snapshot of the current keys (primary first).
    public var keyring: Keyring { ring.withLock { $0 } }

    /// Bytes encryption adds to each UDP packet (vsn 1).
    public var overhead: Int { MemberlistEncryption.overhead }

    // MARK: Rotation (the `_serf_*-key` queries)

    /// Installs a key for decryption. The in-memory change stands even if writing the file then fails (as in Serf).
    @discardableResult
    public func install(_ key: SecretKey) throws(CryptoError) -> Bool {
        let added = ring.withLock { $0.install(key) }
        try persist()
        return added
    }

    /// Makes an installed key the primary; fails with "Requested key is not in the keyring" otherwise.
    public func use(_ key: SecretKey) throws(CryptoError) {
        try ring.withLock { (keyring: inout Keyring) throws(CryptoError) in try keyring.use(key) }
        try persist()
    }

    /// Removes a secondary key; fails with "Removing the primary key is not allowed" for the primary.
    @discardableResult
    public func remove(_ key: SecretKey) throws(CryptoError) -> Bool {
        let removed = try ring.withLock { (keyring: inout Keyring) throws(CryptoError) in try keyring.remove(key) }
        try persist()
        return removed
    }

    private func persist() throws(CryptoError) {
        guard let keyringFile else { return }
        try fileLock.withLock { (_: inout Void) throws(CryptoError) in
            try keyring.save(to: keyringFile)
        }
    }

    // MARK: Sealing and opening

    public func sealPacket(_ plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        try MemberlistEncryption.seal(plaintext, key: keyring.primary)
    }

    public func openPacket(_ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        do {
            return try MemberlistEncryption.open(bytes, keyring: keyring)
        } catch {
            // memberlist falls back to treating the packet as plaintext when verification is off.
            guard allowPlaintext else { throw error }
            return bytes
        }
    }

    public func sealStream(_ plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        try MemberlistEncryption.sealStream(plaintext, key: keyring.primary)
    }

    public func openStream(_ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        // An encrypted frame must decrypt even in migration mode; only an unencrypted stream passes through.
        if allowPlaintext, bytes.first != MemberlistEncryption.streamType { return bytes }
        return try MemberlistEncryption.openStream(bytes, keyring: keyring)
    }
}
