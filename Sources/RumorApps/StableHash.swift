/// 64-bit hashes that are the same on every node and every run (Swift's `Hasher` is seeded per process, so it
/// cannot decide anything two nodes must agree on).
public enum StableHash {
    /// FNV-1a 64 of the UTF-8 bytes.
    public static func fnv1a(_ text: String) -> UInt64 { fnv1a(text.utf8) }

    /// FNV-1a 64 of the bytes.
    public static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// SplitMix64's finalizer: every input bit flips about half the output bits, which FNV alone does not give
    /// for inputs that differ only at the end ("node-1", "node-2").
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A node's name as rendezvous hashing uses it (hashed and mixed once per node).
    public static func nodeKey(_ name: String) -> UInt64 { mix(fnv1a(name)) }

    /// Rendezvous (highest random weight) score of a node (its ``nodeKey(_:)``) for `key` (`fnv1a` of it): the
    /// pair is combined by a full mix, so ranking N nodes for K keys costs K + N string hashes and K × N mixes.
    @inline(__always)
    public static func weight(key: UInt64, node: UInt64) -> UInt64 { mix(key ^ node) }

    /// 16 lowercase hex digits.
    public static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Names a deployed spec's bytes (`rumor apps status`'s `spec_hash`, what `deploy --wait` looks for). Not a
    /// defence against a peer that forges specs (the cluster's keyring is).
    public static func ofSpec(_ bytes: some Sequence<UInt8>) -> String { hex(fnv1a(bytes)) }
}
