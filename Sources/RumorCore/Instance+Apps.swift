import HashTreeCollections
import RumorWire

/// A deployer's claim to change an app: the serial it chose and, when signed, its key and signature.
public struct AppAuthority: Sendable, Hashable {
    public var serial: UInt64
    public var signer: [UInt8]
    public var signature: [UInt8]
    public init(serial: UInt64, signer: [UInt8] = [], signature: [UInt8] = []) {
        self.serial = serial
        self.signer = signer
        self.signature = signature
    }
}

/// Decides whether a record may enter the register (the agent's `apps_trust`, docs/apps-authority.md). Pure: the
/// core stays free of IO; a refused record is not kept, so it is not gossiped on either.
public protocol AppRecordGate: Sendable {
    /// nil: admit; otherwise why not, for the log.
    func refusal(of record: AppRecord) -> String?
}

/// Rumor's cluster-wide app specs (docs/membership.md#app-specs): the ``AppRegister``, fed by local deploys, the
/// agent's store and every push-pull. A node whose agent sees a member's `rumor:apps` digest (Agent+AppSpecs.swift)
/// differ from its own exchanges state with it (`Command.pushPullWith`), so a deploy reaches every Rumor node within
/// a gossip round or two, and a node that was away catches up when it returns.
extension Instance {
    mutating func deployApp(name: String, spec: [UInt8], rollback: String, authority: AppAuthority?) {
        // Past every record of this app we know, so a deploy always wins over what this node has seen.
        let known = apps.records[name]
        if let known { clock.witness(known.ltime) }
        var record = AppRecord(name: name, ltime: clock.time, origin: self.name, spec: spec,
                               previous: known?.spec ?? [], rollback: rollback)
        if let authority {
            (record.serial, record.signer, record.signature) = (authority.serial, authority.signer, authority.signature)
        } else {
            record.serial = (known?.serial ?? 0).saturatingAdd(1)
        }
        clock.increment()
        _ = mergeApp(record, from: "a local deploy")
    }

    mutating func mergeApps(_ records: [AppRecord]) {
        if records.count > AppRegister.maxApps {
            warn("push-pull lists \(records.count) app specs: taking the first \(AppRegister.maxApps)")
        }
        for r in records.prefix(AppRegister.maxApps) { _ = mergeApp(r, from: "a push-pull") }
    }

    /// Offers `record` to the register; true when it was kept. `gated: false` for the agent's own store: records
    /// this node admitted before it restarted.
    mutating func mergeApp(_ record: AppRecord, from source: String, gated: Bool = true) -> Bool {
        guard admitLTime(record.ltime, in: "app spec '\(record.name)' from \(source)") else { return false }
        switch apps.offer(record, gated: gated) {
        case .kept:
            clock.witness(record.ltime)
            emit(.appChanged(record))
            return true
        case .older:
            return false
        case .malformed(let what):
            warn("dropped app spec '\(record.name)' from \(source): \(what)")
            return false
        case .refused(let why, let firstTime):
            if firstTime {
                emit(.appRefused(name: record.name, serial: record.serial, origin: record.origin, source: source, reason: why))
            }
            return false
        }
    }

    /// The cluster-wide specs this node knows, by app name.
    public var appRecords: [String: AppRecord] { apps.records }

    /// Who may change them (`apps_trust`); nil admits every record.
    public var appGate: (any AppRecordGate)? {
        get { apps.gate }
        set { apps.gate = newValue }
    }

    mutating func pushPull(with node: String) {
        guard let peer = nodes[node], peer.state == .alive, node != name else { return }
        pushPull(with: peer)
    }
}
