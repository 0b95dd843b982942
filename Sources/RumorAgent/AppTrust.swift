import RumorCore
import RumorCrypto
import RumorWire

/// `apps_trust`: the deploy keys whose signed records this node admits into its register (docs/apps-authority.md).
/// A refused record is not kept, so it is not gossiped on and no container is made from it.
struct AppTrust: AppRecordGate, Equatable {
    var keys: [AppPublicKey] = []
    /// `any`: unsigned records and unknown keys are admitted too (a lab); known keys must still verify.
    var acceptsAny = false

    init() {}

    init(configured: [String]) throws(CryptoError) {
        for value in configured {
            if value == "any" { acceptsAny = true } else { keys.append(try AppPublicKey(base64: value)) }
        }
    }

    static let howToTrust = "make a key with `rumor apps keygen --out FILE`, give its public key to every node "
        + "(--apps-trust KEY or \"apps_trust\": [KEY]) and deploy with `rumor apps deploy --sign-key FILE` "
        + "(or --apps-trust any, for a lab only)"

    func refusal(of r: AppRecord) -> String? {
        guard !r.signature.isEmpty || !r.signer.isEmpty else {
            if acceptsAny { return nil }
            return keys.isEmpty
                ? "it is unsigned, and this node trusts no deploy key: \(Self.howToTrust)"
                : "it is unsigned, and this node takes only deploys signed with one of its \(keys.count) trusted key(s) (rumor apps deploy --sign-key FILE)"
        }
        guard let key = try? AppPublicKey(bytes: r.signer) else { return "its signer is not a deploy public key (\(r.signer.count) bytes)" }
        guard keys.contains(key) else {
            return acceptsAny ? nil : "it is signed with key \(key), which this node does not trust (apps_trust)"
        }
        if key.verifies(r.signature, of: Self.statement(of: r)) { return nil }
        if !r.rollback.isEmpty, !r.spec.isEmpty,
            key.verifies(r.signature, of: AppStatement.bytes(.deploy, name: r.name, serial: r.serial, spec: r.previous, previous: r.spec))
        {
            return nil  // the automatic rollback, under the authority of the deploy that named this spec as replaced
        }
        return "its signature by key \(key) does not verify: its name, serial, spec or previous spec is not what was signed"
    }

    /// What the record claims was signed: a rollback by hand, or a deploy (scale, stop).
    static func statement(of r: AppRecord) -> [UInt8] {
        AppStatement.bytes(r.rollback.isEmpty ? .deploy : .rollback, name: r.name, serial: r.serial, spec: r.spec, previous: r.previous)
    }

    /// The line the agent logs at start, so an operator sees at once who may deploy.
    var summary: String {
        if acceptsAny {
            return "apps: WARNING: apps_trust is `any`: any member (anyone who can reach the gossip port, or holds the gossip key) can run containers on the nodes that run apps, as root. For a lab only."
        }
        if keys.isEmpty { return "apps: no deploy key is trusted (apps_trust): specs deployed cluster-wide are refused; \(Self.howToTrust)" }
        return "apps: taking cluster-wide specs signed by \(keys.count) trusted deploy key(s): \(keys.map(\.base64).joined(separator: ", "))"
    }
}
