import Testing

extension InteropTests {
    /// Issue acceptance (a): a 3 + 3 cluster, joined every which way, converges to one view everywhere.
    @Test("3 serf + 3 rumor agents all see all 6 alive with the right tags, via serf and rumor CLIs")
    func mixedClusterConverges() async throws {
        let cluster = try Cluster(testIndex: Range.mixed)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1", tags: ["role": "backend", "port": "3001"])
        let r1 = try await cluster.startRumor("r1", tags: ["role": "backend", "port": "3002"], join: [s1])
        let s2 = try await cluster.startSerf("s2", tags: ["role": "frontend", "port": "3003"], join: [r1])
        // Serf's own flag spelling, and two join targets (serf and rumor).
        let r2 = try await cluster.startRumor(
            "r2", tags: ["role": "frontend", "port": "3004"], join: [s2, r1], serfStyleFlags: true)
        let s3 = try await cluster.startSerf("s3", join: [r2])  // no tags: must show {} not null
        // Rumor joining rumor only; a non-ASCII tag value must survive msgpack both ways.
        let r3 = try await cluster.startRumor(
            "r3", tags: ["role": "cache", "port": "3006", "zone": "eu-zürich-1", "dc": "lab-1"], join: [r2])

        let all = [s1, r1, s2, r2, s3, r3]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all, clis: [.serf, .rumor])
        cluster.expectCleanSerfLogs()
    }
}
