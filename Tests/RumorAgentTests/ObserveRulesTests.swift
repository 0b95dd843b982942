@testable import RumorAgent
import RumorApps
@testable import RumorCLI
import RumorSupport
import Testing

/// The pure parts of seeing the cluster (docs/observe.md): the event ring the page polls with `since`, and the
/// progress lines `apps deploy --wait` prints on a terminal.
@Suite struct ObserveRulesTests {
    func entry(_ i: Int) -> ClusterEventLog.Entry { .init(time: UInt64(i), kind: "k", node: "n\(i)", app: "", text: "\(i)") }

    @Test func theEventRingKeepsTheNewest_andSinceGivesOnlyWhatIsNew() {
        var log = ClusterEventLog()
        for i in 1...5 { log.add(entry(i)) }
        #expect(log.after(0).map(\.text) == ["1", "2", "3", "4", "5"])
        #expect(log.after(3).map(\.text) == ["4", "5"])
        #expect(log.after(5).isEmpty && log.after(99).isEmpty)
        for i in 6...(ClusterEventLog.capacity + 10) { log.add(entry(i)) }
        #expect(log.entries.count == ClusterEventLog.capacity && log.entries.first?.text == "11")
        #expect(log.after(2).count == ClusterEventLog.capacity, "a client far behind gets what is left")
        #expect(log.json(since: log.total)["events"]?.arrayValue?.isEmpty == true)
    }

    func status(wave: Int?, nodes: [(String, String?, String?, Int)]) -> JSON {
        var rollout: [(String, JSON)] = [("state", .string("progressing"))]
        if let wave { rollout += [("wave", .number(Double(wave))), ("waves", .number(3))] }
        return .object([
            ("rollout", .object(rollout)),
            ("nodes", .array(nodes.map { name, hash, run, ready in
                var row: [(String, JSON)] = [("node", .string(name)), ("status", .string("alive")),
                                             ("ready", .array((0..<ready).map { _ in .string("x") }))]
                if let hash { row.append(("template_hash", .string(hash))) }
                if let run { row.append(("run", .string(run))) }
                return .object(row)
            })),
        ])
    }

    @Test func progressSaysTheWave_nodesAndContainersReady_andWhomItWaitsFor_onceEachChange() throws {
        let spec = try AppSpec.parse(#"{"docker_image": "site:v2", "replicas": 6}"#, name: "site", file: "t")
        let new = spec.templateHash
        var p = DeployProgress(app: "site", spec: spec)
        let first = status(wave: 1, nodes: [("w1", new, "progressing", 1), ("w2", "old", "converged", 2), ("w3", "old", "converged", 2)])
        // Each mutating call outside #expect: inside it, the macro's closure copied `p` while `line` mutated it
        // (a crash, swift_retain of a bad pointer, in CI).
        let line1 = p.line(first), again = p.line(first)
        #expect(line1 == "site: wave 1 of 3 · nodes 0/3 on it · containers 1/6 ready · waiting for w1 (progressing), w2 (previous spec), w3 (previous spec)")
        #expect(again == nil, "nothing changed: no line")
        let second = status(wave: 2, nodes: [("w1", new, "converged", 2), ("w2", new, "progressing", 0), ("w3", "old", "converged", 2)])
        let line2 = p.line(second)
        #expect(line2 == "site: wave 2 of 3 · nodes 1/3 on it · containers 2/6 ready · waiting for w2 (progressing), w3 (previous spec)")
        p.sawWave(3)
        p.finish(status(wave: nil, nodes: [("w1", new, "converged", 2), ("w2", new, "converged", 2), ("w3", new, "converged", 2)]))
        #expect(p.summary(seconds: 21.44) == "site: rolled out on every node: 3 waves, 6 of 6 containers ready, in 21.4 s")
        let stop = DeployProgress(app: "site", spec: nil)
        #expect(stop.describe(.object([("rollout", .object([("holding", .array([.string("w1")]))]))])) == "site: stopping, removing on w1")
        #expect(stop.summary(seconds: 2) == "site: stopped on every node, in 2.0 s")
    }
}
