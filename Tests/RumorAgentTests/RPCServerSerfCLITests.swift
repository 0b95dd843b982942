import RumorAgent
import Testing
import RumorTestSupport

/// The real `serf` CLI (/usr/bin/serf) against our RPC server in front of a FakeBackend.
/// (This serf build prints its error lines on stdout, so that is where the tests look for them.)
@Suite struct RPCServerSerfCLITests {
    static let membersText = """
        alpha  127.0.0.1:7946  alive  \u{20}
        db     10.0.0.3:7946   failed  role=db
        v6     [::1]:7950      left    role=web
        web-2  127.0.0.1:7947  alive   role=web
        """

    @Test func membersText() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("members")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == Self.membersText + "\n")
        }
    }

    @Test func membersDetailed() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("members", "-detailed")
            #expect(out.status == 0, "\(out)")
            let range = "Available Protocol Range"
            #expect(out.stdout == """
                alpha  127.0.0.1:7946  alive             Protocol Version: 5  \(range): [2, 5]
                db     10.0.0.3:7946   failed  role=db   Protocol Version: 4  \(range): [2, 5]
                v6     [::1]:7950      left    role=web  Protocol Version: 4  \(range): [3, 4]
                web-2  127.0.0.1:7947  alive   role=web  Protocol Version: 5  \(range): [2, 5]

                """)
        }
    }

    static let membersJSON = """
        {
          "members": [
            {
              "name": "alpha",
              "addr": "127.0.0.1:7946",
              "port": 7946,
              "tags": {},
              "status": "alive",
              "protocol": {
                "max": 5,
                "min": 2,
                "version": 5
              }
            },
            {
              "name": "db",
              "addr": "10.0.0.3:7946",
              "port": 7946,
              "tags": {
                "role": "db"
              },
              "status": "failed",
              "protocol": {
                "max": 5,
                "min": 2,
                "version": 4
              }
            },
            {
              "name": "v6",
              "addr": "[::1]:7950",
              "port": 7950,
              "tags": {
                "role": "web"
              },
              "status": "left",
              "protocol": {
                "max": 4,
                "min": 3,
                "version": 4
              }
            },
            {
              "name": "web-2",
              "addr": "127.0.0.1:7947",
              "port": 7947,
              "tags": {
                "role": "web"
              },
              "status": "alive",
              "protocol": {
                "max": 5,
                "min": 2,
                "version": 5
              }
            }
          ]
        }
        """

    @Test func membersJSON() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("members", "-format=json")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == Self.membersJSON + "\n")
        }
    }

    @Test func membersFilters() async throws {
        try await RPCHarness.with { h in
            let alive = try await h.serf("members", "-status=alive")
            #expect(alive.stdout == """
                alpha  127.0.0.1:7946  alive \u{20}
                web-2  127.0.0.1:7947  alive  role=web

                """)

            let web = try await h.serf("members", "-tag", "role=web")
            #expect(web.stdout == """
                v6     [::1]:7950      left   role=web
                web-2  127.0.0.1:7947  alive  role=web

                """)

            // Anchored: "web" alone matches no name; the alternation is anchored as a whole.
            let names = try await h.serf("members", "-name=web-.|db")
            #expect(names.stdout.split(separator: "\n").map { $0.prefix { $0 != " " } } == ["db", "web-2"])
            let partial = try await h.serf("members", "-name=web")
            #expect(partial.status == 0 && partial.stdout == "\n", "\(partial)")

            // A filter on a missing tag matches against "".
            let untagged = try await h.serf("members", "-tag", "role=")
            #expect(untagged.stdout.hasPrefix("alpha ") && untagged.stdout.split(separator: "\n").count == 1)
        }
    }

    @Test func membersBadRegexpIsReported() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("members", "-name=[")
            #expect(out.status == 1)
            let message = "Error retrieving members: Failed to compile regex: invalid pattern '['"
            #expect(out.stdout.contains(message), "\(out)")
            // The connection stayed in sync: the next client is served normally.
            #expect(try await h.serf("members").stdout == Self.membersText + "\n")
        }
    }

    @Test func join() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("join", "10.0.0.1", "10.0.0.2:7946")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == "Successfully joined cluster by contacting 2 nodes.\n")

            let replay = try await h.serf("join", "-replay", "10.0.0.9", "bad-host")
            #expect(replay.stdout == "Successfully joined cluster by contacting 1 nodes.\n", "\(replay)")

            let failed = try await h.serf("join", "bad-1", "bad-2")
            #expect(failed.status == 1)
            // go-multierror's text ends in a blank line, then the CLI adds its newline.
            #expect(failed.stdout == "Error joining the cluster: 2 errors occurred:\n"
                + "\t* Failed to join bad-1: connection refused\n\t* Failed to join bad-2: connection refused\n\n\n")

            let joins = h.backend.calls.joins
            let expected = [["10.0.0.1", "10.0.0.2:7946"], ["10.0.0.9", "bad-host"], ["bad-1", "bad-2"]]
            #expect(joins.map(\.addresses) == expected)
            #expect(joins.map(\.replay) == [false, true, false])
        }
    }

    @Test func forceLeave() async throws {
        try await RPCHarness.with { h in
            let plain = try await h.serf("force-leave", "db")
            #expect(plain.status == 0 && plain.stdout.isEmpty && plain.stderr.isEmpty, "\(plain)")
            let prune = try await h.serf("force-leave", "-prune", "v6")
            #expect(prune.status == 0, "\(prune)")
            let unknown = try await h.serf("force-leave", "nobody")
            #expect(unknown.status == 1)
            #expect(unknown.stdout == "Error force leaving: member 'nobody' not found\n")

            let calls = h.backend.calls.forceLeaves
            #expect(calls.map(\.node) == ["db", "v6", "nobody"])
            #expect(calls.map(\.prune) == [false, true, false])
        }
    }

    static let infoText = """
        agent:
        \tname = alpha
        event_handlers:
        \tmember-join:handler = /bin/true
        runtime:
        \tarch = amd64
        \tmax_procs = 2
        \tos = linux
        \tversion = swift6.3
        serf:
        \tencrypted = false
        \tfailed = 1
        \tleft = 1
        \tmembers = 4
        tags:
        """

    @Test func info() async throws {
        try await RPCHarness.with { h in
            let text = try await h.serf("info")
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout == Self.infoText + "\n")

            let json = try await h.serf("info", "-format=json")
            #expect(json.stdout == """
                {
                  "agent": {
                    "name": "alpha"
                  },
                  "event_handlers": {
                    "member-join:handler": "/bin/true"
                  },
                  "runtime": {
                    "arch": "amd64",
                    "max_procs": "2",
                    "os": "linux",
                    "version": "swift6.3"
                  },
                  "serf": {
                    "encrypted": "false",
                    "failed": "1",
                    "left": "1",
                    "members": "4"
                  },
                  "tags": {}
                }

                """)
        }
    }

    @Test func leaveRepliesThenLeaves() async throws {
        try await RPCHarness.with { h in
            let out = try await h.serf("leave")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == "Graceful leave complete\n")
            let backend = h.backend
            try await eventually("backend.leave()") { backend.calls.leaves == 1 }
        }
    }

    @Test func auth() async throws {
        try await RPCHarness.with(authKey: "s3cret") { h in
            let right = try await h.serf("members", "-rpc-auth=s3cret")
            #expect(right.status == 0 && right.stdout == Self.membersText + "\n", "\(right)")

            let env = try await h.serf("members", environment: ["SERF_RPC_AUTH": "s3cret"])
            #expect(env.status == 0 && env.stdout == Self.membersText + "\n", "\(env)")

            let wrong = try await h.serf("members", "-rpc-auth=nope")
            #expect(wrong.status == 1)
            #expect(wrong.stdout == "Error connecting to Serf agent: Invalid authentication token\n", "\(wrong)")

            let missing = try await h.serf("members")
            #expect(missing.status == 1)
            #expect(missing.stdout == "Error retrieving members: Authentication required\n", "\(missing)")

            let join = try await h.serf("join", "10.0.0.1")
            #expect(join.status == 1 && join.stdout.contains("Authentication required"))
            #expect(h.backend.calls.joins.isEmpty)
        }
    }
}
