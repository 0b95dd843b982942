import Logging
import NIOCore
import NIOPosix
import RumorAgent
import Synchronization
import Testing

/// An RPCServer on an ephemeral loopback port in front of a FakeBackend, torn down after `body`.
struct RPCHarness: Sendable {
    let backend: FakeBackend
    let server: RPCServer
    let logs: LogCapture
    let port: Int

    var address: String { "127.0.0.1:\(port)" }

    static func with(
        authKey: String? = nil, joinDelay: TimeAmount = .zero, _ body: (RPCHarness) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = FakeBackend(eventLoop: group.next(), joinDelay: joinDelay)
        let logs = LogCapture()
        let server = RPCServer(backend: backend, authKey: authKey, logger: logs.logger)
        var failure: (any Error)?
        do {
            try await server.start(host: "127.0.0.1", port: 0).get()
            let port = try #require(server.localAddress?.port)
            try await body(RPCHarness(backend: backend, server: server, logs: logs, port: port))
        } catch {
            failure = error
        }
        try? await server.close().get()
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }

    /// Runs the real serf CLI against this server: `serf <command> -rpc-addr=<us> <args...>`.
    func serf(_ command: String, _ args: String..., environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await Subprocess.run(
            "/usr/bin/serf", [command, "-rpc-addr=\(address)"] + args, environment: environment, timeout: .seconds(20))
    }
}
