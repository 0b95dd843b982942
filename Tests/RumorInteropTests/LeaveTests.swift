import Testing

extension InteropTests {
    /// Issue acceptance (c): SIGINT means a graceful leave on both implementations, and each sees the other's as
    /// `left` (not `failed`).
    @Test("SIGINT of a rumor node -> serf sees left; SIGINT of a serf node -> rumor sees left")
    func gracefulLeaveIsSeenBothWays() async throws {
        let cluster = try Cluster(testIndex: Range.leave)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1")
        let r1 = try await cluster.startRumor("r1", join: [s1])
        let s2 = try await cluster.startSerf("s2", tags: ["role": "leaver"], join: [r1])
        let r2 = try await cluster.startRumor("r2", tags: ["role": "leaver"], join: [s1])
        let all = [s1, r1, s2, r2]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        let rumorExit = try await cluster.interrupt(r2)
        #expect(rumorExit == "exited with status 0", "rumor after SIGINT: \(rumorExit)\n\(cluster.logTail(of: r2))")
        try await cluster.expectView(["s1": "alive", "r1": "alive", "s2": "alive", "r2": "left"], seenBy: [s1, s2])

        let serfExit = try await cluster.interrupt(s2)
        #expect(serfExit == "exited with status 0", "serf after SIGINT: \(serfExit)")
        let expected = ["s1": "alive", "r1": "alive", "s2": "left", "r2": "left"]
        try await cluster.expectView(expected, seenBy: [r1], clis: [.serf, .rumor])
        try await cluster.expectView(expected, seenBy: [s1])
        cluster.expectCleanSerfLogs()
    }
}
