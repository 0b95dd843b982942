import HashTreeCollections
import RumorWire

/// Rumor's cluster-wide app specs (docs/membership.md#app-specs): a last-writer-wins register per app, ordered by
/// the member Lamport clock and then the deploying node's name, carried in every push-pull. A node whose agent sees a
/// member's `rumor:apps` digest (Agent+AppSpecs.swift) differ from its own exchanges state with it (`Command.pushPullWith`), so a deploy
/// reaches every Rumor node within a gossip round or two, and a node that was away catches up when it returns.
extension Instance {
    /// At most this many apps and this many bytes per spec from a peer: a spec is a page of JSON.
    static let maxApps = 1_000
    static let maxSpecBytes = 64 * 1024
    static let maxRollbackReasonBytes = 1024

    mutating func deployApp(name: String, spec: [UInt8], rollback: String) {
        // Past every record of this app we know, so a deploy always wins over what this node has seen.
        if let known = apps[name] { clock.witness(known.ltime) }
        let record = AppRecord(name: name, ltime: clock.time, origin: self.name, spec: spec,
                               previous: apps[name]?.spec ?? [], rollback: rollback)
        clock.increment()
        _ = mergeApp(record, from: "a local deploy")
    }

    mutating func mergeApps(_ records: [AppRecord]) {
        if records.count > Self.maxApps {
            warn("push-pull lists \(records.count) app specs: taking the first \(Self.maxApps)")
        }
        for r in records.prefix(Self.maxApps) { _ = mergeApp(r, from: "a push-pull") }
    }

    /// Keeps `record` if it is newer than what we have; true when it was.
    mutating func mergeApp(_ record: AppRecord, from source: String) -> Bool {
        guard admitLTime(record.ltime, in: "app spec '\(record.name)' from \(source)") else { return false }
        guard !record.name.isEmpty, record.spec.count <= Self.maxSpecBytes, record.previous.count <= Self.maxSpecBytes,
            record.rollback.utf8.count <= Self.maxRollbackReasonBytes
        else {
            warn("dropped app spec '\(record.name)' from \(source): \(record.spec.count) bytes, previous \(record.previous.count) (each at most \(Self.maxSpecBytes)), a reason of \(record.rollback.utf8.count) (at most \(Self.maxRollbackReasonBytes)), and a name needed")
            return false
        }
        clock.witness(record.ltime)
        if let known = apps[record.name], !record.supersedes(known) { return false }
        apps[record.name] = record
        emit(.appChanged(record))
        return true
    }

    /// The cluster-wide specs this node knows, by app name.
    public var appRecords: [String: AppRecord] { apps }

    mutating func pushPull(with node: String) {
        guard let peer = nodes[node], peer.state == .alive, node != name else { return }
        pushPull(with: peer)
    }
}
