@testable import RumorAgent
@testable import RumorCore
import RumorCrypto
import RumorWire
import Testing

/// The deploy envelope's rules (docs/apps-authority.md), through the core's register with the agent's real gate:
/// tampered bytes, a wrong key, a replayed serial, the rollback under its deploy's authority, rotation. No sleeping,
/// no sockets.
@Suite struct AppTrustTests {
    let key: AppSigningKey
    let other: AppSigningKey
    var node: Instance

    init() throws {
        key = try AppSigningKey.generate()
        other = try AppSigningKey.generate()
        node = Instance(name: "w1", address: Address(ip: [10, 0, 0, 1], port: 7946), tags: [:], settings: .lan,
                        serfSettings: SerfSettings(), seed: 1)
        _ = node.start(at: .zero)
        _ = node.handle(.command(.setAppGate(try AppTrust(configured: [key.publicKey.base64]))), at: .zero)
    }

    func signed(_ spec: String, previous: String = "", serial: UInt64, by signer: AppSigningKey? = nil, op: AppStatement.Operation = .deploy,
                rollback: String = "", ltime: UInt64 = 1, origin: String = "deployer") -> AppRecord {
        let k = signer ?? key
        let statement = AppStatement.bytes(op, name: "site", serial: serial, spec: Array(spec.utf8), previous: Array(previous.utf8))
        return AppRecord(name: "site", serial: serial, ltime: ltime, origin: origin, spec: Array(spec.utf8), previous: Array(previous.utf8),
                         rollback: rollback, signer: k.publicKey.bytes, signature: k.sign(statement))
    }

    /// Merges as a push-pull would; the warnings it logged.
    mutating func offer(_ record: AppRecord) -> [String] {
        node.effects.removeAll()
        node.mergeApps([record])
        return node.effects.compactMap { if case .emit(.appRefused(_, _, _, _, let reason)) = $0 { reason } else { nil } }
    }

    @Test mutating func aSignedDeploy_isTaken_andEveryForgeryIsRefusedWithWhy() throws {
        let v1 = signed("v1", serial: 100)
        #expect(offer(v1).isEmpty && node.appRecords["site"] == v1)
        var tampered = signed("v2", previous: "v1", serial: 200)
        tampered.spec = Array("v2 with /etc mounted".utf8)
        #expect(offer(tampered).first?.contains("does not verify") == true)
        let untrusted = signed("v2", previous: "v1", serial: 200, by: other)
        #expect(offer(untrusted).first?.contains("which this node does not trust") == true)
        var unsigned = AppRecord(name: "site", serial: 200, ltime: 9, origin: "backend", spec: Array("v2".utf8))
        #expect(offer(unsigned).first?.contains("it is unsigned") == true)
        unsigned.signer = key.publicKey.bytes  // a trusted key named, with no signature
        #expect(offer(unsigned).first?.contains("does not verify") == true)
        #expect(node.appRecords["site"] == v1, "none of them replaced v1")
    }

    @Test mutating func aReplayedOlderDeploy_neverWins_whateverItsLamportTime() {
        let v1 = signed("v1", serial: 100)
        let v2 = signed("v2", previous: "v1", serial: 200, ltime: 5)
        _ = offer(v1)
        _ = offer(v2)
        var replay = v1
        replay.ltime = 1_000_000
        #expect(offer(replay).isEmpty, "older than the register: not even checked, not logged")
        #expect(node.appRecords["site"] == v2)
        var reserialed = v1
        reserialed.serial = 300  // a newer serial the signer never signed
        #expect(offer(reserialed).first?.contains("does not verify") == true && node.appRecords["site"] == v2)
    }

    /// A worker rolls back with no key: the record carries the deploy's serial and signature, spec and previous
    /// swapped. It reaches exactly one step back, never into a stop, and the deploy cannot come back over it.
    @Test mutating func theAutomaticRollback_standsOnTheDeploysSignature_oneStepOnly() {
        let v2 = signed("v2", previous: "v1", serial: 200)
        _ = offer(v2)
        _ = node.handle(.command(.deployApp(name: "site", spec: Array("v1".utf8), rollback: "w2: its containers failed",
                                            authority: AppAuthority(serial: v2.serial, signer: v2.signer, signature: v2.signature))), at: .zero)
        let back = node.appRecords["site"]
        #expect(back?.spec == Array("v1".utf8) && back?.previous == Array("v2".utf8) && back?.serial == 200)
        #expect(offer(v2).isEmpty && node.appRecords["site"] == back, "the deploy stays undone")
        // The same authority does not reach further back, nor to a stop.
        var further = back!
        (further.spec, further.previous, further.ltime) = (Array("v0".utf8), Array("v1".utf8), 99)
        #expect(offer(further).first?.contains("does not verify") == true)
        var fresh = try! #require(Optional(Instance(name: "w3", address: Address(ip: [10, 0, 0, 3], port: 7946), tags: [:],
                                                     settings: .lan, serfSettings: SerfSettings(), seed: 3)))
        _ = fresh.start(at: .zero)
        _ = fresh.handle(.command(.setAppGate(try! AppTrust(configured: [key.publicKey.base64]))), at: .zero)
        let first = signed("v1", serial: 100)
        fresh.mergeApps([first])
        let toStop = AppRecord(name: "site", serial: 100, ltime: 7, origin: "evil", spec: [], previous: Array("v1".utf8),
                               rollback: "forced", signer: first.signer, signature: first.signature)
        fresh.mergeApps([toStop])
        #expect(fresh.appRecords["site"] == first, "a first deploy's authority never rolls back into a stop")
    }

    @Test mutating func aRollbackByHand_isItsOwnSignedRecord() {
        _ = offer(signed("v2", previous: "v1", serial: 200))
        let byHand = signed("v1", previous: "v2", serial: 300, op: .rollback, rollback: "rolled back by hand")
        #expect(offer(byHand).isEmpty && node.appRecords["site"] == byHand)
        var relabelled = signed("v3", previous: "v1", serial: 400)
        relabelled.rollback = "skip the waves"  // a deploy dressed up as a rollback (taken at once, no waves)
        #expect(offer(relabelled).first?.contains("does not verify") == true)
    }

    /// Rotation without a restart: trust both, deploy with the new key, drop the old one; records kept stay.
    @Test mutating func keyRotation_bySwappingTheGate() throws {
        let old = signed("v1", serial: 100)
        _ = offer(old)
        #expect(offer(signed("v2", previous: "v1", serial: 200, by: other)).count == 1, "the new key is not trusted yet")
        _ = node.handle(.command(.setAppGate(try AppTrust(configured: [key.publicKey.base64, other.publicKey.base64]))), at: .zero)
        let v2 = signed("v2", previous: "v1", serial: 200, by: other)
        #expect(offer(v2).isEmpty && node.appRecords["site"] == v2)
        _ = node.handle(.command(.setAppGate(try AppTrust(configured: [other.publicKey.base64]))), at: .zero)
        #expect(offer(signed("v3", previous: "v2", serial: 300)).first?.contains("does not trust") == true)
        #expect(node.appRecords["site"] == v2)
    }

    @Test func anyTakesUnsignedAndUnknownKeys_butStillChecksTrustedOnes() throws {
        let lab = try AppTrust(configured: ["any", key.publicKey.base64])
        #expect(lab.refusal(of: AppRecord(name: "site", ltime: 1, origin: "x", spec: Array("v".utf8))) == nil)
        #expect(lab.refusal(of: signed("v1", serial: 1, by: other)) == nil)
        var forged = signed("v1", serial: 1)
        forged.serial = 2
        #expect(lab.refusal(of: forged) != nil)
        #expect(lab.summary.contains("WARNING") && AppTrust().summary.contains("rumor apps keygen"))
        #expect(throws: CryptoError.self) { try AppTrust(configured: ["not-a-key"]) }
    }
}
