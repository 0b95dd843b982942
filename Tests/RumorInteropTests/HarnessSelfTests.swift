import Testing

extension InteropTests {
    /// The harness against serf alone: if this fails, the environment or the harness is broken, not rumor.
    @Test("serf-only baseline: join, kill -9 gives failed, SIGINT gives left")
    func serfOnlyBaseline() async throws {
        let cluster = try Cluster(testIndex: Range.serfOnly)
        defer { cluster.shutdown() }
        let a = try await cluster.startSerf("a", tags: ["role": "backend"])
        let b = try await cluster.startSerf("b", join: [a])
        let c = try await cluster.startSerf("c", tags: ["port": "3003"], join: [b])
        try await cluster.expectView(statuses([a, b, c], "alive"), seenBy: [a, b, c])

        try await cluster.kill9(c)
        try await cluster.interrupt(b)
        try await cluster.expectView(["a": "alive", "b": "left", "c": "failed"], seenBy: [a])
        cluster.expectCleanSerfLogs()
    }
}
