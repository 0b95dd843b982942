import Testing

extension InteropTests {
    /// Issue acceptance (b): a crash (kill -9) is detected across implementations, in both directions.
    ///
    /// One serf and one rumor node die together: the surviving serf agents must mark the rumor node failed and the
    /// surviving rumor agents must mark the serf node failed (lan timings: ~5-10 s on loopback).
    @Test("kill -9 of a rumor node -> serf marks it failed; kill -9 of a serf node -> rumor marks it failed")
    func crashIsDetectedBothWays() async throws {
        let cluster = try Cluster(testIndex: Range.failure)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1", tags: ["role": "backend"])
        let r1 = try await cluster.startRumor("r1", tags: ["role": "backend"], join: [s1])
        let s2 = try await cluster.startSerf("s2", join: [r1])
        let r2 = try await cluster.startRumor("r2", join: [s2])
        let s3 = try await cluster.startSerf("s3", join: [s1])
        let r3 = try await cluster.startRumor("r3", tags: ["role": "victim"], join: [r1])
        let all = [s1, r1, s2, r2, s3, r3]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        try await cluster.kill9(r3)
        try await cluster.kill9(s3)

        var expected = statuses([s1, r1, s2, r2], "alive")
        expected["r3"] = "failed"
        expected["s3"] = "failed"
        // Serf agents about the dead rumor node (and everything else), then rumor agents via both CLIs.
        try await cluster.expectView(expected, seenBy: [s1, s2])
        try await cluster.expectView(expected, seenBy: [r1, r2], clis: [.serf, .rumor])
        cluster.expectCleanSerfLogs()
    }
}
