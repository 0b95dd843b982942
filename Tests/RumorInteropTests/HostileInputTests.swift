#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

extension InteropTests {
    /// Issue acceptance (f): garbage on every port rumor listens on must not crash it, flood its log, or disturb
    /// the cluster. Deterministic (seeded), so a failure can be replayed.
    @Test("junk on rumor's UDP, TCP and RPC ports: still alive, warnings rate-limited, membership intact")
    func hostileInputIsSurvived() async throws {
        let cluster = try Cluster(testIndex: Range.hostile)
        defer { cluster.shutdown() }
        let s1 = try await cluster.startSerf("s1", tags: ["role": "backend"])
        let r1 = try await cluster.startRumor("r1", tags: ["role": "target"], join: [s1])
        let s2 = try await cluster.startSerf("s2", join: [r1])
        let all = [s1, r1, s2]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        let attacker = cluster.spareIP()
        let udp = try UDPSocket(bindIP: attacker)
        try await expectPingAnswered(cluster, r1, udp, "before the blast")
        let logOffset = cluster.log(of: r1).utf8.count

        let spare = attacker.split(separator: ".").map { UInt8($0)! }
        let datagrams = HostileCorpus.datagrams(target: r1.name, spareIP: spare, seed: 0x5EED_0001)
        let unanswered = try blast(datagrams, at: r1, from: udp, probe: UDPSocket(bindIP: cluster.spareIP(201)))
        #expect(unanswered.isEmpty, "pings unanswered after batches \(unanswered)\n\(cluster.diagnostics())")

        // Half-sent messages held open for the rest of the test: must not wedge the listeners.
        let stalledGossip = RawTCP.connect(to: r1.ip, port: Cluster.gossipPort, from: attacker)
        let stalledRPC = RawTCP.connect(to: r1.ip, port: Cluster.rpcPort, from: attacker)
        defer { for fd in [stalledGossip, stalledRPC].compactMap({ $0 }) { close(fd) } }
        if let fd = stalledGossip { RawTCP.write(fd, [0x06, 0x83] + HostileCorpus.str("Join")) }
        if let fd = stalledRPC { RawTCP.write(fd, [0x82] + HostileCorpus.str("Command")) }

        var tcpRefused: [String] = []
        for (i, s) in HostileCorpus.streams(target: r1.name, seed: 0x5EED_0002).enumerated()
        where !RawTCP.sendAndClose(s, to: r1.ip, port: Cluster.gossipPort, from: attacker) {
            tcpRefused.append("gossip #\(i)")
        }
        for (i, r) in HostileCorpus.rpcRequests(seed: 0x5EED_0003).enumerated()
        where !RawTCP.sendAndClose(r, to: r1.ip, port: Cluster.rpcPort, from: attacker) {
            tcpRefused.append("rpc #\(i)")
        }
        #expect(tcpRefused.isEmpty, "connections refused during the blast: \(tcpRefused)\n\(cluster.diagnostics())")
        #expect(cluster.isRunning(r1), "rumor died during the blast\n\(cluster.diagnostics())")

        try await expectPingAnswered(cluster, r1, udp, "after the blast")
        // The serf CLI reads every agent, r1's RPC included (the rumor CLI has its own tests).
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)

        // The log: at least one warning about the junk, but rate-limited rather than one per packet.
        let newText = String(decoding: Data(cluster.log(of: r1).utf8).dropFirst(logOffset), as: UTF8.self)
        let lines = newText.split(separator: "\n")
        let warnings = lines.filter { $0.contains("[WARN]") || $0.contains("[ERR]") }
        let junk = warnings.filter { $0.lowercased().contains("malformed") || $0.lowercased().contains("dropped") }
        let sample = warnings.prefix(60).joined(separator: "\n    ")
        let summary = """
            after \(datagrams.count) datagrams: \(lines.count) new log lines, \(warnings.count) WARN/ERR, \
            \(junk.count) about dropped/malformed input. First warnings:
                \(sample)
            """
        #expect(!junk.isEmpty, "no warning about dropped/malformed packets; \(summary)")
        #expect(junk.count < 50, "dropped/malformed warnings are not rate-limited; \(summary)")
        #expect(warnings.count < 100, "warning flood; \(summary)")
        #expect(cluster.isRunning(r1), "rumor died after the blast\n\(cluster.diagnostics())")
        cluster.expectCleanSerfLogs()
    }

    /// Sends `datagrams` in small batches, each followed by a ping from a second socket and a wait for its reply.
    ///
    /// The agent reads its socket in order, so that reply proves the batch was read and not lost to a full socket
    /// buffer (an unpaced blast mostly measures the kernel's drops). Returns the batches whose ping went unanswered.
    private func blast(_ datagrams: [[UInt8]], at node: Cluster.Node, from udp: UDPSocket, probe: UDPSocket) -> [Int] {
        var unanswered: [Int] = []
        var batch = 0
        var start = 0
        while start < datagrams.count {
            var end = start
            var bytes = 0
            while end < datagrams.count && end - start < 32 && bytes < 64_000 {
                bytes += datagrams[end].count
                end += 1
            }
            for d in datagrams[start..<end] { udp.send(d, to: node.ip, port: Cluster.gossipPort) }
            probe.drain()
            let answered = (0..<3).contains { attempt in
                let ping = HostileCorpus.ping(to: node.name, seq: UInt8(attempt))
                probe.send(ping, to: node.ip, port: Cluster.gossipPort)
                return probe.receive(from: node.ip, timeoutMs: 1000) != nil
            }
            if !answered { unanswered.append(batch) }
            batch += 1
            start = end
        }
        return unanswered
    }

    /// A valid ping from the test's socket gets a reply (ack, possibly compressed/wrapped) from the agent's port.
    private func expectPingAnswered(
        _ cluster: Cluster, _ node: Cluster.Node, _ udp: UDPSocket, _ when: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        var seq: UInt8 = 100
        try await cluster.eventually("\(node.name) answers a valid ping \(when)", sourceLocation: sourceLocation) {
            udp.drain()
            seq = seq &+ 1
            udp.send(HostileCorpus.ping(to: node.name, seq: seq), to: node.ip, port: Cluster.gossipPort)
            guard let reply = udp.receive(from: node.ip, timeoutMs: 500) else { return ["no reply within 500 ms"] }
            // ack (2), or the same inside compound (7), compress (9) or CRC (12) wrappers.
            return [0x02, 0x07, 0x09, 0x0c].contains(reply[0]) ? [] : ["reply starts with \(reply.prefix(8))"]
        }
    }
}
