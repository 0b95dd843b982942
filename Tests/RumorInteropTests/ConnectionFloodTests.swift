#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RumorWire
import Testing

extension InteropTests.Range {
    static let connectionFlood = 83  // 60-67 and 72 are HAProxyLiveTests backends
    static let descriptorExhaustion = 84
}

extension InteropTests {
    /// Issue 9, acceptance 2: 2,000 idle TCP connections to the gossip port and 1,000 to the RPC port, against an
    /// agent started with the usual service soft limit of 1,024 open files. While they are held a new peer joins,
    /// a push-pull is answered and `rumor members` answers within 1 s; every idle connection is closed after the
    /// 10 s deadline; the agent's CPU stays under 10% of a core; one address gets at most 128 streams at once.
    @Test("2,000 idle gossip and 1,000 idle RPC connections: agent serves, closes them at 10 s, stays idle")
    func idleConnectionFloodIsSurvived() async throws {
        let cluster = try Cluster(testIndex: Range.connectionFlood)
        defer { cluster.shutdown() }
        let r1 = try await cluster.startRumor("r1", softFileLimit: 1024)
        let r2 = try await cluster.startRumor("r2", join: [r1])
        // r3 starts now and joins during the flood by `rumor join`: the harness starts agents with Foundation's
        // Process, which must not run while this process holds thousands of descriptors (see runCommand).
        let r3 = try await cluster.startRumor("r3")
        try await cluster.expectView(statuses([r1, r2], "alive"), seenBy: [r1, r2])
        #expect(cluster.log(of: r1).contains("raised the open-file limit from 1024"), "\(cluster.diagnostics())")
        let pid = try #require(cluster.pid(of: r1))

        // 16 addresses × 125 gossip connections (under the 128-per-address cap), 8 × 125 RPC connections.
        let clock = ContinuousClock()
        let opened = clock.now
        var gossip: [Int32] = []
        var rpc: [Int32] = []
        defer { for fd in gossip + rpc { close(fd) } }
        for i in 0..<2000 {
            if let fd = RawTCP.connect(to: r1.ip, port: Cluster.gossipPort, from: cluster.spareIP(200 + i / 125)) { gossip.append(fd) }
        }
        for i in 0..<1000 {
            if let fd = RawTCP.connect(to: r1.ip, port: Cluster.rpcPort, from: cluster.spareIP(220 + i / 125)) { rpc.append(fd) }
        }
        let cpuBefore = cpuSeconds(pid)
        let openedIn = clock.now - opened
        #expect(gossip.count == 2000 && rpc.count == 1000, "connected \(gossip.count) gossip, \(rpc.count) RPC")

        // While they are held: members within 1 s, a push-pull answered, a new peer joins.
        let membersStart = clock.now
        let members = try await runCommand(cluster.rumorPath, ["members", "--rpc-addr", r1.rpcAddr])
        let membersTook = clock.now - membersStart
        #expect(members.succeeded && members.stdout.contains("r2"), "\(members)")
        // 1 s for a release agent (the bound; measured 0.12-0.31 s); a debug agent next to the rest of the
        // suite on two cores gets 3 s (seen: 1.17 s).
        #expect(membersTook < (cluster.rumorPath.contains("/release/") ? .seconds(1) : .seconds(3)), "rumor members took \(membersTook)")
        let pushPull = PushPull(join: false, nodes: [], userState: [])
        let reply = try pushPullExchange(MemberlistCodec.encode(.pushPull(pushPull)), to: r1, from: cluster.spareIP(240))
        #expect(try MemberlistCodec.decodeStream(reply).isPushPull, "push-pull reply \(reply.prefix(16))")
        let joined = try await runCommand(cluster.rumorPath, ["join", "--rpc-addr", r3.rpcAddr, r1.gossipAddr])
        #expect(joined.succeeded, "\(joined)")
        try await cluster.expectView(statuses([r1, r2, r3], "alive"), seenBy: [r1, r3], timeout: .seconds(8))
        let heldFor = clock.now - opened
        #expect(heldFor < .seconds(10), "the checks ran while the connections were held? \(heldFor)")
        let stillOpen = gossip.filter { !isClosed($0) }.count + rpc.filter { !isClosed($0) }.count
        #expect(stillOpen > 2900, "connections closed before the deadline: \(3000 - stillOpen) (after \(heldFor))")

        // Past the deadline, every idle connection is closed by the agent.
        try await cluster.eventually("r1 closes every idle connection after 10 s", timeout: .seconds(20), interval: .milliseconds(500)) {
            let open = gossip.filter { !isClosed($0) }.count + rpc.filter { !isClosed($0) }.count
            return open == 0 ? [] : ["\(open) still open after \(clock.now - opened)"]
        }
        let closedAfter = clock.now - opened
        let cpu = cpuSeconds(pid) - cpuBefore
        let wall = Double((clock.now - opened - openedIn).components.seconds) + Double((clock.now - opened - openedIn).components.attoseconds) / 1e18
        print("3,000 idle connections opened in \(openedIn); members took \(membersTook); all closed by \(closedAfter); r1 used \(cpu) s CPU over \(wall) s (\(Int(100 * cpu / wall))% of a core)")
        // 10% of a core for the release agent (the bound); a debug build does the same work several times
        // slower, so it gets 25%.
        let cpuBound = cluster.rumorPath.contains("/release/") ? 0.10 : 0.25
        #expect(cpu / wall < cpuBound, "r1 CPU \(cpu) s over \(wall) s")
        #expect(cluster.isRunning(r1), "\(cluster.diagnostics())")

        // One address gets 128 streams; the rest are closed at once.
        var one: [Int32] = []
        defer { for fd in one { close(fd) } }
        for _ in 0..<200 {
            if let fd = RawTCP.connect(to: r1.ip, port: Cluster.gossipPort, from: cluster.spareIP(241)) { one.append(fd) }
        }
        try await cluster.eventually("streams beyond 128 from one address are closed at once", timeout: .seconds(5)) {
            let open = one.filter { !isClosed($0) }.count
            return open == 128 ? [] : ["\(open) of \(one.count) open"]
        }
    }

    /// True when the peer has closed (EOF or reset); false while the connection is idle and open.
    /// Out of file descriptors for good (hard limit 24, of which the agent uses about 19 at rest): accept fails with
    /// EMFILE. The agent pauses accepting and logs it once per 5 s instead of retrying in a busy loop, and serves
    /// again once the flood is gone. (With a usual limit the stream cap, a quarter of it, keeps this from happening.)
    @Test("accept at EMFILE: one log line per pause, no busy loop, service back after the idle connections close")
    func acceptBacksOffWhenOutOfDescriptors() async throws {
        let cluster = try Cluster(testIndex: Range.descriptorExhaustion)
        defer { cluster.shutdown() }
        let r1 = try await cluster.startRumor("r1", softFileLimit: 24, hardFileLimit: 24)
        let pid = try #require(cluster.pid(of: r1))
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for i in 0..<200 {
            if let fd = RawTCP.connect(to: r1.ip, port: Cluster.gossipPort, from: cluster.spareIP(200 + i / 100)) { held.append(fd) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        let cpuBefore = cpuSeconds(pid)
        try await cluster.eventually("r1 says accept failed and pauses", timeout: .seconds(5)) {
            cluster.log(of: r1).contains("accept failed") ? [] : ["no accept failure logged yet"]
        }
        // Hold them (the kernel completes handshakes the agent has not accepted): meanwhile it must idle, not spin.
        let spinStart = cpuSeconds(pid)
        try await Task.sleep(for: .seconds(4))  // a measurement window, not a wait for anything
        let spin = cpuSeconds(pid) - spinStart
        #expect(spin / 4 < 0.10, "r1 used \(spin) s CPU in 4 s while out of descriptors")
        // The flood goes away; the agent serves again.
        for fd in held { close(fd) }
        held = []
        try await cluster.eventually("r1 answers RPC again", timeout: .seconds(25), interval: .milliseconds(500)) {
            let out = try await runCommand(cluster.rumorPath, ["members", "--rpc-addr", r1.rpcAddr], timeout: .seconds(3))
            return out.succeeded ? [] : ["\(out)"]
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let cpu = cpuSeconds(pid) - cpuBefore
        let lines = cluster.log(of: r1).split(separator: "\n").filter { $0.contains("accept failed") }
        print("EMFILE: \(lines.count) log line(s) in \(elapsed); r1 used \(spin) s CPU in 4 s out of descriptors, \(cpu) s in all")
        // Two listeners (gossip and RPC), each at most one line per 5 s.
        #expect(lines.count <= 2 * (1 + Int(seconds / 5)), "accept failures logged \(lines.count) times: \(lines.prefix(5))")
        #expect(cluster.isRunning(r1), "\(cluster.diagnostics())")
    }

    /// Reads away anything the agent sent first (a timeout's error reply).
    private func isClosed(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }

    /// User plus system CPU seconds of process `pid`, from /proc.
    private func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

extension MemberlistMessage {
    var isPushPull: Bool { if case .pushPull = self { true } else { false } }
}
