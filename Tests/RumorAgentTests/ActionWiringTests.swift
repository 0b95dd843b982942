import Foundation
import Logging
import NIOPosix
import RumorActions
import RumorAgent
import RumorTestSupport
import Testing
@testable import RumorCLI

/// The agent holds its actions as `[any AgentAction]`, built from `BuiltinAction.all`: one line per action.
@Suite struct ActionWiringTests {
    static let context = BuiltinAction.Context(
        logger: Logger(label: "test.actions") { _ in SwiftLogNoOpLogHandler() },
        eventLoop: MultiThreadedEventLoopGroup.singleton.next(), agent: AgentBinding())

    static func actions(_ words: [String]) throws -> [any AgentAction] {
        let command = try AgentCommand.parse(words)
        return try command.configuredActions(try command.resolvedConfiguration(), context: context)
    }

    @Test func noActionIsRunUnlessOneIsAskedFor() throws {
        #expect(try Self.actions([]).isEmpty)
    }

    @Test func theHAProxyFlagsMakeTheHAProxyAction() throws {
        let actions = try Self.actions(["--haproxy-config", "/tmp/rumor-wiring/haproxy.cfg"])
        #expect(actions.map(\.name) == ["haproxy"])
        #expect((actions.first as? HAProxyAction)?.configuration.output == "/tmp/rumor-wiring/haproxy.cfg")
    }

    @Test func anUnknownActionInTheConfigIsNamedWithTheAvailableOnes() throws {
        let directory = try TemporaryDirectory("wiring")
        defer { directory.remove() }
        let file = directory.file("agent.json")
        try #"{"actions": {"nginx": {}}}"#.write(toFile: file, atomically: false, encoding: .utf8)
        let error = #expect(throws: ConfigurationError.self) { try Self.actions(["--config-file", file]) }
        #expect(error.map { "\($0)" } == "actions: unknown action 'nginx' (available: haproxy, containers)")
        #expect(BuiltinAction.all.map(\.name) == ["haproxy", "containers"])
    }

    /// An action's own flags (declared in its target, `HAProxyActionConfiguration.flags`) reach it, and only it.
    @Test func theActionsOwnFlagsReachIt_andOneWithoutItsConfigIsNamed() throws {
        let actions = try Self.actions(["--haproxy-config", "/tmp/x.cfg", "--haproxy-app", "site", "--haproxy-selector", "zone=a"])
        let haproxy = try #require(actions.first as? HAProxyAction)
        #expect(haproxy.configuration.app == "site" && haproxy.configuration.selector == ["zone": "a"])
        #expect(try AgentCommand.parse(["--haproxy-app", "site"]).resolvedConfiguration().actionFlags == ["haproxy-app": ["site"]])
        for flag in ["haproxy-app", "haproxy-template", "haproxy-selector"] {
            let error = #expect(throws: (any Error).self) { try Self.actions(["--\(flag)", flag == "haproxy-selector" ? "a=b" : "x"]) }
            #expect("\(error.map { "\($0)" } ?? "")" == "--\(flag): needs --haproxy-config (or an actions.haproxy section)")
        }
        #expect(AgentCommand.helpMessage().contains("--haproxy-selector"))
    }

    @Test func appsDirMakesTheContainerAction() throws {
        let directory = try TemporaryDirectory("wiring")
        defer { directory.remove() }
        #expect(try Self.actions(["--apps-dir", directory.path]).map(\.name) == ["containers"])
        #expect(try Self.actions(["--apps-dir", directory.path, "--haproxy-config", "/tmp/x.cfg"]).map(\.name)
            == ["haproxy", "containers"])
    }
}
