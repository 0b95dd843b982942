@testable import RumorAgent
import RumorCore
import Testing

/// The `rumor` CLI's event, query, tags, keys and reachability commands against our RPC server in front of an
/// EventFakeBackend: serf's output, byte for byte (errors go to stderr, where serf's CLI prints them to stdout).
@Suite struct RPCEventCLITests {
    func rumor(_ h: RPCEventHarness, _ args: String...) async throws -> ProcessOutput {
        let path = try E2ECluster.rumorBinary()
        return try await Subprocess.run(path, args + ["-rpc-addr=\(h.address)"], timeout: .seconds(20))
    }

    @Test func event() async throws {
        try await RPCEventHarness.with { h in
            let out = try await rumor(h, "event", "-coalesce=F", "deploy", "v1")
            #expect(out.status == 0 && out.stdout == "Event 'deploy' dispatched! Coalescing enabled: false\n", "\(out)")
            let plain = try await rumor(h, "event", "restart")
            #expect(plain.stdout == "Event 'restart' dispatched! Coalescing enabled: true\n", "\(plain)")
            #expect(h.backend.calls.events.map(\.coalesce) == [false, true])
            #expect(h.backend.calls.events.map(\.payload) == [Array("v1".utf8), []])

            let none = try await rumor(h, "event")
            #expect(none.status == 1 && none.stderr == "An event name must be specified.\n", "\(none)")
            let many = try await rumor(h, "event", "a", "b", "c")
            #expect(many.stderr == "Too many command line arguments. Only a name and payload must be specified.\n")
        }
    }

    @Test func queryText() async throws {
        try await RPCEventHarness.with { h in
            h.backend.setQueryScript(.init(acks: ["n1"], responses: [("n1", Array("line\n".utf8))]))
            let out = try await rumor(h, "query", "-node=n1", "-tag", "role=web", "-timeout=3s", "-relay-factor=3", "q")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == """
                Query 'q' dispatched
                Ack from 'n1'
                Response from 'n1': line
                Total Acks: 1
                Total Responses: 1

                """, "\(out)")
            let q = try #require(h.backend.calls.queries.first)
            #expect(q.filterNodes == ["n1"] && q.filterTags == ["role": "web"] && q.relayFactor == 3)
            #expect(q.requestAck && q.timeout == .seconds(3) && q.payload.isEmpty)

            let noAck = try await rumor(h, "query", "--no-ack", "q", "p")
            #expect(noAck.stdout.hasSuffix("Response from 'n1': line\nTotal Responses: 1\n"), "\(noAck)")
            #expect(h.backend.calls.queries.last?.requestAck == false)

            let relay = try await rumor(h, "query", "--relay-factor", "256", "q")
            #expect(relay.status == 1 && relay.stderr == "Relay factor must be between 0 and 255\n", "\(relay)")

            h.backend.setQueryScript(.init(refusal: "query exceeds limit of 1024 bytes"))
            let refused = try await rumor(h, "query", "q")
            #expect(refused.status == 1 && refused.stderr == "Error sending query: query exceeds limit of 1024 bytes\n")
        }
    }

    @Test func tags() async throws {
        try await RPCEventHarness.with { h in
            let out = try await rumor(h, "tags", "-set", "a=1", "-delete", "b", "-delete", "c")
            #expect(out.status == 0 && out.stdout == "Successfully updated agent tags\n", "\(out)")
            #expect(h.backend.calls.tagUpdates.first?.set == ["a": "1"])
            #expect(h.backend.calls.tagUpdates.first?.delete == ["b", "c"])
            let none = try await rumor(h, "tags")
            #expect(none.status == 1 && none.stderr.contains("USAGE:"), "\(none)")
            let bad = try await rumor(h, "tags", "--set", "=x")
            #expect(bad.status == 1 && bad.stderr == "Error: Invalid tag: '=x'\n", "\(bad)")
        }
    }

    @Test func keys() async throws {
        try await RPCEventHarness.with { h in
            var ok = KeyOperationResult(numNodes: 2)
            ok.numResp = 2
            h.backend.setKeyResult(.success(ok))
            let install = try await rumor(h, "keys", "-install", "a2V5")
            #expect(install.status == 0)
            #expect(install.stdout == "==> Installing key on all members...\n==> Successfully installed key!\n")
            let use = try await rumor(h, "keys", "--use", "a2V5")
            #expect(use.stdout == "==> Changing primary key on all members...\n==> Successfully changed primary key!\n")
            #expect(h.backend.calls.keyOperations.map(\.op) == [.install, .use])

            var failed = KeyOperationResult(numNodes: 2)
            (failed.numResp, failed.numErr, failed.messages) = (2, 2, ["b": "Key not found", "a": "nope"])
            h.backend.setKeyResult(.success(failed))
            let remove = try await rumor(h, "keys", "--remove", "a2V5")
            #expect(remove.status == 1)
            #expect(remove.stdout == "==> Removing key on all members...\n")
            #expect(remove.stderr == """
                failed:  a  nope
                failed:  b  Key not found

                Error removing key: 2/2 nodes reported failure

                """, "\(remove)")

            let two = try await rumor(h, "keys", "--list", "--install", "a2V5")
            #expect(two.status == 1 && two.stderr == "Only one of -install, -use, -remove, or -list allowed\n")
            let none = try await rumor(h, "keys")
            #expect(none.status == 1 && none.stderr.contains("USAGE:"), "\(none)")
        }
    }

    /// Four members in the fixture, two alive (alpha, web-2); only alpha acks.
    @Test func reachabilityReportsMissingAcks() async throws {
        try await RPCEventHarness.with { h in
            h.backend.setQueryScript(.init(acks: ["alpha"]))
            let out = try await rumor(h, "reachability")
            #expect(out.status == 1)
            #expect(out.stdout == """
                Total members: 4, live members: 2
                Starting reachability test...
                Received less acks than live nodes! Missing acks from:
                \tweb-2
                This could mean Serf gossip packets are being lost due to a misconfiguration or network issue.

                Troubleshooting tips:
                * Ensure that the bind addr:port is accessible by all other nodes
                * If an advertise address is set, ensure it routes to the bind address
                * Check that no nodes are behind a NAT
                * If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
                * Verify networking equipment is functional

                """, "\(out)")
            let q = try #require(h.backend.calls.queries.first)
            #expect(q.name == "_serf_ping" && q.requestAck && q.payload.isEmpty)

            // serf's own CLI agrees, line for line (it prints the lists in map order; one entry here).
            let serf = try await h.serf("reachability")
            #expect(serf.stdout == out.stdout, "\(serf)")

            h.backend.setQueryScript(.init(acks: ["alpha", "web-2", "alpha"]))
            let dup = try await rumor(h, "reachability")
            #expect(dup.status == 1)
            #expect(dup.stdout.contains("Duplicate response from 'alpha'\n"), "\(dup)")
            #expect(dup.stdout.contains("Received more acks than live nodes! Acks from non-live nodes:\n"), "\(dup)")
        }
    }
}
