import Foundation
import Testing

extension InteropTests {
    /// Issue acceptance (e): the real serf CLI drives a rumor agent's RPC (members in every format, join,
    /// force-leave, leave), and the rumor CLI reads a serf agent's RPC.
    @Test("serf CLI against rumor's RPC (members text/json/detailed/filters, join, force-leave, leave) and back")
    func serfCLIAgainstRumorRPC() async throws {
        let cluster = try Cluster(testIndex: Range.cli)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1", tags: ["role": "backend", "port": "3001"])
        let r1 = try await cluster.startRumor("r1", tags: ["role": "backend", "port": "3002"])  // alone for now
        let s2 = try await cluster.startSerf("s2", tags: ["role": "frontend"], join: [s1])

        // `serf join` against rumor's RPC.
        let join = try await serf(cluster, "join", "-rpc-addr=\(r1.rpcAddr)", s1.gossipAddr)
        #expect(join.succeeded && join.stdout.contains("Successfully joined cluster by contacting 1 nodes"), "\(join)")
        let all = [s1, r1, s2]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        try await checkMembersOutputs(cluster, via: r1, nodes: all)

        // The rumor CLI against a serf agent.
        let rumorText = try await runCommand(cluster.rumorPath, ["members", "--rpc-addr=\(s1.rpcAddr)"])
        #expect(rumorText.succeeded, "\(rumorText)")
        if rumorText.succeeded {
            let rumorRows = textRows(rumorText.stdout)
            for node in all {
                let row = rumorRows[node.name]
                #expect(row?.addr == node.gossipAddr && row?.status == "alive", "\(node.name): \(rumorText)")
                #expect(row?.tags == node.tags, "\(node.name) tags: \(rumorText)")
            }
        }
        let rumorJSON = await cluster.viewProblems(of: s1, cli: .rumor, expected: statuses(all, "alive"))
        #expect(rumorJSON.isEmpty, "\(rumorJSON)")

        // `serf force-leave` against rumor: a crashed serf node goes from failed to left, on both agents.
        try await cluster.kill9(s2)
        try await cluster.expectView(["s1": "alive", "r1": "alive", "s2": "failed"], seenBy: [r1, s1])
        let forceLeave = try await serf(cluster, "force-leave", "-rpc-addr=\(r1.rpcAddr)", "s2")
        #expect(forceLeave.succeeded, "\(forceLeave)")
        try await cluster.expectView(["s1": "alive", "r1": "alive", "s2": "left"], seenBy: [r1, s1])

        // `serf leave` against rumor: graceful leave, then the agent shuts down.
        cluster.expectExit(r1)
        let leave = try await serf(cluster, "leave", "-rpc-addr=\(r1.rpcAddr)")
        #expect(leave.succeeded && leave.stdout.contains("Graceful leave complete"), "\(leave)")
        try await cluster.waitForExit(r1, timeout: .seconds(15))
        try await cluster.expectView(["s1": "alive", "r1": "left", "s2": "left"], seenBy: [s1])
        cluster.expectCleanSerfLogs()
    }

    /// `serf members` text, `-detailed`, `-format=json` and the filters, all answered by `via`.
    private func checkMembersOutputs(_ cluster: Cluster, via: Cluster.Node, nodes: [Cluster.Node]) async throws {
        let rpc = "-rpc-addr=\(via.rpcAddr)"

        // Text: "name  ip:port  status  k=v,k=v" (columns padded, tag order unspecified).
        let text = try await serf(cluster, "members", rpc)
        try #require(text.succeeded, "\(text)")
        let rows = textRows(text.stdout)
        #expect(rows.count == nodes.count && text.stdout.split(separator: "\n").count == nodes.count, "\(text)")
        for node in nodes {
            let row = rows[node.name]
            #expect(row?.addr == node.gossipAddr && row?.status == "alive", "\(node.name): \(text)")
            #expect(row?.tags == node.tags, "\(node.name) tags: \(text)")
        }

        // JSON: the exact schema, protocol range included.
        let json = try await serf(cluster, "members", "-format=json", rpc)
        try #require(json.succeeded, "\(json)")
        let members = try JSONDecoder().decode(MembersOutput.self, from: Data(json.stdout.utf8)).members
        #expect(Set(members.map(\.name)) == Set(nodes.map(\.name)), "\(json)")
        for m in members {
            #expect(m.protocol == Member.ProtocolRange(max: 5, min: 2, version: 5), "\(m.name): \(json)")
            #expect(m.status == "alive" && m.port == 7946, "\(m.name): \(json)")
            let node = nodes.first { $0.name == m.name }
            #expect(m.addr == node?.gossipAddr && m.tags == node?.tags, "\(m.name): \(json)")
        }

        // -detailed: the Serf protocol version and range on every line.
        let detailed = try await serf(cluster, "members", "-detailed", rpc)
        try #require(detailed.succeeded, "\(detailed)")
        let detailLines = detailed.stdout.split(separator: "\n")
        #expect(detailLines.count == nodes.count, "\(detailed)")
        for line in detailLines {
            let versions = line.contains("Protocol Version: 5") && line.contains("Available Protocol Range: [2, 5]")
            #expect(versions, "\(detailed)")
        }

        // Filters are anchored regexps evaluated by the agent (members-filtered).
        try await expectFiltered(cluster, rpc, ["-tag", "role=back.*"], nodes.filter { $0.tags["role"] == "backend" })
        try await expectFiltered(cluster, rpc, ["-name=s.*", "-status=alive"], nodes.filter { $0.name.hasPrefix("s") })
        try await expectFiltered(cluster, rpc, ["-name=s"], [])  // anchored: "s" matches no "s1"
        try await expectFiltered(cluster, rpc, ["-status=failed"], [])
    }

    private func expectFiltered(
        _ cluster: Cluster, _ rpc: String, _ filter: [String], _ want: [Cluster.Node],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let result = try await serf(cluster, ["members", "-format=json", rpc] + filter)
        try #require(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        let members = try JSONDecoder().decode(MembersOutput.self, from: Data(result.stdout.utf8)).members
        let names = Set(members.map(\.name))
        #expect(names == Set(want.map(\.name)), "\(filter): \(result)", sourceLocation: sourceLocation)
    }

    private func serf(_ cluster: Cluster, _ args: String...) async throws -> CommandResult {
        try await serf(cluster, args)
    }

    private func serf(_ cluster: Cluster, _ args: [String]) async throws -> CommandResult {
        try await runCommand(cluster.serfPath, args, timeout: .seconds(15))
    }

    /// Rows of `members` text output ("name  ip:port  status  k=v,k=v", padded columns, any tag order) by name.
    private func textRows(_ stdout: String) -> [String: (addr: String, status: String, tags: [String: String])] {
        var rows: [String: (addr: String, status: String, tags: [String: String])] = [:]
        for line in stdout.split(separator: "\n") {
            let cols = line.split(separator: " ").map(String.init)
            guard cols.count >= 3 else { continue }
            var tags: [String: String] = [:]
            for pair in (cols.count > 3 ? cols[3] : "").split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                tags[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
            rows[cols[0]] = (cols[1], cols[2], tags)
        }
        return rows
    }
}
