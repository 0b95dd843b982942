import Foundation
import Testing

/// Issue acceptance: a restarted agent rejoins from its snapshot without `--join`, does not deliver user events it
/// already handled, and after a graceful leave rejoins only with `--rejoin` — against a real serf agent.
@Suite struct SnapshotRejoinTests {
    @Test func restartFromSnapshot_rejoinsWithoutJoin_andDoesNotRepeatEvents() async throws {
        let c = try E2ECluster(subnet: 99)
        defer { c.shutdown() }
        let events = c.file("events.txt")
        let onEvent = try c.script("on-event.sh", "echo \"$SERF_SELF_NAME $SERF_USER_EVENT $(cat)\" >> \(events)")
        let snapshot = c.file("r1.snapshot")
        let agentArgs = ["--snapshot", snapshot, "--event-handler", "user=\(onEvent)"]
        let s1 = try await c.startSerf("s1")
        let r1 = try await c.startRumor("r1", ["--join", s1.gossipAddr] + agentArgs)
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])
        _ = try await c.serf("event", "-rpc-addr=\(s1.rpcAddr)", "-coalesce=false", "deploy", "v1")
        try await c.poll("r1's handler to run once", timeout: .seconds(10)) { c.read(events) == "r1 deploy v1\n" }

        // A crash, then a restart with the snapshot and no --join.
        try await c.kill9(r1)
        try await c.expectView(["s1": "alive", "r1": "failed"], seenBy: [s1], timeout: .seconds(30))
        let again = try await c.restartRumor(r1, agentArgs)
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, again], timeout: .seconds(30))
        _ = try await c.serf("event", "-rpc-addr=\(s1.rpcAddr)", "-coalesce=false", "deploy", "v2")
        // A replayed v1 would arrive with the rejoin, before v2.
        try? await c.poll("the new event to run", timeout: .seconds(10)) { c.read(events).contains("v2") }
        #expect(c.read(events) == "r1 deploy v1\nr1 deploy v2\n", "handler runs: \(c.read(events))\n\(c.log(of: again))")

        // A graceful leave is remembered: with --rejoin the agent still comes back.
        if let p = c.process(again) { kill(p.processIdentifier, SIGINT) }
        try await c.waitForExit(again, timeout: .seconds(15))
        try await c.expectView(["s1": "alive", "r1": "left"], seenBy: [s1])
        #expect(c.read(snapshot).contains("\nleave\n"), "the snapshot records the leave")
        let back = try await c.restartRumor(r1, agentArgs + ["--rejoin"])
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, back], timeout: .seconds(30))
    }
}
