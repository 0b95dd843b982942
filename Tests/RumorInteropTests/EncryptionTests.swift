import Foundation
import Testing

/// Encryption interop (docs/protocol.md#encryption): rumor and serf agents with one key form one cluster, agents with a
/// wrong key or none are kept out without hurting the cluster, and a key rotation under traffic never splits it.
///
/// Uses `ExtraArgsAgents` (Support/ClusterExtraArgs.swift) since the agents need extra flags. IP ranges 127.0.47.x
/// and 127.0.48.x (the rejection test uses 48.1-7, the rotation test 48.11-14).
extension InteropTests {
    enum EncryptionRange {
        static let mixed = 47
        static let rejected = 48
        static let rotation = 48  // hosts 11 and up
    }

    /// Issue acceptance: 2 serf + 2 rumor with the same key converge; user events and queries cross both ways.
    @Test("encrypted 2 serf + 2 rumor converge; events and queries cross between the implementations")
    func encryptedMixedCluster() async throws {
        let agents = try ExtraArgsAgents(testIndex: EncryptionRange.mixed)
        defer { agents.shutdown() }
        let key = try await Self.keygen(agents)
        let handler = try Self.writeHandler(in: agents.directory)

        func extra(_ kind: Cluster.Kind) -> [String] {
            kind == .serf ? ["-encrypt=\(key)", "-event-handler=\(handler)"] : ["--encrypt", key, "--event-handler", handler]
        }
        let s1 = try await agents.start("s1", .serf, extra: extra(.serf))
        let r1 = try await agents.start("r1", .rumor, join: [s1], extra: extra(.rumor))
        let s2 = try await agents.start("s2", .serf, join: [r1], extra: extra(.serf))
        let r2 = try await agents.start("r2", .rumor, join: [s2], extra: extra(.rumor))
        let all = [s1, r1, s2, r2]
        try await agents.expectView(statuses(all, "alive"), seenBy: all)

        // The rumor nodes really encrypt: a plaintext ping to their gossip port gets no ack.
        let probe = try UDPSocket(bindIP: agents.cluster.spareIP())
        for node in [r1, r2] {
            probe.send(HostileCorpus.ping(to: node.name, seq: 5), to: node.ip, port: Cluster.gossipPort)
            #expect(probe.receive(from: node.ip, timeoutMs: 300) == nil, "\(node.name) acked a plaintext ping")
        }

        // serf → rumor handlers, and rumor → serf handlers.
        let fromSerf = try await runCommand(
            agents.cluster.serfPath, ["event", "-coalesce=false", "-rpc-addr=\(s1.rpcAddr)", "deploy-s", "from-serf-s1"])
        #expect(fromSerf.succeeded, "\(fromSerf)")
        let fromRumor = try await runCommand(
            agents.cluster.rumorPath, ["event", "--coalesce", "false", "--rpc-addr", r1.rpcAddr, "deploy-r", "from-rumor-r1"])
        #expect(fromRumor.succeeded, "\(fromRumor)")
        try await agents.eventually("user event from s1 runs the handler on r1, r2; event from r1 on s1, s2") {
            var problems: [String] = []
            let wants = [(r1, "deploy-s", "from-serf-s1"), (r2, "deploy-s", "from-serf-s1"),
                         (s1, "deploy-r", "from-rumor-r1"), (s2, "deploy-r", "from-rumor-r1")]
            for (node, name, payload) in wants {
                let seen = readText(agents.directory.appendingPathComponent("\(node.name).events"))
                if !seen.contains("event=user name=\(name) payload=\(payload)") {
                    problems.append("\(node.name) handler has not seen user:\(name) \(payload); saw: \(seen.suffix(300))")
                }
            }
            return problems
        }

        // Queries: from serf, answered by the rumor nodes' handlers; from rumor, answered by the serf nodes'.
        let serfQuery = try await runCommand(
            agents.cluster.serfPath,
            ["query", "-timeout=5s", "-rpc-addr=\(s1.rpcAddr)", "ping-q", "hi"], timeout: .seconds(20))
        #expect(serfQuery.succeeded, "\(serfQuery)")
        for name in ["r1", "r2"] {
            #expect(serfQuery.stdout.contains("pong-\(name)"), "serf query not answered by \(name): \(serfQuery)")
        }
        let rumorQuery = try await runCommand(
            agents.cluster.rumorPath,
            ["query", "--timeout", "5s", "--rpc-addr", r2.rpcAddr, "ping-q", "hi"],
            timeout: .seconds(20))
        #expect(rumorQuery.succeeded, "\(rumorQuery)")
        for name in ["s1", "s2"] {
            #expect(rumorQuery.stdout.contains("pong-\(name)"), "rumor query not answered by \(name): \(rumorQuery)")
        }
        try await agents.expectView(statuses(all, "alive"), seenBy: all)
        Self.expectNoDecryptComplaints(agents)
    }

    /// Issue acceptance: a wrong-key rumor node, a plaintext rumor node and a plaintext serf node cannot join; the
    /// encrypted nodes say why, without flooding their logs, and stay healthy.
    @Test("wrong-key and plaintext agents cannot join an encrypted cluster; clear errors, bounded logs")
    func encryptionRejectsOutsiders() async throws {
        let agents = try ExtraArgsAgents(testIndex: EncryptionRange.rejected)
        defer { agents.shutdown() }
        let key = try await Self.keygen(agents)
        var wrong = try await Self.keygen(agents)
        while wrong == key { wrong = try await Self.keygen(agents) }

        let s1 = try await agents.start("s1", .serf, extra: ["-encrypt=\(key)"])
        let r1 = try await agents.start("r1", .rumor, join: [s1], extra: ["--encrypt", key])
        let s2 = try await agents.start("s2", .serf, join: [r1], extra: ["-encrypt=\(key)"])
        let r2 = try await agents.start("r2", .rumor, join: [s2], extra: ["--encrypt", key])
        let inside = [s1, r1, s2, r2]
        try await agents.expectView(statuses(inside, "alive"), seenBy: inside)

        let rw = try await agents.start("rw", .rumor, extra: ["--encrypt", wrong])
        let rp = try await agents.start("rp", .rumor)
        let sp = try await agents.start("sp", .serf)

        // Join attempts through each outsider's RPC, at a rumor member and at a serf member.
        var joinOutput: [String] = []
        for outsider in [rw, rp, sp] {
            for target in [r1, s1] {
                let (exe, args) =
                    outsider.kind == .rumor
                    ? (agents.cluster.rumorPath, ["join", "--rpc-addr", outsider.rpcAddr, target.gossipAddr])
                    : (agents.cluster.serfPath, ["join", "-rpc-addr=\(outsider.rpcAddr)", target.gossipAddr])
                let result = try await runCommand(exe, args, timeout: .seconds(30))
                joinOutput.append("\(outsider.name)→\(target.name): \(result)")
                #expect(!result.succeeded, "\(outsider.name) joined the encrypted \(target.name): \(result)")
                if outsider.kind == .serf && target.kind == .rumor {
                    // Like serf's memberlist, rumor answers an unreadable join with an (encrypted) error frame, so
                    // a plaintext serf joiner hears "Remote state is encrypted and encryption is not configured".
                    #expect(
                        (result.stdout + result.stderr).lowercased().contains("encrypt"),
                        "plaintext serf joining encrypted rumor: \(result)")
                }
                if outsider.kind == .rumor {
                    // A rumor CLI error should say what went wrong, not just "connection reset"/"EOF".
                    let text = (result.stdout + result.stderr).lowercased()
                    let clear = ["encrypt", "decrypt", "key", "plaintext"].contains { text.contains($0) }
                    #expect(clear, "unclear join error from \(outsider.name) to \(target.name): \(result)")
                }
            }
        }

        // Hundreds of packets from outside: plaintext pings and wrong-key-sized junk, to r1's gossip port.
        let socket = try UDPSocket(bindIP: agents.cluster.spareIP())
        for i in 0..<300 {
            socket.send(HostileCorpus.ping(to: "r1", seq: UInt8(i % 128)), to: r1.ip, port: Cluster.gossipPort)
            var fake: [UInt8] = [1] + (0..<60).map { _ in UInt8.random(in: 0...255) }  // vsn 1, looks encrypted
            fake[1] = UInt8(i & 0xff)
            socket.send(fake, to: r1.ip, port: Cluster.gossipPort)
        }
        // No reply may leak to a plaintext sender.
        #expect(socket.receive(from: r1.ip, timeoutMs: 500) == nil, "r1 answered a plaintext ping")

        // The cluster stays whole; the outsiders see only themselves.
        try await agents.expectView(statuses(inside, "alive"), seenBy: inside)
        for outsider in [rw, rp, sp] {
            try await agents.expectView([outsider.name: "alive"], seenBy: [outsider])
        }

        // The encrypted rumor nodes log a clear reason, and only a bounded number of such lines.
        for node in [r1] {
            let lines = agents.log(of: node).split(separator: "\n").map(String.init)
            let reasons = lines.filter { line in
                let l = line.lowercased()
                return ["decrypt", "encrypt", "plaintext", "no installed keys"].contains { l.contains($0) }
                    && !l.contains("gossip encryption enabled") && !l.contains("=== harness")
            }
            #expect(!reasons.isEmpty, "\(node.name) logged no reason for refusing the outsiders; log tail:\n\(agents.diagnostics())")
            #expect(
                reasons.count <= 40,
                "\(node.name) logged \(reasons.count) lines about refused packets (want rate-limited): \(reasons.prefix(10))")
            #expect(lines.count < 600, "\(node.name) log has \(lines.count) lines after the blast")
        }
        print("[encryption] join attempts:\n  " + joinOutput.joined(separator: "\n  "))
        for node in [r1, s1] {
            let reasons = agents.log(of: node).split(separator: "\n").filter {
                let l = $0.lowercased()
                return l.contains("decrypt") || l.contains("plaintext") || l.contains("encrypt")
            }
            print("[encryption] \(node.name): \(reasons.count) reason lines, first: \(reasons.prefix(3))")
        }
    }

    /// Issue acceptance: rotate the key under user-event traffic (install via serf, use via rumor, remove via
    /// serf); all four stay alive throughout and every node ends with only the new key.
    @Test("key rotation under traffic: install (serf), use (rumor), remove (serf); never splits, only the new key remains")
    func keyRotationUnderTraffic() async throws {
        let agents = try ExtraArgsAgents(testIndex: EncryptionRange.rotation, firstHost: 11)
        defer { agents.shutdown() }
        let old = try await Self.keygen(agents)
        var new = try await Self.keygen(agents)
        while new == old { new = try await Self.keygen(agents) }
        let keyringURL = agents.directory.appendingPathComponent("r1.keyring.json")
        try Data("[\"\(old)\"]".utf8).write(to: keyringURL)

        let s1 = try await agents.start("s1", .serf, extra: ["-encrypt=\(old)"])
        let r1 = try await agents.start("r1", .rumor, join: [s1], extra: ["--keyring-file", keyringURL.path])
        let s2 = try await agents.start("s2", .serf, join: [r1], extra: ["-encrypt=\(old)"])
        let r2 = try await agents.start("r2", .rumor, join: [s2], extra: ["--encrypt", old])
        let all = [s1, r1, s2, r2]
        try await agents.expectView(statuses(all, "alive"), seenBy: all)

        // Traffic: a user event every 100 ms from alternating nodes; a watcher polls every view.
        let stop = LockedFlag()
        let splits = SplitLog()
        let sentLog = SplitLog()
        let traffic = Task {
            var i = 0
            while !stop.isSet {
                let from = all[i % all.count]
                let args =
                    from.kind == .serf
                    ? ["event", "-rpc-addr=\(from.rpcAddr)", "tick", "\(i)"]
                    : ["event", "--rpc-addr", from.rpcAddr, "tick", "\(i)"]
                let r = try? await runCommand(from.kind == .serf ? agents.cluster.serfPath : agents.cluster.rumorPath, args)
                if let r, !r.succeeded { splits.add("event \(i) from \(from.name) failed: \(r)") }
                sentLog.add("\(i)")
                i += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            return i
        }
        let watcher = Task {
            var rounds = 0
            while !stop.isSet {
                for o in all {
                    let p = await agents.viewProblems(of: o, expected: statuses(all, "alive"))
                    if !p.isEmpty { splits.add("\(Date()): \(p.joined(separator: "; "))") }
                }
                rounds += 1
            }
            return rounds
        }

        func keys(_ via: Cluster.Node, _ cli: Cluster.Kind, _ op: String, _ key: String? = nil) async throws
            -> CommandResult
        {
            let args =
                cli == .serf
                ? ["keys", "-rpc-addr=\(via.rpcAddr)", "-\(op)" + (key.map { "=\($0)" } ?? "")]
                : ["keys", "--rpc-addr", via.rpcAddr, "--\(op)"] + (key.map { [$0] } ?? [])
            return try await runCommand(
                cli == .serf ? agents.cluster.serfPath : agents.cluster.rumorPath, args, timeout: .seconds(30))
        }

        // Each step waits (bounded) until more events went out, so every phase of the rotation sees traffic.
        func moreTraffic(_ count: Int) async throws {
            let target = sentLog.entries.count + count
            try await agents.eventually("\(count) more events sent", timeout: .seconds(60)) {
                sentLog.entries.count >= target ? [] : ["\(sentLog.entries.count) of \(target) events sent"]
            }
        }
        try await moreTraffic(10)
        let install = try await keys(s1, .serf, "install", new)
        #expect(install.succeeded, "\(install)")
        try await moreTraffic(10)
        let use = try await keys(r1, .rumor, "use", new)
        #expect(use.succeeded, "\(use)")
        try await moreTraffic(10)
        let remove = try await keys(s2, .serf, "remove", old)
        #expect(remove.succeeded, "\(remove)")
        try await moreTraffic(15)  // traffic and watching go on after the rotation

        stop.set()
        let sent = await traffic.value
        let rounds = await watcher.value
        #expect(splits.entries.isEmpty, "cluster split or events failed during rotation (\(rounds) watch rounds, \(sent) events):\n  \(splits.entries.prefix(20).joined(separator: "\n  "))")
        #expect(rounds > 3 && sent > 20, "too little traffic/watching: \(sent) events, \(rounds) rounds")
        try await agents.expectView(statuses(all, "alive"), seenBy: all)

        // Every node, asked via both CLIs, lists only the new key, held by all 4.
        for node in all {
            for cli in [Cluster.Kind.serf, .rumor] {
                let list = try await keys(node, cli, "list")
                #expect(list.succeeded, "\(list)")
                #expect(list.stdout.contains(new) && !list.stdout.contains(old), "\(cli) keys list via \(node.name): \(list)")
                #expect(list.stdout.contains("4/4") || list.stdout.contains("[4/4]") || cli == .rumor, "\(list)")
            }
        }
        print("[encryption] rotation: \(sent) events sent, \(rounds) watch rounds, \(splits.entries.count) problems")
        print("[encryption] install: \(install)\n[encryption] use: \(use)\n[encryption] remove: \(remove)")
        // r1's keyring file was rewritten with only the new key.
        let file = readText(keyringURL)
        let parsed = (try? JSONSerialization.jsonObject(with: Data(file.utf8))) as? [String]
        #expect(parsed == [new], "r1's keyring file should hold only the new key, has: \(file)")
        // Still whole after the rotation, and no node ever failed to decrypt a peer's traffic along the way.
        try await agents.expectView(statuses(all, "alive"), seenBy: all)
        Self.expectNoDecryptComplaints(agents)
    }

    // MARK: - Helpers

    static func keygen(_ agents: ExtraArgsAgents) async throws -> String {
        let r = try await runCommand(agents.cluster.rumorPath, ["keygen"])
        guard r.succeeded else { throw HarnessError("rumor keygen failed: \(r)") }
        let key = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let raw = Data(base64Encoded: key), raw.count == 32 else {
            throw HarnessError("rumor keygen printed \(key.debugDescription), not 32 bytes of base64")
        }
        return key
    }

    /// One handler for every event: appends "event=… name=… payload=…" to <node>.events and answers queries
    /// with "pong-<node>".
    static func writeHandler(in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("handler.sh")
        let script = """
            #!/bin/sh
            payload=$(cat)
            name="$SERF_USER_EVENT$SERF_QUERY_NAME"
            echo "event=$SERF_EVENT name=$name payload=$payload" >> "\(dir.path)/$SERF_SELF_NAME.events"
            if [ "$SERF_EVENT" = query ]; then printf 'pong-%s' "$SERF_SELF_NAME"; fi
            exit 0

            """
        try Data(script.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url.path
    }

    /// Agents that share a key must never fail to decrypt each other's traffic.
    static func expectNoDecryptComplaints(_ agents: ExtraArgsAgents, sourceLocation: SourceLocation = #_sourceLocation) {
        for node in agents.allNodes {
            let bad = agents.log(of: node).split(separator: "\n").filter {
                $0.contains("Decrypt packet failed") || $0.contains("No installed keys") || $0.contains("panic:")
            }
            #expect(bad.isEmpty, "\(node.name): \(bad.prefix(10))", sourceLocation: sourceLocation)
        }
    }
}

/// Problems recorded by background tasks.
final class SplitLog: @unchecked Sendable {
    // @unchecked: `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var entries: [String] { lock.withLock { items } }
}
