import Testing

extension InteropTests {
    /// Issue acceptance (d): a node that crashed and was marked failed comes back under its old name and address,
    /// and everyone sees it alive again (this needs refuting its own stale dead state with a higher incarnation).
    @Test("a rumor (and a serf) node restarted under its old name after being marked failed is alive everywhere")
    func restartAfterFailureRejoins() async throws {
        let cluster = try Cluster(testIndex: Range.restart)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1", tags: ["role": "backend"])
        let r1 = try await cluster.startRumor("r1", join: [s1])
        let s2 = try await cluster.startSerf("s2", tags: ["role": "phoenix"], join: [r1])
        let r2 = try await cluster.startRumor("r2", tags: ["role": "phoenix"], join: [s1])
        let all = [s1, r1, s2, r2]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        try await cluster.kill9(r2)
        try await cluster.kill9(s2)
        let failed = ["s1": "alive", "r1": "alive", "s2": "failed", "r2": "failed"]
        try await cluster.expectView(failed, seenBy: [s1, r1])

        // Each comes back by joining the other implementation.
        try await cluster.restart(r2, join: [s1])
        try await cluster.restart(s2, join: [r1])
        try await cluster.expectView(statuses(all, "alive"), seenBy: all, clis: [.serf, .rumor])
        cluster.expectCleanSerfLogs()
    }
}
