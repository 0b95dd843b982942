/// One deploy (or removal) of an app as the cluster announces it. Concurrent deploys of one app, issued on two
/// nodes at once, are ordered by (Lamport time, spec hash, generation, previous hash): every node that has seen
/// both picks the same winner, whatever order they arrived in.
public struct AppVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var app: String
    /// Deploys of this app so far (shown to people; the Lamport time orders).
    public var generation: Int
    public var lamport: UInt64
    /// ``AppVersion/hash(ofSpec:)`` of the spec body; empty for a removal (a tombstone).
    public var specHash: String
    /// The spec this version replaced: what a rollback goes back to (nil: none).
    public var previousHash: String?

    public init(app: String, generation: Int, lamport: UInt64, specHash: String, previousHash: String? = nil) {
        self.app = app
        self.generation = generation
        self.lamport = lamport
        self.specHash = specHash
        self.previousHash = previousHash
    }

    public var isRemoval: Bool { specHash.isEmpty }

    public static func < (a: AppVersion, b: AppVersion) -> Bool {
        (a.lamport, a.specHash, a.generation, a.previousHash ?? "") < (b.lamport, b.specHash, b.generation, b.previousHash ?? "")
    }

    /// 16 hex digits of FNV-1a 64 over the spec file's bytes: names a body so peers can fetch and check it. Not a
    /// defence against a peer that forges bodies (the cluster's keyring is).
    public static func hash(ofSpec body: String) -> String { StableHash.hex(StableHash.fnv1a(body)) }

    public var description: String {
        isRemoval ? "\(app) removed (generation \(generation), Lamport \(lamport))"
            : "\(app) generation \(generation) spec \(specHash) (Lamport \(lamport))"
    }
}
