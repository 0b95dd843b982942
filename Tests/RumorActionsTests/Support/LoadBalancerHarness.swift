import Foundation
import Logging
import RumorCore
import RumorWire
@testable import RumorActions
import RumorTestSupport

/// A running HAProxyAction (with the HAProxy it supervises) on 127.0.<subnet>.1, plus the backends of a test.
/// Each test uses its own /24 of the loopback range so tests never share addresses.
final class LoadBalancer: @unchecked Sendable {
    let action: HAProxyAction
    let directory: TemporaryDirectory
    let subnet: Int
    let host: String
    let port: Int
    let statsPort: Int
    private(set) var backends: [String: TestBackendServer] = [:]
    private let lock = NSLock()

    static func testLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        let level = ProcessInfo.processInfo.environment["RUMOR_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .error
        return logger
    }

    init(subnet: Int, configure: (inout HAProxyActionConfiguration) -> Void) throws {
        directory = try TemporaryDirectory("lb\(subnet)")
        self.subnet = subnet
        host = "127.0.\(subnet).1"
        port = try TestNetwork.freePort(host: host)
        statsPort = try TestNetwork.freePort(host: host)
        var config = HAProxyActionConfiguration()
        config.output = directory.file("haproxy.cfg")
        config.template = "builtin:http"
        config.haproxyBinary = TestBackendServer.haproxyBinary
        config.masterSocket = directory.file("master.sock")
        config.statsSocket = directory.file("admin.sock")
        config.frontendBind = "\(host):\(port)"
        config.statsBind = "\(host):\(statsPort)"
        config.slots = 4
        configure(&config)
        try config.validate()
        action = HAProxyAction(configuration: config, nodeName: "lb", logger: Self.testLogger("test.lb\(subnet)"))
    }

    var configuration: HAProxyActionConfiguration { action.configuration }
    var api: HAProxyRuntimeAPI {
        HAProxyRuntimeAPI(statsSocket: configuration.statsSocket, masterSocket: configuration.masterSocket)
    }

    /// The load balancer's own member (no role tag: never selected).
    var selfMember: Member {
        Member(name: "lb", address: Address(host: host, port: 7946)!, tags: ["role": "lb"], status: .alive, vsn: [])
    }

    func startBackend(_ name: String, index: Int) async throws -> TestBackendServer {
        let backendHost = "127.0.\(subnet).\(10 + index)"
        let server = try await TestBackendServer.start(name: name, host: backendHost, directory: directory)
        lock.withLock { backends[name] = server }
        return server
    }

    /// Hands the action a snapshot: the LB itself plus `members`.
    func publish(_ members: [Member]) {
        action.membersChanged([selfMember] + members)
    }

    func get(path: String = "/") async throws -> TestNetwork.Response {
        let (host, port) = (self.host, self.port)
        return try await offPool { try TestNetwork.get(host: host, port: port, path: path) }
    }

    /// The name of the backend that served one request; throws if the request failed.
    func servedBy() async throws -> String {
        let response = try await get()
        guard response.status == 200 else {
            throw TestNetwork.Failure(description: "HTTP \(response.status): \(response.body.prefix(200))")
        }
        return response.body
    }

    func statsPage() async throws -> String {
        let (host, port) = (self.host, statsPort)
        return try await offPool { try TestNetwork.get(host: host, port: port, path: "/;csv").body }
    }

    func serversState() async throws -> [String: ServerRuntimeState] {
        let api = self.api
        let backend = configuration.backendName
        return try await offPool { try api.serversState(backend: backend) }
    }

    func processList() async throws -> HAProxyProcessList {
        let api = self.api
        return try await offPool { try api.processList() }
    }

    func stopBackends() {
        let all = lock.withLock { Array(backends.values) }
        for b in all { b.kill() }
    }

    /// Runs `body` while the action runs; afterwards cancels the action (which stops HAProxy), kills the
    /// backends and removes the directory, whatever happened.
    static func with(
        subnet: Int, configure: (inout HAProxyActionConfiguration) -> Void = { _ in },
        _ body: @Sendable (LoadBalancer) async throws -> Void
    ) async throws {
        let lb = try LoadBalancer(subnet: subnet, configure: configure)
        defer {
            lb.stopBackends()
            lb.directory.remove()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await lb.action.run() }
            do {
                try await body(lb)
            } catch {
                group.cancelAll()
                try? await group.waitForAll()
                throw error
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// Waits until the action has applied everything handed to it so far and HAProxy runs.
    func waitUntilApplied(timeout: Duration = .seconds(10)) async throws {
        let target = action.statistics.snapshots
        try await eventually("action applied snapshot \(target)", timeout: timeout) {
            action.statistics.appliedSnapshot >= target
        }
    }
}
