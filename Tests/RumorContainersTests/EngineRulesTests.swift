import Foundation
import Logging
import RumorApps
import RumorContainers
import RumorDocker
import RumorSupport
import RumorTestSupport
import Testing

/// The container action's rules on the in-memory engine (the `ContainerEngine` seam): reconcile, heal, replace an
/// unhealthy container, report the engine's own error and retry, roll one at a time, survive an engine restart and
/// an agent restart without a duplicate, and what 1,000 containers over 50 nodes cost. The live-engine suites keep
/// the Docker client itself covered. Serialized, and the waits bound failures generously: they run in the main test
/// phase beside hundreds of other tests on two cores, where the action's tasks wait their turn (CI saw 5 s bounds
/// run out); the 1,000-container test runs in the container phase, where it is not starved (scripts/test).
@Suite(.serialized) struct EngineRulesTests {
    static func spec(image: String = "site:v1", count: Int = 3, extra: String = "") -> String {
        #"{"docker_image": "\#(image)", "containers_per": {"server": \#(count)}, "starting_ports": [{"9000": "80"}], "drain": "0s", "stop_grace": "0s", "update": {"delay": "0s"}, "restart": {"delay": "10ms", "max_delay": "100ms"}\#(extra)}"#
    }

    /// One node's container action on a shared in-memory engine.
    final class Node: @unchecked Sendable {
        let host: RecordingHost
        let action: ContainerAction
        private var task: Task<Void, Never>?

        init(_ name: String, engine: InMemoryEngine, appsDir: String) {
            host = RecordingHost(nodeName: name)
            var config = ContainerActionConfiguration(appsDir: appsDir)
            config.poll = .milliseconds(50)
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            action = ContainerAction(configuration: config, host: host, logger: logger, engine: EngineConnector { engine })
            let action = self.action
            task = Task { await action.run() }
        }

        func stop() async {
            task?.cancel()
            await task?.value
        }

        func lastError(_ app: String) -> String {
            action.status().arrayValue?.first { $0["app"]?.stringValue == app }?["last_error"]?.stringValue ?? ""
        }
    }

    static func withNode(_ body: (InMemoryEngine, Node, TemporaryDirectory) async throws -> Void) async throws {
        let engine = InMemoryEngine(images: ["site:v1", "site:v2"])
        let dir = try TemporaryDirectory("apps")
        let node = Node("n1", engine: engine, appsDir: dir.path)
        do { try await body(engine, node, dir) } catch {
            print("status: \(node.action.status().serialized())")
            await node.stop()
            throw error
        }
        await node.stop()
        dir.remove()
    }

    static func write(_ dir: TemporaryDirectory, _ json: String) throws {
        try json.write(toFile: dir.path + "/site.json.tmp", atomically: false, encoding: .utf8)
        rename(dir.path + "/site.json.tmp", dir.path + "/site.json")
    }

    @Test func reconcile_createsLabelledContainers_andAdvertisesThem() async throws {
        try await Self.withNode { engine, node, dir in
            try Self.write(dir, Self.spec())
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            #expect(node.host.endpoints("site").map(\.port) == [9000, 9001, 9002])
            let made = engine.containers(labels: ["io.rumor.app": "site", "io.rumor.node": "n1"])
            #expect(made.map(\.name) == ["rumor-site-n1-1", "rumor-site-n1-2", "rumor-site-n1-3"])
            #expect(made.map { $0.config.labels["io.rumor.slot"] ?? "" } == ["1", "2", "3"])
            #expect(node.host.recorded.filter { $0.kind == .start }.count == 3)
        }
    }

    @Test func anExitedContainer_isReplaced_andTheEventsSaySo() async throws {
        try await Self.withNode { engine, node, dir in
            try Self.write(dir, Self.spec())
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            let victim = try #require(engine.containers().first { $0.name == "rumor-site-n1-2" })
            engine.exit(victim.id, code: 137)
            try await eventually("slot 2 replaced", timeout: .seconds(30)) {
                let now = engine.containers().first { $0.name == "rumor-site-n1-2" }
                return now != nil && now?.id != victim.id && now?.running == true && node.host.endpoints("site").count == 3
            }
            let kinds = node.host.recorded.filter { $0.slot == 2 }.map(\.kind)
            #expect(kinds.contains(.exit) && kinds.contains(.replaced), "\(kinds)")
            #expect(node.host.recorded.first { $0.kind == .exit }?.exitCode == 137)
        }
    }

    @Test func anUnhealthyContainer_isWithdrawn_andReplaced() async throws {
        try await Self.withNode { engine, node, dir in
            try Self.write(dir, Self.spec(extra: #", "healthcheck": {"cmd": "true", "interval": "1s"}"#))
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            let victim = try #require(engine.containers().first { $0.name == "rumor-site-n1-1" })
            engine.turnUnhealthy(victim.id)
            try await eventually("slot 1 replaced by a healthy one", timeout: .seconds(30)) {
                let now = engine.containers().first { $0.name == "rumor-site-n1-1" }
                return now?.id != victim.id && now?.health == "healthy" && node.host.endpoints("site").count == 3
            }
            #expect(node.host.values(AppTag.key(app: "site")).contains { AppTag.parse($0).endpoints.count == 2 }, "withdrawn first")
            #expect(node.host.recorded.contains { $0.kind == .unhealthy && $0.slot == 1 })
        }
    }

    @Test func aFailedCreate_showsTheEnginesMessage_andIsRetried() async throws {
        try await Self.withNode { engine, node, dir in
            engine.failNextCreate("no space left on device")
            try Self.write(dir, Self.spec(count: 1))
            try await eventually("the engine's message in apps ls", timeout: .seconds(30)) {
                node.lastError("site").contains("create rumor-site-n1-1: no space left on device")
            }
            try await eventually("the retry", timeout: .seconds(30)) { node.host.endpoints("site").count == 1 }
        }
    }

    /// v1 → v2: one container at a time, never fewer than two of three advertised, every container on v2 at the end.
    @Test func anUpdate_replacesOneAtATime() async throws {
        try await Self.withNode { engine, node, dir in
            try Self.write(dir, Self.spec())
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            node.host.forget()
            try Self.write(dir, Self.spec(image: "site:v2"))
            try await eventually("three on v2", timeout: .seconds(30)) {
                let all = engine.containers(labels: ["io.rumor.app": "site"])
                return all.count == 3 && all.allSatisfy { $0.config.image == "site:v2" && $0.running } && node.host.endpoints("site").count == 3
            }
            let fewest = node.host.values(AppTag.key(app: "site")).map { AppTag.parse($0).endpoints.count }.min() ?? 3
            #expect(fewest >= 2, "one at a time: \(node.host.values(AppTag.key(app: "site")))")
        }
    }

    /// An app on a network (no host ports), its image ignoring SIGTERM: every stop takes the whole stop grace.
    static func networkSpec(image: String, order: String) -> String {
        #"{"docker_image": "\#(image)", "containers_per": {"server": 3}, "networks": ["web"], "advertise": {"network": "web", "port": 80}, "drain": "0s", "stop_grace": "10s", "update": {"delay": "0s", "order": "\#(order)"}, "healthcheck": {"cmd": "true", "interval": "1s"}}"#
    }

    /// Start-first v1 → v2: all three stay advertised throughout, and the roll finishes while every old container
    /// is still in its stop grace (stops overlap the next steps instead of blocking them).
    @Test func startFirst_neverDropsAnEndpoint_andOldStopsOverlapTheRoll() async throws {
        try await Self.withNode { engine, node, dir in
            defer { engine.releaseStops() }
            try Self.write(dir, Self.networkSpec(image: "site:v1", order: "start-first"))
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            node.host.forget()
            engine.holdStops()
            try Self.write(dir, Self.networkSpec(image: "site:v2", order: "start-first"))
            try await eventually("three on v2 serving, the old ones still stopping", timeout: .seconds(30)) {
                let all = engine.containers(labels: ["io.rumor.app": "site"])
                let new = all.filter { $0.config.image == "site:v2" && $0.running && $0.health == "healthy" }
                let served = Set(node.host.endpoints("site").compactMap(\.host))
                return new.count == 3 && served == Set(new.map { "10.1.0.\($0.id.suffix(3))" })
            }
            #expect(engine.containers(labels: ["io.rumor.app": "site"]).filter { $0.config.image == "site:v1" }.count == 3)
            let fewest = node.host.values(AppTag.key(app: "site")).map { AppTag.parse($0).endpoints.count }.min() ?? 3
            #expect(fewest == 3, "start-first: \(node.host.values(AppTag.key(app: "site")))")
            engine.releaseStops()
            try await eventually("the old ones removed", timeout: .seconds(30)) {
                engine.containers(labels: ["io.rumor.app": "site"]).count == 3
            }
        }
    }

    /// Stop-first without host ports: the old container is withdrawn before its replacement starts, but its stop
    /// grace runs beside the rest of the roll.
    @Test func stopFirst_withoutHostPorts_doesNotWaitOutTheStopGrace() async throws {
        try await Self.withNode { engine, node, dir in
            defer { engine.releaseStops() }
            try Self.write(dir, Self.networkSpec(image: "site:v1", order: "stop-first"))
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            node.host.forget()
            engine.holdStops()
            try Self.write(dir, Self.networkSpec(image: "site:v2", order: "stop-first"))
            try await eventually("three on v2 while the old ones stop", timeout: .seconds(30)) {
                let new = engine.containers(labels: ["io.rumor.app": "site"]).filter { $0.config.image == "site:v2" && $0.running }
                return new.count == 3 && node.host.endpoints("site").count == 3
            }
            let fewest = node.host.values(AppTag.key(app: "site")).map { AppTag.parse($0).endpoints.count }.min() ?? 3
            #expect(fewest >= 2, "one at a time: \(node.host.values(AppTag.key(app: "site")))")
        }
    }

    /// With host ports the new container needs the old one's port: the replacement waits until the old one is gone.
    @Test func stopFirst_withHostPorts_waitsForThePort() async throws {
        try await Self.withNode { engine, node, dir in
            defer { engine.releaseStops() }
            try Self.write(dir, Self.spec())
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            engine.holdStops()
            try Self.write(dir, Self.spec(image: "site:v2"))
            try await eventually("the first stop", timeout: .seconds(30)) { engine.calls("stop") >= 1 }
            #expect(engine.containers().filter { $0.config.image == "site:v2" }.isEmpty)
            engine.releaseStops()
            try await eventually("three on v2", timeout: .seconds(30)) {
                let all = engine.containers(labels: ["io.rumor.app": "site"])
                return all.count == 3 && all.allSatisfy { $0.config.image == "site:v2" && $0.running }
            }
        }
    }

    /// An engine that runs no health checks by itself (Podman without systemd): the worker runs them at their
    /// interval, so the containers turn healthy and are advertised; an engine that runs its own is never asked.
    @Test func healthChecksTheEngineDoesNotRun_theWorkerRuns() async throws {
        try await Self.withNode { engine, node, dir in
            engine.runChecksOnDemand()
            try Self.write(dir, Self.spec(extra: #", "healthcheck": {"cmd": "true", "interval": "100ms"}"#))
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            #expect(engine.calls("healthcheck") >= 3)
        }
        try await Self.withNode { engine, node, dir in
            try Self.write(dir, Self.spec(extra: #", "healthcheck": {"cmd": "true", "interval": "100ms"}"#))
            try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
            #expect(engine.calls("healthcheck") == 0)
        }
    }

    /// The engine restarts under the action, then the agent does: both times the containers are adopted, not made
    /// again, and nothing is duplicated.
    @Test func engineAndAgentRestarts_adoptTheContainers() async throws {
        let engine = InMemoryEngine(images: ["site:v1"])
        let dir = try TemporaryDirectory("apps")
        defer { dir.remove() }
        try Self.write(dir, Self.spec())
        var node = Node("n1", engine: engine, appsDir: dir.path)
        do { try await restarts(engine, &node, dir) } catch {
            await node.stop()  // a failed test leaves no action running beside the other tests
            throw error
        }
        await node.stop()
    }

    private func restarts(_ engine: InMemoryEngine, _ node: inout Node, _ dir: TemporaryDirectory) async throws {
        try await eventually("three endpoints", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
        let ids = engine.containers().map(\.id)
        let creates = engine.calls("create")
        let lists = engine.calls("list")
        engine.restart()
        try await eventually("the action to follow the engine again and look", timeout: .seconds(30)) {
            engine.calls("events") == 2 && engine.calls("list") > lists
        }
        #expect(engine.containers().map(\.id) == ids && engine.calls("create") == creates)
        await node.stop()
        node = Node("n1", engine: engine, appsDir: dir.path)
        try await eventually("the restarted agent advertises them", timeout: .seconds(30)) { node.host.endpoints("site").count == 3 }
        #expect(engine.containers().map(\.id) == ids && engine.calls("create") == creates)
    }

    /// What the reconciler costs: 50 nodes' actions on one engine, 20 containers each, from nothing to all
    /// advertised, and the engine calls it took.
    @Test func aThousandContainersOverFiftyNodes() async throws {
        let engine = InMemoryEngine(images: ["site:v1"])
        let dir = try TemporaryDirectory("apps")
        defer { dir.remove() }
        let nodes = (1...50).map { Node("n\($0)", engine: engine, appsDir: dir.path) }
        let started = ContinuousClock.now
        do {
            try Self.write(dir, Self.spec(count: 20))
            try await eventually("1,000 containers advertised", timeout: .seconds(60)) {
                nodes.allSatisfy { $0.host.endpoints("site").count == 20 }
            }
        } catch {
            for node in nodes { await node.stop() }  // fifty actions left running would starve every later test
            throw error
        }
        let took = ContinuousClock.now - started
        print("1,000 containers over 50 nodes on the in-memory engine: all advertised in \(took); engine calls: create \(engine.calls("create")), list \(engine.calls("list")), inspect \(engine.calls("inspect"))")
        #expect(engine.containers().count == 1000 && engine.calls("create") == 1000, "none made twice")
        for node in nodes { await node.stop() }
    }
}
