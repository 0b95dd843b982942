import Foundation
import Logging
import RumorApps
import RumorContainers
import RumorCore
import RumorDocker
import RumorSupport
import RumorTestSupport
import RumorWire
import Testing

/// `replicas` across three nodes' container actions sharing the real engine. Membership is fed by the test in
/// place of gossip (gossip itself is tested elsewhere): every 100 ms each action sees the three nodes with the tags
/// their hosts last set, as an agent's member list would show them.
@Suite(.serialized) struct ReplicaActionTests {
    final class Node: @unchecked Sendable {
        let host: RecordingHost
        let action: ContainerAction
        var task: Task<Void, Never>?
        var status: MemberStatus = .alive
        init(_ name: String, apps: String) {
            host = RecordingHost(nodeName: name)
            var config = ContainerActionConfiguration(appsDir: apps)
            config.poll = .milliseconds(200)
            action = ContainerAction(configuration: config, host: host, logger: Logger(label: "test"))
        }
    }

    @Test func sixReplicasSpreadOverThreeNodesAndMoveOffAFailedOne() async throws {
        let apps = try TemporaryDirectory("replicas")
        defer { apps.remove() }
        let tag = UInt32.random(in: 0...UInt32.max)
        let nodes = (1...3).map { Node("r\(tag)-\($0)", apps: apps.path) }
        let base = try ContainerHarness.freePorts(6)
        try """
            {"docker_image": "rumor-site:v1", "replicas": 6, "max_per_node": 3, "starting_ports": [{"\(base)": "80"}], "host_ip": "127.0.0.1",
             "stable_after": "1s", "lost_after": "3s", "stop_grace": "1s", "drain": "200ms"}
            """.write(toFile: apps.path + "/web.json", atomically: true, encoding: .utf8)
        let gossip = Task {
            while !Task.isCancelled {
                let members = nodes.map { n in
                    Member(name: n.host.nodeName, address: Address(host: "127.0.0.1", port: 7946)!,
                           tags: n.host.currentTags, status: n.status, vsn: [])
                }
                for n in nodes where n.status == .alive { n.action.membersChanged(members) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        for n in nodes { n.task = Task { await n.action.run() } }
        let docker = try await DockerClient.connect(socketPath: "/var/run/docker.sock", group: ContainerHarness.engineGroup)
        defer {
            gossip.cancel()
            for n in nodes { n.action.stop() }
        }
        /// Containers outlive actions by design: remove each node's, by its label, whatever the outcome.
        func removeAll() async {
            for n in nodes {
                n.action.stop()
                await n.task?.value
                for c in (try? await docker.listContainers(labels: ["io.rumor.node=\(n.host.nodeName)"])) ?? [] {
                    try? await docker.remove(c.id)
                }
            }
        }
        func advertised(_ ns: [Node]) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: ns.map { ($0.host.nodeName, $0.host.endpoints("web").count) })
        }
        do {
            // Rendezvous hashing spreads slots by weight, not evenly: max_per_node bounds a node's share.
            try await eventually("6 replicas, at most 3 per node", timeout: .seconds(60)) {
                let counts = advertised(nodes).values
                return counts.reduce(0, +) == 6 && counts.allSatisfy { $0 <= 3 }
            }
            let initial = advertised(nodes).values.sorted()
            let slots = nodes.flatMap { $0.host.endpoints("web").map(\.slot) }.sorted()
            #expect(slots == [1, 2, 3, 4, 5, 6])

            // The node with the most replicas dies: its agent stops, its containers go, the others see it failed.
            let dead = nodes.max { $0.host.endpoints("web").count < $1.host.endpoints("web").count }!
            let survivors = nodes.filter { $0 !== dead }
            dead.action.stop()
            await dead.task?.value
            for c in try await docker.listContainers(labels: ["io.rumor.node=\(dead.host.nodeName)"]) { try await docker.remove(c.id) }
            dead.status = .failed
            let failedAt = ContinuousClock.now
            try await eventually("its 2 replicas restarted on the other two", timeout: .seconds(60)) {
                advertised(survivors).values.reduce(0, +) == 6
            }
            print("replicas: 6 on 3 nodes (\(initial)); a failed node's share serves elsewhere \(ContinuousClock.now - failedAt) after (lost_after 3 s)")
        } catch {
            print("advertised: \(advertised(nodes))")
            await removeAll()
            throw error
        }
        await removeAll()

    }
}
