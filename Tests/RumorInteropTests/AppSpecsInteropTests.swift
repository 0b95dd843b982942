import Foundation
import Testing

extension InteropTests.Range {
    static let appSpecs = 86
}

extension InteropTests {
    /// Cluster-wide app specs (docs/protocol.md#rumor-apps) in a cluster with real serf agents: two Rumor nodes that
    /// each deploy an app end up with both, through push-pulls that serf agents also take part in; a serf agent
    /// joining through a Rumor node (whose push-pull reply carries the specs) and one asked to `serf join` the Rumor
    /// nodes merge the rest of the state as always, and no serf log shows an error or warning.
    @Test("rumor apps deploy in a mixed cluster: both Rumor nodes get both specs, serf agents are undisturbed")
    func appSpecsTravelThroughAMixedCluster() async throws {
        let cluster = try Cluster(testIndex: Range.appSpecs)
        defer { cluster.shutdown() }
        // Signed, as the authority model has it (docs/apps-authority.md): both Rumor nodes trust one deploy key.
        let keyFile = cluster.directory.appendingPathComponent("deploy.key").path
        let keygen = try await runCommand(cluster.rumorPath, ["apps", "keygen", "--out", keyFile])
        let publicKey = try #require(keygen.stdout.split(separator: "\n").last.map(String.init), "\(keygen)")
        let s1 = try await cluster.startSerf("s1")
        let r1 = try await cluster.startRumor("r1", join: [s1], extra: ["--apps-trust", publicKey])
        let r2 = try await cluster.startRumor("r2", join: [s1], extra: ["--apps-trust", publicKey])
        try await cluster.expectView(statuses([s1, r1, r2], "alive"), seenBy: [s1, r1, r2])

        let spec = cluster.directory.appendingPathComponent("deal.json").path
        try #"{"docker_image": "rumor-site:v1", "containers_per": {"server": 1}}"#.write(toFile: spec, atomically: true, encoding: .utf8)
        for (node, app) in [(r1, "deal"), (r2, "other")] {
            let out = try await runCommand(cluster.rumorPath, ["apps", "deploy", spec, app, "--sign-key", keyFile, "--rpc-addr", node.rpcAddr])
            #expect(out.succeeded, "\(out)")
        }
        try await cluster.eventually("both Rumor nodes to hold both specs", timeout: .seconds(15)) {
            var missing: [String] = []
            for node in [r1, r2] {
                let out = try await runCommand(cluster.rumorPath, ["apps", "specs", "--rpc-addr", node.rpcAddr])
                for app in ["deal", "other"] where !out.stdout.contains("\"app\":\"\(app)\"") { missing.append("\(node.name) lacks \(app)") }
            }
            return missing
        }

        let s2 = try await cluster.startSerf("s2", join: [r1])
        let joined = try await runCommand(cluster.serfPath, ["join", "-rpc-addr=\(s1.rpcAddr)", r1.gossipAddr, r2.gossipAddr])
        #expect(joined.succeeded, "\(joined)")
        // Statuses only: the Rumor nodes now carry the rumor:apps digest tag, which the view helper would compare.
        try await cluster.eventually("every node to see all four alive", timeout: .seconds(20)) {
            var wrong: [String] = []
            for node in [s1, s2, r1, r2] {
                let out = try await runCommand(cluster.serfPath, ["members", "-rpc-addr=\(node.rpcAddr)", "-status", "alive"])
                let names = Set(out.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
                if names != ["s1", "s2", "r1", "r2"] { wrong.append("\(node.name) sees \(names.sorted())") }
            }
            return wrong
        }
        let members = try await runCommand(cluster.serfPath, ["members", "-rpc-addr=\(s2.rpcAddr)", "-tag", "rumor:specs=.+"])
        #expect(members.stdout.contains("r1") && members.stdout.contains("r2"), "\(members)")
        cluster.expectCleanSerfLogs()
    }
}
