#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RumorWire
import Testing

extension InteropTests.Range {
    static let arithmetic = 81  // 60-62 are HAProxyLiveTests backends
}

extension InteropTests {
    /// Issue 9, acceptance 1: the four messages that used to kill an agent with an integer-overflow trap (a query
    /// timeout of 2^63-1 ns, a left member at Lamport time 2^64-1 in a push-pull, a user event and a join intent at
    /// 2^64-2 that poisoned the clocks for the next `rumor event`, force-leave and leave). Each must leave the agent
    /// alive, its membership intact, one warning in its log, and the commands that used to trap working.
    @Test("peer values at the integer ends: one warning each, agent alive, events, force-leave and leave work")
    func remoteArithmeticIsSafe() async throws {
        let cluster = try Cluster(testIndex: Range.arithmetic)
        defer { cluster.shutdown() }
        let r1 = try await cluster.startRumor("r1")
        let r2 = try await cluster.startRumor("r2", join: [r1])
        let s1 = try await cluster.startSerf("s1", join: [r1])
        let all = [r1, r2, s1]
        try await cluster.expectView(statuses(all, "alive"), seenBy: all)
        let attacker = cluster.spareIP()
        let udp = try UDPSocket(bindIP: attacker)
        let source = attacker.split(separator: ".").map { UInt8($0)! }

        func expectOneWarning(_ what: String, after offset: Int, matching word: String) async throws {
            try await cluster.eventually("one warning in r1's log about \(what)") {
                let text = String(decoding: Data(cluster.log(of: r1).utf8).dropFirst(offset), as: UTF8.self)
                let hits = text.split(separator: "\n").filter { $0.contains("[WARN]") && $0.contains(word) }
                return hits.count == 1 ? [] : ["\(hits.count) warnings containing '\(word)': \(hits)"]
            }
            #expect(cluster.isRunning(r1), "r1 died after \(what)\n\(cluster.diagnostics())")
            try await cluster.expectView(statuses(all, "alive"), seenBy: all)
        }

        // 1. A query whose timeout is 2^63-1 ns, over UDP.
        var offset = cluster.log(of: r1).utf8.count
        let query = QueryMessage(
            ltime: 2, id: 1, addr: source, port: udp.port, sourceNode: "attacker", filters: nil, flags: 0,
            relayFactor: 0, timeout: .max, name: "huge-timeout", payload: nil)
        udp.send(MemberlistCodec.encode(.user(SerfCodec.encode(.query(query)))), to: r1.ip, port: Cluster.gossipPort)
        try await expectOneWarning("a query timeout of 2^63-1 ns", after: offset, matching: "clamped")

        // 2. A push-pull over TCP listing a left member at status time 2^64-1: answered, the rest merged.
        offset = cluster.log(of: r1).utf8.count
        let serfState = SerfPushPull(
            ltime: 2, statusLTimes: ["ghost": .max], leftMembers: ["ghost"], eventLTime: 1, events: [], queryLTime: 1)
        let pushPull = PushPull(join: false, nodes: [], userState: SerfCodec.encode(.pushPull(serfState)))
        let reply = try pushPullExchange(MemberlistCodec.encode(.pushPull(pushPull)), to: r1, from: attacker)
        guard case .pushPull(let answer) = try MemberlistCodec.decodeStream(reply) else {
            Issue.record("r1 did not answer the push-pull with its own state")
            return
        }
        #expect(Set(answer.nodes.map(\.name)) == ["r1", "r2", "s1"])
        try await expectOneWarning("a left member at 2^64-1", after: offset, matching: "Lamport time")

        // 3. A user event at 2^64-2; then `rumor event` on r1 and on r2 still goes out and arrives everywhere.
        offset = cluster.log(of: r1).utf8.count
        let poison = UserEventMessage(ltime: .max - 1, name: "poison", payload: nil, cc: false)
        udp.send(MemberlistCodec.encode(.user(SerfCodec.encode(.userEvent(poison)))), to: r1.ip, port: Cluster.gossipPort)
        try await expectOneWarning("a user event at 2^64-2", after: offset, matching: "Lamport time")
        for node in [r1, r2] {
            let sent = try await runCommand(
                cluster.rumorPath, ["event", "--coalesce", "false", "--rpc-addr", node.rpcAddr, "after-poison-\(node.name)"])
            #expect(sent.succeeded, "\(sent)")
        }
        #expect(cluster.isRunning(r1) && cluster.isRunning(r2), "\(cluster.diagnostics())")

        // 4. A join intent at 2^64-2; then force-leave and a graceful leave on SIGTERM both work.
        offset = cluster.log(of: r1).utf8.count
        let intent = JoinIntent(ltime: .max - 1, node: "r2")
        udp.send(MemberlistCodec.encode(.user(SerfCodec.encode(.join(intent)))), to: r1.ip, port: Cluster.gossipPort)
        try await expectOneWarning("a join intent at 2^64-2", after: offset, matching: "Lamport time")
        let forced = try await runCommand(cluster.rumorPath, ["force-leave", "--rpc-addr", r1.rpcAddr, "nobody"])
        #expect(forced.succeeded, "\(forced)")
        #expect(cluster.isRunning(r1), "r1 died on force-leave\n\(cluster.diagnostics())")
        let how = try await cluster.terminate(r1)
        #expect(how == "exited with status 0", "r1 on SIGTERM: \(how)\n\(cluster.diagnostics())")
        try await cluster.expectView(["r1": "left", "r2": "alive", "s1": "alive"], seenBy: [r2, s1])
        #expect(!cluster.log(of: r1).contains("Fatal error"), "\(cluster.diagnostics())")
    }

    /// Sends one push-pull over TCP and reads the agent's whole reply (it closes after replying).
    func pushPullExchange(_ message: [UInt8], to node: Cluster.Node, from source: String) throws -> [UInt8] {
        guard let fd = RawTCP.connect(to: node.ip, port: Cluster.gossipPort, from: source) else {
            throw HarnessError("\(node) refused the push-pull connection")
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard RawTCP.write(fd, message) else { throw HarnessError("\(node) hung up before the push-pull was sent") }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply += buffer.prefix(n)
            if MemberlistCodec.isCompleteStreamMessage(reply) { break }
        }
        guard !reply.isEmpty else { throw HarnessError("\(node) sent no push-pull reply") }
        return reply
    }
}
