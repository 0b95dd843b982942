import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RumorApps
import RumorContainers
import RumorDocker
import RumorSupport
import RumorTestSupport

/// The agent's side of the container action, recorded: tags set and events fired. The engine is real.
final class RecordingHost: ContainerHost {
    let nodeName: String
    let tags = NIOLockedValueBox<[String: String]>([:])
    let events = NIOLockedValueBox<[ContainerEvent]>([])
    /// Every value the app tag took, in order (to check capacity never dropped below a floor).
    let history = NIOLockedValueBox<[String: [String]]>([:])

    init(nodeName: String) { self.nodeName = nodeName }

    func setTags(_ changes: [String: String?]) async throws {
        tags.withLockedValue { tags in
            for (key, value) in changes { tags[key] = value }
        }
        history.withLockedValue { h in
            for (key, value) in changes { h[key, default: []].append(value ?? "") }
        }
    }

    func fire(_ event: ContainerEvent) { events.withLockedValue { $0.append(event) } }

    var recorded: [ContainerEvent] { events.withLockedValue { $0 } }
    var currentTags: [String: String] { tags.withLockedValue { $0 } }
    func values(_ key: String) -> [String] { history.withLockedValue { $0[key] ?? [] } }
    func forget() {
        history.withLockedValue { $0 = [:] }
        tags.withLockedValue { $0 = [:] }
    }

    func endpoints(_ app: String) -> [Endpoint] {
        AppTag.parse(tags.withLockedValue { $0[AppTag.key(app: app)] } ?? "").endpoints
    }
}

/// One container action on a unique node name, with its own apps directory; removes every container of that
/// node (by label, so nothing else) when done.
final class ContainerHarness: @unchecked Sendable {
    let node = "test-\(UInt32.random(in: 0...UInt32.max))"
    let directory: TemporaryDirectory
    let host: RecordingHost
    private(set) var action: ContainerAction
    private var task: Task<Void, Never>?
    let docker: DockerClient

    static func with(dockerHost: String? = ProcessInfo.processInfo.environment["DOCKER_HOST"], _ body: (ContainerHarness) async throws -> Void) async throws {
        let harness = try await ContainerHarness(dockerHost: dockerHost)
        do { try await body(harness) } catch {
            print("container action status at the failure: \(harness.action.status().serialized())")
            print("tags: \(harness.host.tags.withLockedValue { $0 })")
            await harness.cleanUp()
            throw error
        }
        await harness.cleanUp()
    }

    let dockerHost: String?

    private init(dockerHost: String?) async throws {
        self.dockerHost = dockerHost
        directory = try TemporaryDirectory("apps")
        host = RecordingHost(nodeName: node)
        docker = try await DockerClient.connect(socketPath: try DockerClient.environmentSocketPath(), group: MultiThreadedEventLoopGroup.singleton)
        action = Self.makeAction(directory.path, host, dockerHost: dockerHost)
        startAction()
    }

    static var engineGroup: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    static func makeAction(_ path: String, _ host: RecordingHost, dockerHost: String? = ProcessInfo.processInfo.environment["DOCKER_HOST"]) -> ContainerAction {
        var config = ContainerActionConfiguration(appsDir: path)
        config.poll = .milliseconds(200)
        var logger = Logger(label: "test")
        logger.logLevel = .info
        return ContainerAction(configuration: config, host: host, logger: logger,
                               engine: .docker(host: dockerHost, group: MultiThreadedEventLoopGroup.singleton))
    }

    func startAction() {
        let action = self.action
        task = Task { await action.run() }
    }

    /// Stops the action as a killed agent would stop: its containers stay.
    func stopAction() async {
        task?.cancel()
        await task?.value
    }

    func restartAction() {
        action = Self.makeAction(directory.path, host, dockerHost: dockerHost)
        startAction()
    }

    func write(_ app: String, _ json: String) throws {
        try json.write(toFile: "\(directory.path)/\(app).json.tmp", atomically: false, encoding: .utf8)
        rename("\(directory.path)/\(app).json.tmp", "\(directory.path)/\(app).json")
    }

    func containers(_ app: String? = nil) async throws -> [ContainerSummary] {
        var labels = ["\(RumorLabel.node)=\(node)"]
        if let app { labels.append("\(RumorLabel.app)=\(app)") }
        return try await docker.listContainers(labels: labels).sorted { $0.name < $1.name }
    }

    func status(_ app: String) -> JSON? {
        action.status().arrayValue?.first { $0["app"]?.stringValue == app }
    }

    /// A create the cancelled action had in flight may still complete in the engine, so look until the node's
    /// containers stay gone.
    func cleanUp() async {
        await stopAction()
        var quiet = 0
        for _ in 0..<50 where quiet < 3 {
            let left = (try? await containers()) ?? []
            for c in left { try? await docker.remove(c.id) }
            quiet = left.isEmpty ? quiet + 1 : 0
            try? await Task.sleep(for: .milliseconds(200))
        }
        directory.remove()
    }

    /// `count` consecutive free ports on loopback.
    static func freePorts(_ count: Int) throws -> Int {
        for _ in 0..<50 {
            // Below the kernel's ephemeral range (32768+ here and by default), where any outgoing connection of a
            // parallel test could hold the port by the time the engine binds it, and clear of the fixed ports
            // other suites use (18xxx, 26xxx, 28xxx).
            let base = Int.random(in: 29000...32000)
            if (0..<count).allSatisfy({ !TestNetwork.isListening(host: "127.0.0.1", port: base + $0) }) { return base }
        }
        throw TestNetwork.Failure(description: "no \(count) free consecutive ports")
    }

    static func get(_ port: Int) async -> String? {
        try? await offPool { try TestNetwork.get(host: "127.0.0.1", port: port).body }
    }
}
