import Foundation
import Testing
import RumorTestSupport
@testable import RumorCLI

/// Fifty real agents, and every user event at every handler within 2 s (issue 14). Before the ring successor about
/// one event in 70 missed one node of 50 entirely and reached it only with a push-pull, 30 s or more later: this
/// check, 40 events, caught that about half the time; the simulator's (EventDeliverySimulationTests) always does.
/// It runs in a phase of its own (scripts/test): 50 agents and their handlers want the machine.
@Suite struct EventDeliveryAgentTests {
    static let nodes = 50
    static let events = 40

    @Test func fiftyAgents_everyEventAtEveryHandlerWithinTwoSeconds() async throws {
        let c = try E2ECluster(subnet: 96)
        defer { c.shutdown() }
        let handler = try c.script("handler.sh", "cat >> \"\(c.directory.path)/$1.events\"; echo >> \"\(c.directory.path)/$1.events\"")
        var agents: [E2ECluster.Node] = []
        for i in 1...Self.nodes {
            let name = "ev\(i)"
            let join = agents.first.map { ["--join", $0.gossipAddr] } ?? []
            agents.append(try await c.startRumor(name, join + ["--event-handler", "user:probe=\(handler) \(name)"]))
        }
        let everyone = Dictionary(uniqueKeysWithValues: agents.map { ($0.name, "alive") })
        try await c.expectView(everyone, seenBy: agents, timeout: .seconds(30))

        var late: [String] = []
        for k in 1...Self.events {
            let payload = "e\(k)"
            let sender = agents[(k * 17) % Self.nodes]  // spread over the cluster, the same every run
            let client = try RPCClient(address: sender.rpcAddr, authKey: nil, timeout: .seconds(5))
            let sent = ContinuousClock.now
            try client.userEvent(name: "probe", payload: Array(payload.utf8), coalesce: false)
            client.close()
            var missing = agents
            var onTime = false
            do {
                try await eventually("\(payload) at every handler", timeout: .seconds(2) - (ContinuousClock.now - sent),
                                     every: .milliseconds(20)) {
                    missing.removeAll { c.read(c.file("\($0.name).events")).contains(payload + "\n") }
                    return missing.isEmpty
                }
                // The last look may come just past the deadline: the bound is 2 s from the send, not 2 s of looking.
                onTime = ContinuousClock.now - sent <= .seconds(2)
            } catch is DeadlineExceeded {}
            if !onTime { late.append("\(payload) from \(sender.name) not at \(missing.map(\.name)) within 2 s") }
        }
        #expect(late.isEmpty, "\(late.count) of \(Self.events) events late:\n\(late.joined(separator: "\n"))")
    }
}
