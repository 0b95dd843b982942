import RumorSupport
import RumorAgent
@testable import RumorCLI
import Testing
import RumorTestSupport

/// Our client and CLI formatting, against the same server the real serf CLI is tested with: outputs must be equal.
@Suite struct RPCClientTests {
    @Test func membersOutputMatchesSerf() async throws {
        try await RPCHarness.with { h in
            let client = try RPCClient(address: h.address, authKey: nil)
            defer { client.close() }
            let members = try client.membersFiltered(name: "", status: "", tags: [:])
            for (format, detailed, serfArgs) in [
                (OutputFormat.text, false, [String]()), (.text, true, ["-detailed"]), (.json, false, ["-format=json"]),
            ] {
                let ours = MembersCommand.render(members, format: format, detailed: detailed)
                let serf = try await Subprocess.run("/usr/bin/serf", ["members", "-rpc-addr=\(h.address)"] + serfArgs)
                #expect(ours + "\n" == serf.stdout, "\(format) detailed=\(detailed)")
            }
            #expect(MembersCommand.render(members, format: .text, detailed: false) == RPCServerSerfCLITests.membersText)
            #expect(MembersCommand.render(members, format: .json, detailed: false) == RPCServerSerfCLITests.membersJSON)

            let web = try client.membersFiltered(name: "", status: "alive|left", tags: ["role": "w.b"])
            #expect(web.map(\.name).sorted() == ["v6", "web-2"])
            #expect(try client.members().count == 4)
        }
    }

    @Test func infoOutputMatchesSerf() async throws {
        try await RPCHarness.with { h in
            let client = try RPCClient(address: h.address, authKey: nil)
            let stats = try client.stats()
            #expect(InfoCommand.render(stats, format: .text) == RPCServerSerfCLITests.infoText)
            let serfJSON = try await h.serf("info", "-format=json")
            #expect(InfoCommand.render(stats, format: .json) + "\n" == serfJSON.stdout)
        }
    }

    @Test func commandsReachTheBackend() async throws {
        try await RPCHarness.with { h in
            let client = try RPCClient(address: h.address, authKey: nil)
            #expect(try client.join(["10.0.0.1", "bad"], replay: true) == 1)
            let joinError = RPCClientError(.remote, "1 error occurred:\n\t* Failed to join bad: connection refused\n\n")
            #expect(throws: joinError) { try client.join(["bad"], replay: false) }
            try client.forceLeave("db", prune: true)
            #expect(throws: RPCClientError(.remote, "member 'zz' not found")) {
                try client.forceLeave("zz", prune: false)
            }
            try client.leave()
            let backend = h.backend
            try await eventually("leave") { backend.calls.leaves == 1 }
            #expect(backend.calls.joins.map(\.addresses) == [["10.0.0.1", "bad"], ["bad"]])
            #expect(backend.calls.forceLeaves.map(\.node) == ["db", "zz"])
        }
    }

    @Test func auth() async throws {
        try await RPCHarness.with(authKey: "tok") { h in
            #expect(throws: RPCClientError(.connect, "Invalid authentication token")) {
                try RPCClient(address: h.address, authKey: "bad")
            }
            let anonymous = try RPCClient(address: h.address, authKey: nil)
            #expect(throws: RPCClientError(.remote, "Authentication required")) { try anonymous.members() }
            // The refused call left no body behind: the same connection still works once authenticated.
            try anonymous.call(RPCProtocol.Command.auth, RPCAuthRequest(authKey: "tok"))
            #expect(try anonymous.members().count == 4)
            let client = try RPCClient(address: h.address, authKey: "tok")
            #expect(try client.members().count == 4)
        }
    }

    @Test func unsupportedCommandAndStreamErrors() async throws {
        try await RPCHarness.with { h in
            let client = try RPCClient(address: h.address, authKey: nil)
            #expect(throws: RPCClientError(.remote, "Unsupported command")) {
                _ = try client.startStream("monitor-all-the-things", nil)
            }
            // The agent closed the connection after refusing.
            #expect(throws: RPCClientError.self) { try client.members() }
        }
    }

    @Test func connectionRefusedMessage() async throws {
        // A port that was just ours and is now closed.
        var address = ""
        try await RPCHarness.with { h in address = h.address }
        #expect(throws: RPCClientError(.connect, "connection refused")) {
            try RPCClient(address: address, authKey: nil)
        }
        #expect(throws: RPCClientError.self) { try RPCClient(address: "no-such-host.invalid:7373", authKey: nil) }
    }

    @Test func optionParsing() throws {
        let members = try MembersCommand.parse([
            "--rpc-addr", "10.0.0.1:1234", "--rpc-auth", "k", "--format", "json", "--detailed",
            "--status", "alive", "--name", "web.*", "--tag", "role=web", "--tag", "dc=a=b",
        ])
        #expect(members.rpc.address == "10.0.0.1:1234" && members.rpc.authKey == "k")
        #expect(members.output.format == .json && members.detailed)
        #expect(try MembersCommand.parseTags(members.tag) == ["role": "web", "dc": "a=b"])
        #expect(throws: MembersCommand.InvalidTag.self) { try MembersCommand.parseTags(["=x"]) }
        #expect(throws: (any Error).self) { try MembersCommand.parse(["--format", "xml"]) }

        let defaults = try InfoCommand.parse([])
        #expect(defaults.output.format == .text && defaults.rpc.rpcAddr == nil)
        #expect(try JoinCommand.parse(["--replay", "a", "b:1"]).addresses == ["a", "b:1"])
        #expect(throws: (any Error).self) { try JoinCommand.parse([]) }
        let fl = try ForceLeaveCommand.parse(["--prune", "node1"])
        #expect(fl.prune && fl.node == "node1")
        #expect(VersionCommand.text == "Rumor v0.1.0\nAgent Protocol: 5 (Understands back to: 2)")
    }

    @Test func goTextFormatting() {
        #expect(GoText.hostPort(ip: [127, 0, 0, 1], port: 7946) == "127.0.0.1:7946")
        #expect(GoText.hostPort(ip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], port: 1) == "10.1.2.3:1")
        #expect(GoText.hostPort(ip: [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1], port: 80) == "[fe80::1]:80")
        #expect(GoText.hostPort(ip: [UInt8](repeating: 0, count: 16), port: 80) == "[::]:80")
        // One zero group is not compressed; of two equal runs the first is.
        #expect(GoText.ipString([0x20, 0x01, 0, 0xdb, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]) == "2001:db:0:1:1:1:1:1")
        #expect(GoText.ipString([0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1]) == "2001::1:0:0:1:1")
        #expect(GoText.hostPort(ip: [], port: 5) == ":5")
        #expect(GoText.trimSpace("\t a b \n\u{a0}") == "a b")
        #expect(Columns.format(["a|bb|", "ccc|d|e"]) == "a    bb  \nccc  d   e")
        #expect(JSON.object([("k", .string("<a&b>\"\\\n\u{1}\u{2028}é"))]).serialized(indent: 2)
            == "{\n  \"k\": \"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\u0001\\u2028é\"\n}")
        #expect(MembersCommand.render([], format: .text, detailed: false) == "")
        #expect(MembersCommand.render([], format: .json, detailed: false) == "{\n  \"members\": null\n}")
        #expect(InfoCommand.render([:], format: .json) == "{}")
    }
}
