/// memberlist's keyring: an ordered list of distinct keys. Key 0 is the primary, used to encrypt and tried first
/// when decrypting; the others only decrypt, which is what lets a cluster rotate keys without a flag day.
/// A keyring always has a primary: "no encryption" is the absence of a keyring, as in Serf.
public struct Keyring: Sendable, Hashable {
    public private(set) var keys: [SecretKey]

    /// `primary` first, then `others` in order; duplicates are dropped (memberlist's NewKeyring does the same).
    public init(primary: SecretKey, others: [SecretKey] = []) {
        keys = [primary]
        for key in others where !keys.contains(key) { keys.append(key) }
    }

    public var primary: SecretKey { keys[0] }

    public func contains(_ key: SecretKey) -> Bool { keys.contains(key) }

    /// Adds a key for decryption (at the end). Installing a key that is already present changes nothing.
    /// Returns whether the key was new.
    @discardableResult
    public mutating func install(_ key: SecretKey) -> Bool {
        guard !keys.contains(key) else { return false }
        keys.append(key)
        return true
    }

    /// Makes an installed key the primary. The old primary stays installed, right after it, as memberlist does.
    public mutating func use(_ key: SecretKey) throws(CryptoError) {
        guard let index = keys.firstIndex(of: key) else {
            throw CryptoError("Requested key is not in the keyring")
        }
        keys.remove(at: index)
        keys.insert(key, at: 0)
    }

    /// Drops a secondary key. The primary cannot be removed (use another key first); removing a key that is not
    /// installed changes nothing, as in memberlist. Returns whether a key was removed.
    @discardableResult
    public mutating func remove(_ key: SecretKey) throws(CryptoError) -> Bool {
        guard key != primary else { throw CryptoError("Removing the primary key is not allowed") }
        guard let index = keys.firstIndex(of: key) else { return false }
        keys.remove(at: index)
        return true
    }
}
