import RumorWire

/// Rumor's cluster-wide app specs (docs/membership.md#app-specs), owned in one place: a last-writer-wins register
/// per app (``AppRecord/supersedes``), the gate that decides which records may enter (docs/apps-authority.md), and
/// which refusals were reported already. Pure; the instance feeds it and turns its outcomes into effects.
struct AppRegister: Sendable {
    /// At most this many apps and this many bytes per spec from a peer: a spec is a page of JSON.
    static let maxApps = 1_000
    static let maxSpecBytes = 64 * 1024
    static let maxRollbackReasonBytes = 1024

    private(set) var records: [String: AppRecord] = [:]
    /// nil admits every record (the simulator, protocol tests).
    var gate: (any AppRecordGate)?
    /// Records refused already (name, serial, time, origin, signature), so a refusal is reported once, not on
    /// every push-pull.
    private var refused: Set<String> = []

    enum Outcome: Equatable {
        case kept
        /// Not newer than what the register holds.
        case older
        /// Over the limits, or without a name: what was wrong.
        case malformed(String)
        /// The gate said no: why, and whether this record was refused for the first time.
        case refused(String, firstTime: Bool)
    }

    /// Keeps `record` if it is well-formed, newer than what the register holds and (when `gated`) admitted.
    mutating func offer(_ record: AppRecord, gated: Bool) -> Outcome {
        guard !record.name.isEmpty, record.spec.count <= Self.maxSpecBytes, record.previous.count <= Self.maxSpecBytes,
            record.rollback.utf8.count <= Self.maxRollbackReasonBytes
        else {
            return .malformed("\(record.spec.count) bytes, previous \(record.previous.count) (each at most \(Self.maxSpecBytes)), a reason of \(record.rollback.utf8.count) (at most \(Self.maxRollbackReasonBytes)), and a name needed")
        }
        if let known = records[record.name], !record.supersedes(known) { return .older }
        // Checked only once the record would win: what is older than the register costs no signature check.
        if gated, let gate, let why = gate.refusal(of: record) {
            // The signature tells apart two records a forger made alike in everything else.
            let key = "\(record.name)\u{0}\(record.serial)\u{0}\(record.ltime)\u{0}\(record.origin)\u{0}\(record.signer)\(record.signature)"
            if refused.count >= 4096 { refused.removeAll() }
            return .refused(why, firstTime: refused.insert(key).inserted)
        }
        records[record.name] = record
        return .kept
    }
}
