import RumorSupport
import Logging
import NIOCore
import RumorActions
import RumorAgent
import RumorCore

extension AgentCommand {
    /// The HAProxy action from `actions.haproxy` in the config files, overridden by the `--haproxy-*` flags; nil
    /// when neither asks for one.
    func haproxyConfiguration(_ config: AgentConfiguration) throws -> HAProxyActionConfiguration? {
        var result: HAProxyActionConfiguration?
        if let json = config.actions {
            guard case .object(let pairs) = json else {
                throw ConfigurationError("actions: expected an object such as {\"haproxy\": {...}}")
            }
            for (name, _) in pairs where name != "haproxy" {
                throw ConfigurationError("actions: unknown action '\(name)' (available: haproxy)")
            }
            if let haproxy = json["haproxy"] { result = try HAProxyActionConfiguration(json: haproxy) }
        }
        if let output = config.haproxyOutput {
            if result == nil { result = HAProxyActionConfiguration() }
            result?.output = output
        }
        if let template = config.haproxyTemplate {
            guard result != nil else { throw ConfigurationError("--haproxy-template needs --haproxy-config") }
            result?.template = template
        }
        if !config.haproxySelectors.isEmpty {
            guard result != nil else { throw ConfigurationError("--haproxy-selector needs --haproxy-config") }
            result?.selector = try HAProxyActionConfiguration.selector(fromFlags: config.haproxySelectors)
        }
        try result?.validate()
        return result
    }

    /// Feeds member snapshots to the action on every membership change, and runs it until the agent stops.
    static func run(_ action: HAProxyAction, with agent: Agent) async throws {
        agent.eventLoop.execute {
            _ = agent.addListener(token: { event in
                switch event {
                case .memberJoined, .memberLeft, .memberFailed, .memberUpdated, .memberReaped:
                    action.membersChanged(agent.members())
                default: break
                }
            })
            action.membersChanged(agent.members())
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await action.run() }
            try? await agent.stopped.get()
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
