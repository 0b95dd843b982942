import Logging
import NIOCore
import NIOPosix
import RumorAgent
import Testing

/// A run can be replayed in the simulator only if the protocol instance's seed is known.
@Suite struct AgentSeedTests {
    @Test func theAgentLogsItsProtocolSeedAtDebugLevel() async throws {
        let logs = LogCapture()
        var config = AgentConfiguration()
        config.nodeName = "seed"
        config.bind = "127.0.0.1:0"
        config.rpcAddr = "127.0.0.1:0"
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let agent = try await Agent.start(configuration: config, eventLoop: loop, logger: logs.logger).get()
        _ = try? await agent.shutdown().get()
        let line = try #require(logs.messages(.debug).first { $0.contains("protocol instance seed") })
        #expect(UInt64(line.split(separator: " ").last ?? "") != nil, "\(line)")
    }
}
