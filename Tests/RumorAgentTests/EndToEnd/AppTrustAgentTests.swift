#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// Membership is not deploy authority (docs/apps-authority.md), through real agents on loopback; the registers are
/// read with `rumor apps specs`, so no engine is needed (AppPolicyAgentTests show that no container is made).
/// `ops` is where deploys are made (it trusts the cluster's key and a second one), `w1` and `w2` trust the cluster's
/// key only (`w1` through its config file, re-read on SIGHUP), `backend` is a member that holds no trusted key and
/// runs its own agent with `--apps-trust any`, as an attacker would.
@Suite(.serialized) struct AppTrustAgentTests {
    func specs(_ c: E2ECluster, _ node: E2ECluster.Node) async throws -> String {
        try await c.rumor("apps", "specs", "--rpc-addr", node.rpcAddr).stdout
    }

    func lines(_ c: E2ECluster, _ node: E2ECluster.Node, containing text: String) -> [Substring] {
        c.log(of: node).split(separator: "\n").filter { $0.contains(text) }
    }

    @Test func anUntrustedMember_deploysNothing_aReplayLoses_andKeysRotateOnSIGHUP() async throws {
        let started = ContinuousClock.now
        defer { print("AppTrustAgentTests: \(ContinuousClock.now - started)") }
        let c = try E2ECluster(subnet: 78)
        defer { c.shutdown() }
        // keygen: the secret only in a 0600 file, never printed, never over an existing key.
        var info = stat()
        #expect(stat(c.deployKeyFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let again = try await c.rumor("apps", "keygen", "--out", c.deployKeyFile)
        #expect(again.status != 0 && again.stderr.contains("not overwritten"), "\(again)")
        let noFile = try await c.rumor("apps", "keygen")
        #expect(noFile.status != 0 && noFile.stderr.contains("--out"), "\(noFile)")
        let secret = try #require(c.read(c.deployKeyFile).split(separator: "\n").last.map(String.init))
        let keygen = try await c.rumor("apps", "keygen", "--out", c.file("printed.key"))
        #expect(!keygen.stdout.contains(secret) && !keygen.stdout.contains(c.read(c.file("printed.key")).split(separator: "\n").last.map(String.init) ?? "?"))
        let second = try E2ECluster.makeDeployKey(c.rumorPath, at: c.file("second.key"))
        let evil = try E2ECluster.makeDeployKey(c.rumorPath, at: c.file("evil.key"))
        let w1Config = c.file("w1.json")
        func trust(_ keys: [String]) throws {
            try JSONSerialization.data(withJSONObject: ["apps_trust": keys]).write(to: URL(fileURLWithPath: w1Config))
        }
        try trust([c.deployPublicKey])

        let ops = try await c.startRumor("ops", ["--apps-trust", c.deployPublicKey, "--apps-trust", second.publicKey,
                                                 "--snapshot", c.file("ops.snap")])
        let w1 = try await c.startRumor("w1", ["--join", ops.gossipAddr, "--config-file", w1Config, E2ECluster.trustNoKey])
        let w2 = try await c.startRumor("w2", ["--join", ops.gossipAddr])
        let backend = try await c.startRumor("backend", ["--join", ops.gossipAddr, "--apps-trust", "any", "--tag", "role=backend"])
        #expect(c.log(of: backend).contains("WARNING: apps_trust is `any`"), "the lab setting says so at start")

        // Acceptance 1: unsigned, and signed with a key nobody trusts, both mounting the host's /etc.
        let hostEtc = c.file("hostetc.json")
        try #"{"docker_image": "rumor-site:v1", "volumes": ["/etc:/hostetc"]}"#.write(toFile: hostEtc, atomically: true, encoding: .utf8)
        let unsigned = try await c.rumor(["apps", "deploy", hostEtc, "evil", "--rpc-addr", backend.rpcAddr], signKey: "")
        #expect(unsigned.status == 0 && unsigned.stdout.contains("unsigned"), "backend's own agent takes anything: \(unsigned)")
        let forged = try await c.rumor(["apps", "deploy", hostEtc, "evil2", "--rpc-addr", backend.rpcAddr], signKey: evil.file)
        #expect(forged.status == 0, "\(forged)")
        for node in [ops, w1, w2] {
            try await c.poll("\(node.name) to refuse both", timeout: .seconds(20)) {
                !self.lines(c, node, containing: "refused app spec 'evil'").isEmpty
                    && !self.lines(c, node, containing: "refused app spec 'evil2'").isEmpty
            }
            let first = lines(c, node, containing: "refused app spec 'evil'")
            #expect(first.first?.contains("deployed by node 'backend'") == true && first.first?.contains("it is unsigned") == true, "\(first)")
            let second = lines(c, node, containing: "refused app spec 'evil2'")
            #expect(second.first?.contains(evil.publicKey) == true && second.first?.contains("does not trust") == true, "\(second)")
        }
        // Every join is a full push-pull with backend, which offers both records again: still one line each.
        for _ in 0..<2 {
            let joined = try await c.rumor("join", backend.gossipAddr, "--rpc-addr", w1.rpcAddr)
            #expect(joined.status == 0, "\(joined)")
        }
        #expect(lines(c, w1, containing: "refused app spec 'evil'").count == 1 && lines(c, w1, containing: "refused app spec 'evil2'").count == 1,
                "logged once: \(lines(c, w1, containing: "refused app spec"))")
        for node in [ops, w1, w2] {
            let held = try await specs(c, node)
            #expect(!held.contains("\"evil"), "\(node.name) holds \(held)")
        }
        // The deploying agent checks its own trust first and says why, sending nothing.
        let refusedHere = try await c.rumor(["apps", "deploy", hostEtc, "evil3", "--rpc-addr", ops.rpcAddr], signKey: evil.file)
        #expect(refusedHere.status != 0 && refusedHere.stderr.contains("this node would refuse the change") && refusedHere.stderr.contains("nothing was sent"),
                "\(refusedHere)")

        // Acceptance 2: a trusted deploy, then a replay of the older one under a far newer Lamport time.
        let site = c.file("site.json")
        try #"{"docker_image": "rumor-site:v1"}"#.write(toFile: site, atomically: true, encoding: .utf8)
        let v1 = try await c.rumor("apps", "deploy", site, "--rpc-addr", ops.rpcAddr)
        #expect(v1.status == 0 && v1.stdout.contains("signed by \(c.deployPublicKey)"), "\(v1)")
        try await awaitSpec(c, "rumor-site:v1", on: [w1, w2])
        try await c.poll("ops' store to hold v1", timeout: .seconds(5)) { c.read(c.file("ops.snap.apps")).contains("rumor-site:v1") }
        let capturedV1 = c.read(c.file("ops.snap.apps"))
        try #"{"docker_image": "rumor-site:v2"}"#.write(toFile: site, atomically: true, encoding: .utf8)
        let v2 = try await c.rumor("apps", "deploy", site, "--rpc-addr", ops.rpcAddr)
        #expect(v2.status == 0, "\(v2)")
        try await awaitSpec(c, "rumor-site:v2", on: [w1, w2])
        // The replayer starts from a store holding the captured v1 at Lamport time 1,000,000 and joins: its join's
        // push-pull offers it to ops, and every later one to whoever it meets.
        guard var records = try JSONSerialization.jsonObject(with: Data(capturedV1.utf8)) as? [[String: Any]], !records.isEmpty else {
            throw E2EError("ops' store is not a list of records: \(capturedV1)")
        }
        records[0]["ltime"] = "1000000"
        try JSONSerialization.data(withJSONObject: records).write(to: URL(fileURLWithPath: c.file("replayer.snap.apps")))
        let replayer = try await c.startRumor("replayer", ["--apps-trust", "any", "--snapshot", c.file("replayer.snap")])
        #expect(try await specs(c, replayer).contains("rumor-site:v1"), "the replayer starts with the captured v1")
        let joined = try await c.rumor("join", ops.gossipAddr, w1.gossipAddr, w2.gossipAddr, "--rpc-addr", replayer.rpcAddr)
        #expect(joined.status == 0, "\(joined)")
        try await awaitSpec(c, "rumor-site:v2", on: [replayer])  // the exchange happened both ways
        for node in [ops, w1, w2] {
            let held = try await specs(c, node)
            #expect(held.contains("rumor-site:v2") && !held.contains("rumor-site:v1"), "\(node.name) after the replay: \(held)")
        }

        // Rotation without a restart: v3 signed with the second key is refused by w1 until SIGHUP adds the key;
        // then the first key is dropped, and a deploy with it is refused.
        try #"{"docker_image": "rumor-site:v3"}"#.write(toFile: site, atomically: true, encoding: .utf8)
        let v3 = try await c.rumor(["apps", "deploy", site, "--rpc-addr", ops.rpcAddr], signKey: second.file)
        #expect(v3.status == 0, "\(v3)")
        try await c.poll("w1 to refuse the second key's v3", timeout: .seconds(20)) {
            self.lines(c, w1, containing: "refused app spec 'site'").contains { $0.contains(second.publicKey) }
        }
        try trust([c.deployPublicKey, second.publicKey])
        try signal(c, w1, SIGHUP)
        let reloaded = ContinuousClock.now
        try await awaitSpec(c, "rumor-site:v3", on: [w1], timeout: .seconds(30))
        print("w1 took v3 \(ContinuousClock.now - reloaded) after SIGHUP added the second key")
        try trust([second.publicKey])
        try signal(c, w1, SIGHUP)
        try await c.poll("w1 to reload apps_trust twice", timeout: .seconds(10)) { self.lines(c, w1, containing: "reloaded apps_trust").count == 2 }
        try #"{"docker_image": "rumor-site:v4"}"#.write(toFile: site, atomically: true, encoding: .utf8)
        let v4 = try await c.rumor("apps", "deploy", site, "--rpc-addr", ops.rpcAddr)
        #expect(v4.status == 0, "\(v4)")
        try await c.poll("w1 to refuse v4, signed with the key it dropped", timeout: .seconds(20)) {
            self.lines(c, w1, containing: "refused app spec 'site'").contains { $0.contains(c.deployPublicKey) }
        }
        #expect(try await specs(c, w1).contains("rumor-site:v3"), "w1 keeps what it admitted")
    }

    func signal(_ c: E2ECluster, _ node: E2ECluster.Node, _ sig: Int32) throws {
        guard let p = c.process(node) else { throw E2EError("no process for \(node)") }
        kill(p.processIdentifier, sig)
    }

    func awaitSpec(_ c: E2ECluster, _ text: String, on nodes: [E2ECluster.Node], timeout: Duration = .seconds(20)) async throws {
        for node in nodes {
            try await c.poll("\(node.name) to hold \(text)", timeout: timeout) {
                (try? Subprocess.runBlocking(c.rumorPath, ["apps", "specs", "--rpc-addr", node.rpcAddr], environment: [:], timeout: .seconds(5)))?
                    .stdout.contains(text) == true
            }
        }
    }
}
