#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RumorTestSupport

/// A real `rumor agent` next to a real `serf agent` on loopback, the rumor agent driven with the stock serf CLI and
/// the serf agent with ours. Serialized: each test runs two or three agents whose failure detection must not be
/// starved of CPU on a 2-core machine.
@Suite(.serialized) struct EndToEndRPCTests {
    /// Third octets: one loopback /24 per test.
    enum Subnet {
        static let serfCLI = 90
        static let rumorCLI = 91
        static let keys = 92
        static let badInput = 93
        static let membership = 94
        static let monitor = 95
        static let conflict = 89
    }

    /// Two agents claiming one name: serf agents keep the first, and the newcomer asks the cluster
    /// (`_serf_conflict`), loses the vote and shuts down, as a serf agent would.
    @Test func nameConflictLoserShutsDown() async throws {
        let c = try E2ECluster(subnet: Subnet.conflict)
        defer { c.shutdown() }
        let s1 = try await c.startSerf("s1")
        let s2 = try await c.startSerf("s2", ["-join=\(s1.gossipAddr)"])
        let r1 = try await c.startRumor("r1", ["--join", s1.gossipAddr])
        try await c.expectView(["s1": "alive", "s2": "alive", "r1": "alive"], seenBy: [s1, s2, r1])

        let impostor = try await c.startRumor("r1", ["--join", s2.gossipAddr])
        try await c.waitForExit(impostor, timeout: .seconds(20))
        let log = c.log(of: impostor)
        #expect(log.contains("Names must be unique!") && log.contains("minority in name conflict resolution"), "\(log)")
        #expect(c.log(of: s2).contains("Name conflict for 'r1'"))
        // The first r1 keeps its name and address everywhere.
        try await c.expectView(["s1": "alive", "s2": "alive", "r1": "alive"], seenBy: [s1, s2])
        let members = try await c.serf("members", "-rpc-addr=\(s1.rpcAddr)", "-name=r1")
        #expect(members.stdout.contains(r1.gossipAddr), "\(members)")
        #expect(!c.log(of: r1).contains("minority"))
    }

    /// event, query (answered by handler scripts on both agents), tags, info, reachability and join, all through
    /// the rumor agent's RPC with the stock serf CLI.
    @Test func serfCLIDrivesRumorAgent() async throws {
        let c = try E2ECluster(subnet: Subnet.serfCLI)
        defer { c.shutdown() }
        let events = c.file("events.txt")
        let onEvent = try c.script(
            "on-event.sh", "echo \"$SERF_SELF_NAME $SERF_EVENT $SERF_USER_EVENT $(cat)\" >> \(events)")
        let answer = try c.script("answer.sh", "echo \"$SERF_SELF_NAME got $(cat)\"")
        let s1 = try await c.startSerf("s1", ["-event-handler=user=\(onEvent)", "-event-handler=query:hello=\(answer)"])
        let r1 = try await c.startRumor("r1", [
            "--event-handler", "user=\(onEvent)", "--event-handler", "query:hello=\(answer)",
        ])
        let rpc = "-rpc-addr=\(r1.rpcAddr)"

        let join = try await c.serf("join", rpc, s1.gossipAddr)
        #expect(join.status == 0 && join.stdout == "Successfully joined cluster by contacting 1 nodes.\n", "\(join)")
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [r1, s1])
        let members = try await c.serf("members", rpc)
        // Sorted by name; the last line's trailing padding is trimmed with the whole output, as serf does.
        #expect(members.stdout == "r1  \(r1.gossipAddr)  alive  \ns1  \(s1.gossipAddr)  alive\n", "\(members)")

        let info = try await c.serf("info", rpc)
        #expect(info.status == 0 && info.stdout.hasPrefix("agent:\n\tname = r1\n"), "\(info)")
        #expect(info.stdout.contains("\tuser: = \(onEvent)\n") && info.stdout.contains("\tquery:hello = \(answer)\n"))

        // A user event through rumor reaches the handlers of both agents, once each.
        let event = try await c.serf("event", rpc, "-coalesce=false", "deploy", "v1")
        #expect(event.status == 0 && event.stdout == "Event 'deploy' dispatched! Coalescing enabled: false\n")
        try await c.poll("both handlers to see the event", timeout: .seconds(10)) {
            Set(c.read(events).split(separator: "\n")) == ["s1 user deploy v1", "r1 user deploy v1"]
        }

        // A query through rumor is answered by the handler scripts of both agents.
        let query = try await c.serf("query", rpc, "-timeout=1500ms", "hello", "ping")
        #expect(query.status == 0, "\(query)")
        let lines = Set(query.stdout.split(separator: "\n").map(String.init))
        #expect(lines == [
            "Query 'hello' dispatched", "Ack from 's1'", "Ack from 'r1'", "Response from 's1': s1 got ping",
            "Response from 'r1': r1 got ping", "Total Acks: 2", "Total Responses: 2",
        ], "\(query)")
        let filtered = try await c.serf("query", rpc, "-timeout=1s", "-node=s1", "-format=json", "hello")
        #expect(filtered.stdout == """
            {
              "Acks": [
                "s1"
              ],
              "Responses": {
                "s1": "s1 got \\n"
              }
            }

            """, "\(filtered)")

        // Tags: the serf agent sees the member-update.
        let set = try await c.serf("tags", rpc, "-set", "role=web", "-set", "dc=lab1")
        #expect(set.status == 0 && set.stdout == "Successfully updated agent tags\n", "\(set)")
        try await c.poll("s1 to see r1's new tags", timeout: .seconds(10)) {
            c.tags(of: "r1", seenBy: s1) == ["role": "web", "dc": "lab1"]
        }
        #expect(c.log(of: s1).contains("EventMemberUpdate: r1"))
        let delete = try await c.serf("tags", rpc, "-delete", "dc")
        #expect(delete.status == 0, "\(delete)")
        try await c.poll("s1 to see r1's tag deleted", timeout: .seconds(10)) {
            c.tags(of: "r1", seenBy: s1) == ["role": "web"]
        }

        let reach = try await c.serf("reachability", rpc)
        #expect(reach.status == 0, "\(reach)")
        #expect(reach.stdout == """
            Total members: 2, live members: 2
            Starting reachability test...
            Successfully contacted all live nodes

            """, "\(reach)")

        // Network coordinates travel in probe acks both ways: `serf rtt` works through either agent.
        for (agent, other, me) in [(r1, "s1", "r1"), (s1, "r1", "s1")] {
            var rtt = ProcessOutput(status: -1, stdout: "", stderr: "not run")
            // Timing out is reported by the expectation below, with serf's output.
            _ = try? await eventually("serf rtt through \(me)", timeout: .seconds(15), every: .milliseconds(250)) {
                rtt = try await c.serf("rtt", "-rpc-addr=\(agent.rpcAddr)", other)
                return rtt.status == 0
            }
            #expect(rtt.status == 0 && rtt.stdout.hasPrefix("Estimated \(other) <-> \(me) rtt: "), "\(rtt)")
        }
    }

    /// The rumor CLI against a serf agent: event, query (text and JSON), tags, reachability, members and monitor.
    @Test func rumorCLIDrivesSerfAgent() async throws {
        let c = try E2ECluster(subnet: Subnet.rumorCLI)
        defer { c.shutdown() }
        let events = c.file("events.txt")
        let onEvent = try c.script("on-event.sh", "echo \"$SERF_SELF_NAME $SERF_USER_EVENT $(cat)\" >> \(events)")
        let answer = try c.script("answer.sh", "echo \"$SERF_SELF_NAME says $(cat)\"")
        let s1 = try await c.startSerf(
            "s1", ["-event-handler=user:deploy=\(onEvent)", "-event-handler=query=\(answer)"])
        let r1 = try await c.startRumor("r1", ["--join", s1.gossipAddr, "--event-handler", "query=\(answer)"])
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])
        let rpc = "--rpc-addr=\(s1.rpcAddr)"

        let event = try await c.rumor("event", rpc, "deploy", "v2")
        #expect(event.status == 0, "\(event)")
        #expect(event.stdout == "Event 'deploy' dispatched! Coalescing enabled: true\n", "\(event)")
        // Coalesced events reach serf's handlers after its 1 s quiet period.
        try await c.poll("s1's handler", timeout: .seconds(10)) { c.read(events) == "s1 deploy v2\n" }

        let query = try await c.rumor("query", rpc, "--timeout", "1500ms", "who", "there")
        #expect(query.status == 0, "\(query)")
        let lines = query.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "Query 'who' dispatched" && lines.suffix(2) == ["Total Acks: 2", "Total Responses: 2"])
        #expect(Set(lines.dropFirst().dropLast(2)) == [
            "Ack from 's1'", "Ack from 'r1'", "Response from 's1': s1 says there", "Response from 'r1': r1 says there",
        ], "\(query)")

        let json = try await c.rumor(
            "query", rpc, "--timeout=1s", "--no-ack", "--tag", "nope=.*x", "--format", "json", "who")
        #expect(json.status == 0 && json.stdout == "{\n  \"Acks\": null,\n  \"Responses\": {}\n}\n", "\(json)")

        let tags = try await c.rumor("tags", rpc, "--set", "zone=a")
        #expect(tags.status == 0 && tags.stdout == "Successfully updated agent tags\n", "\(tags)")
        try await c.poll("r1 to see s1's tag", timeout: .seconds(10)) { c.tags(of: "s1", seenBy: r1) == ["zone": "a"] }

        let reach = try await c.rumor("reachability", "--verbose", rpc)
        #expect(reach.status == 0, "\(reach)")
        let reachLines = reach.stdout.split(separator: "\n").map(String.init)
        #expect(reachLines.first == "Total members: 2, live members: 2")
        #expect(reachLines.contains("\tAck from 's1'") && reachLines.contains("\tAck from 'r1'"), "\(reach)")
        #expect(reachLines.last == "Successfully contacted all live nodes")

        // Unencrypted cluster: every node reports it has no keyring, and the summary is serf's.
        let keys = try await c.rumor("keys", "--list", rpc)
        #expect(keys.status == 1)
        #expect(keys.stdout == "==> Asking all members for installed keys...\n", "\(keys)")
        #expect(keys.stderr == """
            failed:  r1  Keyring is empty (encryption not enabled)
            failed:  s1  Keyring is empty (encryption not enabled)

            Failed to gather member keys: 2/2 nodes reported failure

            """, "\(keys)")

        // Monitor: serf's log lines (the replayed start-up lines), then an event as "Event Info".
        let monitor = try c.startStreaming(c.rumorPath, ["monitor", rpc])
        try await monitor.waitFor("the replayed log") { $0.contains("[INFO] agent: Serf agent starting") }
        _ = try await c.serf("event", "-rpc-addr=\(s1.rpcAddr)", "-coalesce=false", "ping", "x")
        try await monitor.waitFor("the event") { $0.contains("Event Info:\n\tCoalesce: false\n\tEvent: \"user\"\n") }
        #expect(monitor.text.contains("\tName: \"ping\"\n\tPayload: []byte{0x78}\n"), "\(monitor.text)")
        #expect(monitor.stop(signal: SIGINT) == 0)
    }

    /// `serf keys` against the rumor agent of an encrypted pair: rotating to a new key leaves only that key on
    /// both agents, and the pair keeps gossiping with it.
    @Test func keyRotationThroughRumor() async throws {
        let c = try E2ECluster(subnet: Subnet.keys)
        defer { c.shutdown() }
        let old = "S3ZrqNV5vHTyr2xKT2B+vR6tc9S9IH8Yyf9tA1mj2wk="
        let new = "2xSGd/yNmKQQPgqObkpAG7Zf2Rnkn+lH1fSldMUBgT4="
        let s1 = try await c.startSerf("s1", ["-encrypt=\(old)"])
        let r1 = try await c.startRumor("r1", ["--encrypt", old, "--join", s1.gossipAddr])
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])
        let rpc = "-rpc-addr=\(r1.rpcAddr)"

        let list = try await c.serf("keys", rpc, "-list")
        #expect(list.status == 0, "\(list)")
        #expect(list.stdout == """
            ==> Asking all members for installed keys...
            ==> Keys gathered, listing cluster keys...

            \(old)  [2/2]

            """, "\(list)")

        let install = try await c.serf("keys", rpc, "-install", new)
        #expect(install.stdout == "==> Installing key on all members...\n==> Successfully installed key!\n")
        let use = try await c.serf("keys", rpc, "-use", new)
        #expect(use.stdout == "==> Changing primary key on all members...\n==> Successfully changed primary key!\n")
        let remove = try await c.serf("keys", rpc, "-remove", old)
        #expect(remove.stdout == "==> Removing key on all members...\n==> Successfully removed key!\n", "\(remove)")

        // Read back through the serf agent with our CLI: only the new key, on both nodes.
        let after = try await c.rumor("keys", "--list", "--rpc-addr", s1.rpcAddr)
        #expect(after.status == 0, "\(after)")
        #expect(after.stdout == """
            ==> Asking all members for installed keys...
            ==> Keys gathered, listing cluster keys...

            \(new)  [2/2]

            """, "\(after)")

        // Gossip still flows under the new key: a tag change made on rumor reaches serf.
        _ = try await c.serf("tags", rpc, "-set", "rotated=yes")
        try await c.poll("s1 to see the tag", timeout: .seconds(10)) {
            c.tags(of: "r1", seenBy: s1) == ["rotated": "yes"]
        }
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])
    }

    /// Refused input gets serf's error, nothing reaches the cluster, and the agent keeps serving.
    @Test func badInputIsRefused() async throws {
        let c = try E2ECluster(subnet: Subnet.badInput)
        defer { c.shutdown() }
        let events = c.file("events.txt")
        let onEvent = try c.script("on-event.sh", "echo \"$SERF_USER_EVENT\" >> \(events)")
        let s1 = try await c.startSerf("s1", ["-event-handler=user=\(onEvent)"])
        let r1 = try await c.startRumor("r1", ["--join", s1.gossipAddr])
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])
        let rpc = "-rpc-addr=\(r1.rpcAddr)"

        let big = String(repeating: "x", count: 600)
        let oversized = try await c.serf("event", rpc, "huge", big)
        #expect(oversized.status == 1)
        let limit = "user event exceeds configured limit of 512 bytes before encoding"
        #expect(oversized.stdout == "Error sending event: \(limit)\n", "\(oversized)")
        let ours = try await c.rumor("event", "--rpc-addr", r1.rpcAddr, "huge", big)
        #expect(ours.status == 1 && ours.stderr == "Error sending event: \(limit)\n", "\(ours)")

        let regex = try await c.serf("query", rpc, "-tag", "role=[", "q")
        #expect(regex.status == 1)
        #expect(regex.stdout.hasPrefix("Error sending query: invalid regular expression '[' for tag filter 'role'"))

        let reserved = try await c.serf("query", rpc, "_serf_x")
        #expect(reserved.status == 1)
        #expect(reserved.stdout == "Error sending query: Queries cannot contain the '_serf_' prefix\n", "\(reserved)")
        let reservedOurs = try await c.rumor("query", "--rpc-addr", r1.rpcAddr, "_serf_x", "p")
        #expect(reservedOurs.stderr == "Error sending query: Queries cannot contain the '_serf_' prefix\n")

        let badTag = try await c.rumor("query", "--rpc-addr", r1.rpcAddr, "--tag", "role", "q")
        #expect(badTag.status == 1 && badTag.stderr == "Error: Invalid tag: 'role'\n", "\(badTag)")

        // The agent still serves, and a sound event goes through where the huge one never did.
        let ok = try await c.serf("event", rpc, "-coalesce=false", "small")
        #expect(ok.status == 0, "\(ok)")
        try await c.poll("s1's handler", timeout: .seconds(10)) { c.read(events) == "small\n" }
        #expect(c.isRunning(r1))
        #expect(!c.log(of: s1).contains("huge"))
    }

    /// join, force-leave and leave through the rumor agent's RPC with the serf CLI.
    @Test func membershipCommands() async throws {
        let c = try E2ECluster(subnet: Subnet.membership)
        defer { c.shutdown() }
        let s1 = try await c.startSerf("s1")
        let s2 = try await c.startSerf("s2", ["-join=\(s1.gossipAddr)"])
        let r1 = try await c.startRumor("r1")
        let rpc = "-rpc-addr=\(r1.rpcAddr)"

        let join = try await c.serf("join", rpc, s1.gossipAddr, "127.0.\(Subnet.membership).200:7946")
        #expect(join.stdout == "Successfully joined cluster by contacting 1 nodes.\n", "\(join)")
        try await c.expectView(["s1": "alive", "s2": "alive", "r1": "alive"], seenBy: [r1, s1])

        try await c.kill9(s2)
        try await c.expectView(["s1": "alive", "s2": "failed", "r1": "alive"], seenBy: [r1], timeout: .seconds(15))
        let forceLeave = try await c.serf("force-leave", rpc, "s2")
        #expect(forceLeave.status == 0 && forceLeave.stdout.isEmpty, "\(forceLeave)")
        try await c.expectView(["s1": "alive", "s2": "left", "r1": "alive"], seenBy: [r1, s1])

        let leave = try await c.serf("leave", rpc)
        #expect(leave.status == 0 && leave.stdout == "Graceful leave complete\n", "\(leave)")
        try await c.waitForExit(r1, timeout: .seconds(10))
        try await c.expectView(["s1": "alive", "s2": "left", "r1": "left"], seenBy: [s1])
    }

    /// `serf monitor` against the rumor agent: replayed log lines first, then live events as "Event Info".
    @Test func serfMonitorOnRumor() async throws {
        let c = try E2ECluster(subnet: Subnet.monitor)
        defer { c.shutdown() }
        let s1 = try await c.startSerf("s1")
        let r1 = try await c.startRumor("r1", ["--join", s1.gossipAddr])
        try await c.expectView(["s1": "alive", "r1": "alive"], seenBy: [s1, r1])

        let monitor = try c.startStreaming(c.serfPath, ["monitor", "-rpc-addr=\(r1.rpcAddr)"])
        try await monitor.waitFor("replayed start-up lines") { $0.contains("[INFO] serf: EventMemberJoin: s1 ") }
        let event = try await c.serf("event", "-rpc-addr=\(s1.rpcAddr)", "-coalesce=false", "greet", "hi")
        #expect(event.status == 0)
        try await monitor.waitFor("the event") { $0.contains("\tName: \"greet\"") }
        let text = monitor.text
        #expect(text.contains("Event Info:"), "\(text)")
        #expect(text.contains("\tPayload: []byte{0x68, 0x69}"), "\(text)")
        // A level filter the agent refuses is reported by serf's CLI.
        let bad = try await c.serf("monitor", "-rpc-addr=\(r1.rpcAddr)", "-log-level=loud")
        #expect(bad.status == 1 && bad.stdout == "Error starting monitor: Unknown log level: LOUD\n", "\(bad)")
        monitor.stop()
        #expect(c.isRunning(r1))
    }
}
